"""Request and answer shapes of the CNI IPAM plugin's calls (contract section 3), the address rows
of the read API, and the stored reconcile runs."""

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from contract.framework.fields import (
    ContractRequest,
    Envelope,
    StrictBooleanField,
    canonical_ip_field,
    mac_field,
    opaque_id_field,
)
from core.choices import Kind, PoolState
from leases.models import ReconcileRun
from leases.reconcile.run import STORED_FINDINGS
from leases.selectors import lease_of


class RequireIPRequest(ContractRequest):
    """IPAM2IPResMgrRequireIPReq."""

    K8SApiResourceID = opaque_id_field(
        allow_blank=True, required=False, default="", help_text="Workload UID; may be empty."
    )
    K8SPodID = opaque_id_field(help_text="Pod UID (not the pod name).")


class ReleaseIPRequest(RequireIPRequest):
    """IPAM2IPResMgrReleaseIPReq, with the two optional fields of a conflict found on the wire."""

    IP = canonical_ip_field(
        allow_blank=True, required=False, default="", help_text="Empty: whatever this pod holds in the pool."
    )
    Conflict = StrictBooleanField(
        required=False,
        default=False,
        help_text="true: another host answers for IP on the wire (the CNI plugin's probe). The binding ends and "
        "the address is quarantined, never handed out until an operator clears it. Needs IP. Not in the original "
        "contract.",
    )
    ConflictMacAddr = mac_field(
        required=False, default="", help_text="With Conflict: the MAC that answered for IP (optional)."
    )

    def validate(self, data):
        if data["Conflict"] and not data["IP"]:
            raise serializers.ValidationError({"IP": "required with Conflict: name the address found in use"})
        return data


class RequireIPResponse(Envelope):
    """IPResMgr2IPAMRequireIPRes."""

    IP = serializers.CharField(allow_blank=True)
    MacAddr = serializers.CharField(allow_blank=True)
    PortID = serializers.CharField(allow_blank=True)
    SubnetGatewayAddr = serializers.CharField(allow_blank=True)
    SubnetCIDR = serializers.CharField(
        allow_blank=True,
        help_text="The subnet's CIDR (e.g. 10.0.3.0/24): its prefix length is the pod address's. "
        "Not in the original contract; Go clients ignore it.",
    )


class ReleaseIPResponse(Envelope):
    """IPResMgr2IPAMReleaseIPRes."""


@extend_schema_serializer(component_name="Address")
class AddressOut(serializers.Serializer):
    IP = serializers.CharField(source="ip")
    MacAddr = serializers.CharField(source="mac")
    PortID = serializers.UUIDField(source="port_id")
    NetRegionalID = serializers.CharField(source="net_regional_id")
    SubnetID = serializers.CharField(source="subnet.subnet_id")
    SubnetGatewayAddr = serializers.CharField(source="subnet.gateway")
    K8SClusterID = serializers.CharField(source="pool.k8s_cluster_id")
    K8SNamespace = serializers.CharField(source="pool.namespace")
    K8SApiResourceKind = serializers.ChoiceField(source="pool.kind", choices=Kind.choices)
    K8SApiResourceName = serializers.CharField(source="pool.name")
    PoolState = serializers.ChoiceField(source="pool.state", choices=PoolState.choices)
    State = serializers.SerializerMethodField(help_text="bound (to K8SPodID) or idle.")
    K8SPodID = serializers.CharField(source="lease.pod_id", allow_null=True, help_text="null when idle.")
    K8SApiResourceID = serializers.SerializerMethodField()
    ReservedAt = serializers.DateTimeField(source="reserved_at")
    BoundAt = serializers.DateTimeField(source="lease.bound_at", allow_null=True)
    IdleSince = serializers.DateTimeField(source="idle_since", allow_null=True)

    @extend_schema_field({"type": "string", "enum": ["bound", "idle"]})
    def get_State(self, address) -> str:  # noqa: N802 - named like the key
        return "idle" if lease_of(address) is None else "bound"

    @extend_schema_field({"type": "string"})
    def get_K8SApiResourceID(self, address) -> str:  # noqa: N802
        lease = lease_of(address)
        return "" if lease is None else lease.k8s_resource_id


