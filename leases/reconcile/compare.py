"""Comparing a cluster's snapshot with what the database says it holds: which bindings and pools
have leaked, and (after a database failover that lost commits) which bindings and pools the
database lost and which addresses two pods hold. Reads only; leases/reconcile/apply.py makes the
changes.

Bindings are streamed in key order, a chunk at a time, and checked against the set of live pod
UIDs; only the leaked ones are kept. Nothing younger than the grace is a finding: a pod or a
workload may not be visible yet (the webhook creates a pool before its workload exists)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from core import addressing
from core.choices import Kind
from core.domain import Workload
from leases.models import Lease
from leases.reconcile.cluster import ClusterSnapshot, PodAddresses, WorkloadKey, replicas_field, workload_text
from pools import subnet_space
from pools.models import Address, Pool, QuarantinedAddress, Subnet

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


def plan_changes(
    *,
    cluster_id: str,
    snapshot: ClusterSnapshot,
    grace_seconds: int,
    fix_targets: bool = False,
    max_leaked_percent: int = 50,
    recreate_pools: bool = False,
) -> Plan:
    plan = Plan(
        cluster_id=cluster_id,
        snapshot=snapshot,
        grace_seconds=grace_seconds,
        fix_targets=fix_targets,
        recreate_pools=recreate_pools,
    )
    bound = Lease.objects.filter(pool__k8s_cluster_id=cluster_id)
    if snapshot.live_pods == 0 and bound.exists():
        plan.refusal = (
            f"the cluster listed no live pods ({sum(snapshot.listed.values())} objects read) while "
            f"{bound.count()} addresses of cluster {cluster_id} are bound: a wrong kubeconfig, context or "
            "file? Nothing changed"
        )
        return plan
    _find_leaked_bindings(plan)
    _find_pool_leaks(plan)
    _find_lost_bindings(plan)
    old_bindings = plan.bindings_checked - plan.young_bindings
    if plan.leaked and len(plan.leaked) * 100 > max_leaked_percent * old_bindings:
        plan.refusal = (
            f"{len(plan.leaked)} of the {old_bindings} bindings older than the grace look leaked, more than "
            f"{max_leaked_percent}%: is this the right cluster? Nothing changed (after a real mass outage, "
            "run again with a higher --max-leaked-percent)"
        )
    for finding in plan.findings:
        finding.action = _intended_action(finding, fix_targets, recreate_pools)
    return plan


def _intended_action(finding: Finding, fix_targets: bool, recreate_pools: bool = False) -> str:
    if finding.what == ADDRESS_CONFLICT:
        return "reported only: never changed automatically"
    if finding.what == LOST_BINDING:
        if finding.address_state == ADDRESS_FREE:
            return "would reserve the address into the pool and bind it to the pod"
        if finding.address_state == ADDRESS_LEAKED:
            return "would bind it to the pod once the leaked binding is ended"
        return "would bind the address to the pod"
    if finding.what == LOST_POOL:
        if not finding.applicable:
            return "reported only (see why)"
        if recreate_pools:
            return f"would re-create the pool (target {finding.replicas}) and bind its pods' addresses"
        return "reported only (--recreate-pools re-creates it)"
    if finding.what == LEAKED_BINDING:
        return "would end the binding"
    if finding.what == ORPHANED_POOL:
        return "would release the pool"
    if fix_targets:
        return f"would set the target to {finding.replicas}"
    return "reported only (--fix-targets sets it)"


def _keyset(queryset, fields: tuple[str, ...]):
    """Rows of `queryset` as tuples, in primary key order, CHUNK at a time (never all at once)."""
    last = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        rows = list(page.order_by("pk").values_list("pk", *fields)[:CHUNK])
        yield from rows
        if len(rows) < CHUNK:
            return
        last = rows[-1][0]


def _find_leaked_bindings(plan: Plan) -> None:
    snapshot, cutoff = plan.snapshot, plan.cutoff
    live, finished = snapshot.live_pod_uids, snapshot.finished_pods
    leaked: list[tuple[int, str, datetime, int]] = []
    bindings = Lease.objects.filter(pool__k8s_cluster_id=plan.cluster_id)
    for address_pk, pod_id, bound_at, pool_pk in _keyset(bindings, ("pod_id", "bound_at", "pool_id")):
        plan.bindings_checked += 1
        if bound_at >= cutoff:
            plan.young_bindings += 1
        elif pod_id not in live:
            leaked.append((address_pk, pod_id, bound_at, pool_pk))
    ips = _chunked_dict(Address.objects, [row[0] for row in leaked], ("ip",))
    pool_fields = ("k8s_cluster_id", "namespace", "kind", "name", "subnet__subnet_id")
    pools = _chunked_dict(Pool.objects, {row[3] for row in leaked}, pool_fields)
    for address_pk, pod_id, bound_at, pool_pk in leaked:
        phase = finished.get(pod_id)
        why = (
            f"pod has finished (status.phase {phase})"
            if phase
            else f"pod is not among the cluster's {snapshot.live_pods} live pods"
        )
        plan.leaked.append(
            Finding(
                what=LEAKED_BINDING,
                pool=str(Workload(*pools[pool_pk][:4])),
                subnet_id=pools[pool_pk][4],
                since=bound_at,
                why=why,
                pod_id=pod_id,
                ip=ips[address_pk][0],
                address_pk=address_pk,
                pool_pk=pool_pk,
                seen_at=bound_at,
            )
        )


def _chunked_dict(manager, keys, fields: tuple[str, ...]) -> dict[int, tuple]:
    keys = sorted(keys)
    found: dict[int, tuple] = {}
    for start in range(0, len(keys), CHUNK):
        for pk, *values in manager.filter(pk__in=keys[start : start + CHUNK]).values_list("pk", *fields):
            found[pk] = tuple(values)
    return found


def _find_pool_leaks(plan: Plan) -> None:
    snapshot, cutoff = plan.snapshot, plan.cutoff
    unjudged: Counter = Counter()
    pools = Pool.objects.active().filter(k8s_cluster_id=plan.cluster_id)
    fields = ("kind", "namespace", "name", "target", "created_at", "updated_at", "subnet__subnet_id")
    for pool_pk, kind, namespace, name, target, created_at, updated_at, subnet_id in _keyset(pools, fields):
        if not snapshot.lists_kind(kind):
            unjudged[kind] += 1
            continue
        key: WorkloadKey = (kind, namespace, name)
        replicas = snapshot.replicas.get(key)
        if replicas is not None and replicas == target:
            continue
        # Created, or changed by the webhook, within the grace: its workload may be on its way.
        if created_at >= cutoff or updated_at >= cutoff:
            plan.young_pools += 1
            continue
        pool_text = str(Workload(plan.cluster_id, namespace, kind, name))
        common = {"pool": pool_text, "subnet_id": subnet_id, "pool_pk": pool_pk, "seen_at": updated_at}
        if replicas is None:
            plan.orphaned.append(
                Finding(
                    what=ORPHANED_POOL,
                    since=created_at,
                    why=f"{workload_text(key)} not found in the cluster",
                    target=target,
                    **common,
                )
            )
        else:
            live = snapshot.live_pods_by_workload.get(key, 0)
            plan.drifted.append(
                Finding(
                    what=TARGET_DRIFT,
                    since=updated_at,
                    why=f"target {target}, but {workload_text(key)} has {replicas_field(kind)} {replicas} "
                    f"({live} live pods)",
                    target=target,
                    replicas=replicas,
                    **common,
                )
            )
    for kind, count in sorted(unjudged.items()):
        label = Kind(kind).label
        plan.warnings.append(
            f"no {label} was listed, so {count} active pools of {label}s were not checked "
            f"(an empty list is not trusted: was the kind left out of the kubectl command?)"
        )


# Lost bindings and address conflicts -----------------------------------------------------------


class _ManagedSubnets:
    """The subnets IPResMgr manages, found by address: one dict per prefix length (subnets of one
    version do not overlap), so each address costs a few dict lookups, not a scan of every subnet."""

    def __init__(self):
        self.by_prefix: dict[tuple[int, int], dict[int, Subnet]] = {}
        for subnet in Subnet.objects.prefetch_related("exclusions"):
            network = subnet.network
            self.by_prefix.setdefault((network.version, network.prefixlen), {})[int(network.network_address)] = subnet

    def find(self, ip: addressing.IPAddress) -> Subnet | None:
        bits = 32 if ip.version == 4 else 128
        for (version, prefixlen), networks in self.by_prefix.items():
            if version == ip.version:
                mask = ((1 << bits) - 1) ^ ((1 << (bits - prefixlen)) - 1)
                subnet = networks.get(int(ip) & mask)
                if subnet is not None:
                    return subnet
        return None


def _handed_out(subnet: Subnet, value: int, blocked: dict) -> bool:
    """Whether the subnet may hand this address out at all (not the gateway, not excluded)."""
    if subnet.pk not in blocked:
        blocked[subnet.pk] = subnet_space.blocked_ranges(subnet)
    low, high = addressing.usable_bounds(subnet.network)
    return low <= value <= high and not blocked[subnet.pk].count_within(value, value)


def _find_lost_bindings(plan: Plan) -> None:
    """Every live pod address in a managed subnet, against what the database holds for it."""
    snapshot, cutoff = plan.snapshot, plan.cutoff
    subnets = _ManagedSubnets()
    # (subnet pk, address as an integer) -> the live pods that show that address
    holders: dict[tuple[int, int], list[PodAddresses]] = {}
    subnet_by_pk: dict[int, Subnet] = {}
    for pod in snapshot.pod_addresses:
        for text in pod.ips:
            try:
                ip = addressing.parse_ip(text)
            except ValueError:
                continue
            subnet = subnets.find(ip)
            if subnet is None:
                continue  # not an address IPResMgr hands out
            subnet_by_pk[subnet.pk] = subnet
            holders.setdefault((subnet.pk, int(ip)), []).append(pod)
    plan.pod_addresses_checked = len(holders)
    if not holders:
        return
    reserved = _reserved_addresses(holders)
    quarantined = _quarantined_addresses(key for key in holders if key not in reserved)
    active_pools = _active_pools(plan.cluster_id)
    pool_text = _pool_texts({row[3] for row in reserved.values() if row[3] is not None} | set(active_pools.values()))
    leaked_by_address = {f.address_pk: f for f in plan.leaked}
    live = snapshot.live_pod_uids
    blocked: dict = {}
    unresolved = young = 0
    lost_pools: dict[tuple[WorkloadKey, int], list[tuple[PodAddresses, str]]] = {}
    for key, pods in holders.items():
        subnet, value = subnet_by_pk[key[0]], key[1]
        ip = subnet_space.ip_text(subnet, value)
        row = reserved.get(key)  # (address pk, lease pod, bound at, pool pk, idle since)
        if len(pods) > 1:
            holder = row[1] if row is not None else None
            pods = sorted(pods, key=lambda pod: pod.uid == holder)  # the database's holder last
            why = f"{len(pods)} live pods show this address: {_names(pods)}; " + (
                f"the database binds it to {pods[-1].text}"
                if holder == pods[-1].uid
                else "the database binds it to none of them"
            )
            plan.conflicts.append(_conflict(plan, subnet, ip, pods, why))
            continue
        (pod,) = pods
        if row is not None and row[1] == pod.uid:
            continue  # bound to this very pod: as it should be
        if row is not None and row[1] is not None:
            address_pk, other, bound_at, pool_pk, _ = row
            if other in live:
                why = f"the database binds it to another live pod, {other} (since {bound_at:%Y-%m-%d %H:%M:%S}Z)"
                plan.conflicts.append(_conflict(plan, subnet, ip, pods, why, other=other))
                continue
            if bound_at >= cutoff:
                why = (
                    f"the database bound it to pod {other} at {bound_at:%Y-%m-%d %H:%M:%S}Z, within the grace: "
                    "a pod that may not be listed yet"
                )
                plan.conflicts.append(_conflict(plan, subnet, ip, pods, why, other=other))
                continue
        if pod.workload is None:
            unresolved += 1
            continue
        workload = Workload(plan.cluster_id, pod.workload[1], pod.workload[0], pod.workload[2])
        pool_pk = active_pools.get(pod.workload)
        if row is None:
            if key in quarantined:
                why = (
                    f"the address is quarantined in subnet {subnet.subnet_id}: another host answered for it "
                    "(manage.py list_quarantine)"
                )
                plan.conflicts.append(_conflict(plan, subnet, ip, pods, why))
            elif not _handed_out(subnet, value, blocked):
                why = f"the address is excluded from subnet {subnet.subnet_id} (or its gateway): never handed out"
                plan.conflicts.append(_conflict(plan, subnet, ip, pods, why))
            elif pool_pk is None:
                lost_pools.setdefault((pod.workload, subnet.pk), []).append((pod, ip))
            elif pool_text[pool_pk][1] != subnet.pk:
                why = f"the pool of {workload} is in subnet {pool_text[pool_pk][2]}, not {subnet.subnet_id}"
                plan.conflicts.append(_conflict(plan, subnet, ip, pods, why))
            else:
                why = f"{pod.text} shows this address; it is not reserved at all (free in {subnet.subnet_id})"
                plan.lost.append(_lost(plan, subnet, ip, pod, pool_pk, str(workload), ADDRESS_FREE, why))
            continue
        address_pk, other, bound_at, row_pool, idle_since = row
        if row_pool not in pool_text:  # held out of every pool (quarantined, for one)
            why = f"the address is reserved by no pool in subnet {subnet.subnet_id} (held out, quarantined?)"
            plan.conflicts.append(_conflict(plan, subnet, ip, pods, why))
            continue
        if row_pool != pool_pk:
            held_by, _, _, held_by_state = pool_text[row_pool]
            state = f"bound to pod {other}, which is gone" if other else "idle"
            why = (
                f"the address is reserved by the {held_by_state} pool {held_by} ({state}), "
                f"not by {workload}'s active pool"
            )
            plan.conflicts.append(_conflict(plan, subnet, ip, pods, why))
            continue
        if other is None and idle_since >= snapshot.read_at:
            young += 1  # went idle after the cluster was read: its pod may have let go meanwhile
            continue
        if other is None:
            why = f"{pod.text} shows this address; the database has it idle since {idle_since:%Y-%m-%d %H:%M:%S}Z"
            finding = _lost(plan, subnet, ip, pod, pool_pk, str(workload), ADDRESS_IDLE, why)
            finding.address_pk, finding.seen_at = address_pk, idle_since
        else:
            why = f"{pod.text} shows this address; the database binds it to pod {other}, which is gone"
            finding = _lost(plan, subnet, ip, pod, pool_pk, str(workload), ADDRESS_LEAKED, why)
            finding.address_pk, finding.leaked = address_pk, leaked_by_address.get(address_pk)
        plan.lost.append(finding)
    _note_lost_pools(plan, lost_pools, subnets)
    if unresolved:
        plan.warnings.append(
            f"{unresolved} live pods show addresses of managed subnets but belong to no listed workload "
            "(a bare pod, a DaemonSet, or a ReplicaSet or Job left out of the listing): not checked"
        )
    if young:
        plan.warnings.append(
            f"{young} addresses live pods show went idle after the cluster was read: left alone (run again)"
        )


def _quarantined_addresses(keys) -> set[tuple[int, int]]:
    """The (subnet pk, address) pairs among `keys` that are quarantined: never to be bound back."""
    by_subnet: dict[int, list[int]] = {}
    for subnet_pk, value in keys:
        by_subnet.setdefault(subnet_pk, []).append(value)
    found = set()
    for subnet_pk, values in by_subnet.items():
        for start in range(0, len(values), CHUNK):
            ip_keys = [addressing.ip_key(value) for value in values[start : start + CHUNK]]
            rows = QuarantinedAddress.objects.filter(subnet_id=subnet_pk, ip_key__in=ip_keys)
            found.update((subnet_pk, int(ip_key, 16)) for ip_key in rows.values_list("ip_key", flat=True))
    return found


def _reserved_addresses(holders) -> dict[tuple[int, int], tuple]:
    """(subnet pk, address) -> (address pk, lease pod or None, bound at, pool pk, idle since), for
    the reserved addresses live pods show. Those bound to the one pod that shows them (nearly all,
    in a healthy cluster) are as they should be: dropped from `holders`, their details not read."""
    by_subnet: dict[int, list[int]] = {}
    for subnet_pk, value in holders:
        by_subnet.setdefault(subnet_pk, []).append(value)
    found = {}
    fields = ("ip_key", "lease__pod_id", "lease__bound_at", "pool_id", "idle_since")
    for subnet_pk, values in by_subnet.items():
        for start in range(0, len(values), CHUNK):
            keys = [addressing.ip_key(value) for value in values[start : start + CHUNK]]
            rows = Address.objects.filter(subnet_id=subnet_pk, ip_key__in=keys)
            odd = []
            for pk, ip_key, pod_id in rows.values_list("pk", "ip_key", "lease__pod_id"):
                pods = holders[(subnet_pk, int(ip_key, 16))]
                if len(pods) == 1 and pods[0].uid == pod_id:
                    del holders[(subnet_pk, int(ip_key, 16))]
                else:
                    odd.append(pk)
            for pk, ip_key, pod_id, bound_at, pool_pk, idle_since in (
                Address.objects.filter(pk__in=odd).values_list("pk", *fields) if odd else ()
            ):
                found[(subnet_pk, int(ip_key, 16))] = (pk, pod_id, bound_at, pool_pk, idle_since)
    return found


def _active_pools(cluster_id: str) -> dict[WorkloadKey, int]:
    pools = Pool.objects.active().filter(k8s_cluster_id=cluster_id)
    return {(kind, ns, name): pk for pk, kind, ns, name in _keyset(pools, ("kind", "namespace", "name"))}


def _pool_texts(pool_pks) -> dict[int, tuple[str, int, str, str]]:
    """pool pk -> (its workload as text, its subnet's pk, its SubnetID, its state)."""
    fields = ("k8s_cluster_id", "namespace", "kind", "name", "subnet_id", "subnet__subnet_id", "state")
    rows = _chunked_dict(Pool.objects, pool_pks, fields)
    return {pk: (str(Workload(*row[:4])), row[4], row[5], row[6]) for pk, row in rows.items()}


def _names(pods: list[PodAddresses]) -> str:
    return ", ".join(pod.text for pod in pods)


def _since(pods: list[PodAddresses], plan: Plan):
    times = [pod.created for pod in pods if pod.created is not None]
    return min(times) if times else plan.snapshot.read_at


def _conflict(plan: Plan, subnet: Subnet, ip: str, pods: list[PodAddresses], why: str, other: str = "") -> Finding:
    workloads = {pod.workload for pod in pods if pod.workload is not None}
    pool = ", ".join(sorted(str(Workload(plan.cluster_id, w[1], w[0], w[2])) for w in workloads))
    return Finding(
        what=ADDRESS_CONFLICT,
        pool=pool,
        subnet_id=subnet.subnet_id,
        since=_since(pods, plan),
        why=why,
        pod_id=pods[0].uid,
        ip=ip,
        pods=[pod.uid for pod in pods] + ([other] if other else []),
        ips=[ip],
    )


def _lost(plan, subnet, ip, pod: PodAddresses, pool_pk: int, pool: str, state: str, why: str) -> Finding:
    return Finding(
        what=LOST_BINDING,
        pool=pool,
        subnet_id=subnet.subnet_id,
        since=_since([pod], plan),
        why=why,
        pod_id=pod.uid,
        ip=ip,
        pool_pk=pool_pk,
        subnet_pk=subnet.pk,
        address_state=state,
        workload=pod.workload,
        pods=[pod.uid],
        ips=[ip],
    )


def _note_lost_pools(plan: Plan, lost_pools: dict, subnets: _ManagedSubnets) -> None:
    """Workloads whose live pods hold free addresses of a managed subnet and which have no active
    pool: the database lost the pool (its CreateIPPool) along with the bindings."""
    by_workload: dict[WorkloadKey, list[int]] = {}
    for workload, subnet_pk in lost_pools:
        by_workload.setdefault(workload, []).append(subnet_pk)
    subnet_by_pk = {s.pk: s for networks in subnets.by_prefix.values() for s in networks.values()}
    for (key, subnet_pk), members in sorted(lost_pools.items(), key=lambda item: (item[0][0], item[0][1])):
        subnet = subnet_by_pk[subnet_pk]
        pods = [pod for pod, _ in members]
        replicas = plan.snapshot.replicas.get(key, len(pods))
        why = (
            f"{workload_text(key)} has {len(pods)} live pods on addresses of subnet {subnet.subnet_id} "
            f"and no active pool; re-creating it needs subnet {subnet.subnet_id} (NetRegionalID "
            f"{subnet.net_regional_id}), target {replicas}, and these pods' addresses bound"
        )
        applicable = True
        if len(by_workload[key]) > 1:
            applicable = False
            why += "; its pods' addresses lie in several subnets, so which one its pool used is unknown"
        if replicas < len(pods):
            why += f" (more live pods than {replicas_field(key[0])}: the pool grows beyond its target)"
        plan.lost_pools.append(
            Finding(
                what=LOST_POOL,
                pool=str(Workload(plan.cluster_id, key[1], key[0], key[2])),
                subnet_id=subnet.subnet_id,
                since=_since(pods, plan),
                why=why,
                subnet_pk=subnet.pk,
                workload=key,
                replicas=replicas,
                target=replicas,
                pods=[pod.uid for pod in pods],
                ips=[ip for _, ip in members],
                applicable=applicable,
            )
        )
