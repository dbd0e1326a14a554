"""Who is calling, as the gateway and departments see it: a ``Caller``.

A bearer access token is the real thing. The test header below is honoured only
when ``HEFEITONG_ENV=test`` (the test suite and the benchmarks, which need a citizen
with a given ID number without signing one in); everywhere else it is refused.

Test header:
``X-Dev-Citizen: <18-digit ID number>`` plus optional ``X-Dev-Level`` (0–3, default 2),
``X-Dev-Name`` (percent-encoded UTF-8) and ``X-Dev-Phone``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Request

from backend.identity.auth import CitizenToken, bearer_token, identity_of, verified_claims
from backend.identity.exceptions import AuthenticationRequired, InvalidDevIdentity
from backend.state import settings_of
from integrations.base import Caller
from integrations.identifiers import is_valid_id_number

ANONYMOUS = Caller(subject="anonymous", assurance_level=0)


def _dev_caller(request: Request) -> Caller | None:
    headers = request.headers
    id_number = headers.get("x-dev-citizen")
    if id_number is None:
        return None
    if settings_of(request).env != "test":
        raise AuthenticationRequired("X-Dev-Citizen is only honoured with HEFEITONG_ENV=test")
    return _parse_dev_caller(
        id_number, headers.get("x-dev-level", "2"), headers.get("x-dev-name"),
        headers.get("x-dev-phone"),
    )  # fmt: skip


@lru_cache(maxsize=4096)
def _parse_dev_caller(
    id_number: str, level_text: str, name: str | None, phone: str | None
) -> Caller:
    id_number = id_number.strip().upper()
    if not is_valid_id_number(id_number):
        raise InvalidDevIdentity("X-Dev-Citizen is not a valid national ID number")
    if level_text not in ("0", "1", "2", "3"):
        raise InvalidDevIdentity("X-Dev-Level must be 0, 1, 2 or 3")
    return Caller(
        # An opaque subject: caches and logs key on it, never on the ID number itself.
        subject="dev-" + hashlib.sha256(id_number.encode()).hexdigest()[:24],
        assurance_level=int(level_text),
        id_number=id_number,
        name=unquote(name) if name else None,
        phone=phone,
    )


async def optional_caller_from(request: Request) -> Caller:
    token = bearer_token(request)
    if token is not None:
        claims = await verified_claims(request, token)
        return await identity_of(request).caller(claims)
    return _dev_caller(request) or ANONYMOUS


async def current_caller(request: Request, _: CitizenToken = None) -> Caller:
    caller = await optional_caller_from(request)
    if caller is ANONYMOUS:
        raise AuthenticationRequired(headers={"WWW-Authenticate": 'Bearer realm="hefeitong"'})
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]
