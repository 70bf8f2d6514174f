"""/healthz, /readyz and /metrics (with its halves /metrics/instance and /metrics/database, see
ipresmgr_site/metrics.py): answered by the first middleware, ahead of the host check, the
HTTPS redirect, sessions and CSRF, because kubelet probes come with the pod's IP as Host and over
plain HTTP. None of them needs a token (but /metrics may: IPRESMGR_METRICS_TOKEN), none is audited,
none is counted as a /v1 call.

- /healthz: the process is up. No database call; liveness must not restart every pod when the
  database is away.
- /readyz: the database answers (within the connect and statement timeouts of the settings),
  accepts writes (PostgreSQL: not in recovery, not read-only; a demoted primary or a standby
  behind a stale address is not ready, so Kubernetes stops routing to this instance) and every
  migration this code has is applied. Once a process has seen them all applied it stops looking
  at them (building the migration graph costs more than the probe should), so a ready probe is
  one small query."""

from __future__ import annotations

import logging
import threading

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from ipresmgr_site import __version__
from ipresmgr_site.database import ServerNotWritable

log = logging.getLogger("ipresmgr.health")

_migrations_seen_applied = False
_last_reason: str | None = None
_state_lock = threading.Lock()
WRITABLE_SQL = "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'"


def unapplied_migrations() -> list[str]:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def _drop_connection() -> None:
    if not connection.in_atomic_block:  # (a test's transaction: it decides)
        connection.close()


def readiness() -> str | None:
    """None when ready, else why not (one line, for the 503 body)."""
    global _migrations_seen_applied
    try:
        with connection.cursor() as cursor:  # a new connection is checked by ipresmgr_site.database
            cursor.execute(WRITABLE_SQL if connection.vendor == "postgresql" else "SELECT 1")
            writable = cursor.fetchone()[0]
        if not writable:
            _drop_connection()  # the next call or probe connects afresh, maybe to the new primary
            return "the database accepts no writes (in recovery or read-only)"
        if not _migrations_seen_applied:
            pending = unapplied_migrations()
            if pending:
                shown = ", ".join(pending[:5]) + (", ..." if len(pending) > 5 else "")
                return f"{len(pending)} unapplied migrations ({shown}): run manage.py migrate"
            _migrations_seen_applied = True
    except ServerNotWritable as exc:
        return str(exc)
    except DatabaseError as exc:
        _drop_connection()  # never probe again on a connection that failed
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        log.debug("readyz: database error: %s", detail)
        return f"database unreachable or failing ({type(exc).__name__})"
    return None


def _log_transition(reason: str | None) -> None:
    """One line when readiness changes, not one per probe."""
    global _last_reason
    with _state_lock:
        changed, _last_reason = reason != _last_reason, reason
    if changed:
        if reason:
            log.warning("not ready: %s", reason)
        else:
            log.info("ready")


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    return _no_store(JsonResponse({"status": "ok", "version": __version__}))


def readyz(request: HttpRequest) -> HttpResponse:
    reason = readiness()
    _log_transition(reason)
    if reason:
        return _no_store(JsonResponse({"status": "unavailable", "reason": reason}, status=503))
    return _no_store(JsonResponse({"status": "ready", "version": __version__}))


def metrics(request: HttpRequest, scope: str = "all") -> HttpResponse:
    from ipresmgr_site.metrics import metrics_page

    return _no_store(metrics_page(request, scope))


OPS_ENDPOINTS = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": metrics,  # both of the below: one instance
    "/metrics/instance": lambda request: metrics(request, "instance"),  # this instance's calls: scrape every pod
    "/metrics/database": lambda request: metrics(request, "database"),  # the database's figures: scrape once
}


class OpsEndpointsMiddleware:
    """Outermost: answers the operations endpoints before anything else runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = OPS_ENDPOINTS.get(request.path_info)
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = JsonResponse({"status": "error", "reason": "method not allowed: use GET"}, status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return view(request)
