"""The base views of /v1: one for every endpoint (parse, authenticate, answer the envelope, audit a
refused write), one for the contract's POST calls, one for the read lists.

A contract endpoint declares its request serializer, its ReqType and `perform(ctx, data)`, which
calls one service with the validated body and returns (Msg, the answer's own fields)."""

from __future__ import annotations

import functools
import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, transaction
from django.views.decorators.csrf import csrf_exempt
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from audit.recording import audit_record
from contract import reads_openapi
from contract.framework.envelope import answer, as_service_error, error_text, new_req_id, req_id_or_new
from contract.framework.fields import INT32_MAX, ContractRequest
from core import bounded_reads
from core.choices import AdminAction, Code, Kind, ReqType
from core.domain import ANONYMOUS, Actor, CallContext, Workload
from core.errors import ServiceError

log = logging.getLogger("ipresmgr.api")
SCHEMA_ACTOR = Actor(label="schema generation", is_operator=True)
# Accept headers that take the envelope's JSON as it is; any other goes through DRF's negotiation.
JSON_ACCEPTED = frozenset({"", "*/*", "application/json"})
JSON_RENDERER = JSONRenderer()


def parse_json_object(request) -> dict:
    """The body of a POST: a JSON object, or a refusal (Code 1: 400, or 415 for another type)."""
    content_type = request.content_type.split(";")[0].strip().lower()
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise ServiceError(
            Code.INVALID_REQUEST, f"Content-Type must be application/json, not {content_type}", http_status=415
        )
    try:
        payload = json.loads(request._request.body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ServiceError(Code.INVALID_REQUEST, f"body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ServiceError(Code.INVALID_REQUEST, "body must be a JSON object")
    return payload


@functools.cache
def validator_for(request_serializer: type[serializers.Serializer]) -> serializers.Serializer:
    """One instance per request shape, shared by every request and thread: `run_validation` keeps
    no state, and building a serializer (it deep-copies its fields) costs more than validating."""
    return request_serializer()


def _audit_text(value, limit: int) -> str:
    return value.replace("\x00", "")[:limit] if isinstance(value, str) else ""


class V1View(APIView):
    """Every /v1 endpoint. Whatever happens, the answer is the envelope; a refused POST is audited.

    `req_type` / `admin_action` name the call in the audit log; `answer_fields` are the keys the
    endpoint's answers always carry (empty on a refusal), e.g. RequireIP's IP and MacAddr."""

    req_type: ReqType | None = None
    admin_action: AdminAction | str = ""
    answer_fields: dict = {}
    parser_classes: list = []  # bodies are parsed here, strictly, with the contract's errors
    metadata_class = None  # OPTIONS answers 405 in the envelope, like every other wrong method

    # ReqID and body come first, so that even a 401 echoes the caller's ReqID; then authentication,
    # so that a 401 comes before a 400.
    def initial(self, request, *args, **kwargs):
        request.payload = {}
        body_error = None
        if request.method == "POST" and hasattr(self, "post"):  # else a 405, whatever the body
            try:
                request.payload = parse_json_object(request)
            except (ServiceError, RequestDataTooBig) as exc:
                body_error = exc
            request.req_id = req_id_or_new(request.payload.get("ReqID"))
        else:
            request.req_id = req_id_or_new(request.query_params.get("ReqID"))
        super().initial(request, *args, **kwargs)
        if body_error is not None:
            raise body_error

    def perform_content_negotiation(self, request, force=False):
        """Every answer is the JSON envelope (never rendered by DRF), so the usual Accept headers
        need no negotiation; one that may rule JSON out still gets DRF's (a 406 when it does)."""
        if request.META.get("HTTP_ACCEPT", "") in JSON_ACCEPTED:
            return JSON_RENDERER, JSON_RENDERER.media_type
        return super().perform_content_negotiation(request, force)

    def answer(self, code: Code, msg: str, fields: dict | None = None, *, status: int | None = None):
        req_id = getattr(self.request, "req_id", None) or new_req_id()
        self._tell_call_log(req_id, code, msg, fields or {})
        return answer(req_id, code, msg, status=status, req_type=self.req_type, fields=fields)

    def _tell_call_log(self, req_id: str, code: Code, msg: str, fields: dict) -> None:
        """The call's log line and metrics (ipresmgr_site.calls) take these rather than parse the
        body and the answer again."""
        payload = getattr(self.request, "payload", None) or {}
        self.request._request.ipresmgr_log_fields = {
            "ReqID": req_id,
            "Code": int(code),
            "msg": msg,
            "cluster": payload.get("K8SClusterID"),
            "namespace": payload.get("K8SNamespace"),
            "kind": payload.get("K8SApiResourceKind"),
            "workload": payload.get("K8SApiResourceName"),
            "pod": payload.get("K8SPodID"),
            "ip": fields.get("IP") or payload.get("IP"),
        }

    def serve_call(self, request_serializer: type[serializers.Serializer], perform, authorize):
        """The steps of a write: validate the body, let `authorize(actor, data)` refuse, run
        `perform(ctx, data)` (one service call) and answer Code 0 with its Msg and fields."""
        try:
            data = validator_for(request_serializer).run_validation(self.request.payload)
        except serializers.ValidationError as exc:
            raise ServiceError(Code.INVALID_REQUEST, error_text(exc.detail)) from None
        actor: Actor = self.request.user
        authorize(actor, data)
        ctx = CallContext(
            actor=actor, req_id=self.request.req_id, req_type=self.req_type, admin_action=self.admin_action
        )
        msg, fields = perform(ctx, data)
        return self.answer(Code.SUCCESS, msg, {**self.answer_fields, **fields})

    def handle_exception(self, exc):
        error = as_service_error(exc)
        if error.code == Code.INTERNAL:
            log.exception("internal error on %s", self.request.path, exc_info=exc)
        elif error.code == Code.UNAVAILABLE:
            log.warning("database unavailable on %s: %s", self.request.path, exc)
        if self.request.method == "POST" and error.http_status != 405:
            self.audit_refusal(error)
        return self.answer(error.code, error.msg, self.answer_fields, status=error.http_status)

    def audit_refusal(self, error: ServiceError) -> None:
        """A refused write is audited too, in its own transaction (the call's was rolled back)."""
        if error.code == Code.UNAVAILABLE:
            return  # nowhere to write it; the log line is the record
        request = self.request
        payload = getattr(request, "payload", None) or {}
        user = getattr(request, "_user", None)
        actor = (
            user
            if isinstance(user, Actor)
            else Actor(label="unauthenticated" if error.code == Code.UNAUTHENTICATED else ANONYMOUS.label)
        )
        kind = payload.get("K8SApiResourceKind")
        workload = Workload(
            cluster_id=_audit_text(payload.get("K8SClusterID"), 128),
            namespace=_audit_text(payload.get("K8SNamespace"), 63),
            kind=kind if type(kind) is int and kind in Kind.values else None,
            name=_audit_text(payload.get("K8SApiResourceName"), 253),
        )
        ctx = CallContext(
            actor=actor,
            req_id=getattr(request, "req_id", ""),
            req_type=self.req_type,
            admin_action=self.admin_action,
        )
        try:
            with transaction.atomic():
                audit_record(
                    ctx,
                    code=error.code,
                    msg=error.msg,
                    workload=workload,
                    pod_id=_audit_text(payload.get("K8SPodID"), 128),
                    ip=_audit_text(payload.get("IP"), 39),
                    subnet_id=_audit_text(payload.get("SubnetID"), 128),
                )
        except DatabaseError:
            log.warning("could not audit a refused call (code %s): database error", int(error.code))


class ContractView(V1View):
    """POST a JSON object of `request_serializer`'s shape, get the envelope. The token must be
    allowed to act on the body's K8SClusterID."""

    request_serializer: type[ContractRequest]

    def post(self, request, *args, **kwargs):
        return self.serve_call(self.request_serializer, self.perform, self.authorize)

    @staticmethod
    def authorize(actor: Actor, data: dict) -> None:
        cluster_id = data["K8SClusterID"]
        if not actor.may_act_on(cluster_id):
            raise ServiceError(Code.FORBIDDEN, f"K8SClusterID: this token may not act on cluster {cluster_id!r}")

    def perform(self, ctx: CallContext, data: dict) -> tuple[str, dict]:
        """Call one service with the validated `data`; return (Msg, the answer's own fields)."""
        raise NotImplementedError


# Reads ------------------------------------------------------------------------------------------


class EnvelopePagination(BasePagination):
    """`Limit` (1-1000, default 100) and `Offset` rows; both refused with Code 1 when not integers
    in range, rather than silently replaced. `Count` is exact up to IPRESMGR_READ_COUNT_BOUND
    (`CountExact` says so), so that no page costs a count of the whole table; `Next` comes from
    reading one row past the page, not from the count."""

    default_limit = 100
    max_limit = 1000

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.view = view
        self.limit = self._param(request, "Limit", self.default_limit, 1, self.max_limit)
        self.count = bounded_reads.bounded_count(queryset)
        return self.page(queryset)

    def page(self, queryset) -> list:
        self.offset = self._param(self.request, "Offset", 0, 0, INT32_MAX)
        rows = list(queryset[self.offset : self.offset + self.limit + 1])
        self.next_link = self._offset_link(self.offset + self.limit) if len(rows) > self.limit else None
        self.previous_link = self._offset_link(max(self.offset - self.limit, 0)) if self.offset > 0 else None
        return rows[: self.limit]

    @staticmethod
    def _param(request, name: str, default: int, low: int, high: int, beyond_high: str = "") -> int:
        text = request.query_params.get(name)
        if text is None:
            return default
        if not text.isascii() or not text.isdigit() or not low <= int(text):
            raise ValidationError({name: f"must be an integer from {low} to {high}"})
        if int(text) > high:
            raise ValidationError({name: f"must be an integer from {low} to {high}{beyond_high}"})
        return int(text)

    def _offset_link(self, offset: int) -> str:
        url = remove_query_param(self.request.build_absolute_uri(), "Cursor")
        if offset == 0:
            return remove_query_param(url, "Offset")
        return replace_query_param(url, "Offset", offset)

    def get_paginated_response(self, data):
        page = {
            "Count": self.count.n,
            "CountExact": self.count.exact,
            "Next": self.next_link,
            "Previous": self.previous_link,
            "Results": data,
        }
        return self.view.answer(Code.SUCCESS, f"{len(data)} of {self.count}", page)

    def get_paginated_response_schema(self, schema):
        return reads_openapi.paginated_schema(schema)

    def get_schema_operation_parameters(self, view):
        return reads_openapi.pagination_parameters(self.default_limit, self.max_limit)


class KeysetPagination(EnvelopePagination):
    """For lists that grow without bound (the audit log): `Next` and `Previous` carry a `Cursor`
    (the sort keys of the page's last or first row), so a page deep in the list is one index range
    scan. `Offset` still works up to IPRESMGR_READ_OFFSET_MAX rows.

    The sort is the list's first key, then `tiebreak` in the same direction (unique, so that rows
    with equal times are neither skipped nor repeated across pages)."""

    tiebreak = "id"
    key_types: dict[str, type]  # each sort key's type: datetime or int

    def page(self, queryset) -> list:
        cursor_text = self.request.query_params.get("Cursor")
        if cursor_text is not None and "Offset" in self.request.query_params:
            raise ValidationError({"Offset": "not with Cursor (a cursor says where the page starts)"})
        keys = self.sort_keys(queryset)
        queryset = queryset.order_by(*keys)
        if cursor_text is None:
            offset_max = settings.IPRESMGR_READ_OFFSET_MAX
            beyond_high = "; page further with the Cursor of Next, or narrow the query (Since, Until)"
            self.offset = self._param(self.request, "Offset", 0, 0, offset_max, beyond_high)
            rows = list(queryset[self.offset : self.offset + self.limit + 1])
            more, rows = len(rows) > self.limit, rows[: self.limit]
            self.next_link = self._cursor_link(bounded_reads.Cursor.of(rows[-1], keys)) if more else None
            self.previous_link = self._offset_link(max(self.offset - self.limit, 0)) if self.offset > 0 else None
            return rows
        try:
            cursor = bounded_reads.Cursor.decode(cursor_text, keys, self.key_types)
        except bounded_reads.BadCursor as exc:
            raise ValidationError({"Cursor": str(exc)}) from None
        rows = list(bounded_reads.beyond(queryset, cursor)[: self.limit + 1])
        more, rows = len(rows) > self.limit, rows[: self.limit]
        if cursor.before:  # read backwards from the cursor: put the page in the list's order
            rows.reverse()
            self.next_link = self._cursor_link(bounded_reads.Cursor.of(rows[-1], keys)) if rows else None
            self.previous_link = (
                self._cursor_link(bounded_reads.Cursor.of(rows[0], keys, before=True)) if more else None
            )
        else:
            self.next_link = self._cursor_link(bounded_reads.Cursor.of(rows[-1], keys)) if more else None
            self.previous_link = (
                self._cursor_link(bounded_reads.Cursor.of(rows[0], keys, before=True)) if rows else None
            )
        return rows

    def sort_keys(self, queryset) -> tuple[str, ...]:
        first = queryset.query.order_by[0] if queryset.query.order_by else f"-{self.tiebreak}"
        descending = "-" if first.startswith("-") else ""
        if first.lstrip("-") == self.tiebreak:
            return (first,)
        return (first, descending + self.tiebreak)

    def _cursor_link(self, cursor: bounded_reads.Cursor) -> str:
        url = remove_query_param(self.request.build_absolute_uri(), "Offset")
        return replace_query_param(url, "Cursor", cursor.encode())

    def get_schema_operation_parameters(self, view):
        return reads_openapi.keyset_pagination_parameters(
            self.default_limit, self.max_limit, settings.IPRESMGR_READ_OFFSET_MAX
        )


class ReadView(V1View, generics.ListAPIView):
    """A filtered, ordered, paginated list of what the caller's token may see. Each list names its
    `selector(actor)`, serializer and filter set; `narrow_by` is what a caller whose query is too
    broad for the read timeout is told to narrow it with."""

    pagination_class = EnvelopePagination
    filter_backends = [DjangoFilterBackend]
    narrow_by = "a filter"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular introspecting
            return self.selector(SCHEMA_ACTOR)
        return self.selector(self.request.user)

    def list(self, request, *args, **kwargs):
        with bounded_reads.bounded_read(self.narrow_by):
            return super().list(request, *args, **kwargs)

    @staticmethod
    def selector(actor: Actor):
        raise NotImplementedError


@csrf_exempt  # callers hold tokens, not cookies: a POST to a wrong path is a 404, not a CSRF 403
def v1_not_found(request, *args, **kwargs):
    """Anything under /v1/ that no endpoint answers."""
    return answer(
        req_id_or_new(request.GET.get("ReqID")), Code.INVALID_REQUEST, f"no endpoint {request.path}", status=404
    )
