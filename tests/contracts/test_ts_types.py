"""The TypeScript types of the API (mobile_contracts/types/hefeitong-api.d.ts), which the app
and mini-program teams build against, are what the pinned openapi-typescript makes of the
committed openapi/openapi.json.

Needs Node 20+ and npm (CI has them). The pinned generator is installed with ``npm ci`` into
mobile_contracts/types/node_modules (git-ignored) the first time, or when package-lock.json
changed, and reused after that.
"""

from __future__ import annotations

import difflib
import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent
TYPES_DIR = ROOT / "mobile_contracts" / "types"
COMMITTED = TYPES_DIR / "hefeitong-api.d.ts"
NPM_CI = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
REGENERATE = (
    "regenerate: .venv/bin/hefeitong openapi export && "
    "(cd mobile_contracts/types && npm ci && npm run generate), then commit "
    "mobile_contracts/types/hefeitong-api.d.ts"
)


def _installed_matches_lock() -> bool:
    """npm keeps a copy of what it installed in node_modules/.package-lock.json."""
    installed_file = TYPES_DIR / "node_modules" / ".package-lock.json"
    if not installed_file.exists():
        return False
    installed = json.loads(installed_file.read_text(encoding="utf-8"))["packages"]
    locked = json.loads((TYPES_DIR / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    return all(
        installed.get(name, {}).get("version") == entry.get("version")
        for name, entry in locked.items()
        if name  # "" is the package itself
    )


@contextmanager
def _install_lock() -> Iterator[None]:
    """Two test runs at once must not both rewrite node_modules."""
    path = Path(tempfile.gettempdir()) / f"hefeitong-ts-types-{os.getuid()}.lock"
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def generator() -> Path:
    """The pinned openapi-typescript CLI, installed if needed."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"`{tool}` is not on PATH: checking mobile_contracts/types needs Node 20+ and npm "
                "(Debian: apt-get install nodejs npm). CI has them.",
                pytrace=False,
            )
    with _install_lock():
        if not _installed_matches_lock():
            done = subprocess.run(
                NPM_CI,
                cwd=TYPES_DIR,
                capture_output=True,
                text=True,
                timeout=600,
                env={**os.environ, "NPM_CONFIG_UPDATE_NOTIFIER": "false"},
            )
            if done.returncode != 0:
                pytest.fail(
                    f"`{' '.join(NPM_CI)}` failed in {TYPES_DIR}:\n{done.stdout}{done.stderr}",
                    pytrace=False,
                )
    return TYPES_DIR / "node_modules" / "openapi-typescript" / "bin" / "cli.js"


def test_the_generator_is_pinned_and_the_script_writes_the_committed_file() -> None:
    package = json.loads((TYPES_DIR / "package.json").read_text(encoding="utf-8"))
    for name, version in package["devDependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned: {version}"
    assert package["scripts"]["generate"] == (
        "openapi-typescript ../../openapi/openapi.json --output hefeitong-api.d.ts"
    )


def test_committed_typescript_types_are_current(generator: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "hefeitong-api.d.ts"
    # The same input argument as `npm run generate`, into a scratch file.
    done = subprocess.run(
        ["node", str(generator), "../../openapi/openapi.json", "--output", str(fresh)],
        cwd=TYPES_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"openapi-typescript failed:\n{done.stdout}{done.stderr}"
    expected = fresh.read_text(encoding="utf-8")
    committed = COMMITTED.read_text(encoding="utf-8") if COMMITTED.exists() else ""
    if committed != expected:
        diff = list(
            difflib.unified_diff(
                committed.splitlines(),
                expected.splitlines(),
                "committed hefeitong-api.d.ts",
                "generated from openapi/openapi.json",
                lineterm="",
            )
        )
        shown = "\n".join(diff[:200]) + (
            f"\n… {len(diff) - 200} more lines" if len(diff) > 200 else ""
        )
        pytest.fail(f"mobile_contracts/types/hefeitong-api.d.ts is stale; {REGENERATE}\n{shown}")
