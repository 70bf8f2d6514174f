"""Read APIs (GET /v1/subnets, /v1/pools, /v1/addresses, /v1/events) and POST /v1/subnets.

Each list names its selector, serializer and filter set. Answers carry the /v1 envelope (ReqID,
Code, Msg) around a page: Count, Next, Previous, Results. A cluster token sees its own cluster's
pools, addresses and events; an operator token sees everything; every token sees the subnets."""

from __future__ import annotations

import logging

from django.db import DatabaseError, transaction
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from pools import filters, read_openapi, selectors, services
from pools.api import (
    INT32_MAX,
    REQ_ID_MAX,
    ContractError,
    ContractView,
    _audit_text,
    _first_error_text,
    envelope_exception_handler,
    new_req_id,
    run_with_retry,
)
from pools.audit import audit_record
from pools.choices import AdminAction, Code
from pools.domain import Actor, CallContext
from pools.read_serializers import AddressOut, EventOut, PoolOut, SubnetCreateRequest, SubnetOut

log = logging.getLogger("ipresmgr.api")
SCHEMA_ACTOR = Actor(label="schema generation", is_operator=True)


def query_req_id(request) -> str:
    """A GET's ReqID comes from the query string, else the server makes one."""
    req_id = request.query_params.get("ReqID", "")
    return req_id[:REQ_ID_MAX] if req_id and "\x00" not in req_id else new_req_id()


class EnvelopePagination(BasePagination):
    """`Limit` (1-1000, default 100) and `Offset` rows; both refused with Code 1 when not integers
    in range, rather than silently replaced."""

    default_limit = 100
    max_limit = 1000

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.limit = self._param(request, "Limit", self.default_limit, 1, self.max_limit)
        self.offset = self._param(request, "Offset", 0, 0, INT32_MAX)
        self.count = queryset.count()
        return list(queryset[self.offset : self.offset + self.limit])

    @staticmethod
    def _param(request, name: str, default: int, low: int, high: int) -> int:
        text = request.query_params.get(name)
        if text is None:
            return default
        if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
            raise ValidationError({name: f"must be an integer from {low} to {high}"})
        return int(text)

    def _link(self, offset: int | None) -> str | None:
        if offset is None:
            return None
        url = self.request.build_absolute_uri()
        if offset == 0:
            return remove_query_param(url, "Offset")
        return replace_query_param(url, "Offset", offset)

    def get_paginated_response(self, data):
        following = self.offset + self.limit if self.offset + self.limit < self.count else None
        preceding = max(self.offset - self.limit, 0) if self.offset > 0 else None
        return Response(
            {
                "ReqID": query_req_id(self.request),
                "Code": int(Code.SUCCESS),
                "Msg": f"{len(data)} of {self.count}",
                "Count": self.count,
                "Next": self._link(following),
                "Previous": self._link(preceding),
                "Results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return read_openapi.paginated_schema(schema)

    def get_schema_operation_parameters(self, view):
        return read_openapi.pagination_parameters(self.default_limit, self.max_limit)


class ReadView(generics.ListAPIView):
    """A filtered, ordered, paginated list of what the caller's token may see."""

    pagination_class = EnvelopePagination
    filter_backends = [DjangoFilterBackend]
    metadata_class = None  # OPTIONS answers 405 in the envelope

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular introspecting
            return self.selector(SCHEMA_ACTOR)
        return self.selector(self.request.user)

    @staticmethod
    def selector(actor: Actor):
        raise NotImplementedError


@read_openapi.POOLS
class PoolListView(ReadView):
    serializer_class = PoolOut
    filterset_class = filters.PoolFilter

    @staticmethod
    def selector(actor):
        return selectors.pools_visible_to(actor).order_by("k8s_cluster_id", "namespace", "kind", "name", "-id")


@read_openapi.ADDRESSES
class AddressListView(ReadView):
    serializer_class = AddressOut
    filterset_class = filters.AddressFilter

    @staticmethod
    def selector(actor):
        return selectors.addresses_visible_to(actor).order_by("subnet_id", "ip_key")


@read_openapi.EVENTS
class EventListView(ReadView):
    serializer_class = EventOut
    filterset_class = filters.EventFilter

    @staticmethod
    def selector(actor):
        return selectors.events_visible_to(actor).order_by("-at", "-id")


@read_openapi.SUBNETS
class SubnetsView(ContractView, ReadView):
    """GET lists subnets with their usage; POST registers one (operator token only)."""

    serializer_class = SubnetOut
    filterset_class = filters.SubnetFilter
    req_type = None
    response_defaults = {"Subnet": None}
    parser_classes: list = []

    @staticmethod
    def selector(actor):
        return selectors.subnets_with_usage().order_by("net_regional_id", "subnet_id", "id")

    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        actor: Actor = request.user
        if not actor.is_operator:
            raise ContractError(Code.FORBIDDEN, "only an operator token may register subnets")
        serializer = SubnetCreateRequest(data=request.payload)
        if not serializer.is_valid():
            raise ContractError(Code.INVALID_REQUEST, _first_error_text(serializer.errors))
        data = serializer.validated_data
        ctx = CallContext(actor=actor, req_id=request.req_id, admin_action=AdminAction.SUBNET_CREATE)
        subnet, created = run_with_retry(
            lambda: services.subnet_create(
                ctx=ctx,
                net_regional_id=data["NetRegionalID"],
                subnet_id=data["SubnetID"],
                cidr=data["CIDR"],
                gateway=data["Gateway"],
                exclusions=data["Exclude"],
            )
        )
        subnet = self.selector(actor).get(pk=subnet.pk)
        msg = "subnet registered" if created else "subnet already registered with this definition; nothing to do"
        return self._answer(request, Code.SUCCESS, msg, 200, {"Subnet": SubnetOut(subnet).data})

    def handle_exception(self, exc):
        if self.request.method == "POST":
            return super().handle_exception(exc)  # audited, like the contract calls
        return envelope_exception_handler(exc, {"request": self.request})

    def _audit_failure(self, code, msg):
        """A refused registration is audited as a subnet_create with its Code."""
        if code == Code.UNAVAILABLE:
            return
        request = self.request
        user = getattr(request, "_user", None)
        actor = user if isinstance(user, Actor) else Actor(label="unauthenticated")
        ctx = CallContext(actor=actor, req_id=request.req_id, admin_action=AdminAction.SUBNET_CREATE)
        subnet_id = _audit_text((getattr(request, "payload", None) or {}).get("SubnetID"), 128)
        try:
            with transaction.atomic():
                audit_record(ctx, code=code, msg=msg, subnet_id=subnet_id)
        except DatabaseError:
            log.warning("could not audit a refused subnet registration (code %s): database error", int(code))
