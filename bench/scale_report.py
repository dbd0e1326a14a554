"""The report of bench/applications_scale.py: the load and request tables it prints and
the "Applications at scale" section of bench/README.md it rewrites."""

from __future__ import annotations

import argparse
import re
import statistics
import textwrap
from datetime import date
from pathlib import Path

from bench.scale_load import Load
from bench.scale_measure import Measured

README = Path(__file__).resolve().parent / "README.md"
SECTION = "## Applications at scale (issue 5)"


def report_load(loaded: Load) -> str:
    mix = loaded.status_mix
    total = sum(mix.values())
    lines = ["| load step | seconds |", "|---|---|"]
    lines += [f"| {step} | {s:.1f} |" for step, s in loaded.seconds.items()]
    per = sorted(loaded.per_citizen.elements())
    active = [n for n in per if n]
    lines += [
        "",
        "Status mix: " + ", ".join(f"{k} {n / total:.1%}" for k, n in mix.most_common())
        + f"; ratings {loaded.ratings:,}. Applications per citizen: "
        f"{1 - len(active) / len(per):.0%} none; of those with any, median "
        f"{active[len(active) // 2]}, p99 {active[int(len(active) * 0.99)]}, max {active[-1]}. "
        f"Keys and indexes after the load are the migrations' again: {loaded.keys_same}; "
        "slowest to rebuild: "
        + ", ".join(f"{name} {s:.1f} s" for name, s in loaded.slowest_keys) + ".",
    ]  # fmt: skip
    lines[-1] = textwrap.fill(lines[-1], 92)
    return "\n".join(lines)


def report_requests(args: argparse.Namespace, m: Measured) -> str:
    naive = statistics.median(m.naive_ms)
    counts = " ".join(f"{t}={n:,}" for t, n in m.rows.items())
    lines = [f"`{counts} runs={args.runs} requests={args.requests} "
             f"stats_requests={args.stats_requests}`"]  # fmt: skip
    lines += [
        "",
        "| request | p50 ms | p99 ms | baseline p50 ms | baseline p99 ms | ratio p50 | ratio p99 |",
        "|---|---|---|---|---|---|---|",
        f"| `GET /v1/applications` (baseline `GET /healthz`) | {m.mine.p50:.2f} | "
        f"{m.mine.p99:.2f} | {m.health.p50:.2f} | {m.health.p99:.2f} | "
        f"{m.mine.p50 / m.health.p50:.1f}× | {m.mine.p99 / m.health.p99:.1f}× |",
    ]  # fmt: skip
    for by, t in m.stats.items():
        lines.append(
            f"| `GET /v1/admin/stats?by={by}`, one year (baseline naive scan) | {t.p50:.1f} | "
            f"{t.p99:.1f} | {naive:.0f} | {max(m.naive_ms):.0f} (max) | "
            f"{t.p50 / naive:.3f}× (naive {naive / t.p50:.0f}× slower) | |"
        )
    if not m.stats:
        lines.append(
            f"| naive one-year stats scan | | | {naive:.0f} | {max(m.naive_ms):.0f} (max) | | |"
        )
    lines += ["", textwrap.fill(f"Admin token: {m.token_via}. Check: {m.check}; {m.late}.", 92)]
    return "\n".join(lines)


def write_readme(command: str, body: str) -> None:
    text = README.read_text(encoding="utf-8")
    section = f"""{SECTION}

Targets: "my applications" and the admin statistics (one year, by domain, department or
service) stay fast over 1M citizens and 5M applications; statistics under a second.

Command: `{command}`
(measured {date.today()}, 2 cores shared with other work; PostgreSQL 15 with its default
settings: shared_buffers 128 MB, work_mem 4 MB).

What it does: a fresh database, the migrations, then citizens (real `PiiCipher` ciphertext
under the development key the app derives in test mode, 75% real-name verified) and
applications over the catalog's 95 application services for the last two years, loaded with
asyncpg `copy_records_to_table` with keys and indexes dropped and rebuilt from their own
definitions (checked equal to the migrations' afterwards); the daily aggregates filled by one
`INSERT … SELECT … GROUP BY`; VACUUM (ANALYZE). Then the real app in-process (ASGI transport,
one request at a time): `GET /v1/applications` for random citizens with applications, each with
its own access token from the app's `TokenService`, interleaved with `GET /healthz`; and
`GET /v1/admin/stats` for random one-year periods with an admin client's token, against the
naive answer: one GROUP BY scan of the applications (joined with ratings and the calendar)
computing the same figures for a period. p50/p99 are medians over runs.

{body}
"""
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    README.write_text(text, encoding="utf-8")
