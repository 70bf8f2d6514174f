"""Request and answer shapes of the CNI IPAM plugin's calls (contract section 3), the address rows
of the read API, and the stored reconcile runs."""

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from leases.models import ReconcileRun
from leases.reconcile.run import STORED_FINDINGS
from leases.selectors import lease_of
from pools.api.fields import ContractRequest, Envelope, canonical_ip_field, opaque_id_field
from pools.choices import Kind, PoolState


class RequireIPRequest(ContractRequest):
    """IPAM2IPResMgrRequireIPReq."""

    K8SApiResourceID = opaque_id_field(
        allow_blank=True, required=False, default="", help_text="Workload UID; may be empty."
    )
    K8SPodID = opaque_id_field(help_text="Pod UID (not the pod name).")


class ReleaseIPRequest(RequireIPRequest):
    """IPAM2IPResMgrReleaseIPReq."""

    IP = canonical_ip_field(
        allow_blank=True, required=False, default="", help_text="Empty: whatever this pod holds in the pool."
    )


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
        choices=["leaked-binding", "orphaned-pool", "target-drift"],
        help_text="leaked-binding: an address bound to a pod that is gone or finished; orphaned-pool: an active "
        "pool whose workload is gone; target-drift: a pool whose target differs from its workload's replica count.",
    )
    K8SPodID = serializers.CharField(allow_blank=True, help_text="The pod UID of a leaked binding; else empty.")
    IP = serializers.CharField(allow_blank=True, help_text="The address of a leaked binding; else empty.")
    Pool = serializers.CharField(help_text="The pool's workload: cluster/namespace/Kind/name.")
    SubnetID = serializers.CharField()
    Since = serializers.DateTimeField(
        help_text="Bound at (binding), created at (orphaned pool), target last set at (drift)."
    )
    Why = serializers.CharField()
    Action = serializers.CharField(help_text="What the run did, or would do with --apply, and how it went.")


@extend_schema_serializer(component_name="ReconcileRun")
class ReconcileRunOut(serializers.Serializer):
    """A stored run of `manage.py reconcile` (also what `--output json` prints)."""

    ID = serializers.IntegerField(source="pk")
    K8SClusterID = serializers.CharField(source="k8s_cluster_id")
    Mode = serializers.ChoiceField(source="mode", choices=["dry-run", "apply"])
    Status = serializers.ChoiceField(
        source="status",
        choices=ReconcileRun.Status.choices,
        help_text="running; clean (nothing to change); leaks_found (dry run); applied; error (see Message).",
    )
    ExitCode = serializers.IntegerField(
        source="exit_code", allow_null=True, help_text="0 nothing found or applied, 1 leaks found (dry run), 2 error."
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
