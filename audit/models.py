"""The audit log's table: one event per contract call and per admin change (audit.recording writes it)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from core.choices import AdminAction, Code, Kind, ReqType


class AuditEvent(models.Model):
    """One row per contract call and per admin change. Never updated.

    The table grows by every call, so every filter that the read API and the console offer has an
    index that starts with it and ends with the lists' sort keys (at, id): a page, a count up to its
    bound and a keyset page are each one range scan of one index, whatever the table's size
    (core/bounded_reads.py). Filters left out (kind, ReqType, SubnetID, Code 0) match a large share of the
    rows, so the newest page finds its rows soon on (at, id); a rare value of one of them without a
    time window may hit the read timeout and be asked to narrow the query."""

    at = models.DateTimeField()
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
        # Its table from the days it was in pools: moved with its rows (audit 0001, pools 0009).
        db_table = "pools_auditevent"
        ordering = ["-at", "-id"]
        indexes = [
            # The whole log, and time windows (Since, Until; the console's date filter).
            models.Index(fields=["at", "id"], name="audit_at_id_idx"),
            # Every read with a cluster token filters on its cluster.
            models.Index(fields=["k8s_cluster_id", "at", "id"], name="audit_cluster_at_idx"),
            models.Index(fields=["namespace", "at", "id"], name="audit_namespace_at_idx"),
            models.Index(fields=["name", "at", "id"], name="audit_name_at_idx"),
            # Refusals are a few percent of the events, and some Codes are very rare: a partial index
            # finds them without walking the log (code > 0, not code <> 0: the planner proves that
            # `code = 11` implies it). Code 0, most of the log, is found on (at, id).
            models.Index(fields=["code", "at", "id"], condition=Q(code__gt=0), name="audit_refusal_at_idx"),
            # Admin changes are rare among the calls; '' is no admin action.
            models.Index(
                fields=["admin_action", "at", "id"], condition=Q(admin_action__gt=""), name="audit_admin_at_idx"
            ),
            models.Index(fields=["ip", "at"], name="audit_ip_at_idx"),
            models.Index(fields=["pod_id", "at"], name="audit_pod_at_idx"),
            models.Index(fields=["req_id"], name="audit_req_id_idx"),
        ]

    def __str__(self) -> str:
        what = ReqType(self.req_type).label if self.req_type is not None else self.admin_action
        return f"{self.at:%Y-%m-%d %H:%M:%S} {what} {self.ip} code={self.code}"
