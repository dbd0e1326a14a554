"""Mini-program code login: the sandbox platforms and the adapter, over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import httpx
import pytest

from integrations.base import AdapterBadResponse, AdapterUnavailable, Caller, RequestRejected
from integrations.departments.mini_program import MiniProgramAdapter, create
from integrations.sandbox import mini_program as platform
from integrations.sandbox import start_sandbox
from integrations.transport import AiohttpTransport, HttpxTransport

# Code login happens before we know who the citizen is.
ANONYMOUS = Caller(subject="anonymous", assurance_level=0)
TIMEOUT = 3.0


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    servers = await start_sandbox({"mini_program": 0})
    yield servers.urls["mini_program"]
    await servers.stop()


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    shared = AiohttpTransport()
    yield shared
    await shared.aclose()


def adapter(transport: AiohttpTransport, base_url: str, **variables: str) -> MiniProgramAdapter:
    return create(transport, {"MINI_PROGRAM_BASE_URL": base_url, **variables})


async def issue(http: aiohttp.ClientSession, base_url: str, platform_name: str, user: str) -> str:
    payload = {"platform": platform_name, "user": user}
    async with http.post(f"{base_url}/__sandbox/mini-program/codes", json=payload) as resp:
        assert resp.status == 200
        code: str = (await resp.json())["code"]
    return code


async def exchange(mini: MiniProgramAdapter, operation: str, code: str) -> dict[str, object]:
    result: dict[str, object] = await mini.call(operation, {"code": code}, ANONYMOUS, TIMEOUT)
    return result


async def test_operations_are_neither_retried_nor_cached(
    transport: AiohttpTransport, base_url: str
) -> None:
    for info in adapter(transport, base_url).operations.values():
        assert (info.idempotent, info.retry_attempts, info.cache_ttl) == (False, 1, 0)


async def test_wechat_code_gives_a_stable_identity_once(
    transport: AiohttpTransport, base_url: str, http: aiohttp.ClientSession
) -> None:
    mini = adapter(transport, base_url)
    first = await exchange(mini, "wechat_code2session", await issue(http, base_url, "wechat", "a"))
    again = await exchange(mini, "wechat_code2session", await issue(http, base_url, "wechat", "a"))
    other = await exchange(mini, "wechat_code2session", await issue(http, base_url, "wechat", "b"))
    assert first == again == platform.wechat_identity("a")  # and no session_key
    assert str(first["unionid"]).startswith("u_") and len(str(first["openid"])) == 28
    assert other["openid"] != first["openid"]

    code = await issue(http, base_url, "wechat", "a")
    await exchange(mini, "wechat_code2session", code)
    with pytest.raises(RequestRejected) as used:
        await exchange(mini, "wechat_code2session", code)
    assert (used.value.upstream_code, used.value.message) == ("40163", "code been used")
    alipay_code = await issue(http, base_url, "alipay", "a")
    for unknown in ("no-such-code", alipay_code):
        with pytest.raises(RequestRejected) as rejected:
            await exchange(mini, "wechat_code2session", unknown)
        assert rejected.value.upstream_code == "40029"

    async with http.get(f"{base_url}/__sandbox/stats") as resp:
        stats = await resp.json()
    assert stats["counters"] == {"wechat_sessions": 4}
    assert stats["requests"] == {"GET /sns/jscode2session": 7}


async def test_expired_code_is_invalid(
    transport: AiohttpTransport,
    base_url: str,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(platform, "CODE_TTL_SECONDS", 0.0)
    code = await issue(http, base_url, "wechat", "late")
    with pytest.raises(RequestRejected) as rejected:
        await exchange(adapter(transport, base_url), "wechat_code2session", code)
    assert rejected.value.upstream_code == "40029"


async def test_wrong_wechat_secret_is_operational_and_keeps_the_code(
    transport: AiohttpTransport, base_url: str, http: aiohttp.ClientSession
) -> None:
    # Our misconfiguration, not the citizen's input: it must count against the
    # department (breaker, "unavailable"), never be shown as "invalid appsecret".
    code = await issue(http, base_url, "wechat", "c")
    misconfigured = adapter(transport, base_url, WECHAT_APP_SECRET="wrong")
    with pytest.raises(AdapterUnavailable, match="40125"):
        await exchange(misconfigured, "wechat_code2session", code)
    result = await exchange(adapter(transport, base_url), "wechat_code2session", code)
    assert result == platform.wechat_identity("c")


async def test_alipay_code_gives_a_stable_identity_once(
    transport: AiohttpTransport, base_url: str, http: aiohttp.ClientSession
) -> None:
    mini = adapter(transport, base_url)
    first = await exchange(mini, "alipay_code2session", await issue(http, base_url, "alipay", "a"))
    again = await exchange(mini, "alipay_code2session", await issue(http, base_url, "alipay", "a"))
    expected = platform.alipay_identity("a")
    assert first == again
    assert first == {"openid": expected["open_id"], "unionid": None, "user_id": expected["user_id"]}
    assert str(first["user_id"]).startswith("2088") and len(str(first["user_id"])) == 16
    assert first["openid"] != platform.wechat_identity("a")["openid"]

    code = await issue(http, base_url, "alipay", "a")
    await exchange(mini, "alipay_code2session", code)
    for spent in (code, "no-such-code", await issue(http, base_url, "wechat", "a")):
        with pytest.raises(RequestRejected) as rejected:
            await exchange(mini, "alipay_code2session", spent)
        assert rejected.value.upstream_code == "isv.code-invalid"
        assert rejected.value.message == "授权码code无效"


async def test_alipay_signature_is_checked(
    transport: AiohttpTransport, base_url: str, http: aiohttp.ClientSession
) -> None:
    code = await issue(http, base_url, "alipay", "d")
    form = {
        "method": "alipay.system.oauth.token",
        "app_id": "alipay-sandbox-hefeitong",
        "grant_type": "authorization_code",
        "code": code,
    }
    good = platform.alipay_sign(form, "sandbox-alipay-secret")
    cases = [
        ({}, "isv.missing-signature"),
        ({"sign": "0" * 64}, "isv.invalid-signature"),
        ({"sign": good.upper()}, "isv.invalid-signature"),  # lower-case hex only
        ({"sign": good, "code": "tampered"}, "isv.invalid-signature"),
    ]
    for extra, sub_code in cases:
        async with http.post(f"{base_url}/gateway.do", data={**form, **extra}) as resp:
            body = await resp.json()
        assert body["error_response"]["sub_code"] == sub_code
    # Refused requests do not spend the code; the adapter's own signature is accepted.
    misconfigured = adapter(transport, base_url, ALIPAY_APP_SECRET="wrong")
    with pytest.raises(AdapterUnavailable, match=r"isv\.invalid-signature"):
        await exchange(misconfigured, "alipay_code2session", code)
    result = await exchange(adapter(transport, base_url), "alipay_code2session", code)
    assert result["user_id"] == platform.alipay_identity("d")["user_id"]
    async with http.post(f"{base_url}/gateway.do", data={**form, "sign": good}) as resp:
        assert (await resp.json())["error_response"]["sub_code"] == "isv.code-invalid"


async def test_faults_apply_and_code_admin_validates(
    transport: AiohttpTransport, base_url: str, http: aiohttp.ClientSession
) -> None:
    fault = {"error_rate": 1, "status": 503, "path": "/gateway.do"}
    async with http.put(f"{base_url}/__sandbox/faults", json=fault) as resp:
        assert resp.status == 200
    code = await issue(http, base_url, "alipay", "e")  # admin routes are never faulted
    with pytest.raises(AdapterUnavailable, match="503"):
        await exchange(adapter(transport, base_url), "alipay_code2session", code)
    for bad in ({"platform": "douyin", "user": "e"}, {"platform": "wechat", "user": ""}, {}):
        async with http.post(f"{base_url}/__sandbox/mini-program/codes", json=bad) as resp:
            assert resp.status == 400


async def test_reply_without_an_openid_is_a_bad_response() -> None:
    # Mapping-only check: a login with a null openid would merge every such citizen.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "session_key": "k"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    mini = create(HttpxTransport(client), {})
    try:
        with pytest.raises(AdapterBadResponse):
            await exchange(mini, "wechat_code2session", "any")
    finally:
        await client.aclose()
