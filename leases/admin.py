"""The console's addresses page: who holds each reserved address, and the operator's actions on
them (force-release a binding, hold an idle address back, return one to its subnet). The same
services as the API, with the same locks; every change is audited with the admin user.

Also the reports of reconcile runs (read only: `manage.py reconcile` makes them)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core import addressing
from core.choices import AdminAction
from leases import services
from leases.models import ReconcileRun
from leases.selectors import lease_of
from pools.admin.common import (
    NoDeleteMixin,
    ReadOnlyChangeMixin,
    admin_ctx,
    cluster_ids,
    confirmation,
    for_each,
    namespaces,
    short_time,
    value_filter,
)
from pools.models import Address
from pools.templatetags.pools_admin import cut


class BindingFilter(admin.SimpleListFilter):
    title = "binding"
    parameter_name = "binding"

    def lookups(self, request, model_admin):
        return [("bound", "bound to a pod"), ("idle", "idle")]

    def queryset(self, request, queryset):
        if self.value() == "bound":
            return queryset.filter(lease__isnull=False)
        if self.value() == "idle":
            return queryset.filter(lease__isnull=True)
        return queryset


class HoldForm(forms.Form):
    reason = forms.CharField(required=False, max_length=150, help_text="kept with the exclusion")


@admin.register(Address)
class AddressAdmin(ReadOnlyChangeMixin, admin.ModelAdmin):
    # Fits 1366 px: long names are cut short (whole on hover), the two times are one column.
    list_display = ["ip", "subnet_name", "pool_link", "pod", "since", "mac", "port"]
    extra_readonly = ("pod_id", "resource_id", "bound_at")
    list_filter = [
        BindingFilter,
        "subnet",
        value_filter("pool__k8s_cluster_id", "K8SClusterID", cluster_ids),
        value_filter("pool__namespace", "K8SNamespace", namespaces),
    ]
    search_fields = ["ip", "mac", "port_id", "lease__pod_id"]
    search_help_text = "An IP (exact), a MAC, a PortID or a pod UID (or part of one)."
    list_select_related = ["subnet", "pool", "lease"]
    actions = ["force_release", "hold", "return_idle"]

    def has_add_permission(self, request):
        return False  # addresses are reserved by pools

    def get_search_results(self, request, queryset, search_term):
        try:
            ip = addressing.parse_ip(search_term)
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(ip=str(ip)), False

    @admin.display(description="K8SPodID", ordering="lease__pod_id")
    def pod_id(self, obj):
        lease = lease_of(obj)
        return lease.pod_id if lease else None

    @admin.display(description="K8SApiResourceID")
    def resource_id(self, obj):
        lease = lease_of(obj)
        return lease.k8s_resource_id if lease else None

    @admin.display(description="bound at", ordering="lease__bound_at")
    def bound_at(self, obj):
        lease = lease_of(obj)
        return lease.bound_at if lease else None

    @admin.display(description="subnet", ordering="subnet__subnet_id")
    def subnet_name(self, obj):
        return cut(obj.subnet.subnet_id, "short")

    @admin.display(description="K8SPodID", ordering="lease__pod_id")
    def pod(self, obj):
        lease = lease_of(obj)
        return cut(lease.pod_id) if lease else "-"

    @admin.display(description="bound / idle since")
    def since(self, obj):
        lease = lease_of(obj)
        return f"bound {short_time(lease.bound_at)}" if lease else f"idle {short_time(obj.idle_since)}"

    @admin.display(description="PortID", ordering="port_id")
    def port(self, obj):
        return cut(obj.port_id, "short")

    @admin.display(description="pool", ordering="pool")
    def pool_link(self, obj):
        url = reverse("admin:pools_pool_change", args=[obj.pool_id])
        return format_html('<a href="{}">{}</a>', url, cut(obj.pool))

    @admin.action(description="Force-release the binding of the selected addresses", permissions=["change"])
    def force_release(self, request, queryset):
        if "post" in request.POST:
            ctx = admin_ctx(request, AdminAction.BINDING_FORCE_RELEASE)

            def force_release(address):
                expected = request.POST.get(f"pod_{address.pk}")
                if not expected:
                    return None  # was not bound when the page was shown
                outcome = services.binding_force_release(ctx=ctx, address=address, expected_pod_id=expected)
                return f"{address.ip}: pod {expected} no longer holds it; {outcome}."

            for_each(self, request, queryset, force_release)
            return None
        addresses = list(queryset.select_related("lease", "pool"))
        bound = [a for a in addresses if lease_of(a) is not None]
        idle = [a for a in addresses if lease_of(a) is None]
        return confirmation(
            self,
            request,
            queryset,
            action="force_release",
            title="Force-release bindings",
            template="admin/pools/force_release_confirm.html",
            bound=bound,
            idle=idle,
        )

    @admin.action(description="Hold the selected idle addresses (never hand them out)", permissions=["change"])
    def hold(self, request, queryset):
        form = HoldForm(request.POST if "post" in request.POST else None)
        if form.is_bound and form.is_valid():
            ctx = admin_ctx(request, AdminAction.ADDRESS_HOLD)

            def hold(address):
                services.address_hold(ctx=ctx, address=address, reason=form.cleaned_data["reason"])
                return f"{address.ip}: held; excluded from subnet {address.subnet.subnet_id}."

            for_each(self, request, queryset, hold)
            return None
        return confirmation(
            self,
            request,
            queryset,
            action="hold",
            title="Hold addresses",
            template="admin/pools/action_confirm.html",
            form=form,
            explanation="Each idle address leaves its pool and becomes a one-address exclusion of its subnet, so it "
            "is never handed out again (delete the exclusion on the subnet's page to undo). Bound addresses are "
            "refused: force-release them first. The pool is one short of its target until its next scale or require.",
            submit="Hold",
        )

    @admin.action(description="Return the selected idle addresses to their subnet", permissions=["change"])
    def return_idle(self, request, queryset):
        ctx = admin_ctx(request, AdminAction.ADDRESS_RETURN)

        def return_idle(address):
            services.address_return_idle(ctx=ctx, address=address)
            return f"{address.ip}: returned to subnet {address.subnet.subnet_id}."

        for_each(self, request, queryset, return_idle)


@admin.register(ReconcileRun)
class ReconcileRunAdmin(NoDeleteMixin, admin.ModelAdmin):
    """What each `manage.py reconcile` run found and did, newest first. Read only."""

    list_display = [
        "started_at",
        "k8s_cluster_id",
        "mode",
        "status",
        "leaked_bindings",
        "bindings_freed",
        "orphaned_pools",
        "pools_released",
        "drifted_pools",
        "targets_fixed",
        "address_conflicts",
        "lost_bindings",
        "bindings_restored",
        "lost_pools",
        "exit_code",
    ]
    list_filter = ["status", "applied", value_filter("k8s_cluster_id", "K8SClusterID", cluster_ids)]
    fields = [
        "k8s_cluster_id",
        "mode",
        "status",
        "exit_code",
        "started_at",
        "finished_at",
        "message",
        "source",
        "read_summary",
        ("leaked_bindings", "bindings_freed"),
        ("orphaned_pools", "pools_released"),
        ("drifted_pools", "targets_fixed"),
        "address_conflicts",
        ("lost_bindings", "bindings_restored"),
        ("lost_pools", "pools_recreated"),
        "warnings",
        "findings",
        "audit_events",
    ]
    readonly_fields = [name for entry in fields for name in (entry if isinstance(entry, tuple) else (entry,))]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="mode", ordering="applied")
    def mode(self, obj):
        return obj.mode

    @admin.display(description="read from")
    def source(self, obj):
        return obj.report.get("source", "")

    @admin.display(description="read")
    def read_summary(self, obj):
        report = obj.report
        if "bindings_checked" not in report:
            return "-"
        listed = ", ".join(f"{kind}: {n}" for kind, n in sorted(report.get("objects_listed", {}).items()))
        return (
            f"{listed or 'nothing'} ({report['live_pods']} live pods); {report['bindings_checked']} bindings "
            f"checked; grace {report['grace_seconds']} s: {report['young_bindings']} bindings and "
            f"{report['young_pools']} pools younger than it left alone; skipped {report.get('changes_skipped', 0)}, "
            f"failed {report.get('changes_failed', 0)}"
        )

    @admin.display(description="warnings")
    def warnings(self, obj):
        return format_html_join("", "<p>{}</p>", ((w,) for w in obj.report.get("warnings", []))) or "-"

    @admin.display(description="findings")
    def findings(self, obj):
        rows = obj.report.get("findings", [])
        if not rows:
            return "none"
        total = obj.report.get("findings_total", len(rows))
        titles = ("What", "Pod", "IP", "Pool", "Since", "Why", "Action")
        head = format_html_join("", "<th>{}</th>", ((title,) for title in titles))
        body = format_html_join(
            "",
            '<tr class="finding-{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    r["What"],
                    r["What"],
                    # A conflict or a lost pool names several pods and addresses (older runs: one).
                    ", ".join(r.get("K8SPodIDs") or [r["K8SPodID"]]) or "-",
                    ", ".join(r.get("IPs") or [r["IP"]]) or "-",
                    r["Pool"] or "-",
                    r["Since"],
                    r["Why"],
                    r["Action"],
                )
                for r in rows
            ),
        )
        more = format_html("<p>The first {} of {} findings.</p>", len(rows), total) if total > len(rows) else ""
        return format_html(
            '<table id="reconcile-findings"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>{}', head, body, more
        )

    @admin.display(description="audit log")
    def audit_events(self, obj):
        url = reverse("admin:audit_auditevent_changelist") + f"?q=reconcile-{obj.pk}"
        return format_html('<a href="{}">changes this run made (ReqID reconcile-{})</a>', url, obj.pk)
