"""Gunicorn settings of the image (docker/entrypoint.sh serves with them). Kept under docker/,
not at the repository root: gunicorn loads ./gunicorn.conf.py from its working directory by
itself, and the tests, the demo and the benchmark start gunicorn from the root with their own.

Every value comes from the environment (docs/operations.md, the settings table)."""

import os
import shutil
import tempfile

# Several worker processes share their metrics through files in this directory; it must be set
# before prometheus_client is imported anywhere (the workers inherit it). An emptyDir in Kubernetes;
# when unset, a directory of our own, removed on exit.
_own_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    _own_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="ipresmgr-metrics-")

from ipresmgr_site import serving  # noqa: E402 - after PROMETHEUS_MULTIPROC_DIR

bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# One process per core (the work is Python under the GIL), a few threads each so a process keeps
# its core busy while a request waits on PostgreSQL (docs/benchmarks.md).
worker_class = "ipresmgr_site.serving.JsonEdgeThreadWorker"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# SIGTERM: stop accepting, finish the calls in flight for up to this long, exit. Keep it below the
# pod's terminationGracePeriodSeconds minus the preStop sleep (30 - 5 in the manifests).
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
backlog = 2048
# The edge: longer request lines or headers get the /v1 JSON envelope (Code 1, 414 / 431 / 400).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or None
pidfile = os.environ.get("GUNICORN_PIDFILE") or None
control_socket_disable = True

# JSON lines: the access log on stdout (not for /v1 calls, which have their own line, nor probes),
# gunicorn's own lines on stderr.
logger_class = "ipresmgr_site.serving.JsonLogger"
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

on_starting = serving.on_starting
child_exit = serving.child_exit


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
