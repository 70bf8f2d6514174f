"""The database's ceiling, measured in the same run as the service: pgbench with the single-statement
allocation of MEASUREMENTS.md (one `UPDATE ... FOR UPDATE SKIP LOCKED ... RETURNING` per transaction
over 50,000 slots with a partial index on idle ones), alone and with one release per allocation.
No HTTP service on this machine can allocate faster; the service's figures are printed as a share
of it, so results compare across machines."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

SLOTS = 50_000
SETUP = f"""
DROP TABLE IF EXISTS bench_slots;
CREATE TABLE bench_slots (id serial PRIMARY KEY, pool int NOT NULL, ip text NOT NULL, pod text);
INSERT INTO bench_slots (pool, ip) SELECT 1, '10.' || (g / 65536) || '.' || (g / 256 % 256) || '.' || (g % 256)
    FROM generate_series(1, {SLOTS}) g;
CREATE INDEX bench_slots_idle ON bench_slots (pool, id) WHERE pod IS NULL;
CREATE INDEX bench_slots_bound ON bench_slots (pool, id) WHERE pod IS NOT NULL;
VACUUM ANALYZE bench_slots;
"""
ALLOCATE = """\\set pod random(1, 1000000000)
UPDATE bench_slots SET pod = :pod WHERE id = (
    SELECT id FROM bench_slots WHERE pool = 1 AND pod IS NULL LIMIT 1 FOR UPDATE SKIP LOCKED
) RETURNING ip;
"""
RELEASE = """UPDATE bench_slots SET pod = NULL WHERE id = (
    SELECT id FROM bench_slots WHERE pool = 1 AND pod IS NOT NULL LIMIT 1 FOR UPDATE SKIP LOCKED
);
"""


def pgbench_available() -> bool:
    return shutil.which("pgbench") is not None


def measure(database_url: str, *, clients: int = 32, seconds: int = 20) -> dict:
    """Allocations per second: alone, and with one release per allocation (each its own
    transaction, as the service's calls are)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        for statement in SETUP.split(";"):
            if statement.strip():
                conn.execute(statement)
    try:
        alone = _pgbench(database_url, ALLOCATE, clients=clients, seconds=seconds)
        with psycopg.connect(database_url, autocommit=True) as conn:  # start the churn half full
            conn.execute(
                f"UPDATE bench_slots SET pod = NULL; UPDATE bench_slots SET pod = 'x' WHERE id <= {SLOTS // 2}"
            )
            conn.execute("VACUUM ANALYZE bench_slots")
        churn = _pgbench(database_url, ALLOCATE + RELEASE, clients=clients, seconds=seconds)
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_slots")
    return {
        "clients": clients,
        "seconds": seconds,
        "allocations_per_s": round(alone, 1),
        # each pgbench transaction here is one allocation and one release: two transactions
        "allocations_per_s_with_releases": round(churn, 1),
    }


def _pgbench(database_url: str, script: str, *, clients: int, seconds: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "script.sql"
        path.write_text(script)
        done = subprocess.run(
            ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(seconds), "-f", str(path)]
            + [database_url],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    if match is None:
        raise SystemExit(f"pgbench printed no tps:\n{done.stdout}")
    return float(match.group(1))
