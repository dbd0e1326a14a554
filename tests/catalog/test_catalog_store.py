"""Loading is all-or-nothing, and running servers pick up a newly loaded catalog."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from backend.app_state import state_of
from backend.catalog.data_file import BUNDLED_CATALOG, load_catalog_file
from backend.catalog.service import stored_revision
from backend.migrate import load_catalog


class _Abort(Exception):
    pass


async def test_a_failed_load_leaves_the_previous_catalog(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, _ = app_client
    catalog, sha = load_catalog_file(BUNDLED_CATALOG)
    first = catalog.services[0]
    renamed = catalog.model_copy(
        update={
            "services": [first.model_copy(update={"name_zh": "半途而废"}), *catalog.services[1:]]
        }
    )
    with pytest.raises(_Abort):
        async with state_of(app).sessions() as session, session.begin():
            await load_catalog(session, renamed, source="partial", source_sha256="x")
            raise _Abort  # e.g. the process is interrupted half-way through the load
    async with state_of(app).sessions() as session:
        row = await stored_revision(session)
    assert row is not None and row.source == "bundled" and row.source_sha256 == sha
    assert await state_of(app).catalog.refresh_if_changed() is False
    assert state_of(app).catalog.snapshot.services[first.code].name_zh == first.name_zh


async def test_running_server_sees_a_new_catalog_revision(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    catalog, sha = load_catalog_file(BUNDLED_CATALOG)
    first = catalog.services[0]
    edited = catalog.model_copy(
        update={
            "services": [
                first.model_copy(update={"name_zh": "新版服务名称"}),
                *catalog.services[1:],
            ]
        }
    )
    async with state_of(app).sessions() as session, session.begin():
        await load_catalog(session, edited, source="edited.yaml", source_sha256="y")
    assert await state_of(app).catalog.refresh_if_changed() is True
    body = (await client.get(f"/v1/services/{first.code}")).json()
    assert body["name_zh"] == "新版服务名称"
    found = (await client.get("/v1/services", params={"q": "新版服务"})).json()
    assert found["items"][0]["code"] == first.code
    # Put the bundled catalog back for the tests that share this database.
    async with state_of(app).sessions() as session, session.begin():
        await load_catalog(session, catalog, source="bundled", source_sha256=sha)
