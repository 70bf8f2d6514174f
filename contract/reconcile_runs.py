"""GET /v1/reconcile/runs: the stored reports of `manage.py reconcile` (operator tokens only), with
the serializers (also `manage.py reconcile --json`'s), the filter and the OpenAPI examples."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_serializer
from rest_framework import serializers

from contract.filters import cluster_filter
from contract.framework.fields import (
    Envelope,
)
from contract.framework.views import ReadView
from contract.openapi import (
    error_example,
    error_responses,
    server_errors,
)
from contract.reads_openapi import READ_ERRORS, REQ_ID_PARAM
from core.choices import Code
from leases import selectors
from leases.models import ReconcileRun
from leases.reconcile.run import STORED_FINDINGS
from pools.auth import NO_TOKEN_MSG


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


class ReconcileRunFilter(django_filters.FilterSet):
    K8SClusterID = cluster_filter("k8s_cluster_id")
    Status = django_filters.ChoiceFilter(field_name="status", choices=ReconcileRun.Status.choices)
    Mode = django_filters.ChoiceFilter(
        choices=[("dry-run", "dry-run"), ("apply", "apply")], method="filter_mode", help_text="dry-run or apply."
    )
    Ordering = django_filters.OrderingFilter(
        fields=(("started_at", "StartedAt"), ("k8s_cluster_id", "K8SClusterID")),
        help_text="Sort keys, comma-separated; a leading '-' sorts descending. Default -StartedAt (newest first).",
    )

    class Meta:
        model = ReconcileRun
        fields: list[str] = []

    def filter_mode(self, queryset, name, value):
        return queryset.filter(applied=value == "apply")


RECONCILE_RUN_ROW = {
    "ID": 7,
    "K8SClusterID": "demo-cluster",
    "Mode": "dry-run",
    "Status": "leaks_found",
    "ExitCode": 1,
    "StartedAt": "2026-10-01T14:30:00Z",
    "FinishedAt": "2026-10-01T14:30:02Z",
    "Message": "leaked bindings: 1, pools of deleted workloads: 0, pools whose target differs from their "
    "workload's: 0; address conflicts: 0, lost bindings: 0, lost pools: 0; left alone as younger than the "
    "grace: 0 bindings, 0 pools; dry run: nothing changed (--apply makes the changes)",
    "Source": "kubeconfig /etc/ipresmgr/kubeconfig",
    "GraceSeconds": 300,
    "FixTargets": False,
    "ObjectsListed": {"Deployment": 1, "ReplicaSet": 1, "Pod": 1},
    "LivePods": 1,
    "BindingsChecked": 2,
    "YoungBindings": 0,
    "YoungPools": 0,
    "LeakedBindings": 1,
    "BindingsFreed": 0,
    "OrphanedPools": 0,
    "PoolsReleased": 0,
    "DriftedPools": 0,
    "TargetsFixed": 0,
    "AddressConflicts": 0,
    "LostBindings": 0,
    "BindingsRestored": 0,
    "LostPools": 0,
    "PoolsRecreated": 0,
    "RecreatePools": False,
    "PodAddressesChecked": 0,
    "ChangesSkipped": 0,
    "ChangesFailed": 0,
    "Warnings": [],
    "Seconds": {"read": 0.412, "compare": 0.006},
    "FindingsTotal": 1,
    "Findings": [
        {
            "What": "leaked-binding",
            "K8SPodID": "pod-uid-1",
            "IP": "10.0.3.10",
            "Pool": "demo-cluster/default/Deployment/web",
            "SubnetID": "subnet-demo",
            "Since": "2026-10-01T14:02:05Z",
            "Why": "pod is not among the cluster's 1 live pods",
            "Action": "would end the binding",
            "K8SPodIDs": ["pod-uid-1"],
            "IPs": ["10.0.3.10"],
            "Target": None,
        }
    ],
}


RECONCILE_FORBIDDEN_MSG = "only an operator token may read reconcile runs"
RECONCILE_RUNS = extend_schema(
    summary="Reports of the last reconcile runs (operator token)",
    description=(
        "What each run of `manage.py reconcile` read, found and did, newest first: bindings of pods that are "
        "gone (leaked), active pools whose workload is gone, pools whose target differs from the workload's "
        "replica count, and what a database failover lost: bindings and pools of live pods the database does "
        "not hold (lost), addresses two live pods hold (conflicts, exit code 3)."
        f" Each run keeps its first {STORED_FINDINGS} findings; the counts are exact. A cluster "
        "token gets Code 3."
    ),
    parameters=[REQ_ID_PARAM],
    responses={
        200: ReconcileRunOut,
        **READ_ERRORS,
        **error_responses(Envelope, (Code.FORBIDDEN,)),
    },
    examples=[
        OpenApiExample("A page", value=RECONCILE_RUN_ROW, response_only=True, status_codes=["200"]),
        error_example(Code.INVALID_REQUEST, "Status: Select a valid choice. done is not one of the available choices."),
        error_example(Code.UNAUTHENTICATED, NO_TOKEN_MSG),
        error_example(Code.FORBIDDEN, RECONCILE_FORBIDDEN_MSG),
        *server_errors(),
    ],
    tags=["read"],
)


@RECONCILE_RUNS
class ReconcileRunListView(ReadView):
    serializer_class = ReconcileRunOut
    filterset_class = ReconcileRunFilter

    @staticmethod
    def selector(actor):
        return selectors.reconcile_runs_visible_to(actor)
