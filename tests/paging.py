"""Reading cursor-paged lists as a client does: page after page, following ``next_cursor``."""

from __future__ import annotations

from typing import Any

import httpx


async def pages(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> list[list[dict[str, Any]]]:
    """Every page of a list, in order, until ``next_cursor`` is null."""
    found: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        response = await client.get(path, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        found.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found
        assert len(found) < 1000, "the cursor never came to an end"


async def every_item(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    """Every item of a list, all pages read."""
    return [item for page in await pages(client, path, headers, **params) for item in page]
