"""Building the adapter registry: every spec file in a folder, plus Python adapters.

Python adapters are found through the ``hefeitong.adapters`` entry-point group; an
entry point names a factory ``(transport, variables) -> Adapter``. Third-party
packages can add adapters this way without touching this repository.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path

from integrations.base import AdapterRegistry
from integrations.http_adapter import SpecAdapter
from integrations.spec import SpecError, load_spec_file
from integrations.transport import Transport

DEPARTMENTS_DIR = Path(__file__).parent / "departments"
ENTRY_POINT_GROUP = "hefeitong.adapters"


def load_registry(
    transport: Transport,
    variables: Mapping[str, str],
    *,
    spec_dir: Path = DEPARTMENTS_DIR,
    entry_point_group: str | None = ENTRY_POINT_GROUP,
) -> AdapterRegistry:
    """Load every ``*.yaml`` spec and every entry-point adapter; all specs must be valid."""
    registry = AdapterRegistry()
    errors: list[SpecError] = []
    for path in sorted(spec_dir.glob("*.yaml")):
        try:
            registry.register(SpecAdapter(load_spec_file(path, variables), transport))
        except SpecError as exc:
            errors.append(exc)
    if errors:
        raise SpecError(
            ", ".join(e.source for e in errors), [p for e in errors for p in e.problems]
        )
    if entry_point_group:
        for entry_point in entry_points(group=entry_point_group):
            factory = entry_point.load()
            registry.register(factory(transport, variables))
    return registry
