"""Gunicorn settings the benchmark serves with (also a sane start for production on 2 cores).

Every value can be overridden from the environment: GUNICORN_WORKERS, GUNICORN_THREADS, ..."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# One process per core (the work is Python on the CPU, under the GIL), and a few threads each
# so that a process keeps its core busy while one of its requests waits for PostgreSQL (a row
# lock, a commit). Measured against sync workers (2, 4, 8) in docs/benchmarks.md.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("GUNICORN_WORKERS", os.cpu_count() or 2))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
backlog = 2048
keepalive = 5
timeout = 30
accesslog = None
errorlog = "-"
loglevel = "warning"
