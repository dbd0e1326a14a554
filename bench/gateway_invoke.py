"""Gateway invoke throughput against its baselines, measured in the same run.

    .venv/bin/python bench/gateway_invoke.py [--rounds 3] [--seconds 8] [--connections 32]

Needs wrk and nginx (apt-get install -y wrk nginx-light). Each round runs, one after
the other on the same machine:

* cache miss: ``POST /v1/services/<booking service>/invoke`` (a write, never cached:
  identity, catalog, parameter schema, breaker, JSON request with API key, reply
  mapping) against an nginx upstream, versus a minimal FastAPI proxy using aiohttp's
  client that forwards the same body to the same upstream;
* cache hit: ``POST /v1/services/<balance query>/invoke`` answered from the per-citizen
  cache, versus a FastAPI endpoint returning a constant small JSON.

Reported: medians over rounds of requests/s and p50/p99 latency, and the ratios.
Both apps run under uvicorn with one worker and access logs off; ours runs its
production middleware (request ids, metrics, structured logs at WARNING).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import WrkResult, nginx_upstream, uvicorn_server, wrk

CITIZEN = "340104199003072019"
HEADERS = {
    "Content-Type": "application/json",
    "X-Dev-Citizen": CITIZEN,
    "X-Dev-Level": "3",
    "X-Dev-Name": quote("张三"),
}
BOOKING_REPLY: dict[str, object] = {
    "code": 0,
    "message": "ok",
    "data": {"appointmentId": "A20261126001", "status": "BOOKED", "slotId": "S1"},
}
BALANCE_REPLY: dict[str, object] = {
    "code": "0000",
    "msg": "success",
    "data": {
        "name": "张三",
        "accountNo": "GJJ001",
        "balance": "12345.67",
        "monthlyDeposit": "1200.00",
        "depositBase": "10000.00",
        "status": "正常缴存",
        "lastDepositMonth": "2026-10",
    },
}


def service_codes() -> tuple[str, str]:
    from backend.catalog.data_file import BUNDLED_CATALOG, load_catalog_file

    catalog, _ = load_catalog_file(BUNDLED_CATALOG)

    def find(adapter: str, operation: str) -> str:
        return next(
            s.code
            for s in catalog.services
            if s.adapter and (s.adapter.id, s.adapter.operation) == (adapter, operation)
        )

    return find("hospital", "book"), find("provident_fund", "balance")


def summarize(results: list[WrkResult]) -> tuple[float, float, float]:
    return (
        statistics.median(r.requests_per_second for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
    )


def main(rounds: int, seconds: int, connections: int) -> None:
    booking, balance = service_codes()
    routes: dict[str, dict[str, object]] = {
        "/api/v2/appointments": BOOKING_REPLY,
        "/openapi/gjj/account/balance": BALANCE_REPLY,
    }
    results: dict[str, list[WrkResult]] = {k: [] for k in ("proxy", "miss", "constant", "hit")}
    with nginx_upstream(routes) as upstream, tempfile.TemporaryDirectory() as var:
        base = f"http://127.0.0.1:{upstream}"
        ours_env = {
            "HEFEITONG_VAR_DIR": var,
            "HEFEITONG_LOG_LEVEL": "WARNING",
            "HEFEITONG_ENV": "test",  # the X-Dev-Citizen header stands in for sign-in
            "HOSPITAL_BASE_URL": base,
            "PROVIDENT_FUND_BASE_URL": base,
        }
        baseline_env = {"UPSTREAM_URL": f"{base}/api/v2/appointments"}
        booking_body = json.dumps({"params": {"slot_id": "S1"}})
        for _ in range(rounds):
            with uvicorn_server("bench.baseline_apps:proxy", baseline_env) as port:
                wrk(
                    f"http://127.0.0.1:{port}/proxy",
                    seconds=1,
                    connections=connections,
                    method="POST",
                    body=booking_body,
                    headers=HEADERS,
                )
                results["proxy"].append(
                    wrk(
                        f"http://127.0.0.1:{port}/proxy",
                        seconds=seconds,
                        connections=connections,
                        method="POST",
                        body=booking_body,
                        headers=HEADERS,
                    )
                )
            with uvicorn_server("bench.baseline_apps:constant", {}) as port:
                wrk(f"http://127.0.0.1:{port}/constant", seconds=1, connections=connections)
                results["constant"].append(
                    wrk(
                        f"http://127.0.0.1:{port}/constant",
                        seconds=seconds,
                        connections=connections,
                    )
                )
            with uvicorn_server("backend.main:app", ours_env) as port:
                miss_url = f"http://127.0.0.1:{port}/v1/services/{booking}/invoke"
                wrk(
                    miss_url,
                    seconds=1,
                    connections=connections,
                    method="POST",
                    body=booking_body,
                    headers=HEADERS,
                )
                results["miss"].append(
                    wrk(
                        miss_url,
                        seconds=seconds,
                        connections=connections,
                        method="POST",
                        body=booking_body,
                        headers=HEADERS,
                    )
                )
                hit_url = f"http://127.0.0.1:{port}/v1/services/{balance}/invoke"
                wrk(
                    hit_url,
                    seconds=1,
                    connections=connections,
                    method="POST",
                    body="{}",
                    headers=HEADERS,
                )
                results["hit"].append(
                    wrk(
                        hit_url,
                        seconds=seconds,
                        connections=connections,
                        method="POST",
                        body="{}",
                        headers=HEADERS,
                    )
                )
    for name, runs in results.items():
        bad = sum(r.errors for r in runs)
        if bad:
            sys.exit(f"{name}: {bad} non-2xx responses; the benchmark is not valid")
    rows = {name: summarize(runs) for name, runs in results.items()}
    print(f"rounds={rounds} seconds={seconds} connections={connections}")
    print("| path | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    labels = {
        "proxy": "baseline: FastAPI + aiohttp proxy → nginx",
        "miss": f"invoke, cache miss (`{booking}`) → nginx",
        "constant": "baseline: FastAPI constant JSON",
        "hit": f"invoke, cache hit (`{balance}`)",
    }
    for name, (rps, p50, p99) in rows.items():
        print(f"| {labels[name]} | {rps:,.0f} | {p50:.2f} | {p99:.2f} |")
    print()
    print(
        f"cache miss / proxy: {rows['miss'][0] / rows['proxy'][0]:.2f}× req/s, "
        f"p99 {rows['miss'][2] / rows['proxy'][2]:.2f}× (targets ≥ 0.9×, ≤ 2×)"
    )
    print(
        f"cache hit / constant: {rows['hit'][0] / rows['constant'][0]:.2f}× req/s (target ≥ 0.8×)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    main(args.rounds, args.seconds, args.connections)
