"""Runtime settings, read once from ``HEFEITONG_*`` environment variables.

With nothing set the service runs in its embedded default: an SQLite file under
``./var/``, the in-process KV store and the sandbox departments. Production mode
refuses those development defaults, naming the variable to set.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from limits import parse_many
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backend.secret_strength import MIN_GUESSES_LOG10, guesses_log10

DEV_SECRET = "dev-insecure-secret-change-me"
# Strict-Transport-Security in production unless HEFEITONG_HSTS_MAX_AGE says otherwise.
PRODUCTION_HSTS_MAX_AGE = 365 * 86_400


class UnsafeSettingsError(RuntimeError):
    """Raised when production mode would run on a development default."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HEFEITONG_", extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"
    var_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default: SQLite file under var_dir"
    )
    redis_url: str | None = Field(default=None, description="default: in-process KV store")
    kv_namespace: str = "hft"
    secret_key: str = DEV_SECRET
    signing_key_dir: Path | None = None
    # Personal data at rest: "kid:base64key,..." (last is current) and the lookup-hash key.
    pii_keys: str | None = None
    pii_index_key: str | None = None
    token_issuer: str = "http://localhost:8000"
    token_audience: str = "hefeitong-app"
    access_token_ttl: float = 900.0
    # --- Sign-in codes by SMS (issue 13, finding 6; backend/identity/sms_limits.py) ----------
    # Limits that slow an attacker down without locking the phone's owner out.
    sms_backoff_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Wait after a phone's first code before the same requester gets another;"
        " doubles with each further code of the day (production refuses 0)",
    )
    sms_backoff_max_seconds: float = Field(
        default=3_600.0, ge=0, description="The longest wait of the back-off"
    )
    sms_codes_per_phone_and_requester: int = Field(
        default=10,
        ge=1,
        description="Codes one requester may get for one phone in a day; its sign-in ends the day",
    )
    sms_codes_per_phone: int = Field(
        default=20,
        ge=1,
        description="Codes a phone gets in a day from requesters that have not signed it in during"
        " the last 30 days (requesters that have are exempt); a sign-in ends the day",
    )
    sms_limit_per_requester: str = Field(
        default="30/hour",
        description="Codes one requester may ask for, whatever the phones (`limits` rules, ';')",
    )
    # Replaced by the settings above; production refuses to start with it set, rather than
    # ignore a limit someone chose.
    sms_limit_per_phone: str | None = Field(default=None, description="No longer read")
    # ------------------------------------------------------------------------------------------
    refresh_token_ttl: float = 30 * 86_400.0
    log_level: str = "INFO"
    log_json: bool = True
    # Outgoing HTTP (departments): one shared client per worker with explicit limits.
    http_max_connections: int = 200
    catalog_max_page_size: int = 100
    catalog_cache_max_age: int = 300
    # Gateway: the budget of one invoke, the overview's deadline, how long a cached answer
    # may still be served when its department fails, and the per-department breaker.
    invoke_timeout: float = 5.0
    overview_deadline: float = 1.5
    gateway_stale_seconds: float = 86_400.0
    breaker_failure_threshold: int = 5
    breaker_window: float = 30.0
    breaker_open_seconds: float = 15.0
    # Values for ${VAR} in adapter specs (base URLs, keys); the environment is used too.
    adapter_variables: dict[str, str] = Field(default_factory=dict)
    # Deliver application notifications inside the server (default: the embedded mode).
    outbox_worker_in_server: bool | None = None
    # Seconds between the worker's passes over query-only departments (adapters with an
    # `application_status` operation, see applications/poller.py); 0 turns polling off.
    poll_interval_seconds: float = Field(default=30.0, ge=0)
    # Seconds between probes of the operations specs mark probe_safe (one process probes
    # each interval, through the breaker and the health figures); None: no probing.
    adapter_probe_seconds: float | None = Field(default=60.0, gt=0)
    # `hefeitong serve` starts the sandbox departments in the embedded default.
    sandbox: bool | None = None
    # Embedded default: apply migrations and seed the catalog when the server starts.
    auto_migrate: bool | None = None

    # --- the public surface: body sizes, proxies, CORS, docs, metrics, headers, uploads ---
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="Largest request body (bytes) outside uploads; larger ones get 413 "
        "BODY_TOO_LARGE before they are read. Uploads keep their own 10 MB.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or CIDRs (comma-separated) of the load balancers or ingress "
        "whose X-Forwarded-For / X-Forwarded-Proto are believed; default: none, so the "
        "client address is the peer's.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web origins (scheme://host[:port], comma-separated) that browsers may "
        "call the API from; default: none (no CORS headers at all).",
    )
    public_api_docs: bool = Field(
        default=True,
        description="Serve /docs, /redoc and /openapi.json; false answers them 404.",
    )
    metrics_token: str | None = Field(
        default=None,
        description="Bearer token /metrics requires. Without it /metrics is public outside "
        "production and not served (404) in production.",
    )
    hsts_max_age: int | None = Field(
        default=None,
        ge=0,
        description="Strict-Transport-Security max-age; default one year in production, "
        "none elsewhere; 0 sends none.",
    )
    upload_limit_per_citizen: str = Field(
        default="10/minute;100/day",
        description="Uploads one citizen may make, as `limits` rules separated by ';'; "
        "beyond them 429 UPLOAD_QUOTA_EXCEEDED with Retry-After.",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        items = _split_list(value)
        if isinstance(items, list):
            for item in items:
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError:
                    raise ValueError(f"not an address or CIDR: {item!r}") from None
        return items

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        items = _split_list(value)
        if isinstance(items, list):
            for item in items:
                parts = urlsplit(item)
                if (
                    parts.scheme not in ("http", "https")
                    or not parts.hostname
                    or item.rstrip("/") != f"{parts.scheme}://{parts.netloc}"
                ):
                    # "*" included: an origin a browser may call from is named, never implied.
                    raise ValueError(f"not an origin (scheme://host[:port]): {item!r}")
            return [item.rstrip("/") for item in items]
        return items

    @field_validator("upload_limit_per_citizen")
    @classmethod
    def _rate_rules(cls, value: str) -> str:
        parse_many(value)  # raises ValueError naming what it could not read
        return value

    @property
    def effective_hsts_max_age(self) -> int:
        if self.hsts_max_age is not None:
            return self.hsts_max_age
        return PRODUCTION_HSTS_MAX_AGE if self.env == "production" else 0

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.var_dir / 'hefeitong.db').resolve()}"

    @property
    def is_embedded(self) -> bool:
        return self.database_url is None

    @property
    def key_dir(self) -> Path:
        return self.signing_key_dir or self.var_dir / "keys"

    @property
    def outbox_worker(self) -> bool:
        if self.outbox_worker_in_server is None:
            return self.is_embedded
        return self.outbox_worker_in_server

    @property
    def should_start_sandbox(self) -> bool:
        return self.is_embedded if self.sandbox is None else self.sandbox

    @property
    def should_auto_migrate(self) -> bool:
        return self.is_embedded if self.auto_migrate is None else self.auto_migrate

    def check_safe(self) -> None:
        """Refuse development defaults outside development, naming what to set."""
        if self.env != "production":
            return
        problems: list[str] = []
        if not self.database_url:
            problems.append(
                "HEFEITONG_DATABASE_URL is not set (would use the embedded SQLite file)"
            )
        if not self.redis_url:
            problems.append("HEFEITONG_REDIS_URL is not set (would use the in-process KV store)")
        if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
            problems.append(
                "HEFEITONG_SECRET_KEY is the development default or shorter than 32 characters"
            )
        problems += _guessable(
            ("HEFEITONG_SECRET_KEY", [self.secret_key] if self.secret_key != DEV_SECRET else []),
            ("HEFEITONG_PII_KEYS", [k.partition(":")[2] for k in (self.pii_keys or "").split(",")]),
            ("HEFEITONG_PII_INDEX_KEY", [self.pii_index_key or ""]),
            ("HEFEITONG_METRICS_TOKEN", [self.metrics_token or ""]),
        )
        everyone = [
            n for n in self.trusted_proxies if ipaddress.ip_network(n, strict=False).prefixlen == 0
        ]
        if everyone:
            problems.append(
                f"HEFEITONG_TRUSTED_PROXIES trusts every address ({', '.join(everyone)}): name "
                "the load balancers' addresses or networks"
            )
        if self.signing_key_dir is None:
            problems.append(
                "HEFEITONG_SIGNING_KEY_DIR is not set (would generate development signing keys)"
            )
        if not self.pii_keys or not self.pii_index_key:
            problems.append(
                "HEFEITONG_PII_KEYS / HEFEITONG_PII_INDEX_KEY are not set (would derive "
                "personal-data keys from the secret key)"
            )
        if self.sms_backoff_seconds <= 0:
            problems.append("HEFEITONG_SMS_BACKOFF_SECONDS is 0 (codes could be sent back to back)")
        if self.sms_limit_per_phone is not None:
            problems.append(
                "HEFEITONG_SMS_LIMIT_PER_PHONE is no longer read: set"
                " HEFEITONG_SMS_BACKOFF_SECONDS, HEFEITONG_SMS_CODES_PER_PHONE_AND_REQUESTER and"
                " HEFEITONG_SMS_CODES_PER_PHONE"
            )
        if problems:
            raise UnsafeSettingsError("refusing to start in production: " + "; ".join(problems))


def _split_list(value: object) -> object:
    """ "a, b c" → ["a", "b", "c"]: the environment gives one string, code may give a list."""
    if isinstance(value, str):
        return [item for item in value.replace(",", " ").split() if item]
    return value


def _guessable(*secrets: tuple[str, list[str]]) -> list[str]:
    """A refusal for each configured secret that is easy to guess (never the secret itself)."""
    problems = []
    for variable, values in secrets:
        scores = [guesses_log10(v.strip()) for v in values if v.strip()]
        if scores and min(scores) < MIN_GUESSES_LOG10:
            problems.append(
                f"{variable} is guessable (about 10^{min(scores):.0f} guesses; at least "
                f"10^{MIN_GUESSES_LOG10:.0f} needed): generate it, e.g. `openssl rand -hex 32`"
                " or `openssl rand -base64 32` for keys"
            )
    return problems


@lru_cache
def get_settings() -> Settings:
    return Settings()
