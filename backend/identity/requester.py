"""Who is asking, as the sign-in limits count it: the client's address.

The one place sign-in reads the client's address. Today that is ``request.client.host``,
which uvicorn sets from ``X-Forwarded-For`` when the peer is a proxy it trusts;
``HEFEITONG_TRUSTED_PROXIES`` (issue 13, finding 7) decides that, and its client-address
function replaces the line marked below.

An IPv6 client counts by its /64 network: a provider hands a whole /64 to one subscriber, so
the host bits are free for one person to vary and would give each request a budget of its own.
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request

UNKNOWN = "unknown"


def client_address(request: Request) -> str:
    # Joined with the trusted-proxies client-address function (finding 7) at merge.
    return request.client.host if request.client else UNKNOWN


def requester_of(request: Request) -> str:
    """The requester key of a request: an IPv4 address, an IPv6 /64 network, or "unknown"."""
    return requester_from_address(client_address(request))


def requester_from_address(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an address (a test client's name): counted as it is
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)
