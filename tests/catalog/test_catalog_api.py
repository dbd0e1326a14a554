"""The catalog as the app sees it, on the embedded default and on PostgreSQL + Redis."""

from __future__ import annotations

import httpx
import pytest

from backend.catalog.data_file import BUNDLED_CATALOG, load_catalog_file

CATALOG, _ = load_catalog_file(BUNDLED_CATALOG)


async def test_five_domains_sum_to_238_services(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/domains")
    assert response.status_code == 200
    body = response.json()
    assert [d["code"] for d in body["items"]] == [
        "healthcare",
        "social_security",
        "housing",
        "transport",
        "education",
    ]
    assert sum(d["service_count"] for d in body["items"]) == 238 == body["total_services"]
    assert all(d["service_count"] > 0 for d in body["items"])
    assert {d["name_zh"] for d in body["items"]} == {
        "医疗健康",
        "社保就业",
        "住房公积金",
        "交通出行",
        "教育服务",
    }


async def test_service_list_pages_through_every_service_once(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    page = 1
    while True:
        body = (await client.get("/v1/services", params={"page": page, "page_size": 100})).json()
        assert body["total"] == 238
        seen += [item["code"] for item in body["items"]]
        if len(body["items"]) < 100:
            break
        page += 1
    assert len(seen) == len(set(seen)) == 238
    assert seen == [s.code for s in CATALOG.services]


async def test_page_size_over_maximum_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/services", params={"page_size": 101})
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["code"] == "VALIDATION_FAILED"
    assert problem["errors"][0]["location"] == ["query", "page_size"]


@pytest.mark.parametrize("kind", ["query", "appointment", "application", "payment", "guide"])
async def test_filter_by_domain_and_kind(client: httpx.AsyncClient, kind: str) -> None:
    expected = [s.code for s in CATALOG.services if s.domain == "housing" and s.kind == kind]
    body = (
        await client.get(
            "/v1/services", params={"domain": "housing", "kind": kind, "page_size": 100}
        )
    ).json()
    assert [i["code"] for i in body["items"]] == expected
    assert body["total"] == len(expected)


async def test_filter_by_region_keeps_citywide_and_local_services(
    client: httpx.AsyncClient,
) -> None:
    local = [s for s in CATALOG.services if s.regions != "all"]
    assert local, "the catalog should have some services offered only in some regions"
    region = local[0].regions[0]
    expected = {s.code for s in CATALOG.services if s.regions == "all" or region in s.regions}
    codes: set[str] = set()
    for page in (1, 2, 3):
        body = (
            await client.get(
                "/v1/services", params={"region": region, "page": page, "page_size": 100}
            )
        ).json()
        codes |= {i["code"] for i in body["items"]}
        assert all(region in i["regions"] for i in body["items"])
    assert codes == expected


async def test_unknown_kind_or_malformed_region_is_422(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/services", params={"kind": "teleport"})).status_code == 422
    assert (await client.get("/v1/services", params={"region": "hefei"})).status_code == 422


async def test_service_detail_carries_application_terms(client: httpx.AsyncClient) -> None:
    app_service = next(s for s in CATALOG.services if s.kind == "application")
    body = (await client.get(f"/v1/services/{app_service.code}")).json()
    assert body["name_zh"] == app_service.name_zh
    assert body["application"]["trips"] == app_service.trips
    assert body["application"]["promised_days"] <= body["application"]["statutory_days"]
    assert body["application"]["materials"]
    assert body["adapter"]["id"] == app_service.adapter.id  # type: ignore[union-attr]
    guide = next(s for s in CATALOG.services if s.kind == "guide")
    body = (await client.get(f"/v1/services/{guide.code}")).json()
    assert body["application"] is None and body["adapter"] is None


async def test_unknown_service_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/services/no-such-service")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "SERVICE_NOT_FOUND"
    assert problem["title"] == "服务事项不存在"
    assert problem["status"] == 404
    assert problem["request_id"] == response.headers["x-request-id"]
    english = await client.get("/v1/services/NOPE", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.json()["title"] == "Service not found"


@pytest.mark.parametrize("query", ["gjj", "gongjijin", "公积金", "GJJ", "provident fund"])
async def test_search_puts_provident_fund_services_first(
    client: httpx.AsyncClient, query: str
) -> None:
    body = (await client.get("/v1/services", params={"q": query})).json()
    assert body["total"] >= 3
    top = body["items"][:3]
    for item in top:
        assert item["domain"] == "housing", (query, [i["name_zh"] for i in body["items"]])
        assert "公积金" in item["name_zh"], (query, [i["name_zh"] for i in body["items"]])


async def test_search_with_no_match_is_empty_not_an_error(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/services", params={"q": "zzzzqqqq"})).json()
    assert body == {"items": [], "total": 0, "page": 1, "page_size": 20}


async def test_search_combines_with_filters(client: httpx.AsyncClient) -> None:
    everything = (await client.get("/v1/services", params={"q": "查询", "page_size": 100})).json()
    queries = (
        await client.get("/v1/services", params={"q": "查询", "kind": "query", "page_size": 100})
    ).json()
    assert 0 < queries["total"] <= everything["total"]
    assert all(i["kind"] == "query" for i in queries["items"])


async def test_life_events_group_services_across_domains(client: httpx.AsyncClient) -> None:
    events = (await client.get("/v1/life-events")).json()["items"]
    codes = {e["code"] for e in events}
    assert {"newborn", "moving-house", "retirement", "buying-a-car"} <= codes
    newborn = (await client.get("/v1/life-events/newborn")).json()
    expected = next(e for e in CATALOG.life_events if e.code == "newborn").services
    assert [s["code"] for s in newborn["services"]] == expected
    assert newborn["service_count"] == len(expected)
    listed = (
        await client.get("/v1/services", params={"life_event": "newborn", "page_size": 100})
    ).json()
    assert {i["code"] for i in listed["items"]} == set(expected)
    missing = await client.get("/v1/life-events/no-such-event")
    assert missing.status_code == 404
    assert missing.json()["code"] == "LIFE_EVENT_NOT_FOUND"


async def test_catalog_reads_are_conditional(client: httpx.AsyncClient) -> None:
    first = await client.get("/v1/services", params={"q": "gjj"})
    etag = first.headers["etag"]
    assert "max-age" in first.headers["cache-control"]
    again = await client.get("/v1/services", params={"q": "gjj"}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    weak = await client.get(
        "/v1/services", params={"q": "gjj"}, headers={"If-None-Match": f'"other", W/{etag}'}
    )
    assert weak.status_code == 304
    other = await client.get(
        "/v1/services", params={"q": "公积金"}, headers={"If-None-Match": etag}
    )
    assert other.status_code == 200
    for path in ("/v1/domains", "/v1/life-events", "/v1/services/" + CATALOG.services[0].code):
        response = await client.get(path)
        assert response.status_code == 200
        cached = await client.get(path, headers={"If-None-Match": response.headers["etag"]})
        assert cached.status_code == 304
