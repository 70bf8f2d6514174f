"""Lost bindings and address conflicts: addresses live pods show that the database does not hold
(after a failover that lost commits), or holds for another pod; and the pools such pods lost."""

from __future__ import annotations

from core import addressing
from core.domain import Workload
from leases.reconcile.cluster import PodAddresses, WorkloadKey, replicas_field, workload_text
from leases.reconcile.plan import (
    ADDRESS_CONFLICT,
    ADDRESS_FREE,
    ADDRESS_IDLE,
    ADDRESS_LEAKED,
    CHUNK,
    LOST_BINDING,
    LOST_POOL,
    Finding,
    Plan,
    chunked_dict,
    keyset,
)
from pools import subnet_space
from pools.models import Address, Pool, QuarantinedAddress, Subnet


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


def find_lost_bindings(plan: Plan) -> None:
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


def _ip_key_batches(keys) -> list[tuple[int, list[str]]]:
    """(subnet pk, address) pairs as (subnet pk, up to CHUNK ip_keys) batches, one indexed lookup
    each. Read whole first: callers change the mapping `keys` came from as they go."""
    by_subnet: dict[int, list[int]] = {}
    for subnet_pk, value in keys:
        by_subnet.setdefault(subnet_pk, []).append(value)
    return [
        (subnet_pk, [addressing.ip_key(value) for value in values[start : start + CHUNK]])
        for subnet_pk, values in by_subnet.items()
        for start in range(0, len(values), CHUNK)
    ]


def _quarantined_addresses(keys) -> set[tuple[int, int]]:
    """The (subnet pk, address) pairs among `keys` that are quarantined: never to be bound back."""
    found = set()
    for subnet_pk, ip_keys in _ip_key_batches(keys):
        rows = QuarantinedAddress.objects.filter(subnet_id=subnet_pk, ip_key__in=ip_keys)
        found.update((subnet_pk, int(ip_key, 16)) for ip_key in rows.values_list("ip_key", flat=True))
    return found


def _reserved_addresses(holders) -> dict[tuple[int, int], tuple]:
    """(subnet pk, address) -> (address pk, lease pod or None, bound at, pool pk, idle since), for
    the reserved addresses live pods show. Those bound to the one pod that shows them (nearly all,
    in a healthy cluster) are as they should be: dropped from `holders`, their details not read."""
    found = {}
    fields = ("ip_key", "lease__pod_id", "lease__bound_at", "pool_id", "idle_since")
    for subnet_pk, keys in _ip_key_batches(holders):
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
    return {(kind, ns, name): pk for pk, kind, ns, name in keyset(pools, ("kind", "namespace", "name"))}


def _pool_texts(pool_pks) -> dict[int, tuple[str, int, str, str]]:
    """pool pk -> (its workload as text, its subnet's pk, its SubnetID, its state)."""
    fields = ("k8s_cluster_id", "namespace", "kind", "name", "subnet_id", "subnet__subnet_id", "state")
    rows = chunked_dict(Pool.objects, pool_pks, fields)
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
