"""The console's quarantine page: addresses another host answers for on the wire (the CNI plugin's
release with Conflict), with the MAC that answered, and the operator's action that clears them."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from core.choices import AdminAction
from pools import services
from pools.admin.common import ReadOnlyChangeMixin, admin_ctx, confirmation, for_each, short_time
from pools.models import QuarantinedAddress
from pools.templatetags.pools_admin import cut


class ClearForm(forms.Form):
    reason = forms.CharField(required=False, max_length=150, help_text="kept in the audit log")


@admin.register(QuarantinedAddress)
class QuarantinedAddressAdmin(ReadOnlyChangeMixin, admin.ModelAdmin):
    list_display = ["ip", "subnet_name", "conflict_mac", "pod", "workload", "when", "reason"]
    list_filter = ["subnet"]
    search_fields = ["ip", "conflict_mac", "pod_id", "name"]
    search_help_text = "An IP, the MAC that answered, a pod UID or a workload name (or part of one)."
    list_select_related = ["subnet"]
    actions = ["clear_quarantine"]

    def has_add_permission(self, request):
        return False  # quarantined by the CNI plugin's release with Conflict

    @admin.display(description="subnet", ordering="subnet__subnet_id")
    def subnet_name(self, obj):
        return cut(obj.subnet.subnet_id, "short")

    @admin.display(description="K8SPodID", ordering="pod_id")
    def pod(self, obj):
        return cut(obj.pod_id) if obj.pod_id else "-"

    @admin.display(description="workload")
    def workload(self, obj):
        return cut(str(obj.workload))

    @admin.display(description="quarantined", ordering="quarantined_at")
    def when(self, obj):
        return short_time(obj.quarantined_at)

    @admin.action(description="Clear the quarantine of the selected addresses (free again)", permissions=["change"])
    def clear_quarantine(self, request, queryset):
        form = ClearForm(request.POST if "post" in request.POST else None)
        if form.is_bound and form.is_valid():
            ctx = admin_ctx(request, AdminAction.CLEAR_QUARANTINE)

            def clear(quarantined):
                services.quarantine_clear(
                    ctx=ctx,
                    subnet_id=quarantined.subnet.subnet_id,
                    ip=quarantined.ip,
                    reason=form.cleaned_data["reason"],
                )
                return f"{quarantined.ip}: quarantine cleared; free again in subnet {quarantined.subnet.subnet_id}."

            for_each(self, request, queryset.select_related("subnet"), clear)
            return None
        return confirmation(
            self,
            request,
            queryset,
            action="clear_quarantine",
            title="Clear quarantine",
            template="admin/pools/action_confirm.html",
            form=form,
            explanation="Clear only once nothing else answers for these addresses on the wire (the MAC that "
            "answered is shown in the list). Each becomes free in its subnet, and the next reservation may hand "
            "it out.",
            submit="Clear quarantine",
        )
