"""Request and response bodies of the provider onboarding API (admin and provider sides)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from backend.pagination import Page
from backend.providers.models import AdapterVersion, ProviderService

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,63}$", examples=["hf-water"])]
Host = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- platform administrators ------------------------------------------------------


class ProviderCreate(_Body):
    code: Code = Field(description="The department's code in the catalog")
    name_zh: str = Field(min_length=2, max_length=100)
    name_en: str = Field(min_length=2, max_length=200)
    allowed_hosts: list[Host] = Field(
        min_length=1,
        max_length=20,
        description="Hosts (no port) the provider's adapters may call, on any port",
        examples=[["water.hefei.gov.cn"]],
    )
    internal_hosts: list[Host] = Field(
        default_factory=list,
        max_length=20,
        description=(
            "内网主机豁免，格式为 host:port，只对该端口有效；主机须同时列在 allowed_hosts 中。"
            " Internal (government network) endpoints the adapters may call although they are"
            " internal, as host:port ('10.2.3.4:8443', '[fd00::1]:80'): the exemption covers"
            " that one port only, and the host must be in allowed_hosts too. A bare host is"
            " 422 `PROVIDER_HOSTS_INVALID`."
        ),
        examples=[["10.2.3.4:8443"]],
    )


class ProviderOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    allowed_hosts: list[str]
    internal_hosts: list[str]
    created_at: datetime


class ClientCredentials(BaseModel):
    client_id: str
    client_secret: str = Field(description="Shown once; only its hash is kept")


class ProviderCreated(ProviderOut):
    client: ClientCredentials


class ServiceProposal(_Body):
    code: Code = Field(description="The new service's code in the catalog")
    domain: str = Field(max_length=32, examples=["housing"])
    name_zh: str = Field(min_length=2, max_length=100)
    name_en: str = Field(min_length=2, max_length=200)
    summary_zh: str = Field(min_length=2, max_length=500)
    summary_en: str = Field(min_length=2, max_length=1000)
    min_level: int = Field(ge=0, le=3, description="Assurance level a citizen needs")
    keywords: list[Annotated[str, Field(max_length=32)]] = Field(
        default_factory=list, max_length=20
    )
    adapter_id: str = Field(max_length=64)
    operation: str = Field(max_length=64)


class ProposalOut(BaseModel):
    id: str
    code: str
    provider_code: str
    adapter_id: str
    operation: str
    status: Literal["proposed", "approved", "rejected"]
    note: str | None
    entry: dict[str, Any]
    created_at: datetime
    decided_at: datetime | None


class ProposalList(Page[ProposalOut]):
    pass


class Decision(_Body):
    note: str | None = Field(default=None, max_length=500)


def proposal_out(p: ProviderService) -> ProposalOut:
    return ProposalOut.model_validate(p, from_attributes=True)


class ClientCreate(_Body):
    name: str = Field(min_length=2, max_length=100)
    role: Literal["operator", "admin"] = "operator"


class SpecBody(_Body):
    spec: dict[str, Any] = Field(
        description="The adapter spec (integrations/spec_schema.json); secrets are write-only:"
        " send '********' to keep a secret of the previous version"
    )


class VersionOut(BaseModel):
    version: int
    created_by: str
    created_at: datetime
    operations: list[str]


class VersionDetail(VersionOut):
    spec: dict[str, Any] = Field(description="Secrets show as '********'")


class VersionList(Page[VersionOut]):
    pass


class AdapterOut(BaseModel):
    adapter_id: str
    active_version: int | None
    latest_version: int
    versions: list[VersionOut] = Field(
        description="全部版本，最早在前；版本多时请用分页的 GET …/versions。"
        " Every version, oldest first; GET /v1/provider/adapters/{adapter_id}/versions pages them."
    )


class AdapterList(Page[AdapterOut]):
    pass


def version_out(v: AdapterVersion) -> VersionOut:
    return VersionOut(
        version=v.version,
        created_by=v.created_by,
        created_at=v.created_at,
        operations=sorted(v.spec.get("operations", {})),
    )


class DiffOut(BaseModel):
    from_version: int
    to_version: int
    diff: str = Field(description="Unified diff of the two specs")


class DryRunError(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    class_: str = Field(alias="class", description="AdapterBadResponse, RequestRejected, …")
    message: str
    upstream_code: str | None = None
    errors: list[dict[str, Any]] | None = Field(None, description="Parameter errors")


class DryRunOut(BaseModel):
    ok: bool
    result: Any = Field(
        None,
        description="The mapped result; when its JSON passes 16 KB, the first 16 KB of it as"
        " text and `truncated` is true",
    )
    truncated: bool | None = Field(None, description="True when `result` was cut")
    error: DryRunError | None = None
    elapsed_ms: float
    steps: list[dict[str, Any]] = Field(
        description="request, response, decode, success, result: what was sent, what came"
        " back and what each mapping made of it (credentials masked). Bounded: a raw body or"
        " a decoded document shows at most 4 KB, a mapped value 16 KB (`truncated`: true when"
        " cut). The reply of an internal host (`internal_hosts`) shows only its status and"
        " what the mapping reads: `withheld` replaces its headers, body and document."
    )


class DryRunRequest(_Body):
    operation: str = Field(max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)
