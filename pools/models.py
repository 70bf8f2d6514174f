"""Clusters and tokens, subnets, pools, the addresses pools reserve, and the audit log."""

from __future__ import annotations

import hashlib
import uuid
from functools import cached_property

from django.db import models
from django.db.models import Q

from pools import addressing
from pools.choices import AdminAction, Code, Kind, PoolState, ReqType


class Cluster(models.Model):
    cluster_id = models.CharField("K8SClusterID", max_length=128, unique=True)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["cluster_id"]

    def __str__(self) -> str:
        return self.cluster_id


class ApiTokenQuerySet(models.QuerySet):
    def live(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=12, editable=False, help_text="first characters, to tell tokens apart")
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="tokens")
    is_operator = models.BooleanField(default=False)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="token_is_operator_xor_cluster",
                condition=Q(is_operator=True, cluster__isnull=True) | Q(is_operator=False, cluster__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.scope})"

    @property
    def scope(self) -> str:
        return "operator" if self.is_operator else f"cluster {self.cluster.cluster_id}"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


class Subnet(models.Model):
    net_regional_id = models.CharField("NetRegionalID", max_length=128)
    subnet_id = models.CharField("SubnetID", max_length=128, unique=True)
    cidr = models.CharField("CIDR", max_length=64)
    gateway = models.CharField(max_length=39)
    ip_version = models.PositiveSmallIntegerField(editable=False)
    # Next-fit cursor (an address key): new reservations start here, so an address that just
    # went back to the subnet is the last to be handed out again.
    alloc_cursor = models.CharField(max_length=addressing.KEY_WIDTH, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["net_regional_id", "subnet_id"]

    def __str__(self) -> str:
        return f"{self.subnet_id} ({self.cidr})"

    @cached_property
    def network(self) -> addressing.IPNetwork:
        return addressing.parse_network(self.cidr)


class SubnetExclusion(models.Model):
    """An address or an inclusive range of a subnet that is never handed out."""

    subnet = models.ForeignKey(Subnet, on_delete=models.CASCADE, related_name="exclusions")
    first_ip = models.CharField(max_length=39)
    last_ip = models.CharField(max_length=39)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["subnet_id", "id"]

    def __str__(self) -> str:
        return self.first_ip if self.first_ip == self.last_ip else f"{self.first_ip}-{self.last_ip}"


class PoolQuerySet(models.QuerySet):
    def active(self):
        return self.filter(state=PoolState.ACTIVE)

    def for_workload(self, *, cluster_id: str, namespace: str, kind: int, name: str):
        return self.filter(k8s_cluster_id=cluster_id, namespace=namespace, kind=kind, name=name)


class Pool(models.Model):
    """The addresses reserved for one workload; `target` is its replica count."""

    k8s_cluster_id = models.CharField("K8SClusterID", max_length=128)
    namespace = models.CharField("K8SNamespace", max_length=63)
    kind = models.PositiveSmallIntegerField("K8SApiResourceKind", choices=Kind.choices)
    name = models.CharField("K8SApiResourceName", max_length=253)
    subnet = models.ForeignKey(Subnet, on_delete=models.PROTECT, related_name="pools")
    target = models.PositiveIntegerField()
    # Kept equal to the number of Address rows by every service, under this row's lock, so that
    # the hot paths need not count; check_consistency verifies it.
    reserved_count = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=8, choices=PoolState.choices, default=PoolState.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    released_at = models.DateTimeField(null=True, blank=True)

    objects = PoolQuerySet.as_manager()

    class Meta:
        ordering = ["k8s_cluster_id", "namespace", "kind", "name", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["k8s_cluster_id", "namespace", "kind", "name"],
                condition=Q(state=PoolState.ACTIVE),
                name="one_active_pool_per_workload",
            ),
            models.CheckConstraint(
                name="pool_released_has_time",
                condition=Q(state=PoolState.ACTIVE, released_at__isnull=True)
                | Q(state=PoolState.RELEASED, released_at__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["k8s_cluster_id", "namespace", "kind", "name"], name="pool_workload_idx")]

    def __str__(self) -> str:
        return f"{self.k8s_cluster_id}/{self.namespace}/{Kind(self.kind).label}/{self.name}"

    @property
    def is_active(self) -> bool:
        return self.state == PoolState.ACTIVE


class Address(models.Model):
    """An address reserved by a pool: bound to one pod, or idle. The row is deleted when the
    address goes back to the subnet; the audit log keeps its history."""

    subnet = models.ForeignKey(Subnet, on_delete=models.PROTECT, related_name="addresses")
    # Copied from the subnet so that a constraint can keep MACs unique per network region.
    net_regional_id = models.CharField(max_length=128)
    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="addresses")
    ip = models.CharField("IP", max_length=39)
    ip_key = models.CharField(max_length=addressing.KEY_WIDTH)
    mac = models.CharField("MacAddr", max_length=17)
    port_id = models.UUIDField("PortID", default=uuid.uuid4, unique=True)
    pod_id = models.CharField("K8SPodID", max_length=128, null=True, blank=True)
    k8s_resource_id = models.CharField("K8SApiResourceID", max_length=128, blank=True)
    reserved_at = models.DateTimeField()
    bound_at = models.DateTimeField(null=True, blank=True)
    idle_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        # By the raw column: ordering by "subnet" would join Subnet on every default-ordered query.
        ordering = ["subnet_id", "ip_key"]
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(fields=["subnet", "ip_key"], name="address_reserved_once_per_subnet"),
            models.UniqueConstraint(fields=["net_regional_id", "mac"], name="mac_unique_per_region"),
            models.UniqueConstraint(
                fields=["pool", "pod_id"], condition=Q(pod_id__isnull=False), name="one_address_per_pod_per_pool"
            ),
            # Bound or idle, never both nor neither.
            models.CheckConstraint(
                name="address_bound_xor_idle",
                condition=Q(pod_id__isnull=False, bound_at__isnull=False, idle_since__isnull=True)
                | Q(pod_id__isnull=True, bound_at__isnull=True, idle_since__isnull=False),
            ),
        ]
        indexes = [
            # The allocation path: the idle address of a pool that has been idle longest.
            models.Index(
                fields=["pool", "idle_since", "id"], condition=Q(pod_id__isnull=True), name="address_idle_queue"
            ),
            models.Index(fields=["ip"], name="address_ip_idx"),
            models.Index(fields=["pod_id"], name="address_pod_idx"),
        ]

    def __str__(self) -> str:
        return self.ip

    @property
    def is_bound(self) -> bool:
        return self.pod_id is not None


