"""Console pages for subnets: register and change them with their exclusions and the clusters
allowed to use them (grants, quotas), see their usage."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Sum
from django.http import HttpResponseRedirect

from core.choices import AdminAction
from core.errors import ServiceError
from pools import selectors, services
from pools.admin.common import NoDeleteMixin, admin_ctx, refused
from pools.models import Pool, Subnet, SubnetExclusion, SubnetGrant
from pools.templatetags.pools_admin import count_cell, utilization_bar


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
        definition["force"] = getattr(subnet, "ipresmgr_force", False)  # the subnet form's tick box
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


class GrantInline(admin.TabularInline):
    """The clusters allowed to use the subnet. Saved by the access service with the subnet (see
    SubnetAdmin.save_related): a removed row withdraws the grant, and each change is audited."""

    model = SubnetGrant
    fields = ["cluster", "quota", "reserved_here"]
    readonly_fields = ["reserved_here"]
    extra = 1
    verbose_name = "cluster allowed to use this subnet"
    verbose_name_plural = (
        "clusters allowed to use this subnet (once any is listed, only those may grow pools here; removing one "
        "refuses its growth only, its pools keep their addresses)"
    )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "cluster":  # clusters are registered on their own page (a token is shown once)
            widget = field.widget
            widget.can_add_related = widget.can_change_related = widget.can_view_related = False
        return field

    @admin.display(description="reserved here now")
    def reserved_here(self, grant):
        if grant.pk is None:
            return "-"
        pools = Pool.objects.filter(subnet_id=grant.subnet_id, k8s_cluster_id=grant.cluster.cluster_id)
        return pools.aggregate(n=Sum("reserved_count"))["n"] or 0


class SubnetForm(forms.ModelForm):
    force = forms.BooleanField(
        required=False,
        label="register even though the network is huge",
        help_text="A network larger than an IPv4 /8 or an IPv6 /32 (0.0.0.0/0, ::/0) is refused unless ticked.",
    )

    class Meta:
        model = Subnet
        fields = ["net_regional_id", "subnet_id", "cidr", "gateway", "open_without_grants"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            self.fields["open_without_grants"].initial = settings.IPRESMGR_SUBNETS_OPEN_BY_DEFAULT

    def clean(self):
        cleaned = super().clean()
        # The exclusions' formset checks the whole definition; it reads the tick box from here.
        self.instance.ipresmgr_force = bool(cleaned.get("force"))
        return cleaned


@admin.register(Subnet)
class SubnetAdmin(NoDeleteMixin, admin.ModelAdmin):
    form = SubnetForm
    inlines = [ExclusionInline, GrantInline]
    list_display = [
        "subnet_id",
        "net_regional_id",
        "cidr",
        "gateway",
        "access",
        "capacity",
        "reserved",
        "bound",
        "quarantined",
        "free",
        "use",
    ]
    list_filter = ["net_regional_id", "ip_version", "open_without_grants"]
    search_fields = ["subnet_id", "cidr", "net_regional_id"]

    def get_queryset(self, request):
        subnets = selectors.subnets_with_usage(super().get_queryset(request))
        return subnets.annotate(n_grants=Count("grants", distinct=True))

    @admin.display(description="access")
    def access(self, obj):
        if obj.n_grants:
            return f"{obj.n_grants} granted"
        return "every cluster" if obj.open_without_grants else "closed"

    def get_readonly_fields(self, request, obj=None):
        return ["net_regional_id", "subnet_id"] if obj else []

    @admin.display(description="capacity")
    def capacity(self, obj):
        return count_cell(selectors.usage(obj).capacity)

    @admin.display(description="reserved", ordering="n_reserved")
    def reserved(self, obj):
        return count_cell(selectors.usage(obj).reserved)

    @admin.display(description="bound", ordering="n_bound")
    def bound(self, obj):
        return count_cell(selectors.usage(obj).bound)

    @admin.display(description="quarantined", ordering="n_quarantined")
    def quarantined(self, obj):
        return count_cell(selectors.usage(obj).quarantined)

    @admin.display(description="free")
    def free(self, obj):
        return count_cell(selectors.usage(obj).free)

    @admin.display(description="utilization")
    def use(self, obj):
        return utilization_bar(selectors.usage(obj))

    def save_model(self, request, obj, form, change):
        pass  # saved with its exclusions in save_related, by the service

    def save_related(self, request, form, formsets, change):
        exclusions = next(f for f in formsets if isinstance(f, ExclusionFormSet)).exclusion_texts()
        grant_forms = next(f for f in formsets if f.model is SubnetGrant).forms
        grants = {
            f.cleaned_data["cluster"].cluster_id: f.cleaned_data.get("quota")
            for f in grant_forms
            if f.cleaned_data.get("cluster") and not f.cleaned_data.get("DELETE")
        }
        data = form.cleaned_data
        open_without_grants = data["open_without_grants"] and not grants  # moot while any cluster is granted
        subnet = form.instance
        try:
            if change:
                services.subnet_update(
                    ctx=admin_ctx(request, AdminAction.SUBNET_UPDATE),
                    subnet=subnet,
                    cidr=data["cidr"],
                    gateway=data["gateway"],
                    exclusions=exclusions,
                    force=data["force"],
                )
                services.subnet_access_set(
                    ctx=admin_ctx(request, AdminAction.SUBNET_ACCESS),
                    subnet=subnet,
                    grants=grants,
                    open_without_grants=open_without_grants,
                )
            else:
                registration = services.subnet_register(
                    ctx=admin_ctx(request, AdminAction.SUBNET_CREATE),
                    net_regional_id=data["net_regional_id"],
                    subnet_id=data["subnet_id"],
                    cidr=data["cidr"],
                    gateway=data["gateway"],
                    exclusions=exclusions,
                    grants=grants,
                    open_without_grants=open_without_grants,
                    force=data["force"],
                )
                subnet.pk = registration.subnet.pk
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
