"""Read APIs (GET /v1/subnets, /v1/pools, /v1/events, /v1/quarantined-addresses) and subnet
registration (POST /v1/subnets).

Each list names its selector, serializer and filter set. Answers carry the /v1 envelope around a
page: Count, Next, Previous, Results. A cluster token sees its own cluster's pools and events; an
operator token sees everything; a cluster token sees the subnets its cluster may use."""

from __future__ import annotations

from datetime import datetime

from contract import filters, reads_openapi
from contract.framework.views import KeysetPagination, ReadView
from contract.serializers import EventOut, PoolOut, QuarantinedAddressOut, SubnetCreateRequest, SubnetOut
from core.choices import AdminAction, Code
from core.domain import Actor
from core.errors import ServiceError
from pools import selectors, services


@reads_openapi.POOLS
class PoolListView(ReadView):
    serializer_class = PoolOut
    filterset_class = filters.PoolFilter

    @staticmethod
    def selector(actor):
        return selectors.pools_visible_to(actor).order_by("k8s_cluster_id", "namespace", "kind", "name", "-id")


@reads_openapi.QUARANTINED_ADDRESSES
class QuarantinedAddressListView(ReadView):
    serializer_class = QuarantinedAddressOut
    filterset_class = filters.QuarantinedAddressFilter

    @staticmethod
    def selector(actor):
        return selectors.quarantined_addresses(cluster_id=actor.cluster_id)


class EventPages(KeysetPagination):
    key_types = {"at": datetime, "id": int}


@reads_openapi.EVENTS
class EventListView(ReadView):
    serializer_class = EventOut
    filterset_class = filters.EventFilter
    pagination_class = EventPages
    narrow_by = reads_openapi.EVENTS_NARROW_BY

    @staticmethod
    def selector(actor):
        return selectors.events_visible_to(actor).order_by("-at", "-id")


@reads_openapi.SUBNETS
class SubnetsView(ReadView):
    """GET lists subnets with their usage; POST registers one (operator token only), audited as a
    subnet registration whether it succeeds or not."""

    serializer_class = SubnetOut
    filterset_class = filters.SubnetFilter
    admin_action = AdminAction.SUBNET_CREATE

    @property
    def answer_fields(self) -> dict:
        return {"Subnet": None} if self.request.method == "POST" else {}

    @staticmethod
    def selector(actor):
        return selectors.subnets_visible_to(actor).order_by("net_regional_id", "subnet_id", "id")

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        return selectors.attach_cluster_usage(page, self.request.user)

    def post(self, request, *args, **kwargs):
        return self.serve_call(SubnetCreateRequest, self.register, self.authorize)

    @staticmethod
    def authorize(actor: Actor, data: dict) -> None:
        if not actor.is_operator:
            raise ServiceError(Code.FORBIDDEN, "only an operator token may register subnets")

    def register(self, ctx, data):
        grants = data.get("Grants")
        registration = services.subnet_register(
            ctx=ctx,
            net_regional_id=data["NetRegionalID"],
            subnet_id=data["SubnetID"],
            cidr=data["CIDR"],
            gateway=data["Gateway"],
            exclusions=data["Exclude"],
            grants=None if grants is None else {grant["K8SClusterID"]: grant["Quota"] for grant in grants},
            open_without_grants=data.get("OpenWithoutGrants"),
        )
        (subnet,) = selectors.attach_cluster_usage([self.selector(ctx.actor).get(pk=registration.subnet.pk)], ctx.actor)
        changes = registration.access_changes
        if registration.created:
            msg = "; ".join(["subnet registered", *changes])
        elif changes:
            msg = "; ".join(["subnet already registered with this definition; access changed", *changes])
        else:
            msg = "subnet already registered with this definition; nothing to do"
        return msg, {"Subnet": SubnetOut(subnet).data}
