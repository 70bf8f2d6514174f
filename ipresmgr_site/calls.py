"""Each /v1 call, as operations see it: one JSON log line and its metrics.

The fields come from `request.ipresmgr_log_fields` when a view sets it on the Django request
(keys ReqID, Code, endpoint, cluster, namespace, kind, workload, pod, ip); whatever it leaves out
is read from the call's own JSON body and JSON answer (both small: the body is at most
DATA_UPLOAD_MAX_MEMORY_SIZE) or the query string. Never from the headers, so never a token."""

from __future__ import annotations

import json
import logging
import os
import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from ipresmgr_site import logs, metrics

log = logging.getLogger(logs.CALL_LOGGER)

V1_PREFIX = "/v1/"
TEXT_LIMIT = 256
UNKNOWN_ENDPOINT = "other"
CODE_UNAVAILABLE, CODE_INTERNAL = 50, 99

# Request body key -> log field, and the same for the answer.
FROM_BODY = {
    "ReqID": "ReqID",
    "K8SClusterID": "cluster",
    "K8SNamespace": "namespace",
    "K8SApiResourceKind": "kind",
    "K8SApiResourceName": "workload",
    "K8SPodID": "pod",
    "IP": "ip",
}
FROM_ANSWER = {"ReqID": "ReqID", "Code": "Code", "IP": "ip"}


def _clean(value):
    """A field as logged: short strings, integers; anything else dropped."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value:
        return value[:TEXT_LIMIT]
    return None


def _json_object(raw: bytes) -> dict:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _request_body(request: HttpRequest) -> dict:
    if request.method != "POST":
        return {}
    try:
        raw = request.body  # cached by the view that parsed it; bounded by DATA_UPLOAD_MAX_MEMORY_SIZE
    except Exception:  # noqa: BLE001 - a body we cannot read (too big, already streamed) is no field
        return {}
    return _json_object(raw)


def _answer_body(response: HttpResponse) -> dict:
    if getattr(response, "streaming", False) or not response.get("Content-Type", "").startswith("application/json"):
        return {}
    return _json_object(response.content)


def endpoint_of(request: HttpRequest) -> str:
    """The route that answered ("/v1/ip/require"), or "other" for a path no endpoint has: a
    bounded set of labels, whatever paths callers make up."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return UNKNOWN_ENDPOINT
    route = match.route or ""
    if not route.startswith("v1/") or route.startswith("^"):
        return UNKNOWN_ENDPOINT
    return "/" + route


def call_fields(request: HttpRequest, response: HttpResponse) -> dict:
    given = getattr(request, "ipresmgr_log_fields", None) or {}
    body = _request_body(request)
    answer = _answer_body(response)
    fields: dict = {}
    for key, field in FROM_BODY.items():
        fields[field] = _clean(body.get(key))
    for key in ("ReqID", "K8SClusterID", "K8SNamespace", "K8SApiResourceName", "K8SPodID", "IP"):
        if fields[FROM_BODY[key]] is None:
            fields[FROM_BODY[key]] = _clean(request.GET.get(key))
    for key, field in FROM_ANSWER.items():
        value = _clean(answer.get(key))
        if value is not None:
            fields[field] = value
    for key, value in given.items():
        if value is not None:
            fields[key] = _clean(value) if key != "Code" else value
    fields.setdefault("Code", None)
    fields.setdefault("endpoint", endpoint_of(request))
    fields["msg"] = _clean(answer.get("Msg"))
    return fields


def _count_failed_statements(notes: logs.CallNotes):
    def wrapper(execute, sql, params, many, context):
        try:
            return execute(sql, params, many, context)
        except DatabaseError as exc:
            notes.db_errors.append(getattr(exc.__cause__, "sqlstate", None) or type(exc).__name__)
            raise

    return wrapper


class CallObserverMiddleware:
    """Outside the /v1 envelope middleware: sees every /v1 answer as the caller gets it."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.instance = settings.IPRESMGR_INSTANCE
        self.pid = os.getpid()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(V1_PREFIX):
            return self.get_response(request)
        started = time.perf_counter()
        with logs.call_scope() as notes:
            try:
                with connections[DEFAULT_DB_ALIAS].execute_wrapper(_count_failed_statements(notes)):
                    response = self.get_response(request)
            except Exception:
                # Not expected: the envelope middleware inside answers every error. Still one line.
                log.exception("%s raised past the envelope", request.path)
                raise
        seconds = time.perf_counter() - started
        fields = call_fields(request, response)
        code = fields["Code"] if isinstance(fields["Code"], int) else None
        metrics.observe_call(endpoint=fields["endpoint"], code=code, seconds=seconds, db_errors=notes.db_errors)
        self._log(fields, response.status_code, seconds, notes)
        return response

    def _log(self, fields: dict, status: int, seconds: float, notes: logs.CallNotes) -> None:
        line = {
            "ReqID": fields["ReqID"],
            "endpoint": fields["endpoint"],
            "cluster": fields["cluster"],
            "namespace": fields["namespace"],
            "kind": fields["kind"],
            "workload": fields["workload"],
            "pod": fields["pod"],
            "ip": fields["ip"],
            "Code": fields["Code"],
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "msg": fields["msg"],
            "instance": self.instance,
            "pid": self.pid,
        }
        if notes.db_errors:
            line["db_errors"] = notes.db_errors
        if notes.errors:
            line["error"] = "; ".join(notes.errors)[:2000]
        if notes.traceback:
            line["traceback"] = notes.traceback
        code = fields["Code"]
        if code == CODE_UNAVAILABLE:
            level = logging.WARNING
        elif code == CODE_INTERNAL or status >= 500:
            level = logging.ERROR
        else:
            level = logging.INFO
        log.log(level, "%s %s", fields["endpoint"], code, extra={"ipresmgr": line})
