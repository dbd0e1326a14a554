"""Fuzz the whole API from its own OpenAPI document, in-process (schemathesis over ASGI).

Every documented operation is called with data generated from the document the running app
serves: valid data (the API must answer as documented) and data that breaks the document's
own rules (the API must refuse it with a 4xx, never a 500). Three callers, each on its part
of the API: a signed-in citizen (a real bearer token), a department that is also an onboarded
provider, and a platform administrator (client-credentials tokens).

The run is seeded and bounded, so it is the same run every time and fits the test suite;
``openapi/README.md`` shows a longer local run (``HEFEITONG_FUZZ_EXAMPLES``,
``HEFEITONG_FUZZ_SEED``).

Schemathesis' own engine (what its CLI runs) drives the phases: schema examples, coverage
(boundary and rule-breaking values derived from every constraint) and random fuzzing.
``schemathesis.pytest.from_fixture`` is not used: with pytest 9.2 it fails before running
anything (it renames the test through ``Item._nodeid``, which pytest no longer has).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis import Case
from schemathesis.auths import AuthStorage
from schemathesis.core.result import Ok
from schemathesis.engine import Status, events
from schemathesis.engine import from_schema as engine_for
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.schemas import BaseSchema

from backend import db
from backend.app import create_app
from backend.identity.clients import ADMIN_SCOPE, create_client
from integrations.sandbox import SandboxHandle, data
from tests.applications.helpers import fill
from tests.conftest import (
    BACKENDS,
    create_postgres_database,
    drop_postgres_database,
    make_settings,
)
from tests.identity.helpers import latest_code, new_phone

# Thousands of generated requests: ~1 minute. `make test` runs it; `-m 'not slow'` skips it.
pytestmark = pytest.mark.slow

SEED = int(os.environ.get("HEFEITONG_FUZZ_SEED", "20261102"))
MAX_EXAMPLES = int(os.environ.get("HEFEITONG_FUZZ_EXAMPLES", "8"))
# The provider account the fuzz signs in as is this catalog department's; the citizen's
# applications are for one of its services.
DEPARTMENT = "hf-health"
SERVICE = "maternal-health-handbook"

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "ignored_auth",
)

CONFIG: dict[str, Any] = {
    "seed": SEED,
    # No example database: the seed alone decides the run, whatever ran here before.
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
        # The document declares no links between operations, so there is nothing to chain.
        "stateful": {"enabled": False},
    },
    "checks": {"enabled": False} | {name: {"enabled": True} for name in CHECKS},
}


@dataclass
class Callers:
    sandbox: SandboxHandle
    citizen: str = ""
    department: str = ""
    admin: str = ""
    # The sandbox WeChat user bound to a throwaway citizen (see ``throwaway_session``).
    wechat_user: str = field(default_factory=lambda: f"fuzz-{uuid.uuid4()}")


@dataclass
class Fuzzed:
    schema: BaseSchema
    callers: Callers


def _post(schema: BaseSchema, path: str, body: Any, **kwargs: Any) -> Any:
    return schema[path]["POST"].Case(body=body).call(**kwargs)


def sign_in(schema: BaseSchema, sandbox: SandboxHandle) -> dict[str, Any]:
    """A citizen signed in for real: an SMS code read from the sandbox SMS gateway's inbox."""
    phone = new_phone()
    sent = _post(schema, "/v1/auth/sms-codes", {"phone": phone})
    assert sent.status_code == 202, sent.text
    code = asyncio.run(latest_code(sandbox, phone))
    tokens = _post(schema, "/v1/auth/login/sms", {"phone": phone, "code": code})
    assert tokens.status_code == 200, tokens.text
    return dict(tokens.json())


