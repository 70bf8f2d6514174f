"""Console pages for pools: filter and inspect them, resize and release them."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from pools import selectors, services
from pools.admin.common import ReadOnlyChangeMixin, admin_ctx, confirmation, for_each
from pools.choices import AdminAction, PoolState
from pools.models import Pool


class ResizeForm(forms.Form):
    target = forms.IntegerField(min_value=0, max_value=2**31 - 1, label="new target (replicas)")


@admin.register(Pool)
class PoolAdmin(ReadOnlyChangeMixin, admin.ModelAdmin):
    list_display = ["workload", "subnet", "state", "target", "reserved_count", "bound", "idle", "surge", "updated_at"]
    list_filter = ["k8s_cluster_id", "namespace", "kind", "state", "subnet"]
    search_fields = ["name", "namespace", "k8s_cluster_id"]
    list_select_related = ["subnet"]
    actions = ["resize", "release"]

    def has_add_permission(self, request):
        return False  # pools come from the webhook's CreateIPPool

    def get_queryset(self, request):
        return selectors.pools_with_usage(super().get_queryset(request))

    @admin.display(description="workload", ordering="name")
    def workload(self, obj):
        return str(obj)

    @admin.display(description="bound", ordering="n_bound")
    def bound(self, obj):
        return obj.n_bound

    @admin.display(description="idle")
    def idle(self, obj):
        return obj.reserved_count - obj.n_bound

    @admin.display(description="surge in use")
    def surge(self, obj):
        return max(0, obj.reserved_count - obj.target) if obj.state == PoolState.ACTIVE else 0

    @admin.action(description="Resize the selected pools", permissions=["change"])
    def resize(self, request, queryset):
        form = ResizeForm(request.POST if "post" in request.POST else None)
        if form.is_bound and form.is_valid():
            target = form.cleaned_data["target"]
            ctx = admin_ctx(request, AdminAction.POOL_RESIZE)

            def resize(pool):
                services.pool_resize(ctx=ctx, pool=pool, target=target)
                return f"{pool}: target is now {target}."

            for_each(self, request, queryset, resize)
            return None
        return confirmation(
            self,
            request,
            queryset,
            action="resize",
            title="Resize pools",
            template="admin/pools/action_confirm.html",
            form=form,
            explanation="Growing reserves the missing addresses from the subnet, all or none; shrinking gives back "
            "idle addresses at once, and bound ones when their pods let go.",
            submit="Resize",
        )

    @admin.action(description="Release the selected pools", permissions=["change"])
    def release(self, request, queryset):
        if "post" in request.POST:
            ctx = admin_ctx(request, AdminAction.POOL_RELEASE)

            def release(pool):
                services.pool_release_one(ctx=ctx, pool=pool)
                return f"{pool}: released."

            for_each(self, request, queryset, release)
            return None
        return confirmation(
            self,
            request,
            queryset,
            action="release",
            title="Release pools",
            template="admin/pools/action_confirm.html",
            explanation="Each pool stops being active: its idle addresses go back to the subnet, bound ones when "
            "their pods release them. The workload's next CreateIPPool starts a new pool.",
            submit="Release",
        )
