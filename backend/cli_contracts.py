"""``hefeitong openapi check-breaking``: does the current OpenAPI document keep the promises of
the released one? (Rules: backend/contracts/breaking.py; release steps: openapi/README.md.)

``contracts_app`` is added to the ``openapi`` group without a name, which lends its commands
to that group: ``openapi_app.add_typer(contracts_app)`` in backend/cli.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from backend.contracts.breaking import Report, compare_documents
from backend.contracts.documents import load_document

contracts_app = typer.Typer(help="The API's promises to the app and mini-program releases.")

RELEASED_OPENAPI = Path("openapi/released/openapi.json")
CURRENT_OPENAPI = Path("openapi/openapi.json")

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


@contracts_app.command("check-breaking")
def check_breaking(
    released: Annotated[
        Path, typer.Option(help="The last released document: the promises")
    ] = RELEASED_OPENAPI,
    current: Annotated[
        Path, typer.Option(help="The document to check (`hefeitong openapi export` writes it)")
    ] = CURRENT_OPENAPI,
) -> None:
    """Breaking changes of the current document against the released one (exit 1 if any).

    A current info.version higher than the released one lets them pass: a deliberate break.
    """
    try:
        report = compare_documents(load_document(released), load_document(current))
    except (OSError, ValueError) as exc:
        err_console.print(f"cannot compare the documents: {exc}", markup=False, style="red")
        raise typer.Exit(code=2) from None
    console.print(
        f"{current} ({report.current_version}) against the released {released} "
        f"({report.released_version})",
        markup=False,
        soft_wrap=True,
    )
    _print_breaks(report)
    if not report.passed:
        raise typer.Exit(code=1)


def _print_breaks(report: Report) -> None:
    style = "yellow" if report.version_bumped else "red"
    for found in report.breaks:
        console.print(f"✗ {found.rule}  {found.pointer}", style=style, markup=False, soft_wrap=True)
        console.print(f"  {found.message}", markup=False, soft_wrap=True)
        for place in found.seen_at:
            console.print(f"    {place}", markup=False, soft_wrap=True)
    count = len(report.breaks)
    changes = f"{count} breaking change{'' if count == 1 else 's'}"
    if not report.breaks:
        console.print("no breaking changes", style="green")
    elif report.version_bumped:
        console.print(
            f"{changes}, announced by the version bump {report.released_version} → "
            f"{report.current_version}: allowed",
            style="yellow",
            markup=False,
        )
    else:
        console.print(
            f"{changes}. Keep the promise, or release a new API version: bump API_VERSION in "
            "backend/app.py and tell the client teams (openapi/README.md).",
            style="red",
            markup=False,
            soft_wrap=True,
        )
