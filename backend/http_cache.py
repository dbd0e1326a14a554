"""Conditional GET for cacheable reads: ``ETag`` from the body, ``304`` on ``If-None-Match``."""

from __future__ import annotations

import hashlib

from fastapi import Request, Response
from pydantic import BaseModel


def cached_json(request: Request, model: BaseModel, *, max_age: int) -> Response:
    body = model.model_dump_json().encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}"}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = [c.strip() for c in if_none_match.split(",")]
    # Weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
    return "*" in candidates or any(c.removeprefix("W/") == etag for c in candidates)
