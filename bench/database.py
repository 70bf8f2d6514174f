"""The benchmark's database: created and dropped around a run, set up with its cluster and subnets
through manage.py, and the SQL statements each contract call costs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout measured unless a run names another

REGION = "bench-region"
HOT_SUBNET = ("bench-hot", "10.8.0.0/16", "10.8.0.1")
FILL_SUBNETS = [("bench-fill-0", "10.100.0.0/16", "10.100.0.1"), ("bench-fill-1", "10.101.0.0/16", "10.101.0.1")]


def admin_url(database_url: str) -> tuple[str, str]:
    """(URL of the server's `postgres` database, name of the benchmark's database)."""
    base, _, name = database_url.rpartition("/")
    return f"{base}/postgres", name.split("?")[0]


def recreate_database(database_url: str, *, drop_only: bool = False) -> None:
    import psycopg

    url, name = admin_url(database_url)
    # A guard against dropping a real database by a slip of the URL: benchmark databases say so.
    if not name.startswith("ipresmgr_") and "bench" not in name:
        raise SystemExit(
            f"refusing to drop database {name!r}: a benchmark's database name starts with ipresmgr_ or says bench"
        )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict, *args: str, root: Path = ROOT) -> str:
    """`manage.py ARGS` of the checkout at `root` (another one to measure an older version)."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def setup_database(env: dict, *, root: Path = ROOT) -> str:
    manage(env, "migrate", "--no-input", "-v0", root=root)
    token = manage(env, "create_cluster", "--cluster-id", "bench", root=root).strip().splitlines()[-1]
    for subnet_id, cidr, gateway in [HOT_SUBNET, *FILL_SUBNETS]:
        manage(
            env,
            "create_subnet",
            "--net-regional-id",
            REGION,
            "--subnet-id",
            subnet_id,
            "--cidr",
            cidr,
            "--gateway",
            gateway,
            root=root,
        )
    return token


def count_queries(env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "count_queries.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])
