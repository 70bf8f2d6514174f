"""Where a py-spy profile (--format raw, collapsed stacks, with --idle) says the server's time goes.

python bench/profile_summary.py artifacts/profile.txt"""

from __future__ import annotations

import sys
from collections import Counter

# Checked in order; a sample goes to the first bucket one of whose markers is in its stack.
BUCKETS = [
    (
        "waiting for a connection (gunicorn accept/select)",
        ["select (selectors.py", "accept (socket.py", "wait (gunicorn"],
    ),
    ("SQL: commit (WAL flush)", ["commit (django/db/backends/base/base.py"]),
    ("SQL: statements (send, wait, fetch)", ["execute (psycopg/cursor.py", "execute (django/db/backends/sqlite3"]),
    ("SQL: connect / begin", ["connect (psycopg", "set_autocommit", "ensure_connection"]),
    ("Django ORM: building SQL, making objects", ["django/db/models/"]),
    ("DRF request validation (serializers)", ["is_valid (rest_framework"]),
    ("auth (token hash + lookup)", ["authenticate (pools/auth.py"]),
    ("service code (leases/services.py, audit)", ["leases/services.py", "pools/audit.py"]),
    ("response rendering", ["render (rest_framework", "finalize_response"]),
    ("Django middleware and URL routing", ["django/core/handlers", "django/middleware", "django/urls"]),
    ("gunicorn HTTP parsing and writing", ["gunicorn/"]),
]


def main(path: str) -> None:
    buckets: Counter = Counter()
    self_time: Counter = Counter()
    total = 0
    for line in open(path):
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        self_time[frames[-1]] += n
        for label, markers in BUCKETS:
            if any(marker in stack for marker in markers):
                buckets[label] += n
                break
        else:
            buckets["other"] += n
    busy = total - buckets[BUCKETS[0][0]]
    print(f"{total} samples; {busy} while serving a request")
    for label, n in buckets.most_common():
        share = f"{100 * n / busy:5.1f}% of serving" if label != BUCKETS[0][0] else " " * 18
        print(f"{100 * n / total:5.1f}%  {share}  {label}")
    print("\ntop frames by own samples:")
    for frame, n in self_time.most_common(15):
        print(f"{100 * n / total:5.1f}%  {frame[:150]}")


if __name__ == "__main__":
    main(sys.argv[1])