class AuditEvent(models.Model):
    """One row per contract call and per admin change. Never updated."""

    at = models.DateTimeField(db_index=True)
    req_type = models.PositiveSmallIntegerField("ReqType", choices=ReqType.choices, null=True, blank=True)
    admin_action = models.CharField(max_length=32, choices=AdminAction.choices, blank=True)
    req_id = models.CharField("ReqID", max_length=128, blank=True)
    k8s_cluster_id = models.CharField("K8SClusterID", max_length=128, blank=True)
    namespace = models.CharField("K8SNamespace", max_length=63, blank=True)
    kind = models.PositiveSmallIntegerField("K8SApiResourceKind", choices=Kind.choices, null=True, blank=True)
    name = models.CharField("K8SApiResourceName", max_length=253, blank=True)
    pod_id = models.CharField("K8SPodID", max_length=128, blank=True)
    ip = models.CharField("IP", max_length=39, blank=True)
    subnet_id = models.CharField("SubnetID", max_length=128, blank=True)
    code = models.PositiveSmallIntegerField(choices=Code.choices)
    msg = models.TextField(blank=True)
    actor = models.CharField(max_length=200, help_text="cluster token, operator token or admin user")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["ip", "at"], name="audit_ip_at_idx"),
            models.Index(fields=["pod_id", "at"], name="audit_pod_at_idx"),
            models.Index(fields=["req_id"], name="audit_req_id_idx"),
        ]

    def __str__(self) -> str:
        what = ReqType(self.req_type).label if self.req_type is not None else self.admin_action
        return f"{self.at:%Y-%m-%d %H:%M:%S} {what} {self.ip} code={self.code}"
