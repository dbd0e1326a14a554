"""Hosts as the SSRF guard (integrations/ssrf.py) reads them: parsing, normalising, which
addresses are internal, and the ``host:port`` entries of internal exemptions.

Kept apart from the guard itself so each file says one thing: this one what a host *is*,
the guard what may be *called*.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

from yarl import URL

__all__ = [
    "Host",
    "IPAddress",
    "endpoint",
    "endpoint_problem",
    "host_of_endpoint",
    "host_problem",
    "internal_reason",
    "normalise_host",
    "parse_endpoint",
    "parse_host",
    "split_endpoint",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

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
class Host:
    name: str  # normalised
    address: IPAddress | None  # set when the host is an IP literal in canonical form


def parse_host(host: str) -> tuple[Host | None, str | None]:
    """The host, or a problem: a malformed host or a non-standard IPv4 spelling."""
    try:
        name = normalise_host(host)
    except ValueError:
        return None, f"host {host!r} is not a valid host name or IP address"
    if ":" in name:
        return Host(name, ipaddress.IPv6Address(name)), None
    if not _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]):
        return Host(name, None), None
    try:
        return Host(name, ipaddress.IPv4Address(name)), None
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


def endpoint(host: str, port: int) -> str:
    """``host:port`` as internal exemptions are kept: the host normalised, IPv6 in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def host_problem(entry: str) -> str | None:
    """Why ``entry`` is not a plain host for ``allowed_hosts``, or ``None``."""
    host, problem = parse_host(entry)
    if host is None:
        return f"{problem} (entries are hosts without port or scheme)"
    return None


def parse_endpoint(entry: str) -> tuple[str | None, str | None]:
    """The normalised ``host:port`` of an internal exemption, or why it is not one."""
    text = entry.strip()
    port: str | None
    if text.startswith("["):
        host, close, rest = text[1:].partition("]")
        if not close or (rest and not rest.startswith(":")):
            return None, f"{entry!r} is not host:port"
        port = rest[1:] if rest else None
    elif text.count(":") > 1:  # an IPv6 address without brackets: no port can follow
        host, port = text, None
    else:
        host, sep, port_text = text.partition(":")
        port = port_text if sep else None
    parsed, problem = parse_host(host)
    if parsed is None:
        return None, f"{problem} (entries are host:port, without scheme)"
    if port is None:
        return None, (
            f"{entry!r} has no port: an internal host is exempted on one port only, "
            f"written host:port (e.g. {endpoint(parsed.name, 8080)!r})"
        )
    if not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        return None, f"{entry!r}: the port must be a number from 1 to 65535"
    return endpoint(parsed.name, int(port)), None


def endpoint_problem(entry: str) -> str | None:
    """Why ``entry`` is not a ``host:port`` for ``internal_allowed``, or ``None``."""
    return parse_endpoint(entry)[1]


def split_endpoint(entry: str) -> tuple[str, int]:
    """The normalised host and the port of a ``host:port`` entry; ``ValueError`` (saying
    why) for anything else, a bare host included."""
    endpoint, problem = parse_endpoint(entry)
    if endpoint is None:
        raise ValueError(problem)
    host, port = endpoint.rsplit(":", 1)
    return (host[1:-1] if host.startswith("[") else host), int(port)


def host_of_endpoint(endpoint: str) -> str:
    return split_endpoint(endpoint)[0]