def sign_in_real_name(schema: BaseSchema, sandbox: SandboxHandle, id_number: str) -> str:
    """An L2 citizen (real-name checked), as ``tests/identity/helpers.sign_in_real_name``."""
    tokens = sign_in(schema, sandbox)
    verified = (
        schema["/v1/me/real-name"]["POST"]
        .Case(body={"name": data.person_name(id_number), "id_number": id_number})
        .call(headers={"Authorization": f"Bearer {tokens['access_token']}"})
    )
    assert verified.status_code == 200, verified.text
    refreshed = _post(schema, "/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    return str(refreshed.json()["access_token"])


def _wechat_code(sandbox: SandboxHandle, user: str) -> str:
    response = httpx.post(
        f"{sandbox.urls['mini_program']}/__sandbox/mini-program/codes",
        json={"platform": "wechat", "user": user},
    )
    response.raise_for_status()
    return str(response.json()["code"])


def bind_wechat_user(schema: BaseSchema, sandbox: SandboxHandle, user: str) -> None:
    """Bind a sandbox WeChat user to a new citizen once; later code logins go straight in."""
    code = _wechat_code(sandbox, user)
    pending = _post(schema, "/v1/auth/login/mini-program", {"platform": "wechat", "code": code})
    assert pending.status_code == 200, pending.text
    phone = new_phone()
    sent = _post(schema, "/v1/auth/sms-codes", {"phone": phone})
    assert sent.status_code == 202, sent.text
    body = {"binding_ticket": pending.json()["binding_ticket"], "phone": phone}
    body["code"] = asyncio.run(latest_code(sandbox, phone))
    bound = _post(schema, "/v1/auth/login/mini-program/bind", body)
    assert bound.status_code == 200, bound.text


def throwaway_session(schema: BaseSchema, callers: Callers) -> str:
    """A new session of the throwaway citizen, by mini-program code: no SMS, which the
    fuzzing of ``/v1/auth/sms-codes`` soon has rate-limited for the test client's address."""
    code = _wechat_code(callers.sandbox, callers.wechat_user)
    login = _post(schema, "/v1/auth/login/mini-program", {"platform": "wechat", "code": code})
    assert login.status_code == 200 and login.json()["bound"], login.text
    return str(login.json()["tokens"]["access_token"])


def client_token(schema: BaseSchema, client_id: str, secret: str) -> str:
    response = (
        schema["/oauth2/token"]["POST"]
        .Case(
            body={"grant_type": "client_credentials"},
            media_type="application/x-www-form-urlencoded",
        )
        .call(auth=(client_id, secret))
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def _register_admin_client(database_url: str) -> tuple[str, str]:
    """The platform administrator's client, as ``hefeitong clients create`` makes it."""
    engine = db.create_engine(database_url)
    try:
        async with db.session_factory(engine)() as session, session.begin():
            client, secret = await create_client(
                session, "平台管理（fuzz）", kind="admin", scopes=[ADMIN_SCOPE]
            )
            return client.client_id, secret
    finally:
        await engine.dispose()


def _call(
    schema: BaseSchema, method: str, path: str, token: str, body: Any = None, **params: str
) -> Any:
    operation = schema[path][method]
    case = (
        operation.Case(path_parameters=params)
        if body is None
        else operation.Case(path_parameters=params, body=body)
    )
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": f"fuzz-{uuid.uuid4()}"}
    response = case.call(headers=headers)
    assert response.status_code < 300, (method, path, response.text)
    return response.json()


def seed_applications(schema: BaseSchema, callers: Callers) -> dict[str, list[str]]:
    """Real applications in several states and a rectification, whose ids the fuzzer sends
    half of the time: random ids only ever reach the 404 at the door."""
    citizen, department = callers.citizen, callers.department
    form = {"service_code": SERVICE, "form": fill(SERVICE)}
    ids = [_call(schema, "POST", "/v1/applications", citizen, form)["id"] for _ in range(3)]
    for application_id in ids[1:]:
        path = "/v1/provider/applications/{application_id}/accept"
        _call(schema, "POST", path, department, application_id=application_id)
    path = "/v1/provider/applications/{application_id}/reviews"
    approve = {"decision": "approve", "opinion": "同意"}
    _call(schema, "POST", path, department, approve, application_id=ids[2])
    done = {"licence_no": "MHH-2026-0001"}
    path = "/v1/provider/applications/{application_id}/complete"
    _call(schema, "POST", path, department, done, application_id=ids[2])
    path = "/v1/applications/{application_id}/rating"
    _call(schema, "POST", path, citizen, {"score": 1, "comment": "等太久"}, application_id=ids[2])
    rectifications = _call(schema, "GET", "/v1/provider/rectifications", department)
    return {"application_id": ids, "rectification_id": [r["id"] for r in rectifications["items"]]}


def with_known_ids(ids: dict[str, list[str]]) -> schemathesis.Config:
    """The fuzz configuration, drawing each of these path parameters from real ids half of
    the time (schemathesis dictionaries)."""
    return schemathesis.Config.from_dict(
        CONFIG
        | {"dictionaries": {name: {"values": values} for name, values in ids.items()}}
        | {"parameters": {f"path.{name}": {"dictionary": name, "probability": 0.5} for name in ids}}
    )


@pytest.fixture(scope="module", params=BACKENDS)
def fuzzed(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sandbox: SandboxHandle,
) -> Iterator[Fuzzed]:
    """The document of the running app (loaded over ASGI), with its callers signed in."""
    tmp_path: Path = tmp_path_factory.mktemp("fuzz")
    database_url: str | None = None
    redis_url: str | None = None
    if request.param != "embedded":
        # A database of its own: the fuzz leaves rows that other tests would count.
        database_url = asyncio.run(
            create_postgres_database(
                request.getfixturevalue("postgres_url"), f"hft_fuzz_{uuid.uuid4().hex[:10]}"
            )
        )
        redis_url = request.getfixturevalue("redis_url")
    settings = make_settings(tmp_path, database_url, redis_url, sandbox)
    app = create_app(settings)
    try:
        # Starts the app's lifespan on schemathesis' event-loop thread; every call runs there.
        schema = schemathesis.openapi.from_asgi(
            "/openapi.json", app, config=schemathesis.Config.from_dict(CONFIG)
        )
        callers = Callers(sandbox)
        callers.citizen = sign_in_real_name(schema, sandbox, data.make_id_no("fuzz-citizen"))
        bind_wechat_user(schema, sandbox, callers.wechat_user)
        callers.admin = client_token(
            schema, *asyncio.run(_register_admin_client(settings.effective_database_url))
        )
        created = (
            schema["/v1/admin/providers"]["POST"]
            .Case(
                body={
                    "code": DEPARTMENT,
                    "name_zh": "合肥市卫生健康委员会",
                    "name_en": "Hefei Health Commission",
                    "allowed_hosts": ["dept.example.gov.cn"],
                }
            )
            .call(headers={"Authorization": f"Bearer {callers.admin}"})
        )
        assert created.status_code == 201, created.text
        credentials = created.json()["client"]
        callers.department = client_token(
            schema, credentials["client_id"], credentials["client_secret"]
        )
        ids = seed_applications(schema, callers)
        # The same running app; only the generation changes.
        yield Fuzzed(
            schemathesis.openapi.from_asgi("/openapi.json", app, config=with_known_ids(ids)),
            callers,
        )
    finally:
        shutdown_lifespans()
        if database_url is not None:
            asyncio.run(drop_postgres_database(database_url))


# Operations that end the caller's session (or all of them), or hand out its refresh token
# (which the fuzzer replays from responses: a reused refresh token signs its session out).
# Each case gets a new session of a throwaway citizen, or the rest of the run would be 401s.
THROWAWAY_SESSION = {
    "POST /v1/auth/logout",
    "POST /v1/auth/logout-all",
    "DELETE /v1/me/sessions/{session_id}",
    "POST /v1/auth/act-as",
}


@dataclass
class Bearer:
    """Schemathesis auth provider: the caller's bearer token on every generated request."""

    schema: BaseSchema
    callers: Callers
    role: str

    def get(self, case: Case[Any], ctx: schemathesis.AuthContext) -> str:
        if self.role == "citizen" and case.operation.label in THROWAWAY_SESSION:
            return throwaway_session(self.schema, self.callers)
        return str(getattr(self.callers, self.role))

    def set(self, case: Case[Any], data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = f"Bearer {data}"


def _describe(failures: list[str]) -> str:
    return f"{len(failures)} failure(s):\n\n" + "\n\n".join(failures)


def run_fuzz(fuzzed: Fuzzed, role: str, part: BaseSchema, scheme: str) -> None:
    """Run every phase on ``part`` of the API as ``role``; fail listing every problem found."""
    operations = [result.ok() for result in part.get_all_operations() if isinstance(result, Ok)]
    # ignored_auth can only test credentials the document declares (``scheme``).
    secured = [op for op in operations if _requires(op.definition.raw, scheme)]
    assert secured, f"no operation fuzzed as {role} declares {scheme}: ignored_auth tests nothing"
    part.auth = AuthStorage(providers=[Bearer(fuzzed.schema, fuzzed.callers, role)])
    failures: list[str] = []
    tested: set[str] = set()
    for event in engine_for(part).execute():
        if isinstance(event, events.ScenarioFinished):
            if event.status != Status.SKIP and event.label:
                tested.add(event.label)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        failures.append(
                            f"[{event.phase.value}] {failure.operation}: {failure.title}\n"
                            f"{failure.message}\n{check.failure_info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError):
            failures.append(f"[error] {event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    assert not failures, _describe(sorted(set(failures)))
    assert tested >= {op.label for op in operations}, "operations the engine skipped"


def _requires(operation: dict[str, Any], scheme: str) -> bool:
    return any(scheme in requirement for requirement in operation.get("security", []))


def test_citizen_api(fuzzed: Fuzzed) -> None:
    # /v1/me/events is a server-sent event stream: it never ends by itself, so every case
    # would wait out the client's timeout, and its events have no schema to check against
    # (tests/applications/test_notifications.py reads it).
    citizen = fuzzed.schema.exclude(tag=["provider", "admin"]).exclude(path="/v1/me/events")
    run_fuzz(fuzzed, "citizen", citizen, "CitizenToken")


def test_provider_api(fuzzed: Fuzzed) -> None:
    run_fuzz(fuzzed, "department", fuzzed.schema.include(tag="provider"), "ClientToken")


def test_admin_api(fuzzed: Fuzzed) -> None:
    run_fuzz(fuzzed, "admin", fuzzed.schema.include(tag="admin"), "ClientToken")
