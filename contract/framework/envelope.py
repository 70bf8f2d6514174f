"""The /v1 answer. Every response under /v1/ is built by `answer()`, whatever happened: a success,
a refusal, an exception, a page of a list, an unknown path, a wrong method, a body too large.

`as_service_error()` turns any exception into the one error type the services raise, so the edge
has one way to say what went wrong."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from rest_framework import exceptions

from core.choices import HTTP_STATUS_BY_CODE, Code, ReqType
from core.errors import ServiceError
from core.transactions import is_read_only

REQ_ID_MAX = 128
UNAVAILABLE_MSG = "database unavailable or busy; retry"
OUTCOME_UNKNOWN_MSG = "database call timed out: outcome unknown; retry (every call is idempotent)"
READ_ONLY_MSG = "database does not accept writes (a standby or a demoted primary); retry"
WWW_AUTHENTICATE = 'Bearer realm="ipresmgr"'
# The webhook's answers (IPResMgr2WBRes) name the request type; the IPAM's do not.
WEBHOOK_REQ_TYPES = frozenset({ReqType.CREATE_IP_POOL, ReqType.RELEASE_IP_POOL, ReqType.SCALE_IP_POOL})


def new_req_id() -> str:
    return uuid.uuid4().hex


def req_id_or_new(value) -> str:
    """The caller's ReqID when it is a string of 1-128 characters without NUL; else a new one."""
    if isinstance(value, str) and 0 < len(value) <= REQ_ID_MAX and "\x00" not in value:
        return value
    return new_req_id()


def answer(
    req_id: str,
    code: Code,
    msg: str,
    *,
    status: int | None = None,
    req_type: ReqType | None = None,
    fields: dict | None = None,
) -> JsonResponse:
    """The envelope: ReqID (and ReqType for the webhook's calls), the call's own fields, Code, Msg."""
    body: dict = {"ReqID": req_id}
    if req_type in WEBHOOK_REQ_TYPES:
        body["ReqType"] = int(req_type)
    if fields:
        body.update(fields)
    body["Code"] = int(code)
    body["Msg"] = msg
    status = status or HTTP_STATUS_BY_CODE[Code(code)]
    response = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False, "separators": (",", ":")})
    if status == 401:
        response["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response


def error_text(detail) -> str:
    """A validation error as one line: `Field: message; Other: message`."""
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {error_text(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(error_text(item) for item in detail)
    return str(detail)


def as_service_error(exc: Exception) -> ServiceError:
    """What the caller is told about `exc`: a Code, a Msg and an HTTP status."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return ServiceError(Code.UNAUTHENTICATED, str(exc.detail))
    if isinstance(exc, exceptions.PermissionDenied):
        return ServiceError(Code.FORBIDDEN, str(exc.detail))
    if isinstance(exc, exceptions.APIException):  # a wrong method, a filter that does not parse, ...
        return ServiceError(Code.INVALID_REQUEST, error_text(exc.detail), http_status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return ServiceError(
            Code.INVALID_REQUEST, f"body larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes", http_status=413
        )
    if is_read_only(exc):  # an InternalError in psycopg, but an outage: retry finds the new primary
        return ServiceError(Code.UNAVAILABLE, READ_ONLY_MSG)
    # Statement and lock timeouts (57014, 55P03) arrive as OperationalError too.
    if isinstance(exc, OperationalError | InterfaceError):
        return ServiceError(Code.UNAVAILABLE, UNAVAILABLE_MSG)
    return ServiceError(Code.INTERNAL, f"internal error ({type(exc).__name__})")
