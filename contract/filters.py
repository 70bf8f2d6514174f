"""Query filters of the read APIs (django-filter), named like the wire fields; leases builds on them.

A value that does not parse is refused with Code 1 and HTTP 400 naming the parameter (the
backend raises a ValidationError), never a 500 and never silently ignored."""

from __future__ import annotations

import datetime as dt
import re

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django_filters.fields import IsoDateTimeField

from audit.models import AuditEvent
from core import addressing
from core.choices import Code, Kind, PoolState, ReqType
from core.domain import CLUSTER_ID, CLUSTER_ID_RULE, DNS1123_LABEL, DNS1123_SUBDOMAIN
from pools.models import Pool, QuarantinedAddress, Subnet

MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


class IPFormField(forms.CharField):
    """An IPv4 or IPv6 address, taken in its canonical text form (as stored)."""

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return value
        try:
            return str(addressing.parse_ip(value))
        except ValueError:
            # No user text in the message itself: django-filter %-formats it with `params`.
            raise forms.ValidationError("%(value)r is not an IPv4 or IPv6 address", params={"value": value}) from None


class MacFormField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return value
        if not MAC.match(value):
            raise forms.ValidationError(
                "%(value)r is not a MAC address (six colon-separated hex pairs)", params={"value": value}
            )
        return value.lower()


class UTCDateTimeFormField(IsoDateTimeField):
    """ISO 8601, turned to UTC before it reaches the database (PostgreSQL refuses offsets past
    ±15:59 that Python parses, such as +21:14)."""

    def clean(self, value):
        value = super().clean(value)
        if value is None:
            return value
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise forms.ValidationError("%(value)s is out of range", params={"value": value}) from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeFormField


class IPFilter(django_filters.CharFilter):
    field_class = IPFormField


class MacFilter(django_filters.CharFilter):
    field_class = MacFormField


def _regex_filter(field_name: str, pattern: re.Pattern, message: str, help_text: str, max_length: int):
    return django_filters.CharFilter(
        field_name=field_name,
        max_length=max_length,
        validators=[RegexValidator(pattern, message)],
        help_text=help_text,
    )


def cluster_filter(field_name: str = "k8s_cluster_id"):
    return _regex_filter(field_name, CLUSTER_ID, CLUSTER_ID_RULE, "K8SClusterID.", 128)


def namespace_filter(field_name: str = "namespace"):
    return _regex_filter(field_name, DNS1123_LABEL, "must be a DNS-1123 label", "K8SNamespace.", 63)


def name_filter(field_name: str = "name"):
    return _regex_filter(field_name, DNS1123_SUBDOMAIN, "must be a DNS-1123 subdomain", "K8SApiResourceName.", 253)


def kind_filter(field_name: str = "kind"):
    return django_filters.TypedChoiceFilter(
        field_name=field_name,
        choices=Kind.choices,
        coerce=int,
        help_text="0 Deployment, 1 StatefulSet, 2 Job, 3 CronJob.",
    )


class SubnetFilter(django_filters.FilterSet):
    NetRegionalID = django_filters.CharFilter(field_name="net_regional_id", max_length=128)
    SubnetID = django_filters.CharFilter(field_name="subnet_id", max_length=128)
    IPVersion = django_filters.TypedChoiceFilter(
        field_name="ip_version", choices=[(4, "IPv4"), (6, "IPv6")], coerce=int, help_text="4 or 6."
    )
    Ordering = django_filters.OrderingFilter(
        fields=(("subnet_id", "SubnetID"), ("net_regional_id", "NetRegionalID"), ("created_at", "CreatedAt")),
        help_text="Sort keys, comma-separated; a leading '-' sorts descending. Default NetRegionalID,SubnetID.",
    )

    class Meta:
        model = Subnet
        fields: list[str] = []


class PoolFilter(django_filters.FilterSet):
    K8SClusterID = cluster_filter()
    K8SNamespace = namespace_filter()
    K8SApiResourceKind = kind_filter()
    K8SApiResourceName = name_filter()
    State = django_filters.ChoiceFilter(field_name="state", choices=PoolState.choices, help_text="active or released.")
    SubnetID = django_filters.CharFilter(field_name="subnet__subnet_id", max_length=128)
    Ordering = django_filters.OrderingFilter(
        fields=(
            ("k8s_cluster_id", "K8SClusterID"),
            ("namespace", "K8SNamespace"),
            ("name", "K8SApiResourceName"),
            ("created_at", "CreatedAt"),
            ("updated_at", "UpdatedAt"),
            ("target", "Target"),
        ),
        help_text="Sort keys, comma-separated; a leading '-' sorts descending. Default: by workload.",
    )

    class Meta:
        model = Pool
        fields: list[str] = []


class EventFilter(django_filters.FilterSet):
    Since = UTCDateTimeFilter(field_name="at", lookup_expr="gte", help_text="ISO 8601; inclusive.")
    Until = UTCDateTimeFilter(field_name="at", lookup_expr="lt", help_text="ISO 8601; exclusive.")
    K8SClusterID = cluster_filter()
    K8SNamespace = namespace_filter()
    K8SApiResourceKind = kind_filter()
    K8SApiResourceName = name_filter()
    K8SPodID = django_filters.CharFilter(field_name="pod_id", max_length=128)
    IP = IPFilter(field_name="ip", help_text="An IPv4 or IPv6 address.")
    SubnetID = django_filters.CharFilter(field_name="subnet_id", max_length=128)
    ReqType = django_filters.TypedChoiceFilter(field_name="req_type", choices=ReqType.choices, coerce=int)
    Code = django_filters.TypedChoiceFilter(field_name="code", choices=Code.choices, coerce=int)
    ReqID = django_filters.CharFilter(
        field_name="req_id", max_length=128, help_text="The ReqID of the call that wrote the event (also echoed)."
    )
    Ordering = django_filters.OrderingFilter(
        fields=(("at", "At"), ("id", "ID")), help_text="Default -At (newest first)."
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []


class QuarantinedAddressFilter(django_filters.FilterSet):
    NetRegionalID = django_filters.CharFilter(field_name="subnet__net_regional_id", max_length=128)
    SubnetID = django_filters.CharFilter(field_name="subnet__subnet_id", max_length=128)
    IP = IPFilter(field_name="ip", help_text="An IPv4 or IPv6 address.")
    ConflictMacAddr = MacFilter(field_name="conflict_mac", help_text="The MAC that answered.")
    K8SClusterID = cluster_filter()
    K8SNamespace = namespace_filter()
    K8SApiResourceName = name_filter()
    K8SPodID = django_filters.CharFilter(field_name="pod_id", max_length=128)

    class Meta:
        model = QuarantinedAddress
        fields: list[str] = []
