"""Overview fan-out latency: departments at 40–60 ms each, and one department hung.

    .venv/bin/python bench/gateway_overview.py [--rounds 3] [--requests 40]

The sandbox departments (one process each) run with injected latency (hrss 40 ms,
provident fund 50 ms, traffic police 55 ms, hospital 60 ms: six calls behind the six
sections). Each
request is for a different citizen, so nothing is answered from the cache. The
baseline in the same run is the slowest department called directly. Reported:
median over rounds of p50/p99, and, with the hospital hung, the answer time and
the appointments section's status.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import free_port_block, uvicorn_server, wait_for_port
from integrations.sandbox import DEFAULT_PORTS, data

LATENCY_MS = {"hrss": 40, "provident_fund": 50, "traffic_police": 55, "hospital": 60}
DEADLINE = 1.5


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


@contextmanager
def sandbox_processes() -> Iterator[dict[str, str]]:
    """One process per department, as real departments are separate systems: their CPU
    work does not queue behind each other's or behind the client's."""
    base = free_port_block(len(DEFAULT_PORTS))
    ports = {name: base + i for i, name in enumerate(DEFAULT_PORTS)}
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "sandbox", "--port-base", str(base),
             "--department", name, "--exit-with-parent"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in DEFAULT_PORTS
    ]  # fmt: skip
    try:
        for port in ports.values():
            wait_for_port(port)
        yield {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=10)


def main(rounds: int, requests: int) -> None:
    with sandbox_processes() as urls:
        run(urls, rounds, requests)


def run(urls: dict[str, str], rounds: int, requests: int) -> None:
    env = {f"{name.upper()}_BASE_URL": url for name, url in urls.items()}
    for name, ms in LATENCY_MS.items():
        httpx.put(f"{urls[name]}/__sandbox/faults", json={"latency_ms": ms})
    with tempfile.TemporaryDirectory() as var:
        env |= {"HEFEITONG_VAR_DIR": var, "HEFEITONG_LOG_LEVEL": "WARNING",
            "HEFEITONG_ENV": "test",  # the X-Dev-Citizen header stands in for sign-in
                "HEFEITONG_OVERVIEW_DEADLINE": str(DEADLINE)}  # fmt: skip
        with (
            uvicorn_server("backend.main:app", env) as port,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
            httpx.Client(timeout=10) as upstream,
        ):
            p50s, p99s, base50s = [], [], []
            for r in range(rounds):
                times, direct = [], []
                for i in range(requests):
                    who = data.make_id_no(f"bench-{r}-{i}")
                    started = time.perf_counter()
                    body = client.get(
                        "/v1/me/overview", headers={"X-Dev-Citizen": who, "X-Dev-Level": "2"}
                    ).json()
                    times.append((time.perf_counter() - started) * 1000)
                    assert all(
                        v["status"] == "ok" for k, v in body.items() if k != "generated_at"
                    ), body
                    started = time.perf_counter()
                    upstream.get(
                        f"{urls['hospital']}/api/v2/appointments",
                        params={"patientIdNo": who},
                        headers={"X-Api-Key": "sandbox-hospital-key"},
                    )
                    direct.append((time.perf_counter() - started) * 1000)
                p50s.append(percentile(times, 50))
                p99s.append(percentile(times, 99))
                base50s.append(percentile(direct, 50))
            httpx.put(f"{urls['hospital']}/__sandbox/faults", json={"hang": True})
            hung = []
            statuses = set()
            for i in range(5):
                started = time.perf_counter()
                body = client.get(
                    "/v1/me/overview",
                    headers={"X-Dev-Citizen": data.make_id_no(f"hung-{i}"), "X-Dev-Level": "2"},
                ).json()
                hung.append((time.perf_counter() - started) * 1000)
                statuses.add(body["appointments"]["status"])
    print(f"rounds={rounds} requests={requests} deadline={DEADLINE}s latencies={LATENCY_MS}")
    print("| case | p50 ms | p99 ms |")
    print("|---|---|---|")
    print(f"| slowest department called directly (hospital, 60 ms) | "
          f"{statistics.median(base50s):.1f} | |")  # fmt: skip
    print(f"| overview, 6 sections from 4 departments | {statistics.median(p50s):.1f} | "
          f"{statistics.median(p99s):.1f} |")  # fmt: skip
    print(f"| overview with the hospital hung (5 requests) | {statistics.median(hung):.1f} | "
          f"{max(hung):.1f} (max) |")  # fmt: skip
    print()
    print(f"overview p50 − slowest direct p50: "
          f"{statistics.median(p50s) - statistics.median(base50s):.1f} ms (target ≤ 5 ms); "
          f"hung: appointments {sorted(statuses)}, slowest answer {max(hung):.0f} ms "
          f"(deadline {DEADLINE * 1000:.0f} ms)")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    main(args.rounds, args.requests)
