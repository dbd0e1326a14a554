"""Catalog search latency, in-process, against a naive-substring baseline in the same run.

    .venv/bin/python bench/catalog_search.py [--rounds 7] [--repeat 200]

For each query class it reports the median over rounds of the per-query p50 and p99
(microseconds) of ``CatalogSnapshot.find_services`` (ranked search over all 238
services) and of a baseline that only does ``q in name_zh`` over the same services,
plus the same search through the full HTTP stack in-process (ASGI, no network).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from backend.app import create_app
from backend.app_state import state_of
from backend.catalog.service import CatalogSnapshot, ServiceFilter
from backend.settings import Settings

QUERIES = {
    "chinese": ["公积金", "社保", "挂号", "驾驶证", "入学", "公积金提取", "医保 报销"],
    "full pinyin": ["gongjijin", "shebao", "guahao", "jiashizheng", "ruxue"],
    "initials": ["gjj", "sb", "gh", "jsz", "yb"],
    "english": ["provident fund", "pension", "appointment", "driving licence", "school"],
    "no match": ["zzzzqqqq", "不存在的服务名"],
}


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def time_calls(fn: object, queries: list[str], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        for q in queries:
            start = time.perf_counter_ns()
            fn(q)  # type: ignore[operator]
            samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


async def main(rounds: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(env="test", var_dir=Path(tmp), log_level="WARNING")
        app = create_app(settings)
        async with LifespanManager(app):
            snapshot: CatalogSnapshot = state_of(app).catalog.snapshot
            services = list(snapshot.services.values())

            def search(q: str) -> object:
                return snapshot.find_services(ServiceFilter(q=q))

            def baseline(q: str) -> object:
                return [s for s in services if q in s.name_zh]

            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                rows = []
                for label, queries in QUERIES.items():
                    p50s, p99s, b50s, h50s, h99s = [], [], [], [], []
                    for _ in range(rounds):
                        s = time_calls(search, queries, repeat)
                        b = time_calls(baseline, queries, repeat)
                        p50s.append(percentile(s, 50))
                        p99s.append(percentile(s, 99))
                        b50s.append(percentile(b, 50))
                        http: list[float] = []
                        for _ in range(max(1, repeat // 10)):
                            for q in queries:
                                start = time.perf_counter_ns()
                                r = await client.get("/v1/services", params={"q": q})
                                http.append((time.perf_counter_ns() - start) / 1000)
                                assert r.status_code == 200
                        h50s.append(percentile(http, 50))
                        h99s.append(percentile(http, 99))
                    rows.append(
                        (
                            label,
                            statistics.median(p50s),
                            statistics.median(p99s),
                            statistics.median(b50s),
                            statistics.median(h50s),
                            statistics.median(h99s),
                        )
                    )
    print(f"rounds={rounds} repeat={repeat} services={len(services)}")
    print(
        "| query class | search p50 µs | search p99 µs | baseline p50 µs | ratio p50 "
        "| HTTP p50 µs | HTTP p99 µs |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, p50, p99, b50, h50, h99 in rows:
        print(
            f"| {label} | {p50:.0f} | {p99:.0f} | {b50:.1f} | {p50 / b50:.0f}× "
            f"| {h50:.0f} | {h99:.0f} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.repeat))
