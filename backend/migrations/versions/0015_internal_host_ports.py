"""Internal-host exemptions name their port.

A provider's ``internal_hosts`` used to hold bare hosts, exempting every port of an
internal host from the SSRF guard; a spec pointed at another service on that host (the
SMS gateway's inbox on the next port) could be read through a dry run. Exemptions are now
``host:port``. Each bare entry becomes the host with the ports the provider's adapter
versions actually call it on (``base_url``, ``auth.token_url``), so what worked keeps
working; a bare host none of its specs calls is dropped (it exempted nothing in use).
Downgrading turns ``host:port`` back into bare hosts, as the older code expects.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from yarl import URL

from integrations.hosts import normalise_host, split_endpoint

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

providers = sa.table(
    "providers_provider", sa.column("code", sa.String), sa.column("internal_hosts", sa.JSON)
)
adapters = sa.table(
    "providers_adapter", sa.column("adapter_id", sa.String), sa.column("provider_code", sa.String)
)
versions = sa.table(
    "providers_adapter_version", sa.column("adapter_id", sa.String), sa.column("spec", sa.JSON)
)


def _endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _called(spec: Any) -> set[tuple[str, int]]:
    """(host, port) of every URL a stored spec calls."""
    if not isinstance(spec, dict) or not isinstance(spec.get("base_url"), str):
        return set()
    base = spec["base_url"]
    urls = [base]
    auth = spec.get("auth")
    token_url = auth.get("token_url") if isinstance(auth, dict) else None
    if isinstance(token_url, str):
        urls.append(base.rstrip("/") + token_url if token_url.startswith("/") else token_url)
    found = set()
    for url in urls:
        try:
            parsed = URL(url)
            if parsed.raw_host and parsed.port:
                found.add((normalise_host(parsed.raw_host), parsed.port))
        except ValueError:
            continue
    return found


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(providers.c.code, providers.c.internal_hosts)).all()
    if not any(internal for _, internal in rows):
        return
    called: dict[str, set[tuple[str, int]]] = defaultdict(set)
    specs = conn.execute(
        sa.select(adapters.c.provider_code, versions.c.spec).join(
            versions, versions.c.adapter_id == adapters.c.adapter_id
        )
    )
    for code, spec in specs:
        called[code] |= _called(spec)
    for code, internal in rows:
        kept: set[str] = set()
        for entry in internal or []:
            try:
                host, port = split_endpoint(entry)
                kept.add(_endpoint(host, port))
                continue
            except ValueError:
                pass
            try:
                bare = normalise_host(entry)
            except ValueError:
                continue  # never valid: it exempted nothing
            kept |= {_endpoint(host, port) for host, port in called[code] if host == bare}
        if sorted(kept) != list(internal or []):
            conn.execute(
                providers.update()
                .where(providers.c.code == code)
                .values(internal_hosts=sorted(kept))
            )


def downgrade() -> None:
    conn = op.get_bind()
    for code, internal in conn.execute(sa.select(providers.c.code, providers.c.internal_hosts)):
        bare = set()
        for entry in internal or []:
            try:
                host, _ = split_endpoint(entry)
            except ValueError:
                bare.add(entry)
                continue
            bare.add(f"[{host}]" if ":" in host else host)
        conn.execute(
            providers.update().where(providers.c.code == code).values(internal_hosts=sorted(bare))
        )
