"""Query filters of GET /v1/addresses and /v1/reconcile/runs, named like the wire fields (see
contract.filters)."""

from __future__ import annotations

import django_filters

from contract.filters import IPFilter, MacFilter, cluster_filter, kind_filter, name_filter, namespace_filter
from pools.models import Address

ADDRESS_STATES = [("bound", "bound"), ("idle", "idle")]


class AddressFilter(django_filters.FilterSet):
    K8SClusterID = cluster_filter("pool__k8s_cluster_id")
    K8SNamespace = namespace_filter("pool__namespace")
    K8SApiResourceKind = kind_filter("pool__kind")
    K8SApiResourceName = name_filter("pool__name")
    State = django_filters.ChoiceFilter(choices=ADDRESS_STATES, method="filter_state", help_text="bound or idle.")
    SubnetID = django_filters.CharFilter(field_name="subnet__subnet_id", max_length=128)
    IP = IPFilter(field_name="ip", help_text="An IPv4 or IPv6 address.")
    MacAddr = MacFilter(field_name="mac", help_text="aa:bb:cc:dd:ee:ff (any case).")
    PortID = django_filters.UUIDFilter(field_name="port_id")
    K8SPodID = django_filters.CharFilter(
        field_name="lease__pod_id", max_length=128, help_text="The pod UID it is bound to."
    )
    Ordering = django_filters.OrderingFilter(
        fields=(
            ("ip_key", "IP"),
            ("reserved_at", "ReservedAt"),
            ("lease__bound_at", "BoundAt"),
            ("idle_since", "IdleSince"),
        ),
        help_text="Sort keys, comma-separated; a leading '-' sorts descending. Default: by subnet, then IP.",
    )

    class Meta:
        model = Address
        fields: list[str] = []

    def filter_state(self, queryset, name, value):
        return queryset.filter(lease__isnull=value != "bound")
