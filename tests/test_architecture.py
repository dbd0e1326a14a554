"""The import-linter contracts cover the whole backend, so a boundary cannot be skipped.

`lint-imports` (in `make test`) checks the contracts; these tests check that the contracts
still describe the code: a new top-level module that no layer names, or a new feature
without its internals protected, would otherwise be checked by nothing.
"""

from __future__ import annotations

import importlib
import pkgutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

import backend

ROOT = Path(__file__).resolve().parents[1]


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    return {c["id"]: c for c in contracts}


def _layers() -> list[set[str]]:
    """Each layer's module names (optional ones in parentheses included, unwrapped)."""
    return [
        {name.strip().strip("()") for name in layer.split(":")}
        for layer in _contracts()["layers"]["layers"]
    ]


def _top_level_modules() -> set[str]:
    return {f"backend.{m.name}" for m in pkgutil.iter_modules(backend.__path__)}


def test_every_top_level_module_of_backend_is_in_a_layer() -> None:
    named = [name for layer in _layers() for name in layer]
    assert len(named) == len(set(named)), "a module is named in two layers"
    unplaced = _top_level_modules() - set(named)
    assert not unplaced, f"place these in the layers contract (pyproject.toml): {unplaced}"


FEATURES = sorted(
    name for name in _layers()[1] if (ROOT / name.replace(".", "/") / "__init__.py").exists()
)


def test_the_features_are_the_packages_of_the_middle_layer() -> None:
    assert FEATURES == [
        "backend.applications",
        "backend.catalog",
        "backend.gateway",
        "backend.identity",
        "backend.providers",
    ]


@pytest.mark.parametrize("feature", FEATURES)
def test_a_features_internals_are_protected(feature: str) -> None:
    """Only the feature itself and the composition root may import its modules."""
    short = feature.removeprefix("backend.")
    contract = _contracts()[f"{short}-internals"]
    assert contract["type"] == "protected"
    assert contract["protected_modules"] == [f"{feature}.*"]
    assert set(contract["allowed_importers"]) == {feature} | _layers()[0]


@pytest.mark.parametrize("feature", FEATURES)
def test_a_features_public_surface_is_declared_and_importable(feature: str) -> None:
    module = importlib.import_module(feature)
    public = module.__dict__.get("__all__")
    assert isinstance(public, list), f"{feature}/__init__.py declares no __all__"
    assert public == sorted(public)
    for name in public:
        assert hasattr(module, name), f"{feature}.__all__ names {name!r}, which it lacks"


def test_every_router_is_kept_from_running_queries() -> None:
    """The forbidden contract names routers by pattern; a new kind of router must match one."""
    patterns = _contracts()["routers-run-no-queries"]["source_modules"]
    routers = sorted((ROOT / "backend").glob("*/*router.py"))
    assert routers
    for path in routers:
        assert f"backend.*.{path.stem}" in patterns, f"{path} is not in routers-run-no-queries"


def test_integrations_never_import_backend_and_nothing_is_cyclic() -> None:
    contracts = _contracts()
    assert contracts["integrations-independent"]["source_modules"] == ["integrations"]
    assert contracts["integrations-independent"]["forbidden_modules"] == ["backend"]
    assert set(contracts["acyclic"]["ancestors"]) == {"backend", "integrations"}
