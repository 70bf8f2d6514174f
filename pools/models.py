"""Clusters and tokens, subnets, pools, and the addresses pools reserve (the audit log is `audit`'s).

Which pod holds an address is the `leases` app's half (`leases.models.Lease`)."""

from __future__ import annotations

import hashlib
import math
import uuid
from datetime import timedelta
from functools import cached_property

from django.conf import settings
from django.db import models
from django.db.models import Q

from core import addressing
from core.choices import Kind, PoolState
from core.domain import Workload


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
    # What an empty access list means: every cluster may use the subnet, or none. The first grant
    # clears it (services keep it False while any grant exists), so that withdrawing the last grant
    # never opens the subnet to every cluster; the allocator reads it without a query.
    open_without_grants = models.BooleanField(
        "open to every cluster while none is granted",
        default=True,
        help_text="Ignored while any cluster is granted: then only the granted clusters may use the subnet.",
    )
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


class SubnetGrant(models.Model):
    """A cluster may grow its pools in a subnet, up to `quota` addresses reserved (None: no quota).

    A subnet with grants serves only the granted clusters. Withdrawing a grant refuses growth
    only; the cluster's pools keep their addresses and go on binding and releasing them."""

    subnet = models.ForeignKey(Subnet, on_delete=models.CASCADE, related_name="grants")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="subnet_grants")
    quota = models.PositiveIntegerField(
        null=True, blank=True, help_text="addresses the cluster may reserve in the subnet; empty: no quota"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["subnet_id", "cluster_id"]
        constraints = [models.UniqueConstraint(fields=["subnet", "cluster"], name="one_grant_per_cluster_and_subnet")]

    def __str__(self) -> str:
        return f"{self.cluster} may use {self.subnet.subnet_id}" + (
            f" (quota {self.quota})" if self.quota is not None else ""
        )


class PoolQuerySet(models.QuerySet):
    def active(self):
        return self.filter(state=PoolState.ACTIVE)


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
        return str(self.workload)

    @property
    def workload(self) -> Workload:
        return Workload(cluster_id=self.k8s_cluster_id, namespace=self.namespace, kind=self.kind, name=self.name)

    @property
    def is_active(self) -> bool:
        return self.state == PoolState.ACTIVE

    @property
    def surge_allowance(self) -> int:
        """How far above its target the pool may grow when a pod finds no idle address."""
        if self.kind == Kind.STATEFULSET:
            return 0  # rolls one pod at a time
        return max(1, math.ceil(self.target * settings.IPRESMGR_SURGE_PERCENT / 100))

    def in_release_grace(self, now) -> bool:
        """A released pool keeps its idle addresses this long, for a re-create of its workload."""
        grace = settings.IPRESMGR_RELEASE_GRACE_SECONDS
        return (
            not self.is_active
            and grace > 0
            and self.released_at is not None
            and self.released_at > now - timedelta(seconds=grace)
        )

    def keeps_freed_address(self, now) -> bool:
        """Whether an address a pod lets go stays in the pool (idle) or goes back to the subnet:
        an active pool keeps it up to its target, a released one only within its grace."""
        if self.is_active:
            return self.reserved_count <= self.target
        return self.in_release_grace(now)


class Address(models.Model):
    """An address a pool reserves: idle, or in use by a pod (`leases.Lease` says which pod).

    The row is deleted when the address goes back to the subnet; the audit log keeps its history.
    `idle_since` is the allocator's queue key: set while the address is idle, NULL while a lease
    holds it. The lease's unique keys, not this column, make a double binding impossible."""

    # No index of its own: the unique (subnet, ip_key) serves every lookup by subnet, and each
    # index is one more write on every bind and release.
    subnet = models.ForeignKey(Subnet, on_delete=models.PROTECT, related_name="addresses", db_index=False)
    # Copied from the subnet so that a constraint can keep MACs unique per network region.
    net_regional_id = models.CharField(max_length=128)
    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="addresses")
    ip = models.CharField("IP", max_length=39)
    ip_key = models.CharField(max_length=addressing.KEY_WIDTH)
    mac = models.CharField("MacAddr", max_length=17)
    port_id = models.UUIDField("PortID", default=uuid.uuid4, unique=True)
    reserved_at = models.DateTimeField()
    idle_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        # By the raw column: ordering by "subnet" would join Subnet on every default-ordered query.
        ordering = ["subnet_id", "ip_key"]
        verbose_name_plural = "addresses"
        constraints = [
            models.UniqueConstraint(fields=["subnet", "ip_key"], name="address_reserved_once_per_subnet"),
            models.UniqueConstraint(fields=["net_regional_id", "mac"], name="mac_unique_per_region"),
        ]
        indexes = [
            # The allocation path: the idle address of a pool that has been idle longest.
            models.Index(
                fields=["pool", "idle_since", "id"], condition=Q(idle_since__isnull=False), name="address_idle_queue"
            ),
            models.Index(fields=["ip"], name="address_ip_idx"),
        ]

    def __str__(self) -> str:
        return self.ip

    @property
    def in_use(self) -> bool:
        return self.idle_since is None


class QuarantinedAddress(models.Model):
    """An address another host answers for on the wire (the CNI plugin's probe heard another MAC):
    out of every pool and never handed out until an operator clears it.

    Not an Address: it belongs to no pool. The allocator reads these keys together with the
    reserved ones (subnet_space.find_free), so no path reserves it; (subnet, ip_key) is unique, as
    for a reservation. The workload and pod are the ones it was taken from."""

    subnet = models.ForeignKey(Subnet, on_delete=models.CASCADE, related_name="quarantined", db_index=False)
    ip = models.CharField("IP", max_length=39)
    ip_key = models.CharField(max_length=addressing.KEY_WIDTH)
    conflict_mac = models.CharField("ConflictMacAddr", max_length=17, blank=True, help_text="the MAC that answered")
    mac = models.CharField("MacAddr", max_length=17, blank=True, help_text="the MAC the pool had given it")
    k8s_cluster_id = models.CharField("K8SClusterID", max_length=128)
    namespace = models.CharField("K8SNamespace", max_length=63)
    kind = models.PositiveSmallIntegerField("K8SApiResourceKind", choices=Kind.choices)
    name = models.CharField("K8SApiResourceName", max_length=253)
    pod_id = models.CharField("K8SPodID", max_length=128, blank=True)
    quarantined_at = models.DateTimeField()
    actor = models.CharField(max_length=200)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["subnet_id", "ip_key"]
        verbose_name_plural = "quarantined addresses"
        constraints = [models.UniqueConstraint(fields=["subnet", "ip_key"], name="address_quarantined_once_per_subnet")]

    def __str__(self) -> str:
        return self.ip

    @property
    def workload(self) -> Workload:
        return Workload(cluster_id=self.k8s_cluster_id, namespace=self.namespace, kind=self.kind, name=self.name)
