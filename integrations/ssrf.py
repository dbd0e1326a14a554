"""Keeping provider-registered URLs off the platform's own network (SSRF guard).

Departments register their own adapter specs, so a ``base_url`` or OAuth ``token_url``
is chosen by someone outside the platform. Without a guard the gateway could be
pointed at itself: the cloud metadata service (169.254.169.254), Redis or PostgreSQL
on a private address, an admin port on loopback. The guard works in two places:

* at registration, :func:`check_url` (static) and :func:`check_url_resolving` (also
  looks the name up) list every problem with a URL, for the provider API to report;
* at call time, because DNS can change after registration (a name that later
  points inward is still refused): :class:`GuardedResolver` vets every address a
  name resolves to, and :class:`HostGuardMiddleware` vets hosts written as IP
  literals, which aiohttp connects to without asking the resolver. Install both
  with ``AiohttpTransport(policy=...)``.

Decisions:

* ``allowed_hosts`` holds host names or IP literals, no ports: any port of an allowed
  (public) host may be called. Entries are matched exactly and case-insensitively, after
  the same normalisation URL hosts get (trailing dot dropped, IDN to punycode, IPv6
  compressed). An entry with a port or scheme is refused when the policy is built.
* ``internal_allowed`` is a waiver, not a grant, and it is for one port: entries are
  ``host:port`` (``10.2.3.4:8443``, ``[fd00::1]:80``, ``dept.gov.internal:443``) and the
  host must still be in ``allowed_hosts``. An entry lifts the internal-address refusal
  only for that host as written in the URL (a name, or an IP literal) *and* that port
  (the scheme's default when the URL has none). A bare host is refused: an internal
  host usually runs more than the department's system (an SMS gateway's admin inbox,
  a database, a metrics page on the next port), and a waiver for every port let a
  provider's spec read them.
* Non-standard IPv4 spellings (``2130706433``, ``0x7f000001``, ``0177.0.0.1``,
  ``127.1``) are refused outright, whatever they point at and whatever the policy
  says: parsers disagree about them (aiohttp itself refuses them at connect), so
  the only safe reading is none. The message names the address they spell, normalised
  with ``socket.inet_aton`` semantics, so the provider sees what was meant.
* "Internal" is decided by the stdlib ``ipaddress`` module: anything not globally
  routable, plus multicast, reserved and site-local addresses, and IPv6 addresses
  that embed an internal IPv4 one (IPv4-mapped, IPv4-compatible, 6to4, Teredo, NAT64).
* When a name resolves to several addresses, one internal address refuses it: the
  connector may pick any of them.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_middlewares import ClientHandlerType
from yarl import URL

from integrations.hosts import (
    Host,
    endpoint,
    endpoint_problem,
    host_of_endpoint,
    host_problem,
    internal_reason,
    normalise_host,
    parse_endpoint,
    parse_host,
    split_endpoint,
)

__all__ = [
    "DestinationRefused",
    "GuardedResolver",
    "HostGuardMiddleware",
    "HostPolicy",
    "check_url",
    "check_url_resolving",
    "endpoint_problem",
    "host_problem",
    "internal_reason",
    "normalise_host",
    "split_endpoint",
]

_SCHEMES = frozenset({"http", "https"})


class DestinationRefused(OSError):
    """A call the policy forbids. An ``OSError`` so that aiohttp's connector reports it
    as a connection error (``ClientConnectorError``), like an unreachable host."""


def _normalise_entries(entries: Iterable[str], name: str) -> frozenset[str]:
    normalised = set()
    for entry in entries:
        host, problem = parse_host(entry)
        if host is None:
            raise ValueError(f"{name}: {problem} (entries are hosts without port or scheme)")
        normalised.add(host.name)
    return frozenset(normalised)


def _normalise_endpoints(entries: Iterable[str], allowed: frozenset[str]) -> frozenset[str]:
    normalised = set()
    for entry in entries:
        endpoint, problem = parse_endpoint(entry)
        if endpoint is None:
            raise ValueError(f"internal_allowed: {problem}")
        if host_of_endpoint(endpoint) not in allowed:
            raise ValueError(
                f"internal_allowed: {entry!r}: its host must be one of the allowed hosts too"
            )
        normalised.add(endpoint)
    return frozenset(normalised)


@dataclass(frozen=True)
class HostPolicy:
    """Which hosts one provider's adapter may call.

    ``allowed_hosts``: host names or IP literals, any port. ``internal_allowed``:
    ``host:port`` pairs (the host as written in the URL) an administrator allowed to be
    or resolve to internal addresses, on that port only; their hosts must be in
    ``allowed_hosts`` as well. Entries are normalised on construction; an entry that is
    not a plain host (``allowed_hosts``) or a ``host:port`` of an allowed host
    (``internal_allowed``) raises ``ValueError``.
    """

    allowed_hosts: frozenset[str]
    internal_allowed: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # Frozen: normalise in place once, so lookups compare like with like.
        allowed = _normalise_entries(self.allowed_hosts, "allowed_hosts")
        internal = _normalise_endpoints(self.internal_allowed, allowed)
        object.__setattr__(self, "allowed_hosts", allowed)
        object.__setattr__(self, "internal_allowed", internal)

    def refusal(self, host: str, port: int) -> str | None:
        """Why a call to ``host`` (as written in a URL) on ``port`` is refused before any
        lookup: a bad or non-standard host, one not allowed, an internal IP literal on a
        port no exemption names."""
        parsed, problem = parse_host(host)
        if parsed is None:
            return problem
        problems = self._host_problems(parsed, port)
        return problems[0] if problems else None

    def exempts(self, host: str, port: int) -> bool:
        """Whether ``host:port`` is one of the internal exemptions."""
        parsed, _ = parse_host(host)
        return parsed is not None and endpoint(parsed.name, port) in self.internal_allowed

    def exempts_url(self, url: str) -> bool:
        """Whether a call to ``url`` goes to an internal exemption (its host and port)."""
        try:
            parsed = URL(url)
        except ValueError:
            return False
        if not parsed.raw_host or parsed.port is None:
            return False
        return self.exempts(parsed.raw_host, parsed.port)

    def _host_problems(self, host: Host, port: int | None) -> list[str]:
        problems = []
        if host.name not in self.allowed_hosts:
            problems.append(f"host {host.name} is not one of the provider's allowed hosts")
        if host.address is not None and not self._exempt(host.name, port):
            reason = internal_reason(host.address)
            if reason is not None:
                problems.append(
                    f"host {host.name} is an internal address ({reason})"
                    + self._port_hint(host.name, port)
                )
        return problems

    def _exempt(self, host: str, port: int | None) -> bool:
        return port is not None and endpoint(host, port) in self.internal_allowed

    def _port_hint(self, host: str, port: int | None) -> str:
        ports = sorted(
            int(e.rsplit(":", 1)[1]) for e in self.internal_allowed if host_of_endpoint(e) == host
        )
        if not ports or port is None:
            return ""
        allowed = ", ".join(str(p) for p in ports)
        return f"; it is exempted on port {allowed} only, not {port}"

    def address_refusal(self, host: str, port: int, address: str) -> str | None:
        """Why connecting to ``address`` on ``port``, which ``host`` resolved to, is
        refused."""
        name = normalise_host(host)
        if self._exempt(name, port):
            return None
        reason = internal_reason(address)
        if reason is None:
            return None
        return (
            f"host {host} resolves to {address}, an internal address ({reason})"
            + self._port_hint(name, port)
        )


def check_url(url: str, policy: HostPolicy) -> list[str]:
    """Every static problem with a provider-supplied URL (empty when it may be used).

    Messages start with what is wrong and carry no field name, so the caller can
    prefix the spec path (``base_url``, ``auth.token_url``).
    """
    if any(ch.isspace() or ord(ch) < 0x20 or ch in "\\\x7f" for ch in url):
        # Parsers disagree about these; refusing them avoids reading a URL two ways.
        return ["URL must not contain whitespace, control characters or backslashes"]
    try:
        parsed = URL(url)
        netloc = urlsplit(url).netloc
    except ValueError:
        return ["URL is not a valid absolute URL"]
    problems: list[str] = []
    if parsed.scheme not in _SCHEMES:
        problems.append(f"scheme must be http or https, not {parsed.scheme or 'missing'!r}")
    # yarl drops an empty "@"; urlsplit's netloc still shows it.
    if parsed.raw_user is not None or parsed.raw_password is not None or "@" in netloc:
        problems.append("URL must not contain user information (user@host)")
    if not parsed.raw_host:
        problems.append("URL has no host")
        return problems
    port = parsed.port  # the scheme's default when the URL has none
    if parsed.scheme in _SCHEMES and (port is None or not 1 <= port <= 65535):
        problems.append("URL port must be a number from 1 to 65535")
    host, problem = parse_host(parsed.raw_host)
    if host is None:
        assert problem is not None
        problems.append(problem)
    else:
        problems.extend(policy._host_problems(host, port))
    return problems


async def check_url_resolving(url: str, policy: HostPolicy, *, timeout: float = 5.0) -> list[str]:
    """:func:`check_url`, then look the host name up now and refuse it when it does not
    resolve or any address it resolves to is internal (unless ``internal_allowed``).

    A URL with static problems is not looked up: it is refused already, and the
    platform should not resolve names a provider may not use.
    """
    problems = check_url(url, policy)
    if problems:
        return problems
    parsed = URL(url)
    host, _ = parse_host(parsed.raw_host or "")
    if host is None or host.address is not None:
        return []  # an IP literal: check_url decided already
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(host.name, parsed.port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return [f"host {host.name} does not resolve"]
    except TimeoutError:
        return [f"host {host.name} did not resolve within {timeout:g} s"]
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        return [f"host {host.name} does not resolve"]
    port = parsed.port
    assert port is not None  # check_url refused a URL without one
    return [
        refusal
        for address in addresses
        if (refusal := policy.address_refusal(host.name, port, address)) is not None
    ]


class GuardedResolver(AbstractResolver):
    """Resolves only allowed hosts, and refuses a name whose addresses are internal
    (unless the host and the port asked for are in ``internal_allowed``), on every
    lookup the connector makes.

    Wraps ``aiohttp.ThreadedResolver`` by default: the system resolver, the same one
    :func:`check_url_resolving` asks, and nothing to release on close.
    """

    def __init__(self, policy: HostPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner if inner is not None else aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        # aiohttp asks with the URL's port (the scheme's default when none is written).
        refusal = self._policy.refusal(host, port)
        if refusal is not None:
            raise DestinationRefused(refusal)
        results = await self._inner.resolve(host, port, family)
        for result in results:
            refusal = self._policy.address_refusal(host, port, result["host"])
            if refusal is not None:
                raise DestinationRefused(refusal)
        return results

    async def close(self) -> None:
        await self._inner.close()


class HostGuardMiddleware:
    """aiohttp client middleware refusing a request whose URL host the policy forbids.

    Needed beside :class:`GuardedResolver` because aiohttp connects to an IP literal
    (``http://10.0.0.1/``) without asking the resolver.
    """

    def __init__(self, policy: HostPolicy) -> None:
        self._policy = policy

    async def __call__(
        self, request: aiohttp.ClientRequest, handler: ClientHandlerType
    ) -> aiohttp.ClientResponse:
        url = request.url
        refusal = self._policy.refusal(url.raw_host or "", url.port or 0)
        if refusal is not None:
            # A connector error, as if the host were unreachable: not retried by aiohttp,
            # and reported by the transport as a "connect" failure.
            raise aiohttp.ClientConnectorError(request.connection_key, DestinationRefused(refusal))
        return await handler(request)
