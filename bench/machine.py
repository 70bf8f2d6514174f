"""The machine a benchmark ran on, and how busy it was: what a report states beside its figures."""

from __future__ import annotations

import os
import platform


def cpu_busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def machine_facts(database_url: str | None) -> dict:
    facts = {
        "cpus": os.cpu_count(),
        "cpu_model": "",
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
    try:
        with open("/proc/cpuinfo") as f:
            facts["cpu_model"] = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), ""
            )
    except OSError:
        pass
    if database_url:
        import psycopg

        with psycopg.connect(database_url) as conn:
            facts["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
            facts["pg_settings"] = {
                name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("shared_buffers", "synchronous_commit", "fsync", "max_connections")
            }
    return facts
