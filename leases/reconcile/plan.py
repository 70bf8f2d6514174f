"""What reconcile's comparison finds (a Finding of each kind) and plans (the Plan apply.py carries
out), and the chunked reads of the database both of its searches use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from leases.reconcile.cluster import ClusterSnapshot, WorkloadKey

CHUNK = 2000
LEAKED_BINDING = "leaked-binding"
ORPHANED_POOL = "orphaned-pool"
TARGET_DRIFT = "target-drift"
LOST_BINDING = "lost-binding"
ADDRESS_CONFLICT = "address-conflict"
LOST_POOL = "lost-pool"


# What the database held for a lost binding's address when it was read.
ADDRESS_IDLE = "idle"  # reserved by the pod's workload's pool, bound to no pod
ADDRESS_FREE = "free"  # not reserved at all: free in its subnet
ADDRESS_LEAKED = "leaked"  # bound to a pod that is gone (a leaked binding this run ends first)


@dataclass
class Finding:
    """One thing the run would change (or only reports), and what the change must find unchanged
    under the lock: the binding's pod and bound time, or the pool's last change."""

    what: str
    pool: str  # the workload, as the audit log and the console write it
    subnet_id: str
    since: datetime  # bound at (binding), created at (orphaned pool), last changed at (drift)
    why: str
    pod_id: str = ""
    ip: str = ""
    address_pk: int | None = None
    pool_pk: int | None = None
    seen_at: datetime | None = None  # bound_at of the binding / updated_at of the pool, as read
    target: int | None = None
    replicas: int | None = None
    action: str = ""
    pods: list[str] = field(default_factory=list)  # every pod a conflict or a lost pool names
    ips: list[str] = field(default_factory=list)  # a lost pool's addresses
    address_state: str = ""  # a lost binding's address as read: ADDRESS_IDLE, _FREE or _LEAKED
    subnet_pk: int | None = None
    workload: WorkloadKey | None = None
    leaked: Finding | None = None  # the leaked binding a lost one waits for (ADDRESS_LEAKED)
    applicable: bool = True  # a lost pool --recreate-pools can re-create


@dataclass
class Plan:
    cluster_id: str
    snapshot: ClusterSnapshot
    grace_seconds: int
    fix_targets: bool
    recreate_pools: bool = False
    leaked: list[Finding] = field(default_factory=list)
    orphaned: list[Finding] = field(default_factory=list)
    drifted: list[Finding] = field(default_factory=list)
    lost: list[Finding] = field(default_factory=list)
    conflicts: list[Finding] = field(default_factory=list)
    lost_pools: list[Finding] = field(default_factory=list)
    pod_addresses_checked: int = 0
    bindings_checked: int = 0
    young_bindings: int = 0
    young_pools: int = 0
    warnings: list[str] = field(default_factory=list)
    refusal: str = ""  # why nothing may be changed; the run is an error
    seconds: dict[str, float] = field(default_factory=dict)  # how long each step took

    @property
    def cutoff(self) -> datetime:
        """Only what is older than this may be touched."""
        return self.snapshot.read_at - timedelta(seconds=self.grace_seconds)

    @property
    def findings(self) -> list[Finding]:
        return [*self.conflicts, *self.lost, *self.lost_pools, *self.leaked, *self.orphaned, *self.drifted]

    @property
    def changes(self) -> list[Finding]:
        """The findings --apply acts on, in this order: leaked bindings first (a lost binding may
        wait for one), lost bindings, lost pools (with --recreate-pools), pools (drift only with
        --fix-targets). Conflicts are never changed."""
        pools = [f for f in self.lost_pools if f.applicable] if self.recreate_pools else []
        return [*self.leaked, *self.lost, *pools, *self.orphaned, *(self.drifted if self.fix_targets else [])]


def keyset(queryset, fields: tuple[str, ...]):
    """Rows of `queryset` as tuples, in primary key order, CHUNK at a time (never all at once)."""
    last = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        rows = list(page.order_by("pk").values_list("pk", *fields)[:CHUNK])
        yield from rows
        if len(rows) < CHUNK:
            return
        last = rows[-1][0]


def chunked_dict(manager, keys, fields: tuple[str, ...]) -> dict[int, tuple]:
    keys = sorted(keys)
    found: dict[int, tuple] = {}
    for start in range(0, len(keys), CHUNK):
        for pk, *values in manager.filter(pk__in=keys[start : start + CHUNK]).values_list("pk", *fields):
            found[pk] = tuple(values)
    return found
