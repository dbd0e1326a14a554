"""Providers, their adapters' versions, publishing, and the services they propose."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.clock import utcnow
from backend.db import publish_after_commit
from backend.errors import AppError, NotFound
from backend.identity import create_client
from backend.pagination import PageRequest, fetch_page
from backend.pii import PiiCipher
from backend.providers import specs
from backend.providers.models import (
    AdaptersRevision,
    AdapterVersion,
    Provider,
    ProviderAdapter,
    ProviderService,
)
from integrations.base import AdapterRegistry
from integrations.hosts import host_problem, normalise_host, split_endpoint
from integrations.ssrf import HostPolicy

# Workers listen here and load the published versions at once (they also look on a timer).
ADAPTERS_CHANNEL = "providers:adapters"
PROVIDER_ADMIN_SCOPES = [
    "provider.admin",
    "provider.operator",
    "provider.adapters",
    "provider.applications",
]
PROVIDER_OPERATOR_SCOPES = ["provider.operator", "provider.adapters", "provider.applications"]


class ProviderExists(AppError):
    status = 409
    code = "PROVIDER_EXISTS"
    title_zh = "该服务提供方已存在"
    title_en = "This provider exists already"


class ProviderHostsInvalid(AppError):
    status = 422
    code = "PROVIDER_HOSTS_INVALID"
    title_zh = "允许访问的主机列表有误"
    title_en = "The provider's host list is not valid"


class AdapterIdTaken(AppError):
    status = 409
    code = "ADAPTER_ID_TAKEN"
    title_zh = "适配器标识已被占用"
    title_en = "This adapter id is taken"


class AdapterNotFound(NotFound):
    code = "ADAPTER_NOT_FOUND"
    title_zh = "适配器不存在"
    title_en = "Adapter not found"


class VersionNotFound(NotFound):
    code = "ADAPTER_VERSION_NOT_FOUND"
    title_zh = "适配器版本不存在"
    title_en = "Adapter version not found"


class PublishWouldBreakServices(AppError):
    status = 409
    code = "PUBLISH_BREAKS_SERVICES"
    title_zh = "该版本缺少已上架服务使用的接口"
    title_en = "This version lacks operations that catalog services are bound to"


def policy_of(provider: Provider) -> HostPolicy:
    allowed = frozenset(normalise_host(h) for h in provider.allowed_hosts if not host_problem(h))
    # Every stored exemption is host:port (refused otherwise on creation; migration 0015
    # gave the older bare ones the ports their specs use). One that is not waives nothing:
    # failing closed beats failing every call of the provider.
    internal = frozenset(h for h in provider.internal_hosts if _endpoint_host(h) in allowed)
    return HostPolicy(allowed_hosts=allowed, internal_allowed=internal)


def _endpoint_host(entry: str) -> str | None:
    try:
        return split_endpoint(entry)[0]
    except ValueError:
        return None


def _host_list_problems(
    allowed_hosts: list[str], internal_hosts: list[str]
) -> list[dict[str, Any]]:
    """Every entry of the two lists that is wrong, located in the request body."""
    errors: list[dict[str, Any]] = []
    for index, entry in enumerate(allowed_hosts):
        if (problem := host_problem(entry)) is not None:
            errors.append(_host_error("allowed_hosts", index, problem, "host"))
    allowed = {normalise_host(h) for h in allowed_hosts if host_problem(h) is None}
    for index, entry in enumerate(internal_hosts):
        try:
            host, _ = split_endpoint(entry)
        except ValueError as exc:
            errors.append(_host_error("internal_hosts", index, str(exc), "host_port"))
            continue
        if host not in allowed:
            problem = f"{entry!r}: its host must be in allowed_hosts too"
            errors.append(_host_error("internal_hosts", index, problem, "host_port"))
    return errors


def _host_error(field: str, index: int, message: str, kind: str) -> dict[str, Any]:
    return {"location": ["body", field, index], "message": f"{field}[{index}]: {message}",
            "type": kind}  # fmt: skip


async def create_provider(
    db: AsyncSession,
    code: str,
    name_zh: str,
    name_en: str,
    allowed_hosts: list[str],
    internal_hosts: list[str],
) -> tuple[Provider, str, str]:
    """The provider and its first (provider admin) client: id and secret, shown once.

    ``internal_hosts`` entries are ``host:port``: an internal host is exempted from the
    SSRF guard on one port, never all of them (integrations/ssrf.py)."""
    errors = _host_list_problems(allowed_hosts, internal_hosts)
    if errors:
        names = ", ".join(sorted({str(e["location"][1]) for e in errors}))
        raise ProviderHostsInvalid(f"Invalid entries in {names}", errors=errors)
    policy = HostPolicy(frozenset(allowed_hosts), frozenset(internal_hosts))
    provider = Provider(
        code=code,
        name_zh=name_zh,
        name_en=name_en,
        allowed_hosts=sorted(policy.allowed_hosts),
        internal_hosts=sorted(policy.internal_allowed),
        created_at=utcnow(),
    )
    try:
        async with db.begin_nested():
            db.add(provider)
    except IntegrityError:
        raise ProviderExists() from None
    client, secret = await create_client(
        db,
        f"{name_zh} 管理员",
        kind="department",
        department_code=code,
        scopes=PROVIDER_ADMIN_SCOPES,
    )
    return provider, client.client_id, secret


async def all_providers(db: AsyncSession) -> Sequence[Provider]:
    rows = await db.exec(select(Provider).order_by(col(Provider.code)))
    return rows.all()


async def adapter_page(
    db: AsyncSession, provider_code: str, page: PageRequest
) -> tuple[list[ProviderAdapter], str | None]:
    """One page of the provider's adapters, newest registration first."""
    query = select(ProviderAdapter).where(ProviderAdapter.provider_code == provider_code)
    return await fetch_page(
        db, query, page, at=ProviderAdapter.created_at, id=ProviderAdapter.adapter_id
    )


