"""The outermost safety net: nothing under /v1/ ever answers HTML, even a crash in middleware.
And the console's middleware, skipped on /v1/: the contract's calls carry a bearer token, never a
session, a cookie or a message, and are CSRF-exempt."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import DEFAULT_DB_ALIAS, connections
from whitenoise.middleware import WhiteNoiseMiddleware

from contract.framework.envelope import OUTCOME_UNKNOWN_MSG, answer, as_service_error, new_req_id, req_id_or_new
from core.call_deadline import WATCHDOG
from core.choices import Code, ReqType

log = logging.getLogger("ipresmgr.api")
V1_PREFIX = "/v1/"


def not_on_v1(middleware_class: type) -> type:
    """`middleware_class` for every path but /v1/, which goes straight to the next layer. A
    subclass, so that Django's checks still find the console's middleware."""

    class NotOnV1(middleware_class):
        def __call__(self, request):
            if request.path.startswith(V1_PREFIX):
                return self.get_response(request)
            return super().__call__(request)

    for hook in ("process_view", "process_exception", "process_template_response"):
        inner = getattr(middleware_class, hook, None)
        if inner is not None:
            setattr(NotOnV1, hook, _unless_v1(inner))
    NotOnV1.__name__ = NotOnV1.__qualname__ = f"{middleware_class.__name__.removesuffix('Middleware')}NotOnV1"
    return NotOnV1


def _unless_v1(hook):
    def run(self, request, *args):
        return None if request.path.startswith(V1_PREFIX) else hook(self, request, *args)

    return run


# The console's middleware, as settings.MIDDLEWARE names them.
WhiteNoiseNotOnV1 = not_on_v1(WhiteNoiseMiddleware)
SessionNotOnV1 = not_on_v1(SessionMiddleware)
AuthenticationNotOnV1 = not_on_v1(AuthenticationMiddleware)
MessageNotOnV1 = not_on_v1(MessageMiddleware)


class V1JsonErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(V1_PREFIX):
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            log.exception("unhandled error on %s", request.path)
            return self._answer_error(exc)
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        code = Code.INTERNAL if response.status_code >= 500 else Code.INVALID_REQUEST
        return answer(new_req_id(), code, f"HTTP {response.status_code}", status=response.status_code)

    def process_exception(self, request, exc):
        if not request.path.startswith(V1_PREFIX):
            return None
        error = as_service_error(exc)
        if error.code == Code.INTERNAL:
            log.exception("unhandled error on %s", request.path, exc_info=exc)
        return self._answer_error(exc)

    @staticmethod
    def _answer_error(exc: Exception):
        error = as_service_error(exc)
        return answer(new_req_id(), error.code, error.msg, status=error.http_status)


class CallDeadlineMiddleware:
    """Every request on PostgreSQL is watched (core/call_deadline.py): past
    IPRESMGR_DB_CALL_TIMEOUT_MS its backend is cancelled, and a /v1 call answers Code 50 whatever
    the database said (a COMMIT cancelled in its wait for a synchronous standby has committed
    locally: the outcome is unknown, the caller's retry is safe). The connection is dropped."""

    def __init__(self, get_response):
        self.get_response = get_response
        on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
        self.timeout_s = settings.IPRESMGR_DB_CALL_TIMEOUT_MS / 1000 if on_postgres else 0

    def __call__(self, request):
        if not self.timeout_s:
            return self.get_response(request)
        connection = connections[DEFAULT_DB_ALIAS]
        watch = WATCHDOG.watch(connection, self.timeout_s)
        try:
            response = self.get_response(request)
        finally:
            timed_out = WATCHDOG.release(watch)
        if not timed_out:
            return response
        if not connection.in_atomic_block:
            connection.close()
        if not request.path.startswith("/v1/"):
            return response
        return self._outcome_unknown(request, response)

    @staticmethod
    def _outcome_unknown(request, response):
        try:
            given = json.loads(response.content)
        except (ValueError, AttributeError):
            given = {}
        req_id = req_id_or_new(given.get("ReqID"))
        req_type = ReqType(given["ReqType"]) if given.get("ReqType") in ReqType.values else None
        fields = getattr(request, "ipresmgr_log_fields", None)
        if fields is not None:  # the call's log line and metrics say what the caller was told
            fields.update({"Code": int(Code.UNAVAILABLE), "msg": OUTCOME_UNKNOWN_MSG})
        return answer(req_id, Code.UNAVAILABLE, OUTCOME_UNKNOWN_MSG, req_type=req_type)
