"""``hefeitong provider validate|dry-run``: develop a spec locally, before registering it.

The checks are the provider API's own: the same schema and compiled mappings, and no
``${VAR}`` expansion (the server will not expand them either). A dry run calls the
endpoint from this machine and prints every step as JSON.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

console = Console()
provider_app = typer.Typer(
    help="Provider tools for developing an adapter spec.", no_args_is_help=True
)

SpecFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML or JSON spec")]


def _load(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        console.print(f"{path}: cannot read: {exc}", markup=False)
        raise typer.Exit(1) from None


def _compiled(path: Path) -> Any:
    from backend.providers.specs import SpecInvalid, compile_spec

    try:
        return compile_spec(_load(path))
    except SpecInvalid as exc:
        for error in exc.extensions["errors"]:
            console.print(
                f"{path}: {error['path']}: [{error['rule']}] {error['message']}", markup=False
            )
        raise typer.Exit(1) from None


@provider_app.command("validate")
def validate(spec: SpecFile) -> None:
    """Check a spec as the provider API will; lists every problem, exits 1 if any."""
    compiled = _compiled(spec)
    operations = ", ".join(sorted(compiled.operations))
    console.print(f"{spec}: valid — adapter {compiled.id}, operations: {operations}", markup=False)


def _param(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise typer.BadParameter(f"{text!r}: use name=value")
    try:
        return name, json.loads(raw)  # numbers, booleans, lists…
    except json.JSONDecodeError:
        return name, raw  # a plain string


@provider_app.command("dry-run")
def dry_run(
    spec: SpecFile,
    operation: Annotated[str, typer.Argument(help="The operation to call")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="name=value (repeatable)")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds for the whole call")] = 10.0,
) -> None:
    """Call one operation against the real endpoint; print result, timing and every step."""
    compiled = _compiled(spec)
    params = dict(_param(p) for p in param or [])
    outcome = asyncio.run(_dry_run(compiled, operation, params, timeout))
    # Plain output (no console wrapping): it is JSON for the provider's tools too.
    typer.echo(json.dumps(outcome, ensure_ascii=False, indent=2, default=str))
    if not outcome["ok"]:
        raise typer.Exit(1)


async def _dry_run(spec: Any, operation: str, params: dict[str, Any], timeout: float) -> Any:
    from backend.providers.dryrun import dry_run as run
    from integrations.transport import AiohttpTransport

    transport = AiohttpTransport()
    try:
        return await run(spec, transport, operation, params, timeout=timeout)
    finally:
        await transport.aclose()