async def owned_adapter(db: AsyncSession, provider: str, adapter_id: str) -> ProviderAdapter:
    """The provider's adapter; another provider's (or none) is a 404, never a 403."""
    adapter = await db.get(ProviderAdapter, adapter_id)
    if adapter is None or adapter.provider_code != provider:
        raise AdapterNotFound()
    return adapter


async def version_of(db: AsyncSession, adapter_id: str, version: int) -> AdapterVersion:
    found = await db.exec(
        select(AdapterVersion).where(
            AdapterVersion.adapter_id == adapter_id, AdapterVersion.version == version
        )
    )
    row = found.first()
    if row is None:
        raise VersionNotFound()
    return row


async def add_version(
    db: AsyncSession,
    pii: PiiCipher,
    provider: Provider,
    document: Any,
    created_by: str,
    registry: AdapterRegistry,
    adapter_id: str | None = None,
) -> tuple[ProviderAdapter, AdapterVersion]:
    """A new immutable version (the first one registers the adapter). Validated whole:
    on any problem nothing is stored."""
    if not isinstance(document, dict):
        raise specs.refuse([specs.Problem("/", "type", "the spec must be a JSON object")])
    specs.check_depth(document)  # before anything below copies or walks it
    redacted, found = specs.split_secrets(document)
    spec_id = document.get("id")
    if adapter_id is not None and spec_id != adapter_id:
        raise specs.refuse([specs.Problem("/id", "const", f"must be {adapter_id!r}")])
    existing = await db.get(ProviderAdapter, str(spec_id)) if isinstance(spec_id, str) else None
    if adapter_id is None and (existing is not None or str(spec_id) in registry):
        raise AdapterIdTaken(f"{spec_id!r} is registered already; add a version to yours")
    if existing is not None and existing.provider_code != provider.code:
        raise AdapterNotFound()
    previous: dict[str, str] = {}
    if existing is not None and existing.latest_version:
        latest = await version_of(db, existing.adapter_id, existing.latest_version)
        previous = specs.unseal(pii, latest.secrets_enc)
    problems = specs.keep_unchanged(found, previous)
    if problems:
        raise specs.refuse(problems)
    await specs.validate(specs.merge_secrets(redacted, found), policy_of(provider))

    now = utcnow()
    adapter = existing or ProviderAdapter(
        adapter_id=str(spec_id), provider_code=provider.code, created_at=now, updated_at=now
    )
    adapter.latest_version += 1
    adapter.updated_at = now
    db.add(adapter)
    try:
        await db.flush()  # the adapter row first: the version refers to it
    except IntegrityError:  # registered a moment ago by a concurrent request
        raise AdapterIdTaken(f"{spec_id!r} is registered already") from None
    version = AdapterVersion(
        adapter_id=adapter.adapter_id,
        version=adapter.latest_version,
        spec=redacted,
        secrets_enc=specs.seal(pii, found),
        created_by=created_by,
        created_at=now,
    )
    db.add(version)
    try:
        await db.flush()
    except IntegrityError:  # a concurrent registration of the same id or version
        raise AdapterIdTaken("registered concurrently; list the versions and retry") from None
    return adapter, version