class ReconcileFindingOut(serializers.Serializer):
    What = serializers.ChoiceField(
        choices=["address-conflict", "lost-binding", "lost-pool", "leaked-binding", "orphaned-pool", "target-drift"],
        help_text="address-conflict: two live pods show one address, or a live pod shows an address the database "
        "binds to another live pod (or that is excluded, or reserved by another pool): never changed "
        "automatically; lost-binding: a live pod shows an address of its workload's pool that the database does "
        "not bind to it (idle, or not reserved at all); lost-pool: a workload's live pods hold addresses of a "
        "managed subnet and it has no active pool; leaked-binding: an address bound to a pod that is gone or "
        "finished; orphaned-pool: an active pool whose workload is gone; target-drift: a pool whose target "
        "differs from its workload's replica count.",
    )
    K8SPodID = serializers.CharField(
        allow_blank=True, help_text="The pod UID of a binding (leaked, lost) or the first of a conflict; else empty."
    )
    IP = serializers.CharField(allow_blank=True, help_text="The address of a binding or a conflict; else empty.")
    Pool = serializers.CharField(
        help_text="The pool's workload: cluster/namespace/Kind/name (a conflict: the pods' workloads, if any)."
    )
    SubnetID = serializers.CharField()
    Since = serializers.DateTimeField(
        help_text="Bound at (leaked binding), created at (orphaned pool), target last set at (drift), the pod's "
        "creation (lost binding, conflict, lost pool: the oldest pod)."
    )
    Why = serializers.CharField()
    Action = serializers.CharField(help_text="What the run did, or would do with --apply, and how it went.")
    K8SPodIDs = serializers.ListField(
        child=serializers.CharField(),
        default=list,
        help_text="Every pod the finding names: a conflict's pods (the database's holder last), a lost pool's pods.",
    )
    IPs = serializers.ListField(
        child=serializers.CharField(), default=list, help_text="Every address it names: a lost pool's pods' addresses."
    )
    Target = serializers.IntegerField(
        allow_null=True, default=None, help_text="A lost pool: the target it is re-created with (the replicas)."
    )


@extend_schema_serializer(component_name="ReconcileRun")
class ReconcileRunOut(serializers.Serializer):
    """A stored run of `manage.py reconcile` (also what `--output json` prints)."""

    ID = serializers.IntegerField(source="pk")
    K8SClusterID = serializers.CharField(source="k8s_cluster_id")
    Mode = serializers.ChoiceField(source="mode", choices=["dry-run", "apply"])
    Status = serializers.ChoiceField(
        source="status",
        choices=ReconcileRun.Status.choices,
        help_text="running; clean (nothing to change); leaks_found (findings to act on: a dry run, or lost "
        "bindings or pools --apply left standing); applied; conflicts (address conflicts found, whatever else "
        "was applied); error (see Message).",
    )
    ExitCode = serializers.IntegerField(
        source="exit_code",
        allow_null=True,
        help_text="0 nothing found or applied, 1 findings to act on (a dry run; or lost bindings or pools "
        "--apply left standing), 2 error, 3 address conflicts (wins over 1).",
    )
    StartedAt = serializers.DateTimeField(source="started_at")
    FinishedAt = serializers.DateTimeField(source="finished_at", allow_null=True)
    Message = serializers.CharField(source="message", allow_blank=True)
    Source = serializers.CharField(source="report.source", default="", help_text="Where the cluster was read from.")
    GraceSeconds = serializers.IntegerField(source="report.grace_seconds", default=None, allow_null=True)
    FixTargets = serializers.BooleanField(source="report.fix_targets", default=False)
    ObjectsListed = serializers.DictField(
        child=serializers.IntegerField(),
        source="report.objects_listed",
        default=dict,
        help_text="Objects read, by kind.",
    )
    LivePods = serializers.IntegerField(source="report.live_pods", default=0)
    BindingsChecked = serializers.IntegerField(source="report.bindings_checked", default=0)
    YoungBindings = serializers.IntegerField(
        source="report.young_bindings", default=0, help_text="Bindings younger than the grace, left alone."
    )
    YoungPools = serializers.IntegerField(
        source="report.young_pools", default=0, help_text="Pools created or changed within the grace, left alone."
    )
    LeakedBindings = serializers.IntegerField(source="leaked_bindings")
    BindingsFreed = serializers.IntegerField(source="bindings_freed")
    OrphanedPools = serializers.IntegerField(source="orphaned_pools")
    PoolsReleased = serializers.IntegerField(source="pools_released")
    DriftedPools = serializers.IntegerField(source="drifted_pools")
    TargetsFixed = serializers.IntegerField(source="targets_fixed")
    AddressConflicts = serializers.IntegerField(source="address_conflicts")
    LostBindings = serializers.IntegerField(source="lost_bindings")
    BindingsRestored = serializers.IntegerField(source="bindings_restored")
    LostPools = serializers.IntegerField(source="lost_pools")
    PoolsRecreated = serializers.IntegerField(source="pools_recreated")
    RecreatePools = serializers.BooleanField(source="report.recreate_pools", default=False)
    PodAddressesChecked = serializers.IntegerField(
        source="report.pod_addresses_checked",
        default=0,
        help_text="Addresses of managed subnets that live pods show (status.podIPs), checked against the database.",
    )
    ChangesSkipped = serializers.IntegerField(
        source="report.changes_skipped", default=0, help_text="Changes skipped: what the run saw had changed."
    )
    ChangesFailed = serializers.IntegerField(source="report.changes_failed", default=0)
    Warnings = serializers.ListField(child=serializers.CharField(), source="report.warnings", default=list)
    Seconds = serializers.DictField(
        child=serializers.FloatField(),
        source="report.seconds",
        default=dict,
        help_text="How long each step took: read (the cluster), compare, apply.",
    )
    FindingsTotal = serializers.IntegerField(
        source="report.findings_total",
        default=0,
        help_text=f"All findings; Findings holds the first {STORED_FINDINGS}.",
    )
    Findings = ReconcileFindingOut(many=True, source="report.findings", default=list)
