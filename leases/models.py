"""A pod's hold on an address: the `leases` half of an address's life (pools reserves it)."""

from __future__ import annotations

from django.db import models

from pools.models import Address, Pool


class Lease(models.Model):
    """The address `address` is bound to pod `pod_id`. Deleted when the pod lets go.

    The address is the primary key, so an address can never be bound twice; (pool, pod) is
    unique, so a pod never holds two addresses of one pool. `pool` repeats the address's pool
    so that the database can enforce the second rule; the services copy it from the address."""

    # DO_NOTHING: the database's foreign key refuses to return a leased address to its subnet, and
    # deleting addresses stays one statement (no collector looking for leases first).
    address = models.OneToOneField(
        Address, primary_key=True, on_delete=models.DO_NOTHING, related_name="lease", verbose_name="IP"
    )
    pool = models.ForeignKey(Pool, on_delete=models.DO_NOTHING, related_name="leases", db_index=False)
    pod_id = models.CharField("K8SPodID", max_length=128)
    k8s_resource_id = models.CharField("K8SApiResourceID", max_length=128, blank=True)
    bound_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pool", "pod_id"], name="one_address_per_pod_per_pool")]
        indexes = [models.Index(fields=["pod_id"], name="lease_pod_idx")]

    def __str__(self) -> str:
        return f"{self.pod_id} holds address {self.address_id}"


class ReconcileRun(models.Model):
    """One run of `manage.py reconcile` for a cluster: when, how, what it found and what it did.

    Written when the run starts (status running) and completed when it ends, so a run killed half
    way shows as such. The figures operators alert on are columns; the rest of the report
    (read summary, other counts, warnings, the first findings) is `report`."""

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        CLEAN = "clean", "nothing to change"
        LEAKS_FOUND = "leaks_found", "findings to act on"
        APPLIED = "applied", "changes applied"
        CONFLICTS = "conflicts", "address conflicts found"
        ERROR = "error", "error"

    k8s_cluster_id = models.CharField("K8SClusterID", max_length=128)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    applied = models.BooleanField("--apply", default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    exit_code = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    leaked_bindings = models.PositiveIntegerField("leaked bindings found", default=0)
    bindings_freed = models.PositiveIntegerField(default=0)
    orphaned_pools = models.PositiveIntegerField("orphaned pools found", default=0)
    pools_released = models.PositiveIntegerField(default=0)
    drifted_pools = models.PositiveIntegerField("pools whose target drifted", default=0)
    targets_fixed = models.PositiveIntegerField(default=0)
    # What a database failover lost (SPEC "Database failover"): bindings and pools the cluster
    # shows and the database does not, and addresses two live pods hold.
    lost_bindings = models.PositiveIntegerField("lost bindings found", default=0)
    bindings_restored = models.PositiveIntegerField(default=0)
    address_conflicts = models.PositiveIntegerField("address conflicts found", default=0)
    lost_pools = models.PositiveIntegerField("lost pools found", default=0)
    pools_recreated = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["k8s_cluster_id", "-started_at"], name="reconcile_cluster_started_idx")]

    def __str__(self) -> str:
        mode = "apply" if self.applied else "dry run"
        return f"reconcile {self.k8s_cluster_id} at {self.started_at:%Y-%m-%d %H:%M:%S} ({mode}): {self.status}"

    @property
    def mode(self) -> str:
        return "apply" if self.applied else "dry-run"

    @property
    def succeeded(self) -> bool:
        """The cluster was read and compared completely (whatever was found)."""
        return self.status in SUCCESSFUL_RUN_STATUSES


SUCCESSFUL_RUN_STATUSES = (
    ReconcileRun.Status.CLEAN,
    ReconcileRun.Status.LEAKS_FOUND,
    ReconcileRun.Status.APPLIED,
    ReconcileRun.Status.CONFLICTS,
)
