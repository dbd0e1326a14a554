"""``hefeitong provider validate`` and ``dry-run``: a provider develops a spec locally."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from backend.cli import app
from tests.providers.helpers import water_spec
from tests.providers.novel_department import API_KEY, water_utility

runner = CliRunner()


def _write(tmp_path: Path, spec: object) -> Path:
    path = tmp_path / "water.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def test_validate_lists_every_problem(tmp_path: Path) -> None:
    good = _write(tmp_path, water_spec("hf_water", "https://water.example.cn"))
    ok = runner.invoke(app, ["provider", "validate", str(good)])
    assert ok.exit_code == 0, ok.output
    assert "valid" in ok.output and "bill" in ok.output

    spec = water_spec("hf_water", "${WATER_URL}")
    spec["operations"]["bill"]["result"] = "payload.{broken"
    del spec["name_en"]
    bad = runner.invoke(app, ["provider", "validate", str(_write(tmp_path, spec))])
    assert bad.exit_code == 1
    # The variable is refused first (the server will not expand it either).
    assert "/base_url: [variable]" in bad.output


def test_validate_reports_schema_and_mapping_problems_together(tmp_path: Path) -> None:
    spec = water_spec("hf_water", "https://water.example.cn")
    spec["operations"]["bill"]["result"] = "payload.{broken"
    spec["operations"]["bill"]["method"] = "FETCH"
    bad = runner.invoke(app, ["provider", "validate", str(_write(tmp_path, spec))])
    assert bad.exit_code == 1
    assert "/operations/bill/method" in bad.output


async def test_dry_run_calls_the_real_endpoint(tmp_path: Path) -> None:
    async with water_utility() as utility:
        path = _write(tmp_path, water_spec("hf_water", utility.url))
        # In a thread: the command runs its own event loop, this one serves the utility.
        result = await asyncio.to_thread(
            runner.invoke, app, ["provider", "dry-run", str(path), "bill", "-p", "account=W1001"]
        )
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output)
    assert outcome["result"]["owed_fen"] == 1250
    assert [s["step"] for s in outcome["steps"]][-1] == "result"
    assert API_KEY not in result.output
    assert utility.seen == ["/openapi/v3/water/bill"]
