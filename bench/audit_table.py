"""The audit table of bench/audit.py: filled by SQL with realistic events, sized, and sampled for the
values the reads ask for."""

from __future__ import annotations

import time

DAYS = 90
CLUSTERS = ["bench", "prod-1", "prod-2", "prod-3", "prod-4"]  # "bench" is the cluster token's
AUDIT_TABLE = "pools_auditevent"

# One statement per chunk of rows g (1..N, oldest first). Row g's place in its kind is g % 1000:
# 0-449 RequireIP, 450-899 the ReleaseIP of the same pod, 900-959 pool calls, 960-994 refusals,
# 995-998 more RequireIPs, 999 an admin change (or a Code 11 create on the third day).
FILL_SQL = f"""
INSERT INTO {AUDIT_TABLE}
    (at, req_type, admin_action, req_id, k8s_cluster_id, namespace, kind, name, pod_id, ip, subnet_id,
     code, msg, actor, detail)
SELECT
    %(start)s::timestamptz + (g::float8 / %(rows)s::bigint) * interval '{DAYS} days',
    CASE WHEN r = 999 AND NOT old THEN NULL
         WHEN r = 999 OR r BETWEEN 900 AND 929 THEN 0
         WHEN r BETWEEN 930 AND 944 THEN 2
         WHEN r BETWEEN 945 AND 959 THEN 1
         WHEN r BETWEEN 450 AND 899 THEN 4
         ELSE 3 END,
    CASE WHEN r = 999 AND NOT old THEN 'subnet_grant' ELSE '' END,
    'req-' || g,
    (ARRAY{CLUSTERS!r})[1 + (p % {len(CLUSTERS)})],
    'ns-' || (p % 23),
    (p % 7 = 0)::int,
    'app-' || (p % 701),
    CASE WHEN r < 900 OR r BETWEEN 960 AND 998 THEN 'pod-' || p ELSE '' END,
    CASE WHEN r < 900 OR r BETWEEN 995 AND 998 THEN ip ELSE '' END,
    CASE WHEN r >= 900 AND r < 960 OR r = 999 THEN 'bench-fill-' || (p % 2) ELSE '' END,
    CASE WHEN r = 999 AND old THEN 11
         WHEN r BETWEEN 960 AND 979 THEN 20
         WHEN r BETWEEN 980 AND 989 THEN 30
         WHEN r BETWEEN 990 AND 992 THEN 12
         WHEN r BETWEEN 993 AND 994 THEN 31
         ELSE 0 END,
    CASE WHEN r < 450 OR r BETWEEN 995 AND 998 THEN 'idle address bound'
         WHEN r < 900 THEN 'released ' || ip
         WHEN r < 960 THEN 'pool scaled: target 3, 3 addresses reserved'
         ELSE 'refused' END,
    'cluster ' || (ARRAY{CLUSTERS!r})[1 + (p % {len(CLUSTERS)})] || ' token ipr_AbCdEfGh',
    '{{}}'::jsonb
FROM (
    SELECT g, g % 1000 AS r,
           -- the pod: a RequireIP and its ReleaseIP (450 rows later) name the same one
           (g / 1000) * 450 + (g % 1000) % 450 AS p,
           g BETWEEN 2 * %(rows)s::bigint / {DAYS} AND 3 * %(rows)s::bigint / {DAYS} AS old,
           '10.' || (((g / 1000) * 450 + (g % 1000) % 450) / 65536 % 4) || '.'
               || (((g / 1000) * 450 + (g % 1000) % 450) / 256 % 256) || '.'
               || (((g / 1000) * 450 + (g % 1000) % 450) % 256) AS ip
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
) AS rows
""".replace(" % ", " %% ")  # modulo, not a placeholder


def audit_rows(database_url: str) -> int | None:
    """Rows in the audit table (the planner's figure, fresh after ANALYZE), or None without one."""
    import psycopg

    try:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [AUDIT_TABLE]).fetchone()
            return row[0] if row else None
    except psycopg.OperationalError:
        return None


def insert_events(cursor, *, rows: int, first: int, last: int, start) -> None:
    """Rows `first`..`last` of a fill of `rows` events from `start` (a psycopg or Django cursor on
    PostgreSQL; tests/contract/test_bounded_reads.py fills its small table the same way)."""
    cursor.execute(FILL_SQL, {"start": start, "rows": rows, "first": first, "last": last})


def fill(database_url: str, rows: int, chunk: int = 1_000_000) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        start = conn.execute(f"SELECT now() - interval '{DAYS} days'").fetchone()[0]
        for first in range(1, rows + 1, chunk):
            last = min(rows, first + chunk - 1)
            insert_events(conn.cursor(), rows=rows, first=first, last=last, start=start)
            print(f"-- filled {last:,} of {rows:,} audit rows ({time.perf_counter() - started:.0f} s)", flush=True)
        conn.execute(f"VACUUM ANALYZE {AUDIT_TABLE}")
    return time.perf_counter() - started


def table_size(database_url: str) -> dict:
    import psycopg

    with psycopg.connect(database_url) as conn:
        heap, indexes = conn.execute(
            "SELECT pg_table_size(%s), pg_indexes_size(%s)", [AUDIT_TABLE, AUDIT_TABLE]
        ).fetchone()
        names = [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [AUDIT_TABLE])]
    return {"heap_mib": round(heap / 2**20), "indexes_mib": round(indexes / 2**20), "indexes": sorted(names)}


def sample_values(database_url: str) -> dict:
    """Values the reads ask for: an IP and a pod of a day ago, the time 500,000 rows deep."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        ip, pod, at = conn.execute(
            f"SELECT ip, pod_id, at FROM {AUDIT_TABLE} WHERE at < now() - interval '1 day' AND req_type = 3 "
            "AND code = 0 ORDER BY at DESC, id DESC LIMIT 1"
        ).fetchone()
        deep = conn.execute(
            f"SELECT at FROM {AUDIT_TABLE} ORDER BY at DESC, id DESC OFFSET %s LIMIT 1", [DEEP_ROWS]
        ).fetchone()
    return {"ip": ip, "pod": pod, "at": at, "deep_at": deep[0] if deep else None}


DEEP_ROWS = 500_000
