"""The /v1 wire contract: strict fields, the ReqID/Code/Msg envelope, and one base view.

Every answer under /v1/ is a JSON envelope, whatever went wrong. Each contract endpoint declares
its request serializer, its ReqType and a `perform` that calls one service."""

from __future__ import annotations

import json
import logging
import random
import re
import time
import uuid

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.validators import RegexValidator
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.http import JsonResponse
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from pools import addressing
from pools.audit import audit_record
from pools.choices import HTTP_STATUS_BY_CODE, Code, Kind, ReqType
from pools.domain import ANONYMOUS, Actor, CallContext, Workload
from pools.errors import ServiceError

log = logging.getLogger("ipresmgr.api")

INT32_MAX = 2**31 - 1
REQ_ID_MAX = 128

# Kubernetes' own validation (apimachinery/pkg/util/validation).
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
CLUSTER_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


# Fields: refuse what Go's encoding/json would never send for these types ------------------------


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, not a bool, a string or a number with a fraction."""

    default_error_messages = {"invalid": "must be a JSON integer (not a string, a bool or a fraction)"}

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(serializers.CharField):
    """A JSON string, taken as sent (no trimming), with no NUL character."""

    default_error_messages = {"invalid": "must be a JSON string"}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class _FullMatchValidator(RegexValidator):
    """The whole value must match (`$` alone lets a trailing newline through). Being a
    RegexValidator, drf-spectacular documents the pattern."""

    def __call__(self, value):
        if not self.regex.fullmatch(str(value)):
            raise serializers.ValidationError(self.message)


def _pattern_validator(pattern: re.Pattern, message: str):
    return _FullMatchValidator(pattern, message)


def _ip_validator(value: str) -> None:
    try:
        addressing.parse_ip(value)
    except ValueError:
        raise serializers.ValidationError(f"{value!r} is not a valid IPv4 or IPv6 address") from None


def namespace_field(**kwargs):
    return StrictCharField(
        max_length=63,
        validators=[_pattern_validator(DNS1123_LABEL, "must be a DNS-1123 label (lower-case a-z, 0-9, '-')")],
        help_text="Namespace: a DNS-1123 label.",
        **kwargs,
    )


def workload_name_field(**kwargs):
    return StrictCharField(
        max_length=253,
        validators=[_pattern_validator(DNS1123_SUBDOMAIN, "must be a DNS-1123 subdomain")],
        help_text="Workload name: a DNS-1123 subdomain.",
        **kwargs,
    )


def cluster_id_field(**kwargs):
    return StrictCharField(
        max_length=128,
        validators=[_pattern_validator(CLUSTER_ID, "must be 1-128 of letters, digits, '-', '_', '.'")],
        help_text="Cluster identifier.",
        **kwargs,
    )


def _printable_validator(value: str) -> None:
    if not value.isprintable():
        raise serializers.ValidationError("must be printable characters (no control characters)")


def opaque_id_field(*, allow_blank: bool = False, **kwargs):
    return StrictCharField(max_length=128, allow_blank=allow_blank, validators=[_printable_validator], **kwargs)


def ip_field(*, allow_blank: bool = False, **kwargs):
    return StrictCharField(max_length=64, allow_blank=allow_blank, validators=[_ip_validator], **kwargs)


def replicas_field(**kwargs):
    return StrictIntegerField(min_value=0, max_value=INT32_MAX, **kwargs)


class KindField(serializers.ChoiceField):
    """K8SApiResourceKind: a JSON integer 0-3."""

    default_error_messages = {"invalid_choice": "must be 0 (Deployment), 1 (StatefulSet), 2 (Job) or 3 (CronJob)"}

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "0 Deployment, 1 StatefulSet, 2 Job, 3 CronJob.")
        super().__init__(choices=Kind.choices, **kwargs)

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid_choice")
        return super().to_internal_value(data)


class ContractRequest(serializers.Serializer):
    """Fields every contract request carries."""

    ReqID = StrictCharField(max_length=REQ_ID_MAX, required=False, allow_blank=True, help_text="Echoed back.")
    K8SApiResourceKind = KindField()
    K8SClusterID = cluster_id_field()
    K8SNamespace = namespace_field()
    K8SApiResourceName = workload_name_field()

    def workload(self) -> Workload:
        data = self.validated_data
        return Workload(
            cluster_id=data["K8SClusterID"],
            namespace=data["K8SNamespace"],
            kind=data["K8SApiResourceKind"],
            name=data["K8SApiResourceName"],
        )


class Envelope(serializers.Serializer):
    """What every /v1 answer carries."""

    ReqID = serializers.CharField()
    Code = serializers.ChoiceField(choices=Code.choices)
    Msg = serializers.CharField(allow_blank=True)


# The envelope ----------------------------------------------------------------------------------


def new_req_id() -> str:
    return uuid.uuid4().hex


def envelope(req_id: str, code: Code, msg: str, *, status: int | None = None, extra: dict | None = None):
    body = dict(extra or {})
    body.update({"ReqID": req_id, "Code": int(code), "Msg": msg})
    return JsonResponse(body, status=status or HTTP_STATUS_BY_CODE[Code(code)])


def _first_error_text(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {_first_error_text(value)}" for key, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_first_error_text(item) for item in detail)
    return str(detail)


class ContractError(Exception):
    """Refuse the request before any service runs."""

    def __init__(self, code: Code, msg: str, status: int | None = None):
        super().__init__(msg)
        self.code, self.msg, self.status = Code(code), msg, status or HTTP_STATUS_BY_CODE[Code(code)]


def classify(exc: Exception) -> tuple[Code, str, int]:
    """Map any exception to (Code, Msg, HTTP status)."""
    if isinstance(exc, ServiceError):
        return exc.code, exc.msg, exc.http_status
    if isinstance(exc, ContractError):
        return exc.code, exc.msg, exc.status
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return Code.UNAUTHENTICATED, str(exc.detail), 401
    if isinstance(exc, exceptions.PermissionDenied):
        return Code.FORBIDDEN, str(exc.detail), 403
    if isinstance(exc, exceptions.APIException):
        return Code.INVALID_REQUEST, _first_error_text(exc.detail), exc.status_code
    if isinstance(exc, RequestDataTooBig):
        return Code.INVALID_REQUEST, f"body larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes", 413
    # Statement and lock timeouts (57014, 55P03) arrive as OperationalError too.
    if isinstance(exc, OperationalError | InterfaceError):
        return Code.UNAVAILABLE, "database unavailable or busy; retry", 503
    return Code.INTERNAL, f"internal error ({type(exc).__name__})", 500


# Retrying what the database asks us to retry ----------------------------------------------------

RETRY_SQLSTATES = {"40001", "40P01", "23505"}  # serialization failure, deadlock, lost a unique race
MAX_ATTEMPTS = 5


def _is_retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError | OperationalError):
        state = getattr(exc.__cause__, "sqlstate", None)
        if state in RETRY_SQLSTATES:
            return True
        # SQLite: two connections that both lost a race for the write lock.
        return state is None and "database is locked" in str(exc)
    return False


def run_with_retry(fn):
    """Run one whole-transaction service call, again if the database reports a conflict."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return fn()
        except (IntegrityError, OperationalError) as exc:
            if attempt == MAX_ATTEMPTS or not _is_retryable(exc):
                raise
            time.sleep(random.uniform(0.001, 0.01) * attempt)
    raise AssertionError("unreachable")


