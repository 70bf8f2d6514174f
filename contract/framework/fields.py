"""Fields of the /v1 wire contract: refuse what Go's encoding/json would never send for these
types, with messages that name the rule. drf-spectacular documents them from these classes."""

from __future__ import annotations

import re

from django.core.validators import RegexValidator
from rest_framework import serializers

from contract.framework.envelope import REQ_ID_MAX
from core import addressing
from core.choices import Code, Kind
from core.domain import CLUSTER_ID, CLUSTER_ID_RULE, DNS1123_LABEL, DNS1123_SUBDOMAIN, Workload

INT32_MAX = 2**31 - 1
MAC_ADDRESS = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, not a bool, a string or a number with a fraction."""

    default_error_messages = {"invalid": "must be a JSON integer (not a string, a bool or a fraction)"}

    def to_internal_value(self, data):
        if type(data) is not int:
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON bool, not 0, 1 or a string."""

    default_error_messages = {"invalid": "must be a JSON bool (true or false)"}

    def to_internal_value(self, data):
        if type(data) is not bool:
            self.fail("invalid")
        return data


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


class FullMatchValidator(RegexValidator):
    """The whole value must match (`$` alone lets a trailing newline through). Being a
    RegexValidator, drf-spectacular documents the pattern."""

    def __init__(self, regex: re.Pattern, message: str):
        super().__init__(regex, message)

    def __call__(self, value):
        if not self.regex.fullmatch(str(value)):
            raise serializers.ValidationError(self.message)


def _ip_validator(value: str) -> None:
    try:
        addressing.parse_ip(value)
    except ValueError:
        raise serializers.ValidationError(f"{value!r} is not a valid IPv4 or IPv6 address") from None


def _printable_validator(value: str) -> None:
    if not value.isprintable():
        raise serializers.ValidationError("must be printable characters (no control characters)")


def namespace_field(**kwargs):
    return StrictCharField(
        max_length=63,
        validators=[FullMatchValidator(DNS1123_LABEL, "must be a DNS-1123 label (lower-case a-z, 0-9, '-')")],
        help_text="Namespace: a DNS-1123 label.",
        **kwargs,
    )


def workload_name_field(**kwargs):
    return StrictCharField(
        max_length=253,
        validators=[FullMatchValidator(DNS1123_SUBDOMAIN, "must be a DNS-1123 subdomain")],
        help_text="Workload name: a DNS-1123 subdomain.",
        **kwargs,
    )


def cluster_id_field(**kwargs):
    return StrictCharField(
        max_length=128,
        validators=[FullMatchValidator(CLUSTER_ID, CLUSTER_ID_RULE)],
        help_text="Cluster identifier.",
        **kwargs,
    )


def opaque_id_field(*, allow_blank: bool = False, **kwargs):
    return StrictCharField(max_length=128, allow_blank=allow_blank, validators=[_printable_validator], **kwargs)


class IPAddressField(StrictCharField):
    """An IPv4 or IPv6 address, given on in its canonical text: parsed here, once per call."""

    def run_validation(self, data=serializers.empty):
        try:
            text = super().run_validation(data)  # a string of the allowed length, or blank
        except serializers.ValidationError as exc:
            if isinstance(data, str) and data and _ip_error(data):  # too long and no address: both said
                exc.detail.append(serializers.ErrorDetail(_ip_error(data), code="invalid"))
            raise
        if not text:
            return text
        error = _ip_error(text)
        if error:
            raise serializers.ValidationError(error)
        return str(addressing.parse_ip(text))


def _ip_error(text: str) -> str:
    try:
        addressing.parse_ip(text)
    except ValueError:
        return f"{text!r} is not a valid IPv4 or IPv6 address"
    return ""


def canonical_ip_field(*, allow_blank: bool = False, **kwargs):
    """An address the service uses as given (canonical text), e.g. ReleaseIP's IP."""
    return IPAddressField(max_length=64, allow_blank=allow_blank, **kwargs)


def ip_field(*, allow_blank: bool = False, **kwargs):
    return IPAddressField(max_length=64, allow_blank=allow_blank, **kwargs)


class MacField(StrictCharField):
    """A MAC address, six colon-separated hex pairs, taken in lower case (the contract's form)."""

    def to_internal_value(self, data):
        return super().to_internal_value(data).lower()


def mac_field(**kwargs):
    return MacField(
        max_length=17,
        allow_blank=True,
        validators=[FullMatchValidator(MAC_ADDRESS, "must be a MAC address: six colon-separated hex pairs")],
        **kwargs,
    )


def replicas_field(**kwargs):
    return StrictIntegerField(min_value=0, max_value=INT32_MAX, **kwargs)


def req_id_field():
    return StrictCharField(max_length=REQ_ID_MAX, required=False, allow_blank=True, help_text="Echoed back.")


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

    ReqID = req_id_field()
    K8SApiResourceKind = KindField()
    K8SClusterID = cluster_id_field()
    K8SNamespace = namespace_field()
    K8SApiResourceName = workload_name_field()


def workload_of(data: dict) -> Workload:
    """The workload a validated contract request names."""
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
