"""Who is asking, as the sign-in limits count it: the client's address, by network.

The address is ``client_ip`` (backend/client_address.py): the peer's, or what a proxy in
``HEFEITONG_TRUSTED_PROXIES`` forwarded. An IPv6 client counts by its /64 network: a provider
hands a whole /64 to one subscriber, so the host bits are free for one person to vary and would
give each request a budget of its own.
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request

from backend.client_address import client_ip


def requester_of(request: Request) -> str:
    """The requester key of a request: an IPv4 address, an IPv6 /64 network, or "unknown"."""
    return requester_from_address(client_ip(request))


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
