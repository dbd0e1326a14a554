"""The SSRF guard: static URL checks, lookups at registration, and refusals at call time.

Call-time tests use a real HTTP server on 127.0.0.1 and real name resolution:
``localhost`` stands in for a provider's name that later points inward. The same guard
seen through the provider API (and the port of an internal exemption) is tested in
tests/security/test_api7_ssrf.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from integrations.base import AdapterBadResponse, AdapterUnavailable, Caller
from integrations.http_adapter import SpecAdapter
from integrations.spec import parse_spec
from integrations.ssrf import (
    DestinationRefused,
    HostPolicy,
    check_url,
    check_url_resolving,
    internal_reason,
)
from integrations.transport import AiohttpTransport, OutgoingRequest, TransportError

POLICY = HostPolicy(
    frozenset({"allowed.example", "127.0.0.1", "[::1]", "10.0.0.1", "bücher.example"})
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1/", "host 127.0.0.1 is an internal address (loopback)"),
        ("http://[::1]/", "host ::1 is an internal address (loopback)"),
        (
            "http://169.254.169.254/latest/meta-data",
            "169.254.169.254 is an internal address (link-local",
        ),
        ("http://10.0.0.1/", "host 10.0.0.1 is an internal address (private)"),
        ("http://2130706433/", "'2130706433' is a non-standard spelling of the IPv4 address 127"),
        ("http://0x7f000001/", "'0x7f000001' is a non-standard spelling of the IPv4 address 127"),
        ("http://0x7f.0.0.1/", "'0x7f.0.0.1' is a non-standard spelling of the IPv4 address 127"),
        ("http://0177.0.0.1/", "'0177.0.0.1' is a non-standard spelling of the IPv4 address 127"),
        ("http://127.1/", "'127.1' is a non-standard spelling of the IPv4 address 127.0.0.1"),
        ("http://[::ffff:127.0.0.1]/", "(loopback (127.0.0.1 in IPv4-mapped form))"),
        ("http://[fe80::1]/", "host fe80::1 is an internal address (link-local"),
        ("http://[fd00::1]/", "host fd00::1 is an internal address (unique-local)"),
        ("http://100.64.0.1/", "100.64.0.1 is an internal address (shared (carrier-grade NAT))"),
        ("http://0.0.0.0/", "host 0.0.0.0 is an internal address (unspecified)"),
        ("http://1.2.3.4.5/", "looks numeric but is not an IPv4 address"),
        ("http://user@allowed.example/", "must not contain user information"),
        ("http://user:pw@allowed.example/", "must not contain user information"),
        ("http://@allowed.example/", "must not contain user information"),
        ("ftp://allowed.example/pub", "scheme must be http or https, not 'ftp'"),
        ("file:///etc/passwd", "scheme must be http or https, not 'file'"),
        ("http://other.example/", "host other.example is not one of the provider's allowed"),
        ("http://allowed.example\\@evil.example/", "must not contain whitespace"),
        ("/relative/path", "URL has no host"),
    ],
)
def test_static_check_refuses(url: str, expected: str) -> None:
    problems = check_url(url, POLICY)
    assert any(expected in problem for problem in problems), problems


def test_odd_numeric_forms_are_refused_even_when_internal_addresses_are_allowed() -> None:
    policy = HostPolicy(frozenset({"127.0.0.1"}), frozenset({"127.0.0.1:8080"}))
    assert check_url("http://127.0.0.1:8080/x", policy) == []
    for url in ("http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/", "http://127.1/"):
        [problem] = check_url(url, policy)
        assert "non-standard spelling of the IPv4 address 127.0.0.1" in problem


def test_every_problem_is_listed_at_once() -> None:
    problems = check_url("ftp://user@169.254.169.254/", POLICY)
    assert len(problems) == 4, problems  # scheme, userinfo, not allowed, link-local


@pytest.mark.parametrize(
    "url",
    [
        "http://allowed.example/",
        "https://ALLOWED.Example./api?x=1",
        "https://allowed.example:8443/any/port",
        "http://[::1]:8080/",  # loopback allowed below by the administrator, on this port
        "https://BÜCHER.example/",  # IDN: compared in punycode
    ],
)
def test_static_check_accepts(url: str) -> None:
    policy = HostPolicy(POLICY.allowed_hosts, frozenset({"[::1]:8080"}))
    assert check_url(url, policy) == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://[::1]:8081/", "exempted on port 8080 only, not 8081"),
        ("http://[::1]/", "exempted on port 8080 only, not 80"),  # the scheme's default port
        ("https://[::1]/", "exempted on port 8080 only, not 443"),
    ],
)
def test_an_internal_exemption_covers_its_port_only(url: str, expected: str) -> None:
    policy = HostPolicy(POLICY.allowed_hosts, frozenset({"[::1]:8080"}))
    [problem] = check_url(url, policy)
    assert "host ::1 is an internal address (loopback)" in problem and expected in problem


@pytest.mark.parametrize(
    "entry", ["example.com:443", "http://example.com", "0x7f000001", "127.1", "a b", ""]
)
def test_policy_entries_must_be_plain_hosts(entry: str) -> None:
    with pytest.raises(ValueError):
        HostPolicy(frozenset({entry}))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("dept.example", "has no port"),
        ("::1", "has no port"),
        ("[::1]", "has no port"),
        ("dept.example:0", "port must be a number from 1 to 65535"),
        ("dept.example:65536", "port must be a number from 1 to 65535"),
        ("dept.example:８０", "port must be a number from 1 to 65535"),  # fullwidth digits
        ("[::1]x:80", "is not host:port"),
        ("http://dept.example:80", "is not a valid host name"),
        ("0x7f000001:80", "non-standard spelling"),
        ("other.example:80", "must be one of the allowed hosts"),
    ],
)
def test_internal_entries_must_be_host_and_port_of_an_allowed_host(
    entry: str, message: str
) -> None:
    with pytest.raises(ValueError, match="internal_allowed") as refused:
        HostPolicy(frozenset({"dept.example", "::1"}), frozenset({entry}))
    assert message in str(refused.value)


def test_policy_entries_are_normalised() -> None:
    policy = HostPolicy(
        frozenset({"Dept.Example.", "[::FFFF:7F00:1]"}),
        frozenset({"DEPT.example.:0443", "[::FFFF:7F00:1]:80"}),
    )
    assert policy.allowed_hosts == {"dept.example", "::ffff:7f00:1"}
    assert policy.internal_allowed == {"dept.example:443", "[::ffff:7f00:1]:80"}
    assert policy.exempts_url("https://DEPT.example/x") and policy.exempts("dept.example", 443)
    assert not policy.exempts_url("http://dept.example/x")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("100.100.100.200", "shared"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "private"),
        ("::", "unspecified"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private (10.0.0.1 in IPv4-mapped form)"),
        ("::127.0.0.1", "loopback (127.0.0.1 in IPv4-compatible form)"),
        ("2002:a9fe:a9fe::1", "link-local (where the cloud metadata service lives) (169.254"),
        ("64:ff9b::a00:1", "private (10.0.0.1 in NAT64 form)"),
        ("64:ff9b::808:808", "reserved"),
    ],
)
def test_internal_addresses(address: str, reason: str) -> None:
    found = internal_reason(address)
    assert found is not None and found.startswith(reason), found


@pytest.mark.parametrize("address", ["8.8.8.8", "202.102.192.68", "2606:4700::1111"])
def test_global_addresses(address: str) -> None:
    assert internal_reason(address) is None


async def test_a_name_resolving_to_loopback_is_refused_at_registration() -> None:
    policy = HostPolicy(frozenset({"localhost"}))
    assert check_url("http://localhost/", policy) == []  # a name: only a lookup can tell
    problems = await check_url_resolving("http://localhost/", policy)
    assert any("resolves to 127.0.0.1, an internal address (loopback)" in p for p in problems), (
        problems
    )
    waived = HostPolicy(frozenset({"localhost"}), frozenset({"localhost:8080"}))
    assert await check_url_resolving("http://localhost:8080/", waived) == []
    [other_port] = await check_url_resolving("http://localhost:8081/", waived)
    assert "exempted on port 8080 only, not 8081" in other_port


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    policy = HostPolicy(frozenset({"no-such-host.invalid"}))
    problems = await check_url_resolving("https://no-such-host.invalid/", policy)
    assert problems == ["host no-such-host.invalid does not resolve"]


async def test_resolving_check_reports_static_problems_without_a_lookup() -> None:
    policy = HostPolicy(frozenset({"10.1.2.3"}))
    assert await check_url_resolving("http://10.1.2.3/", policy) == [
        "host 10.1.2.3 is an internal address (private)"
    ]
    assert await check_url_resolving("http://8.8.8.8/", HostPolicy(frozenset({"8.8.8.8"}))) == []


@dataclass
class Upstream:
    port: int
    seen: list[str] = field(default_factory=list)


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    state = Upstream(port=0)

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        state.seen.append(request.path_qs)
        return await handler(request)

    async def ok(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    app = web.Application(middlewares=[record])
    app.router.add_get("/ok", ok)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/landed", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield state
    await runner.cleanup()


async def _send(transport: AiohttpTransport, url: str) -> int:
    try:
        response = await transport.send(OutgoingRequest("GET", url), timeout=5, max_bytes=4096)
    finally:
        await transport.aclose()
    return response.status


def _refusal(error: TransportError) -> DestinationRefused:
    cause = error.__cause__
    assert isinstance(cause, aiohttp.ClientConnectorError), cause
    assert isinstance(cause.os_error, DestinationRefused), cause.os_error
    return cause.os_error


async def test_a_name_pointing_inward_is_refused_at_connect_time(upstream: Upstream) -> None:
    transport = AiohttpTransport(policy=HostPolicy(frozenset({"localhost"})))
    with pytest.raises(TransportError) as refused:
        await _send(transport, f"http://localhost:{upstream.port}/ok")
    assert refused.value.kind == "connect"
    assert "resolves to 127.0.0.1, an internal address (loopback)" in str(_refusal(refused.value))
    assert upstream.seen == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_internal_allowed_hosts_are_reached(upstream: Upstream, host: str) -> None:
    policy = HostPolicy(frozenset({host}), frozenset({f"{host}:{upstream.port}"}))
    status = await _send(AiohttpTransport(policy=policy), f"http://{host}:{upstream.port}/ok")
    assert status == 200
    assert upstream.seen == ["/ok"]


async def test_an_internal_ip_literal_is_refused_at_connect_time(upstream: Upstream) -> None:
    # aiohttp connects to IP literals without a lookup: the middleware must catch them.
    transport = AiohttpTransport(policy=HostPolicy(frozenset({"127.0.0.1"})))
    with pytest.raises(TransportError) as refused:
        await _send(transport, f"http://127.0.0.1:{upstream.port}/ok")
    assert refused.value.kind == "connect"
    assert "127.0.0.1 is an internal address (loopback)" in str(_refusal(refused.value))
    assert upstream.seen == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "0x7f000001", "2130706433"])
async def test_hosts_outside_the_policy_are_refused_at_connect_time(
    upstream: Upstream, host: str
) -> None:
    policy = HostPolicy(frozenset({"dept.example"}), frozenset({"dept.example:80"}))
    with pytest.raises(TransportError) as refused:
        await _send(AiohttpTransport(policy=policy), f"http://{host}:{upstream.port}/ok")
    assert refused.value.kind == "connect"
    assert upstream.seen == []


@pytest.mark.parametrize(
    "target", ["http://169.254.169.254/latest/meta-data/", "/landed", "http://localhost/landed"]
)
async def test_a_redirect_from_an_allowed_host_is_an_error_and_not_followed(
    upstream: Upstream, target: str
) -> None:
    spec = parse_spec(
        {
            "id": "probe",
            "name_zh": "探针",
            "name_en": "Probe",
            "base_url": f"http://localhost:{upstream.port}",
            "operations": {
                "go": {
                    "summary_zh": "跳转",
                    "summary_en": "Redirect",
                    "method": "GET",
                    "path": "/redirect",
                    "query": {"to": f"'{target}'"},
                    "result": "@",
                }
            },
        },
        {},
    )
    policy = HostPolicy(frozenset({"localhost"}), frozenset({f"localhost:{upstream.port}"}))
    transport = AiohttpTransport(policy=policy)
    adapter = SpecAdapter(spec, transport)
    try:
        with pytest.raises(AdapterBadResponse) as refused:
            await adapter.call("go", {}, Caller(subject="s1", assurance_level=1), 5.0)
    finally:
        await transport.aclose()
    assert "redirect 302 not followed" in str(refused.value)
    assert len(upstream.seen) == 1 and upstream.seen[0].startswith("/redirect?")


async def test_a_refused_connection_is_an_operational_error_for_adapters(
    upstream: Upstream,
) -> None:
    spec = parse_spec(
        {
            "id": "probe",
            "name_zh": "探针",
            "name_en": "Probe",
            "base_url": f"http://localhost:{upstream.port}",
            "operations": {
                "go": {
                    "summary_zh": "查询",
                    "summary_en": "Query",
                    "method": "GET",
                    "path": "/ok",
                    "result": "@",
                }
            },
        },
        {},
    )
    transport = AiohttpTransport(policy=HostPolicy(frozenset({"localhost"})))
    try:
        with pytest.raises(AdapterUnavailable, match="connect"):
            await SpecAdapter(spec, transport).call(
                "go", {}, Caller(subject="s1", assurance_level=1), 5.0
            )
    finally:
        await transport.aclose()
    assert upstream.seen == []


async def test_without_a_policy_loopback_is_still_reached(upstream: Upstream) -> None:
    # The sandbox departments listen on loopback and use the unguarded transport.
    assert await _send(AiohttpTransport(), f"http://127.0.0.1:{upstream.port}/ok") == 200
    assert upstream.seen == ["/ok"]
