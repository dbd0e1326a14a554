"""``hefeitong sandbox`` and ``hefeitong adapters check``."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

console = Console()
adapters_app = typer.Typer(help="Department adapters.", no_args_is_help=True)


def sandbox(
    port_base: Annotated[
        int | None, typer.Option(help="First port (default: each department's dev port)")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind (0.0.0.0 in a container)")] = (
        "127.0.0.1"
    ),
    department: Annotated[
        list[str] | None, typer.Option(help="Only these departments (repeatable)")
    ] = None,
    exit_with_parent: Annotated[
        bool, typer.Option(hidden=True, help="Stop when the starting process is gone")
    ] = False,
) -> None:
    """Run the simulated department systems in the foreground."""
    from integrations.sandbox import DEFAULT_PORTS, run_sandbox_forever

    base = {name: (port_base + i if port_base else port) for i, (name, port) in enumerate(
        DEFAULT_PORTS.items()
    )}  # fmt: skip
    unknown = set(department or ()) - set(base)
    if unknown:
        raise typer.BadParameter(f"unknown department(s): {', '.join(sorted(unknown))}")
    ports = {name: port for name, port in base.items() if not department or name in department}
    run_sandbox_forever(ports, host, exit_with_parent=exit_with_parent)


@adapters_app.command("check")
def adapters_check(
    timeout: Annotated[float, typer.Option(help="Seconds per probe")] = 5.0,
) -> None:
    """Probe every adapter operation behind the catalog; a table per department."""
    reports = asyncio.run(_check(timeout))
    table = Table(title="Departments 部门系统")
    for column in ("adapter", "status", "ok", "failed", "skipped", "median ms", "errors"):
        table.add_column(column)
    for report in reports:
        counts = {
            s: sum(r.status == s for r in report.results) for s in ("ok", "failed", "skipped")
        }
        median = report.median_latency_ms
        errors = sorted({r.error for r in report.results if r.status == "failed" and r.error})
        colour = {"ok": "green", "degraded": "yellow", "down": "red"}.get(report.status, "dim")
        table.add_row(
            report.adapter,
            f"[{colour}]{report.status}[/{colour}]",
            str(counts["ok"]),
            str(counts["failed"]),
            str(counts["skipped"]),
            "-" if median is None else f"{median:.1f}",
            ", ".join(errors),
        )
    console.print(table)
    if any(r.status in ("down", "degraded") for r in reports):
        raise typer.Exit(code=1)


async def _check(timeout: float) -> list:  # type: ignore[type-arg]
    from backend.catalog.data_file import BUNDLED_CATALOG, load_catalog_file
    from backend.gateway.probing import operations_to_probe, probe
    from backend.kv import MemoryKV
    from backend.settings import get_settings
    from integrations.invoker import Invoker
    from integrations.loader import load_registry
    from integrations.transport import AiohttpTransport

    settings = get_settings()
    catalog, _ = load_catalog_file(BUNDLED_CATALOG)
    transport = AiohttpTransport()
    registry = load_registry(transport, {**os.environ, **settings.adapter_variables})
    # A private breaker state: probing must not open breakers for the running servers.
    invoker = Invoker(registry, MemoryKV())
    bound = [(s.adapter.id, s.adapter.operation) for s in catalog.services if s.adapter]
    targets = operations_to_probe(registry, bound)
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("probing", total=len(targets))
            return await probe(
                invoker, targets, timeout=timeout, on_done=lambda _: progress.advance(task)
            )
    finally:
        await transport.aclose()