async def versions(db: AsyncSession, adapter_ids: Sequence[str]) -> dict[str, list[AdapterVersion]]:
    """Every version of each adapter, oldest first, in one query (a page of adapters would
    otherwise cost a query per adapter)."""
    found: dict[str, list[AdapterVersion]] = {adapter_id: [] for adapter_id in adapter_ids}
    rows = await db.exec(
        select(AdapterVersion)
        .where(col(AdapterVersion.adapter_id).in_(adapter_ids))
        .order_by(col(AdapterVersion.adapter_id), col(AdapterVersion.version))
    )
    for row in rows.all():
        found[row.adapter_id].append(row)
    return found


async def version_page(
    db: AsyncSession, adapter_id: str, page: PageRequest
) -> tuple[list[AdapterVersion], str | None]:
    """One page of an adapter's versions, newest first (the cursor carries the number)."""
    query = select(AdapterVersion).where(AdapterVersion.adapter_id == adapter_id)
    return await fetch_page(
        db, query, page, at=AdapterVersion.created_at, id=AdapterVersion.version
    )


def diff(old: AdapterVersion, new: AdapterVersion) -> str:
    """A unified diff of two versions' specs (secrets show only as the marker)."""

    def lines(version: AdapterVersion) -> list[str]:
        text = json.dumps(version.spec, indent=2, sort_keys=True, ensure_ascii=False)
        return text.splitlines(keepends=True)

    return "".join(
        difflib.unified_diff(
            lines(old),
            lines(new),
            f"{old.adapter_id}@v{old.version}",
            f"{new.adapter_id}@v{new.version}",
        )
    )


def full_document(pii: PiiCipher, version: AdapterVersion) -> dict[str, Any]:
    """The spec with its secrets, to build the adapter from: never return it to anyone."""
    return specs.merge_secrets(version.spec, specs.unseal(pii, version.secrets_enc))


async def publish(db: AsyncSession, adapter: ProviderAdapter, version: AdapterVersion) -> None:
    """Make ``version`` the one citizens are served by, on every worker within seconds.
    Refused when an approved service is bound to an operation the version lacks."""
    operations = set(version.spec.get("operations", {}))
    bound = await db.exec(
        select(ProviderService).where(
            ProviderService.adapter_id == adapter.adapter_id, ProviderService.status == "approved"
        )
    )
    broken = sorted(s.code for s in bound.all() if s.operation not in operations)
    if broken:
        raise PublishWouldBreakServices(
            f"version {version.version} lacks operations of: {', '.join(broken)}",
            services=broken,
        )
    adapter.active_version, adapter.updated_at = version.version, utcnow()
    db.add(adapter)
    revision = await db.get(AdaptersRevision, 1)
    if revision is None:
        revision = AdaptersRevision(id=1, revision=0)
    revision.revision += 1
    db.add(revision)
    publish_after_commit(db, ADAPTERS_CHANNEL)
