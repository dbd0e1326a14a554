"""The OpenAPI document as committed under openapi/: deterministic JSON."""

from __future__ import annotations

import json

from backend.app import create_app


def render_openapi() -> str:
    document = create_app().openapi()
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
