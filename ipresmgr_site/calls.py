"""Each /v1 call, as operations see it: one JSON log line and its metrics.

The fields come from `request.ipresmgr_log_fields` when a view sets it on the Django request
(keys ReqID, Code, endpoint, cluster, namespace, kind, workload, pod, ip; with Code, the body is
not read again); whatever it leaves out is read from the call's own JSON body and JSON answer
(both small: the body is at most DATA_UPLOAD_MAX_MEMORY_SIZE) or the query string. Never from
the headers, so never a token."""

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


def call_code(given: dict, answer: dict) -> int | None:
    code = given.get("Code", answer.get("Code"))
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def call_fields(request: HttpRequest, given: dict, answer: dict) -> dict:
    """The log line's call fields: the view's own, else the request's body or query string and the answer."""
    # A /v1 view that tells its Code has told the body's fields too (parsed once, by the view).
    body = {} if "Code" in given else _request_body(request)
    fields: dict = {}
    for key, field in FROM_BODY.items():
        fields[field] = _clean(body.get(key))
        if fields[field] is None and key != "K8SApiResourceKind":
            fields[field] = _clean(request.GET.get(key))
    for key, field in FROM_ANSWER.items():
        value = _clean(answer.get(key))
        if value is not None:
            fields[field] = value
    for key, value in given.items():
        if value is not None:
            fields[key] = _clean(value)
    fields["msg"] = _clean(given.get("msg", answer.get("Msg")))
    return fields


def level_of(code: int | None, status: int) -> int:
    if code == CODE_UNAVAILABLE:
        return logging.WARNING
    if code == CODE_INTERNAL or status >= 500:
        return logging.ERROR
    return logging.INFO


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
        given = getattr(request, "ipresmgr_log_fields", None) or {}
        answer = {} if "Code" in given else _answer_body(response)  # /v1 views tell; others are read
        code = call_code(given, answer)
        endpoint = given.get("endpoint") or endpoint_of(request)
        metrics.observe_call(endpoint=endpoint, code=code, seconds=seconds, db_errors=notes.db_errors)
        level = level_of(code, response.status_code)
        if notes.errors:
            level = max(level, logging.WARNING)  # what was folded into the line is not dropped with it
        if log.isEnabledFor(level):  # the body is parsed only for a line that is written
            fields = call_fields(request, given, answer)
            self._log(level, endpoint, code, fields, response.status_code, seconds, notes)
        return response

    def _log(self, level, endpoint, code, fields, status, seconds, notes) -> None:
        line = {
            "ReqID": fields["ReqID"],
            "endpoint": endpoint,
            "cluster": fields["cluster"],
            "namespace": fields["namespace"],
            "kind": fields["kind"],
            "workload": fields["workload"],
            "pod": fields["pod"],
            "ip": fields["ip"],
            "Code": code,
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
        log.log(level, "%s %s", endpoint, code, extra={"ipresmgr": line})