# The base view ---------------------------------------------------------------------------------


def _audit_text(value, limit: int) -> str:
    return value.replace("\x00", "")[:limit] if isinstance(value, str) else ""


class ContractView(APIView):
    """POST a JSON object, get the envelope. Subclasses set `request_serializer`, `req_type`,
    `response_defaults` (the contract's other keys) and `perform(ctx, serializer)`, which returns
    (Msg, extra response keys)."""

    request_serializer: type[ContractRequest]
    req_type: ReqType
    response_defaults: dict = {}
    parser_classes: list = []
    metadata_class = None  # OPTIONS answers 405 in the envelope, like every other method

    # Body and ReqID come first, so that even a 401 echoes the caller's ReqID.
    def initial(self, request, *args, **kwargs):
        request.req_id = new_req_id()
        request.payload = {}
        body_error = None
        try:
            request.payload = self._parse_body(request)
        except (ContractError, RequestDataTooBig) as exc:
            body_error = exc
        req_id = request.payload.get("ReqID")
        if isinstance(req_id, str) and 0 < len(req_id) <= REQ_ID_MAX and "\x00" not in req_id:
            request.req_id = req_id
        super().initial(request, *args, **kwargs)  # authenticates: a 401 comes before a 400
        if body_error is not None:
            raise body_error

    def _parse_body(self, request) -> dict:
        if request.method != "POST":
            return {}
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type and content_type != "application/json" and not content_type.endswith("+json"):
            raise ContractError(Code.INVALID_REQUEST, f"Content-Type must be application/json, not {content_type}", 415)
        raw = request._request.body
        try:
            payload = json.loads(raw)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ContractError(Code.INVALID_REQUEST, f"body is not valid JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise ContractError(Code.INVALID_REQUEST, "body must be a JSON object")
        return payload

    def post(self, request, *args, **kwargs):
        serializer = self.request_serializer(data=request.payload)
        if not serializer.is_valid():
            raise ContractError(Code.INVALID_REQUEST, _first_error_text(serializer.errors))
        actor: Actor = request.user
        cluster_id = serializer.validated_data["K8SClusterID"]
        if not actor.may_act_on(cluster_id):
            raise ContractError(Code.FORBIDDEN, f"K8SClusterID: this token may not act on cluster {cluster_id!r}")
        ctx = CallContext(actor=actor, req_id=request.req_id, req_type=self.req_type)
        msg, extra = run_with_retry(lambda: self.perform(ctx, serializer))
        return self._answer(request, Code.SUCCESS, msg, 200, extra)

    def perform(self, ctx: CallContext, serializer: ContractRequest) -> tuple[str, dict]:
        raise NotImplementedError

    def _answer(self, request, code: Code, msg: str, status: int, extra: dict | None = None) -> Response:
        body = {"ReqID": getattr(request, "req_id", "") or new_req_id()}
        if self.req_type in (ReqType.CREATE_IP_POOL, ReqType.RELEASE_IP_POOL, ReqType.SCALE_IP_POOL):
            body["ReqType"] = int(self.req_type)
        body.update(self.response_defaults)
        body.update(extra or {})
        body.update({"Code": int(code), "Msg": msg})
        return Response(body, status=status)

    def handle_exception(self, exc):
        code, msg, status = classify(exc)
        if code == Code.INTERNAL:
            log.exception("internal error on %s", self.request.path, exc_info=exc)
        elif code == Code.UNAVAILABLE:
            log.warning("database unavailable on %s: %s", self.request.path, exc)
        if status != 405:
            self._audit_failure(code, msg)
        response = self._answer(self.request, code, msg, status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="ipresmgr"'
        return response

    def _audit_failure(self, code: Code, msg: str) -> None:
        """Refusals are audited too, in their own transaction (the call's was rolled back)."""
        if code == Code.UNAVAILABLE:
            return  # nowhere to write it; the log line above is the record
        request = self.request
        payload = getattr(request, "payload", {}) or {}
        user = getattr(request, "_user", None)
        actor = (
            user
            if isinstance(user, Actor)
            else Actor(label="unauthenticated" if code == Code.UNAUTHENTICATED else ANONYMOUS.label)
        )
        kind = payload.get("K8SApiResourceKind")
        workload = Workload(
            cluster_id=_audit_text(payload.get("K8SClusterID"), 128),
            namespace=_audit_text(payload.get("K8SNamespace"), 63),
            kind=kind if type(kind) is int and kind in Kind.values else None,
            name=_audit_text(payload.get("K8SApiResourceName"), 253),
        )
        ctx = CallContext(actor=actor, req_id=getattr(request, "req_id", ""), req_type=self.req_type)
        try:
            with transaction.atomic():
                audit_record(
                    ctx,
                    code=code,
                    msg=msg,
                    workload=workload,
                    pod_id=_audit_text(payload.get("K8SPodID"), 128),
                    ip=_audit_text(payload.get("IP"), 39),
                    subnet_id=_audit_text(payload.get("SubnetID"), 128),
                )
        except DatabaseError:
            log.warning("could not audit a refused call (code %s): database error", int(code))


def envelope_exception_handler(exc, context):
    """DRF's handler for views that are not ContractViews (read APIs, the /v1 catch-all)."""
    code, msg, status = classify(exc)
    if code == Code.INTERNAL:
        log.exception("internal error", exc_info=exc)
    request = context.get("request")
    req_id = request.query_params.get("ReqID", "") if request is not None else ""
    response = Response({"ReqID": req_id[:REQ_ID_MAX] or new_req_id(), "Code": int(code), "Msg": msg}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="ipresmgr"'
    return response


class V1NotFound(APIView):
    """Anything under /v1/ that no endpoint answers."""

    authentication_classes: list = []
    metadata_class = None

    def dispatch(self, request, *args, **kwargs):
        return envelope(new_req_id(), Code.INVALID_REQUEST, f"no endpoint {request.path}", status=404)


class V1JsonErrorsMiddleware:
    """Outermost safety net: nothing under /v1/ ever answers HTML, even a crash in middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/v1/"):
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            code, msg, status = classify(exc)
            log.exception("unhandled error on %s", request.path)
            return envelope(new_req_id(), code, msg, status=status)
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        code = Code.INTERNAL if response.status_code >= 500 else Code.INVALID_REQUEST
        return envelope(new_req_id(), code, f"HTTP {response.status_code}", status=response.status_code)

    def process_exception(self, request, exc):
        if not request.path.startswith("/v1/"):
            return None
        code, msg, status = classify(exc)
        if code == Code.INTERNAL:
            log.exception("unhandled error on %s", request.path, exc_info=exc)
        return envelope(new_req_id(), code, msg, status=status)
