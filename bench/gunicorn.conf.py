"""Gunicorn settings the benchmark serves with (also a sane start for production on 2 cores).

Every value can be overridden from the environment: GUNICORN_WORKERS, GUNICORN_THREADS, ..."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
backlog = 2048
keepalive = 5
timeout = 30
accesslog = None
errorlog = "-"
loglevel = "warning"
