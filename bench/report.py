"""What a run prints: a line per level as it runs, the summary and tables at the end, the profile's
table, and the problems that fail the run."""

from __future__ import annotations

import json
from pathlib import Path


def format_level(level: dict) -> str:
    rq, rl = level["require"], level["release"]
    return (
        f"fill {level['fill']:>7} pools {level['pools']} c={level['concurrency']:>2}  "
        f"require {rq['per_second']:>7.1f}/s "
        f"p50 {rq['p50_ms']:>6.1f} p95 {rq['p95_ms']:>6.1f} p99 {rq['p99_ms']:>6.1f} ms  "
        f"release {rl['per_second']:>7.1f}/s p50 {rl['p50_ms']:>6.1f} p95 {rl['p95_ms']:>6.1f} "
        f"p99 {rl['p99_ms']:>6.1f} ms  errors {rq['errors'] + rl['errors']}  dup {level['duplicates']}  "
        f"cpu {level['machine_cpu_busy_pct']}% (client {level['client_cpu_pct_of_machine']}%)  "
        f"CPU per call, server/PostgreSQL: require {cpu_per_call(rq)}, release {cpu_per_call(rl)}"
    )


def cpu_per_call(phase: dict) -> str:
    return f"{phase.get('server_cpu_us_per_call', 0):.0f}/{phase.get('pg_cpu_us_per_call', 0):.0f} µs"


def markdown(report: dict) -> str:
    lines = [
        "| reserved elsewhere | pools | clients | requires/s | p50 / p95 / p99 ms | releases/s | p50 / p95 / p99 ms "
        "| errors | duplicates | machine CPU | load generator CPU | CPU per require, server / PostgreSQL "
        "| CPU per release, server / PostgreSQL |",
        "|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for level in report["levels"]:
        rq, rl = level["require"], level["release"]
        lines.append(
            f"| {level['fill']:,} | {level['pools']} | {level['concurrency']} | {rq['per_second']:,.0f} "
            f"| {rq['p50_ms']:.1f} / {rq['p95_ms']:.1f} / {rq['p99_ms']:.1f} | {rl['per_second']:,.0f} "
            f"| {rl['p50_ms']:.1f} / {rl['p95_ms']:.1f} / {rl['p99_ms']:.1f} | {rq['errors'] + rl['errors']} "
            f"| {level['duplicates']} of {level['holdings']:,} holds | {level['machine_cpu_busy_pct']:.0f}% "
            f"| {level['client_cpu_pct_of_machine']:.0f}% ({level['client_cpu_us_per_call']:.0f} µs/call) "
            f"| {cpu_per_call(rq)} | {cpu_per_call(rl)} |"
        )
    return "\n".join(lines)


def print_summary(report: dict) -> None:
    """The whole run: the machine, the statements per call, the tables, each scenario."""
    print()
    print(f"machine: {json.dumps(report['machine'])}")
    print(f"gunicorn: {report['gunicorn']}")
    if "queries" in report:  # not counted when another checkout is served
        print(f"SQL statements per call: {json.dumps({k: v for k, v in report['queries'].items() if k != 'sql'})}")
    print(f"pool operations: {json.dumps(report['pool_ops'])}")
    if report.get("vacuum"):
        print(f"vacuum: {json.dumps(report['vacuum'])}")
    print()
    if report.get("ceiling"):
        print(f"database ceiling (pgbench, {report['ceiling']['clients']} clients): {json.dumps(report['ceiling'])}")
    if report["levels"]:
        print(markdown(report))
    if report.get("sqlite"):
        print()
        print("SQLite, one gunicorn process:")
        print(markdown({"levels": report["sqlite"]}))
    if report.get("one_pool"):
        print("\none pool: " + json.dumps(with_ceiling_share(report, report["one_pool"])))
    for name in ("burst", "churn"):
        if report.get(name):
            print(f"\n{name}: {json.dumps(with_ceiling_share(report, report[name]))}")
    print(f"\ntook {report['seconds']} s")


def print_profile(report: dict, profile: Path) -> None:
    """The profiled server's hottest stacks, scaled to its CPU per call."""
    from bench import profile_summary

    served = report.get("one_pool") or (report["levels"] or [{}])[-1]
    calls = [served.get(phase, {}) for phase in ("require", "release")]
    per_call = sum(c.get("server_cpu_us_per_call", 0) * c.get("calls", 0) for c in calls) / max(
        1, sum(c.get("calls", 0) for c in calls)
    )
    print(f"\nprofile {profile} (server CPU per call of the profiled run: {per_call:.0f} µs, under py-spy):")
    print(profile_summary.table(str(profile), per_call or None))


def with_ceiling_share(report: dict, result: dict) -> dict:
    """The scenario's throughput also as a percentage of the database's ceiling."""
    top = (report.get("ceiling") or {}).get("allocations_per_s")
    if not top:
        return result
    shares = {}
    if "require" in result:
        per_second = result["require"].get("pods_per_s", result["require"].get("per_second", 0))
        shares["require_pct_of_ceiling"] = round(100 * per_second / top, 1)
    if "first_window_per_s" in result:
        with_releases = report["ceiling"]["allocations_per_s_with_releases"]
        shares["pairs_pct_of_ceiling_with_releases"] = round(100 * result["first_window_per_s"] / with_releases, 1)
    return {**result, **shares}


def scenario_problems(report: dict) -> list[str]:
    levels = report["levels"] + report.get("sqlite", []) + ([report["one_pool"]] if report.get("one_pool") else [])
    problems = []
    if any(lv["duplicates"] for lv in levels):
        problems.append("levels with duplicates")
    if any(lv["require"]["errors"] + lv["release"]["errors"] for lv in levels):
        problems.append("levels with errors")
    burst = report.get("burst")
    if burst and (burst["duplicates"] or burst["require"]["errors"] or burst["release"]["errors"]):
        problems.append("burst: duplicates or errors")
    if burst and burst["distinct_ips"] != burst["require"]["pods"]:
        problems.append("burst: not every pod got its own address")
    churn = report.get("churn")
    if churn and (churn["duplicates"] or churn["errors"]):
        problems.append("churn: duplicates or errors")
    return problems
