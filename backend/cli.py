"""The ``hefeitong`` command: serve, migrate, load the catalog, export the OpenAPI document."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from backend.catalog.data_file import CatalogFile, CatalogFileError, load_catalog_file
from backend.cli_contracts import contracts_app
from backend.cli_integrations import adapters_app, sandbox
from backend.cli_providers import provider_app
from backend.settings import UnsafeSettingsError, get_settings

app = typer.Typer(help="合肥通 Hefei Tong backend.", no_args_is_help=True)
catalog_app = typer.Typer(help="The service catalog.", no_args_is_help=True)
openapi_app = typer.Typer(help="The OpenAPI document.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
app.add_typer(openapi_app, name="openapi")
openapi_app.add_typer(contracts_app)
app.add_typer(adapters_app, name="adapters")
app.add_typer(provider_app, name="provider")
keys_app = typer.Typer(help="Token signing keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.command()(sandbox)

console = Console()
err_console = Console(stderr=True)

DEFAULT_OPENAPI = Path("openapi/openapi.json")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
) -> None:
    """Run the API server (embedded default: SQLite, in-process KV; migrations applied)."""
    import uvicorn

    from backend.migrate import migrate_and_seed

    settings = get_settings()
    settings.check_safe()
    if settings.should_auto_migrate:
        # Migrate once here rather than in each worker, so workers don't race on the schema.
        revision = asyncio.run(migrate_and_seed(settings.effective_database_url))
        if revision:
            console.print(f"catalog revision {revision} loaded")
        os.environ["HEFEITONG_AUTO_MIGRATE"] = "false"
        get_settings.cache_clear()
    with sandbox_departments(settings.should_start_sandbox):
        uvicorn.run(
            "backend.main:app",
            host=host,
            port=port,
            workers=workers,
            access_log=False,  # our middleware logs every request as structured JSON
            # uvicorn would believe X-Forwarded-For from 127.0.0.1; the app decides instead,
            # for the proxies in HEFEITONG_TRUSTED_PROXIES only (backend/client_address.py).
            proxy_headers=False,
        )


@contextmanager
def sandbox_departments(enabled: bool) -> Iterator[None]:
    """Run the simulated departments beside the server (embedded default), on their dev ports."""
    if not enabled:
        yield
        return
    from integrations.sandbox import DEFAULT_PORTS

    child = subprocess.Popen([sys.executable, "-m", "backend.cli", "sandbox", "--exit-with-parent"])
    try:
        _wait_for_ports(DEFAULT_PORTS.values(), child)
        console.print(
            f"sandbox departments on ports {min(DEFAULT_PORTS.values())}–"
            f"{max(DEFAULT_PORTS.values())}"
        )
        yield
    finally:
        child.terminate()
        child.wait(timeout=10)


def _wait_for_ports(ports: Iterable[int], child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    for port in ports:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sandbox department on port {port} did not start") from None
                time.sleep(0.1)


@app.command()
def migrate(
    seed: Annotated[bool, typer.Option(help="Load the bundled catalog if none or older")] = True,
) -> None:
    """Apply database migrations (and seed the bundled catalog)."""
    from backend.migrate import migrate_and_seed, upgrade

    url = get_settings().effective_database_url
    if seed:
        revision = asyncio.run(migrate_and_seed(url))
        note = f", catalog revision {revision} loaded" if revision else ""
    else:
        asyncio.run(upgrade(url))
        note = ""
    console.print(f"[green]database is at the latest schema{note}[/green]")


@catalog_app.command("load")
def catalog_load(
    file: Annotated[Path, typer.Argument(help="Catalog YAML file", exists=False)],
) -> None:
    """Validate FILE and replace the catalog with it, in one transaction."""
    try:
        catalog, sha = load_catalog_file(file)
    except CatalogFileError as exc:
        err_console.print("[red]catalog not loaded; the database keeps its catalog[/red]")
        # markup=False: the problems contain "[rule]" tags that rich would swallow as markup.
        err_console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    revision = asyncio.run(_replace_catalog(catalog, str(file), sha))
    console.print(
        f"[green]loaded {len(catalog.services)} services, {len(catalog.domains)} domains, "
        f"{len(catalog.life_events)} life events (revision {revision})[/green]"
    )


async def _replace_catalog(catalog: CatalogFile, source: str, sha: str) -> int:
    from backend import db
    from backend.migrate import load_catalog, upgrade

    url = get_settings().effective_database_url
    await upgrade(url)
    engine = db.create_engine(url)
    try:
        async with db.session_factory(engine)() as session, session.begin():
            return await load_catalog(session, catalog, source=source, source_sha256=sha)
    finally:
        await engine.dispose()


@app.command()
def worker(
    interval: Annotated[
        float, typer.Option(help="Seconds between outbox passes when no change announces itself")
    ] = 5.0,
) -> None:
    """Deliver application notifications from the outbox and poll query-only departments
    (run one or more in production)."""
    asyncio.run(_worker(interval))


async def _worker(interval: float) -> None:
    from backend.app import create_app
    from backend.app_state import state_of
    from backend.applications.notifications import run_worker

    settings = get_settings().model_copy(update={"outbox_worker_in_server": False})
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        console.print(
            "delivering application notifications and polling query-only departments"
            " (Ctrl-C to stop)"
        )
        state = state_of(application)
        await run_worker(
            state.sessions,
            state.identity,
            interval=interval,
            catalog=state.catalog,
            poll_interval=settings.poll_interval_seconds,
        )


@keys_app.command("rotate")
def keys_rotate(
    if_missing: Annotated[
        bool, typer.Option(help="Only create a first key when there is none (deploy step)")
    ] = False,
) -> None:
    """Make a new signing key current; the previous one stays published until its tokens expire."""
    from backend.identity.keys import INDEX, rotate

    directory = get_settings().key_dir
    if if_missing and (directory / INDEX).exists():
        console.print(f"signing keys already present in {directory}")
        return
    kid = rotate(directory)
    console.print(f"new signing key {kid} in {directory}; running servers pick it up within 5 s")


clients_app = typer.Typer(help="Registered department systems (OAuth clients).")
app.add_typer(clients_app, name="clients")


@clients_app.command("create")
def clients_create(
    name: Annotated[str, typer.Argument(help="The system's name, shown on the consent page")],
    kind: Annotated[
        str,
        typer.Option(
            help="department (client credentials), web (sign-in with 合肥通) or admin (platform)"
        ),
    ] = "department",
    department: Annotated[
        str | None, typer.Option(help="Catalog department code a department client acts for")
    ] = None,
    redirect_uri: Annotated[
        list[str] | None, typer.Option(help="Exact redirect URI of a web client (repeatable)")
    ] = None,
) -> None:
    """Register a system; prints its client id and secret (the secret is shown once)."""
    if kind not in ("department", "web", "admin"):
        raise typer.BadParameter("kind is department, web or admin")
    client_id, secret = asyncio.run(_create_client(name, kind, redirect_uri or [], department))
    console.print(f"client_id: {client_id}\nclient_secret: {secret}\n(the secret is not stored)")


async def _create_client(
    name: str, kind: str, redirect_uris: list[str], department: str | None = None
) -> tuple[str, str]:
    from backend import db
    from backend.identity.clients import ADMIN_SCOPE, create_client
    from backend.migrate import upgrade

    scopes = {"web": ["openid", "profile", "phone", "idcard"], "admin": [ADMIN_SCOPE]}

    url = get_settings().effective_database_url
    await upgrade(url)
    engine = db.create_engine(url)
    try:
        async with db.session_factory(engine)() as session, session.begin():
            client, secret = await create_client(
                session,
                name,
                kind=kind,
                redirect_uris=redirect_uris,
                scopes=scopes.get(kind),
                department_code=department,
            )
            return client.client_id, secret
    finally:
        await engine.dispose()


@openapi_app.command("export")
def openapi_export(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write")
    ] = DEFAULT_OPENAPI,
) -> None:
    """Write the OpenAPI document the app serves (stable, sorted JSON)."""
    from backend.openapi_doc import render_openapi

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_openapi(), encoding="utf-8")
    console.print(f"wrote {output}")


def main() -> None:
    try:
        app()
    except UnsafeSettingsError as exc:
        err_console.print(f"[red]{exc}[/red]", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
