"""A new definition of an operation is never answered from the old definition's cache."""

from __future__ import annotations

import copy

import httpx
from fastapi import FastAPI

from backend.app_state import state_of
from integrations.http_adapter import SpecAdapter
from integrations.spec import parse_spec
from tests.gateway.helpers import citizen, headers

INVOKE = "/v1/services/hpf-balance-query/invoke"  # provident_fund.balance, cache_ttl 300


async def test_a_published_definition_is_not_answered_from_the_old_cache(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    who = headers(citizen("cache-revision"))
    first = await client.post(INVOKE, json={}, headers=who)
    again = await client.post(INVOKE, json={}, headers=who)
    assert (first.json()["cache"], again.json()["cache"]) == ("miss", "hit")
    assert "account_no" in again.json()["data"]

    # A new version maps the answer differently, swapped in as a provider publish does it.
    registry = state_of(app).registry
    current = registry.get("provident_fund")
    assert isinstance(current, SpecAdapter)
    # Every worker that loaded the same definition shares the cached answers.
    reloaded = parse_spec(copy.deepcopy(current.spec.raw), {})
    assert reloaded.operations["balance"].info.revision == current.operations["balance"].revision
    document = copy.deepcopy(current.spec.raw)
    document["operations"]["balance"]["result"] = "data.{balance: balance}"
    registry.register(SpecAdapter(parse_spec(document, {}), current.transport), replace=True)
    state_of(app).gateway.invoker.forget("provident_fund")
    try:
        after = await client.post(INVOKE, json={}, headers=who)
        assert after.json()["cache"] == "miss"
        assert after.json()["data"] == {"balance": first.json()["data"]["balance"]}
    finally:  # the app is shared: the next test gets the bundled definition back
        registry.register(current, replace=True)
        state_of(app).gateway.invoker.forget("provident_fund")
