#!/usr/bin/env python3
"""The audit log at scale (issue 12): reads of a big audit table, and what they cost the writers.

    .venv/bin/python bench/audit.py --audit-rows 10000000 --keep-db    # the documented run
    .venv/bin/python bench/audit.py --smoke                            # CI: tiny, under a minute

It makes its own PostgreSQL database (`ipresmgr_bench_audit`; `--database-url`), migrates it,
registers the benchmark's cluster and subnets (bench/database.py's set-up), and fills the audit table by
SQL with `--audit-rows` realistic events: 90 days, oldest first; 90 % RequireIP/ReleaseIP pairs of
five clusters' pods, the rest pool calls, a few percent refusals (Codes 20, 30, 12, 31), a Code 11
now and then on the third day only (a rare, old value), and a few admin changes. `--keep-db` keeps
it; a later run on the same URL with `--reuse` skips the fill when the table already holds about
that many rows, and only migrates (to measure a version before and after its migration on the same
rows, pass `--app-root` the older checkout first).

Then, against gunicorn serving that database (bench/gunicorn.conf.py), each read is timed
`--repeat` times, one after the other (p50 and max): the console's audit list (plain, filtered,
searched, a deep page), who-held, `/v1/events` with each filter and with a cluster token, a deep
page (by Offset, and by the Cursor of Next where the server pages by keyset); then `prune_audit` of
the oldest day, when the served checkout has that command, with RequireIP's latency during it; then
RequireIP p50/p99 (bench/levels.py's level: `--clients` pods requiring and releasing) alone and with
`--readers` clients reading /v1/events without pause. Prints the numbers; `--json` writes them."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import database, server  # noqa: E402
from bench.audit_table import audit_rows, fill, sample_values, table_size  # noqa: E402
from bench.audit_timing import ADMIN_PASSWORD, ADMIN_USER, prune_oldest_days, require_latency, time_reads  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_AUDIT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ipresmgr_bench_audit"),
    )
    parser.add_argument("--audit-rows", type=int, default=10_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep an already filled database of about that size")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--app-root", type=Path, default=database.ROOT, help="the checkout to migrate and serve")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8410)))
    parser.add_argument("--repeat", type=int, default=5, help="times each read is timed")
    parser.add_argument("--clients", type=int, default=2, help="pods requiring at once in the RequireIP runs")
    parser.add_argument("--readers", type=int, default=4, help="clients reading /v1/events meanwhile")
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-prune", action="store_true", help="leave the oldest day (prune_audit) alone")
    parser.add_argument(
        "--prune-days",
        type=int,
        default=1,
        help="how many of the oldest days prune_audit deletes (a large cluster's day, 1.7M events, is ~77 "
        "days of a 2M-row fill)",
    )
    parser.add_argument("--no-reads", action="store_true", help="only the fill and the prune")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--smoke", action="store_true", help="a tiny run (CI): that it works, not how fast")
    args = parser.parse_args()
    if args.smoke:
        args.audit_rows, args.repeat, args.ops, args.rounds = 20_000, 1, 50, 1
    root = args.app_root.resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    env.update(
        {
            "DATABASE_URL": args.database_url,
            "LOG_LEVEL": "ERROR",
            "IPRESMGR_CALL_LOG_LEVEL": "WARNING",
            "IPRESMGR_SECRET_KEY": "bench-" + os.urandom(16).hex(),
        }
    )
    report: dict = {"command": " ".join(sys.argv), "app_root": str(root), "audit_rows": args.audit_rows}
    existing = audit_rows(args.database_url) if args.reuse else None
    fresh = existing is None or existing < 0.95 * args.audit_rows  # a pruned day still counts as filled
    try:
        if fresh:
            database.recreate_database(args.database_url)
            tokens = {"cluster": database.setup_database(env, root=root)}
            database.manage(
                {**env, "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD},
                "createsuperuser",
                "--no-input",
                "--username",
                ADMIN_USER,
                "--email",
                "bench@example.com",
                root=root,
            )
            report["fill_seconds"] = round(fill(args.database_url, args.audit_rows), 1)
        else:
            print(f"-- reusing {existing:,} audit rows", flush=True)
            tokens = {"cluster": database.manage(env, "create_token", "--cluster-id", "bench", root=root).split()[-1]}
        started = time.perf_counter()
        database.manage({**env, "IPRESMGR_DB_STATEMENT_TIMEOUT_MS": "0"}, "migrate", "--no-input", "-v0", root=root)
        report["migrate_seconds"] = round(time.perf_counter() - started, 1)
        print(f"-- migrate: {report['migrate_seconds']} s", flush=True)
        tokens["operator"] = database.manage(env, "create_token", "--operator", root=root).split()[-1]
        report["table"] = table_size(args.database_url)
        values = sample_values(args.database_url)
        print(f"-- audit table: {report['table']}", flush=True)
        with server.gunicorn(env, args.port, workers=2, threads=4, worker_class="gthread", root=root):
            report["reads"] = {} if args.no_reads else asyncio.run(time_reads(args.port, tokens, values, args.repeat))
            report["require"] = []
            for readers in () if args.no_reads else (0, args.readers):
                result = asyncio.run(
                    require_latency(
                        args.port, tokens["cluster"], args, readers=readers, reader_tokens=tokens, values=values
                    )
                )
                report["require"].append(result)
                print(f"-- RequireIP with {readers} readers: {json.dumps(result)}", flush=True)
            if not args.no_prune:
                report["prune_one_day"] = prune_oldest_days(env, root, args.port, tokens["cluster"], args.prune_days)
                print(f"-- prune_audit of the oldest {args.prune_days} day(s): {report['prune_one_day']}", flush=True)
    finally:
        if not args.keep_db:
            database.recreate_database(args.database_url, drop_only=True)
    print_report(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
    problems = [r for r in report["require"] if r["require"]["errors"] or r["release"]["errors"] or r["duplicates"]]
    if problems or any(r.get("http", 200) >= 500 for r in report["reads"].values()):
        print("FAILED: RequireIP errors or duplicates, or a read answered 5xx")
        return 1
    return 0


def print_report(report: dict) -> None:
    print(f"\naudit rows: {report['audit_rows']:,}; table: {report['table']}; served: {report['app_root']}")
    print(f"{'read':70} {'p50 ms':>8} {'max ms':>8}  answer")
    for name, r in report["reads"].items():
        answer = {k: v for k, v in r.items() if k not in ("p50_ms", "max_ms")}
        print(f"{name:70} {r['p50_ms']:>8.1f} {r['max_ms']:>8.1f}  {answer}")
    for r in report["require"]:
        rq = r["require"]
        print(
            f"RequireIP with {r['readers']} readers: p50 {rq['p50_ms']} ms, p99 {rq['p99_ms']} ms, "
            f"{rq['per_second']}/s; reads done {r['reads']} {r['reads_by_status']} (p50 {r['read_p50_ms']} ms)"
        )
    if "prune_one_day" in report:
        print(f"prune_audit of one day: {report['prune_one_day']}")


if __name__ == "__main__":
    sys.exit(main())
