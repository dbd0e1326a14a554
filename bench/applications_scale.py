"""Applications at scale: 1M citizens and 5M applications in PostgreSQL, then the p50/p99
of "my applications" and of the admin statistics, each against a baseline in the same run.

    .venv/bin/python bench/applications_scale.py [--citizens 1000000]
        [--applications 5000000] [--runs 3] [--database hft_bench_apps] [--keep]
        [--skip-load] [--no-readme] [--requests 2000] [--stats-requests 200]
        [--keys-during-load]

Loading (fixed seed): a fresh database, the migrations (calendar and bundled catalog
seeded), citizens with real ``PiiCipher`` ciphertext under the development key the app
derives in test mode, applications over the catalog's application services for the
last two years (skewed per citizen and per service, ~10% open, consistent clocks),
ratings for ~30% of the completed ones, all with asyncpg ``copy_records_to_table``;
keys and indexes are dropped for the load and rebuilt from their own definitions, which
are checked to be the migrations' again. ``applications_daily_stats`` is then filled by
one ``INSERT … SELECT … GROUP BY``, then ``VACUUM (ANALYZE)``. The rows end at the last
midnight in China, so runs on the same day load the same rows.

Measuring (the real app in-process over ASGI, sequential requests, median over runs):

- ``GET /v1/applications`` for random citizens with applications, each with an access
  token minted by the app's ``TokenService`` (``CurrentCitizen`` takes only bearer
  tokens); baseline ``GET /healthz``, interleaved request by request.
- ``GET /v1/admin/stats`` for random one-year periods, ``by`` domain, department and
  service, with an admin client's token; baseline the naive answer the running
  aggregates avoid: one GROUP BY scan of the applications (and ratings) for the period.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scale_load import load, recreate_database
from bench.scale_measure import measure
from bench.scale_report import report_load, report_requests, write_readme


async def main(args: argparse.Namespace) -> None:
    loaded = None
    try:
        if not args.skip_load:
            loaded = await load(
                args.database, args.citizens, args.applications, args.keys_during_load
            )
            print(report_load(loaded) + "\n", flush=True)
            gc.collect()
        measured = await measure(args.database, args.runs, args.requests, args.stats_requests)
    finally:
        if not args.keep:
            await recreate_database(args.database, create=False)
    requests = report_requests(args, measured)
    print(requests)
    body = f"{report_load(loaded)}\n\n{requests}" if loaded else requests
    for name, plan in measured.plans.items():
        print(f"\n{name}:\n{plan}")
    if not args.no_readme:
        command = ".venv/bin/python bench/applications_scale.py " + " ".join(sys.argv[1:])
        write_readme(command.strip(), body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--citizens", type=int, default=1_000_000)
    parser.add_argument("--applications", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="per run, my applications")
    parser.add_argument("--stats-requests", type=int, default=200, help="per run and grouping")
    parser.add_argument("--database", default="hft_bench_apps")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--skip-load", action="store_true", help="reuse a kept database")
    parser.add_argument("--no-readme", action="store_true", help="print only")
    parser.add_argument(
        "--keys-during-load",
        action="store_true",
        help="load with keys and indexes in place (to compare with dropping them)",
    )
    asyncio.run(main(parser.parse_args()))
