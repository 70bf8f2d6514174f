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
