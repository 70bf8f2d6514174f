"""Console pages for subnets: register and change them with their exclusions, see their usage."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.utils.html import format_html

from pools import selectors, services
from pools.admin.common import NoDeleteMixin, admin_ctx, refused
from pools.choices import AdminAction
from pools.errors import ServiceError
from pools.models import Subnet, SubnetExclusion


class ExclusionForm(forms.ModelForm):
    last_ip = forms.CharField(required=False, help_text="empty: just the first address")

    class Meta:
        model = SubnetExclusion
        fields = ["first_ip", "last_ip"]

    def clean_last_ip(self):
        return self.cleaned_data.get("last_ip") or self.cleaned_data.get("first_ip", "")

    def as_text(self) -> str:
        first, last = self.cleaned_data["first_ip"], self.cleaned_data["last_ip"]
        return first if not last or last == first else f"{first}-{last}"


class ExclusionFormSet(forms.BaseInlineFormSet):
    """Checks the whole definition (the subnet's fields and these exclusions) once, with the
    services' own check, so that a refusal shows on the page and nothing is saved. (The service
    checks again when it saves, under the subnet's lock.)"""

    def exclusion_texts(self) -> list[str]:
        return [f.as_text() for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        subnet = self.instance
        if not subnet.cidr or not subnet.gateway:
            return  # the subnet's own form shows what is missing
        definition = {"cidr": subnet.cidr, "gateway": subnet.gateway, "exclusions": self.exclusion_texts()}
        try:
            if subnet.pk is None:
                services.subnet_definition_check(net_regional_id=subnet.net_regional_id, **definition)
            else:
                services.subnet_change_check(subnet=subnet, **definition)
        except ServiceError as exc:
            raise ValidationError(exc.msg) from None


class ExclusionInline(admin.TabularInline):
    model = SubnetExclusion
    form = ExclusionForm
    formset = ExclusionFormSet
    fields = ["first_ip", "last_ip", "reason"]
    readonly_fields = ["reason"]
    extra = 1
    verbose_name = "excluded address or range"
    verbose_name_plural = "excluded addresses and ranges (never handed out)"


class SubnetForm(forms.ModelForm):
    class Meta:
        model = Subnet
        fields = ["net_regional_id", "subnet_id", "cidr", "gateway"]


def utilization_bar(use: selectors.SubnetUsage):
    color = "#ba2121" if use.percent >= 90 else "#e6a700" if use.percent >= 70 else "#417690"
    return format_html(
        '<div class="ipresmgr-bar" title="{}% reserved" style="width:120px;background:#ddd;display:inline-block">'
        '<div style="width:{}%;background:{};height:10px"></div></div> {}%',
        use.percent,
        use.percent,
        color,
        use.percent,
    )


@admin.register(Subnet)
class SubnetAdmin(NoDeleteMixin, admin.ModelAdmin):
    form = SubnetForm
    inlines = [ExclusionInline]
    list_display = ["subnet_id", "net_regional_id", "cidr", "gateway", "capacity", "reserved", "bound", "free", "use"]
    list_filter = ["net_regional_id", "ip_version"]
    search_fields = ["subnet_id", "cidr", "net_regional_id"]

    def get_queryset(self, request):
        return selectors.subnets_with_usage(super().get_queryset(request))

    def get_readonly_fields(self, request, obj=None):
        return ["net_regional_id", "subnet_id"] if obj else []

    @admin.display(description="capacity")
    def capacity(self, obj):
        return selectors.usage(obj).capacity

    @admin.display(description="reserved", ordering="n_reserved")
    def reserved(self, obj):
        return selectors.usage(obj).reserved

    @admin.display(description="bound", ordering="n_bound")
    def bound(self, obj):
        return selectors.usage(obj).bound

    @admin.display(description="free")
    def free(self, obj):
        return selectors.usage(obj).free

    @admin.display(description="utilization")
    def use(self, obj):
        return utilization_bar(selectors.usage(obj))

    def save_model(self, request, obj, form, change):
        pass  # saved with its exclusions in save_related, by the service

    def save_related(self, request, form, formsets, change):
        formset = next(f for f in formsets if isinstance(f, ExclusionFormSet))
        exclusions = formset.exclusion_texts()
        data = form.cleaned_data
        subnet = form.instance
        try:
            if change:
                services.subnet_update(
                    ctx=admin_ctx(request, AdminAction.SUBNET_UPDATE),
                    subnet=subnet,
                    cidr=data["cidr"],
                    gateway=data["gateway"],
                    exclusions=exclusions,
                )
            else:
                created, _ = services.subnet_create(
                    ctx=admin_ctx(request, AdminAction.SUBNET_CREATE),
                    net_regional_id=data["net_regional_id"],
                    subnet_id=data["subnet_id"],
                    cidr=data["cidr"],
                    gateway=data["gateway"],
                    exclusions=exclusions,
                )
                subnet.pk = created.pk
        except ServiceError as exc:  # changed by someone else since the form was checked
            refused(self, request, "Subnet", exc)
            transaction.set_rollback(True)
            request.ipresmgr_refused = True
        for f in formsets:
            f.new_objects, f.changed_objects, f.deleted_objects = [], [], []

    def response_add(self, request, obj, post_url_continue=None):
        if getattr(request, "ipresmgr_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if getattr(request, "ipresmgr_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)
