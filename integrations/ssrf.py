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
  host may be called. Entries are matched exactly and case-insensitively, after the
  same normalisation URL hosts get (trailing dot dropped, IDN to punycode, IPv6
  compressed). An entry with a port or scheme is refused when the policy is built.
* ``internal_allowed`` is a waiver, not a grant: a host must still be in
  ``allowed_hosts``; being in ``internal_allowed`` only lifts the internal-address
  refusal for that host as written in the URL (a name, or an IP literal).
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
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_middlewares import ClientHandlerType
from yarl import URL

__all__ = [
    "DestinationRefused",
    "GuardedResolver",
    "HostGuardMiddleware",
    "HostPolicy",
    "check_url",
    "check_url_resolving",
    "internal_reason",
    "normalise_host",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES = frozenset({"http", "https"})
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
# The WHATWG URL standard treats a host whose last label is a number as an IPv4
# address; so do browsers and curl. Such a host is never looked up as a name here.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_INET_ATON_CHARS = re.compile(r"[0-9a-fx.]+")
_SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598 (CGNAT)
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class DestinationRefused(OSError):
    """A call the policy forbids. An ``OSError`` so that aiohttp's connector reports it
    as a connection error (``ClientConnectorError``), like an unreachable host."""


def normalise_host(host: str) -> str:
    """The comparable form of a host: lower case, no brackets, no trailing dot, IDN as
    punycode, IPv6 compressed. Raises ``ValueError`` for something that is not a host."""
    text = host.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        # yarl keeps a zone id percent-encoded ("fe80::1%25eth0").
        return str(ipaddress.IPv6Address(text.replace("%25", "%")))
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    if not text.isascii():
        text = URL.build(scheme="http", host=text).raw_host or ""
    if not _HOST_NAME.fullmatch(text):
        raise ValueError(f"{host!r} is not a valid host name")
    return text


@dataclass(frozen=True)
class _Host:
    name: str  # normalised
    address: IPAddress | None  # set when the host is an IP literal in canonical form


def _parse_host(host: str) -> tuple[_Host | None, str | None]:
    """The host, or a problem: a malformed host or a non-standard IPv4 spelling."""
    try:
        name = normalise_host(host)
    except ValueError:
        return None, f"host {host!r} is not a valid host name or IP address"
    if ":" in name:
        return _Host(name, ipaddress.IPv6Address(name)), None
    if not _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]):
        return _Host(name, None), None
    try:
        return _Host(name, ipaddress.IPv4Address(name)), None
    except ValueError:
        pass
    # inet_aton accepts anything after a space, hence the character check first.
    try:
        if not _INET_ATON_CHARS.fullmatch(name):
            raise OSError
        meant = ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        return None, f"host {name!r} looks numeric but is not an IPv4 address"
    reason = internal_reason(meant)
    what = f"{meant} (internal: {reason})" if reason else str(meant)
    return None, (
        f"host {name!r} is a non-standard spelling of the IPv4 address {what}; "
        "numeric hosts must be written in dotted-decimal form"
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    if address.teredo is not None:
        return "Teredo", address.teredo[1]
    last32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in network for network in _NAT64):
        return "NAT64", last32
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # not :: or ::1
        return "IPv4-compatible", last32
    return None


def internal_reason(address: str | IPAddress) -> str | None:
    """Why ``address`` must not be called from the platform (``"loopback"``,
    ``"private"``…), or ``None`` for a globally routable address."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            kind, ipv4 = embedded
            inner = internal_reason(ipv4)
            if inner is not None:
                return f"{inner} ({ipv4} in {kind} form)"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (where the cloud metadata service lives)"
    if ip in _SHARED_ADDRESS_SPACE:
        return "shared (carrier-grade NAT)"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if ip in _UNIQUE_LOCAL:
        return "unique-local"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-global"
    return None


def _normalise_entries(entries: Iterable[str], name: str) -> frozenset[str]:
    normalised = set()
    for entry in entries:
        host, problem = _parse_host(entry)
        if host is None:
            raise ValueError(f"{name}: {problem} (entries are hosts without port or scheme)")
        normalised.add(host.name)
    return frozenset(normalised)


@dataclass(frozen=True)
class HostPolicy:
    """Which hosts one provider's adapter may call.

    ``allowed_hosts``: host names or IP literals, any port. ``internal_allowed``: hosts
    (as written in the URL) an administrator allowed to be or resolve to internal
    addresses; they must be in ``allowed_hosts`` as well. Entries are normalised on
    construction; an entry that is not a plain host raises ``ValueError``.
    """

    allowed_hosts: frozenset[str]
    internal_allowed: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # Frozen: normalise in place once, so lookups compare like with like.
        allowed = _normalise_entries(self.allowed_hosts, "allowed_hosts")
        internal = _normalise_entries(self.internal_allowed, "internal_allowed")
        object.__setattr__(self, "allowed_hosts", allowed)
        object.__setattr__(self, "internal_allowed", internal)

    def refusal(self, host: str) -> str | None:
        """Why a call to ``host`` (as written in a URL) is refused before any lookup:
        a bad or non-standard host, one not allowed, an internal IP literal."""
        parsed, problem = _parse_host(host)
        if parsed is None:
            return problem
        problems = self._host_problems(parsed)
        return problems[0] if problems else None

    def _host_problems(self, host: _Host) -> list[str]:
        problems = []
        if host.name not in self.allowed_hosts:
            problems.append(f"host {host.name} is not one of the provider's allowed hosts")
        if host.address is not None and host.name not in self.internal_allowed:
            reason = internal_reason(host.address)
            if reason is not None:
                problems.append(f"host {host.name} is an internal address ({reason})")
        return problems

    def address_refusal(self, host: str, address: str) -> str | None:
        """Why connecting to ``address``, which ``host`` resolved to, is refused."""
        if normalise_host(host) in self.internal_allowed:
            return None
        reason = internal_reason(address)
        if reason is None:
            return None
        return f"host {host} resolves to {address}, an internal address ({reason})"


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
    host, problem = _parse_host(parsed.raw_host)
    if host is None:
        assert problem is not None
        problems.append(problem)
    else:
        problems.extend(policy._host_problems(host))
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
    host, _ = _parse_host(parsed.raw_host or "")
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
    return [
        refusal
        for address in addresses
        if (refusal := policy.address_refusal(host.name, address)) is not None
    ]


class GuardedResolver(AbstractResolver):
    """Resolves only allowed hosts, and refuses a name whose addresses are internal
    (unless the host is in ``internal_allowed``), on every lookup the connector makes.

    Wraps ``aiohttp.ThreadedResolver`` by default: the system resolver, the same one
    :func:`check_url_resolving` asks, and nothing to release on close.
    """

    def __init__(self, policy: HostPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner if inner is not None else aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        refusal = self._policy.refusal(host)
        if refusal is not None:
            raise DestinationRefused(refusal)
        results = await self._inner.resolve(host, port, family)
        for result in results:
            refusal = self._policy.address_refusal(host, result["host"])
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
        refusal = self._policy.refusal(request.url.raw_host or "")
        if refusal is not None:
            # A connector error, as if the host were unreachable: not retried by aiohttp,
            # and reported by the transport as a "connect" failure.
            raise aiohttp.ClientConnectorError(request.connection_key, DestinationRefused(refusal))
        return await handler(request)
