"""Console pages for pools: filter and inspect them (a pool's page lists its addresses), resize and
release them."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.paginator import Paginator

from core.choices import AdminAction, PoolState
from pools import selectors, services
from pools.admin.common import ReadOnlyChangeMixin, admin_ctx, confirmation, for_each, short_time
from pools.models import Address, Pool
from pools.templatetags.pools_admin import cut

ADDRESSES_PER_PAGE = 50


class ResizeForm(forms.Form):
    target = forms.IntegerField(min_value=0, max_value=2**31 - 1, label="new target (replicas)")


@admin.register(Pool)
class PoolAdmin(ReadOnlyChangeMixin, admin.ModelAdmin):
    list_display = ["workload", "subnet_name", "state", "target", "reserved", "bound", "idle", "surge", "updated"]
    list_filter = ["k8s_cluster_id", "namespace", "kind", "state", "subnet"]
    change_form_template = "admin/pools/pool/change_form.html"
    search_fields = ["name", "namespace", "k8s_cluster_id"]
    list_select_related = ["subnet"]
    actions = ["resize", "release"]

    def has_add_permission(self, request):
        return False  # pools come from the webhook's CreateIPPool

    def get_queryset(self, request):
        return selectors.pools_with_usage(super().get_queryset(request))

    @admin.display(description="workload", ordering="name")
    def workload(self, obj):
        return cut(obj, "long")

    @admin.display(description="subnet", ordering="subnet__subnet_id")
    def subnet_name(self, obj):
        return cut(obj.subnet.subnet_id)

    @admin.display(description="reserved", ordering="reserved_count")
    def reserved(self, obj):
        return obj.reserved_count

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, obj):
        return short_time(obj.updated_at)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The pool's page lists its addresses, a page at a time, each linking to its own page. In
        use or idle is the address's `idle_since`; which pod holds it is on the address's page."""
        pool = self.get_object(request, object_id)
        if pool is not None:
            addresses = Address.objects.filter(pool=pool).order_by("ip_key")
            page = Paginator(addresses, ADDRESSES_PER_PAGE).get_page(request.GET.get("addresses_page"))
            extra_context = {**(extra_context or {}), "addresses_page": page}
        return super().change_view(request, object_id, form_url, extra_context)

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
