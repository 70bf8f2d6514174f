"""Gunicorn pieces the image serves with (docker/gunicorn.conf.py names them):

- worker classes that answer a request gunicorn itself refuses (request line or headers over the
  limits, a malformed request) with the /v1 JSON envelope, Code 1, instead of gunicorn's HTML page;
- a thread worker that answers the probes (/healthz, /readyz) on a thread pool of their own, so
  kubelet's probes never queue behind calls stuck on the database;
- a logger that writes gunicorn's own lines and the access log as JSON lines;
- the hooks: refuse to start without a secret key, keep the metrics directory of several worker
  processes right.

Importing this module must not import prometheus_client: the configuration sets
PROMETHEUS_MULTIPROC_DIR first."""

from __future__ import annotations

import json
import logging
import os
import selectors
import shutil
import socket
import time
import uuid
from concurrent import futures
from functools import partial
from pathlib import Path

from gunicorn import glogging, util
from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

from ipresmgr_site.logs import JsonFormatter, iso_time
from ipresmgr_site.startup import insecure_start_reason

MSG_LIMIT = 200

# The edge -------------------------------------------------------------------------------------


def edge_answer(exc: Exception, cfg) -> tuple[int, str, str] | None:
    """(HTTP status, reason phrase, Msg) for a request gunicorn could not parse; None otherwise."""
    if isinstance(exc, http_errors.LimitRequestLine):
        return 414, "URI Too Long", f"request line longer than {cfg.limit_request_line} bytes"
    if isinstance(exc, http_errors.LimitRequestHeaders):
        return (
            431,
            "Request Header Fields Too Large",
            f"request headers too large: at most {cfg.limit_request_fields} fields "
            f"of at most {cfg.limit_request_field_size} bytes each",
        )
    if isinstance(exc, http_errors.ConfigurationProblem | http_errors.UnsupportedTransferCoding):
        return None  # gunicorn's 500 and 501; not the caller's malformed request
    if isinstance(exc, http_errors.ParseException):
        return 400, "Bad Request", f"malformed HTTP request: {str(exc)[:MSG_LIMIT]}"
    return None


def envelope_bytes(status: int, reason: str, msg: str) -> bytes:
    body = json.dumps({"ReqID": uuid.uuid4().hex, "Code": 1, "Msg": msg}, ensure_ascii=False).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class JsonEdgeMixin:
    def handle_error(self, req, client, addr, exc):
        answer = edge_answer(exc, self.cfg)
        if answer is None:
            return super().handle_error(req, client, addr, exc)
        status, reason, msg = answer
        self.log.warning("invalid request from ip=%s: %s (answered %s)", (addr or ("",))[0], exc, status)
        try:
            util.write_nonblock(client, envelope_bytes(status, reason, msg))
        except Exception:  # noqa: BLE001 - the client may be gone; nothing to answer then
            self.log.debug("failed to send the error answer")


PROBE_REQUEST_STARTS = (b"GET /healthz ", b"GET /readyz ", b"HEAD /healthz ", b"HEAD /readyz ")
PROBE_THREADS = 2  # /readyz may wait on the database (its statement timeout); /healthz never does
PEEK_BYTES = max(len(start) for start in PROBE_REQUEST_STARTS)


def peek_request_start(sock) -> bytes | None:
    """The first bytes the client sent, left in the socket; None when nothing has arrived yet."""
    try:
        return sock.recv(PEEK_BYTES, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return None
    except OSError:
        return b""  # the thread pool's handler meets the error and closes the connection


class JsonEdgeThreadWorker(JsonEdgeMixin, ThreadWorker):
    """gunicorn's gthread worker, JSON at the edge, and the probes apart: a request whose first
    bytes are a probe's goes to a pool of its own, so /healthz answers while every request thread
    waits on the database (within IPRESMGR_DB_CALL_TIMEOUT_MS). A connection whose first bytes
    have not arrived waits on the poller, not in the request threads' queue."""

    def init_process(self):
        self.probe_pool = futures.ThreadPoolExecutor(max_workers=PROBE_THREADS, thread_name_prefix="probes")
        super().init_process()

    def enqueue_req(self, conn):
        if self.cfg.is_ssl or conn.parser is not None:  # TLS, or a kept-alive connection mid-stream
            return super().enqueue_req(conn)
        start = peek_request_start(conn.sock)
        if start is None and not conn.data_ready:
            return self._wait_for_first_bytes(conn)
        if start is not None and start.startswith(PROBE_REQUEST_STARTS):
            conn.data_ready = True
            future = self.probe_pool.submit(self.handle, conn)
            future.add_done_callback(lambda done: self.method_queue.defer(self.finish_request, conn, done))
            return None
        return super().enqueue_req(conn)

    def _wait_for_first_bytes(self, conn):
        """What gthread does with a connection that sent nothing yet (its _DEFER), from the start."""
        conn.sock.setblocking(False)
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn))


class JsonEdgeSyncWorker(JsonEdgeMixin, SyncWorker):
    """gunicorn's sync worker, JSON at the edge."""


# Logs -----------------------------------------------------------------------------------------

# Requests that have a better line elsewhere, or would drown the rest: /v1 calls (the call line of
# ipresmgr.calls), probes and scrapes.
NOT_ACCESS_LOGGED = ("/v1/", "/healthz", "/readyz", "/metrics")


class _MessageOnly(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


class JsonLogger(glogging.Logger):
    """gunicorn's error log as JSON lines; its access log as JSON lines, except for the paths above."""

    def setup(self, cfg):
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())
        for handler in self.access_log.handlers:
            handler.setFormatter(_MessageOnly())

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        path = environ.get("PATH_INFO", "")
        if path.startswith(NOT_ACCESS_LOGGED[0]) or path in NOT_ACCESS_LOGGED[1:]:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        line = {
            "time": iso_time(time.time()),
            "level": "info",
            "logger": "gunicorn.access",
            "remote": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": path,
            "query": environ.get("QUERY_STRING", "")[:1000],
            "status": int(status) if str(status).isdigit() else status,
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "user_agent": environ.get("HTTP_USER_AGENT", "")[:200],
            "pid": os.getpid(),
        }
        try:
            self.access_log.info(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
        except Exception:  # noqa: BLE001 - as gunicorn's own access(): never fail a request over a log line
            self.error("could not write an access log line")


# Hooks ----------------------------------------------------------------------------------------


def on_starting(server) -> None:
    """In the master, before any worker: refuse an insecure start (gunicorn prints 'Error: <reason>'
    and exits 1), and empty the metrics directory of a previous run (a container restart keeps an
    emptyDir)."""
    reason = insecure_start_reason()
    if reason:
        raise RuntimeError(reason)
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if metrics_dir:
        path = Path(metrics_dir)
        path.mkdir(parents=True, exist_ok=True)
        for entry in path.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def child_exit(server, worker) -> None:
    """In the master, when a worker exits: its live gauges go (counters and histograms stay summed)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
