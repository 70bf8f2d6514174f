"""The operators' console. Every change here calls the same services as the API, with the same
locks and checks, and the audit event names the admin user. Nothing is deleted from here."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from leases.services import binding_force_release
from pools import addressing, history, selectors, services
from pools.api import CLUSTER_ID
from pools.choices import AdminAction, PoolState
from pools.domain import CallContext, admin_actor
from pools.errors import ServiceError
from pools.models import Address, ApiToken, AuditEvent, Cluster, Pool, Subnet, SubnetExclusion

admin.site.site_header = "IPResMgr operators' console"
admin.site.site_title = "IPResMgr console"
admin.site.index_title = "Dashboard"
admin.site.index_template = "admin/ipresmgr_index.html"


def admin_ctx(request, action: AdminAction) -> CallContext:
    return CallContext(actor=admin_actor(request.user.get_username()), admin_action=action)


class NoDeleteMixin:
    """Rows go away only through services (returning addresses, purging pools), never by delete."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class ReadOnlyChangeMixin(NoDeleteMixin):
    """Change pages only show the row; changes are actions that call services."""

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return super().get_readonly_fields(request, obj)
        return [f.name for f in self.model._meta.concrete_fields if f.name != "id"] + list(self.extra_readonly)

    extra_readonly: tuple = ()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing on a change page is editable
        super().save_model(request, obj, form, change)


def _become(obj, saved) -> None:
    """Make the admin's unsaved form object the row a service saved (for the log and redirect)."""
    for field in saved._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False


def _refused(modeladmin, request, what: str, exc: ServiceError) -> None:
    modeladmin.message_user(request, f"{what}: refused (Code {exc.code} {exc.code.label}): {exc.msg}", messages.ERROR)


def _confirmation(modeladmin, request, queryset, *, action: str, title: str, template: str, **context):
    return TemplateResponse(
        request,
        template,
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "opts": modeladmin.model._meta,
            "queryset": queryset,
            "action": action,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            **context,
        },
    )


def _value_filter(field: str, title: str, values):
    """A list filter whose choices come from a small table, not from DISTINCT over a big one."""

    class ValueFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            return [(v, v) for v in values()]

        def queryset(self, request, queryset):
            return queryset.filter(**{field: self.value()}) if self.value() else queryset

    ValueFilter.title = title
    return ValueFilter


def _clusters():
    return Cluster.objects.order_by("cluster_id").values_list("cluster_id", flat=True)[:500]


def _namespaces():
    return Pool.objects.order_by("namespace").values_list("namespace", flat=True).distinct()[:500]


# Clusters and tokens ---------------------------------------------------------------------------


def _token_page(modeladmin, request, tokens: list[tuple[str, str]]):
    """The one and only page that shows new tokens; only their hashes are stored."""
    return TemplateResponse(
        request,
        "admin/pools/token_created.html",
        {**modeladmin.admin_site.each_context(request), "title": "Copy the new token now", "tokens": tokens},
    )


class ApiTokenInline(admin.TabularInline):
    model = ApiToken
    fields = ["prefix", "description", "created_at", "revoked_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class ClusterForm(forms.ModelForm):
    class Meta:
        model = Cluster
        fields = ["cluster_id", "description"]

    def clean_cluster_id(self):
        value = self.cleaned_data["cluster_id"]
        if not CLUSTER_ID.match(value):
            raise ValidationError("1-128 of letters, digits, '-', '_', '.'")
        return value


@admin.register(Cluster)
class ClusterAdmin(ReadOnlyChangeMixin, admin.ModelAdmin):
    form = ClusterForm
    list_display = ["cluster_id", "description", "live_tokens", "created_at"]
    search_fields = ["cluster_id", "description"]
    inlines = [ApiTokenInline]
    actions = ["issue_token"]

    @admin.display(description="live tokens")
    def live_tokens(self, obj):
        return obj.tokens.filter(revoked_at__isnull=True).count()

    def save_model(self, request, obj, form, change):
        if change:
            return
        cluster, key = services.cluster_create(
            ctx=admin_ctx(request, AdminAction.CLUSTER_CREATE),
            cluster_id=form.cleaned_data["cluster_id"],
            description=form.cleaned_data["description"],
        )
        _become(obj, cluster)
        request.ipresmgr_new_tokens = [(f"cluster {cluster.cluster_id}", key)]

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def response_add(self, request, obj, post_url_continue=None):
        return _token_page(self, request, request.ipresmgr_new_tokens)

    @admin.action(description="Issue a new token for the selected clusters", permissions=["change"])
    def issue_token(self, request, queryset):
        tokens = []
        for cluster in queryset:
            token, key = services.token_create(
                ctx=admin_ctx(request, AdminAction.TOKEN_CREATE), cluster=cluster, description="issued in console"
            )
            tokens.append((token.scope, key))
        return _token_page(self, request, tokens)


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["cluster", "description"]
        help_texts = {"cluster": "Leave empty for an operator token (acts on every cluster, manages subnets)."}


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyChangeMixin, admin.ModelAdmin):
    form = ApiTokenForm
    list_display = ["prefix", "scope", "description", "created_at", "revoked_at"]
    list_filter = ["is_operator", ("revoked_at", admin.EmptyFieldListFilter), "cluster"]
    search_fields = ["prefix", "description", "cluster__cluster_id"]
    list_select_related = ["cluster"]
    actions = ["revoke"]
    extra_readonly = ("key_hash",)

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, key = services.token_create(
            ctx=admin_ctx(request, AdminAction.TOKEN_CREATE),
            cluster=form.cleaned_data["cluster"],
            description=form.cleaned_data["description"],
        )
        _become(obj, token)
        request.ipresmgr_new_tokens = [(token.scope, key)]

    def response_add(self, request, obj, post_url_continue=None):
        return _token_page(self, request, request.ipresmgr_new_tokens)

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset:
            services.token_revoke(ctx=admin_ctx(request, AdminAction.TOKEN_REVOKE), token=token)
        self.message_user(request, f"{queryset.count()} token(s) revoked.", messages.SUCCESS)


# Subnets ---------------------------------------------------------------------------------------


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
    """Checks the whole definition (the subnet's fields and these exclusions) with the services'
    own checks, so that a refusal shows on the form and nothing is saved."""

    def exclusion_texts(self) -> list[str]:
        return [f.as_text() for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        subnet = self.instance
        if not subnet.cidr or not subnet.gateway:
            return
        try:
            services.subnet_validate(
                net_regional_id=subnet.net_regional_id,
                cidr=subnet.cidr,
                gateway=subnet.gateway,
                exclusions=[],
                subnet_pk=subnet.pk,
            )
        except ServiceError:
            return  # the subnet's own form shows this one
        try:
            if subnet.pk is None:
                services.subnet_validate(
                    net_regional_id=subnet.net_regional_id,
                    cidr=subnet.cidr,
                    gateway=subnet.gateway,
                    exclusions=self.exclusion_texts(),
                )
            else:
                services.subnet_check_update(
                    subnet=subnet, cidr=subnet.cidr, gateway=subnet.gateway, exclusions=self.exclusion_texts()
                )
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

    def clean(self):
        data = super().clean()
        region = data.get("net_regional_id", getattr(self.instance, "net_regional_id", ""))
        if data.get("cidr") and data.get("gateway"):
            try:
                services.subnet_validate(
                    net_regional_id=region,
                    cidr=data["cidr"],
                    gateway=data["gateway"],
                    exclusions=[],
                    subnet_pk=self.instance.pk,
                )
            except ServiceError as exc:
                raise ValidationError(exc.msg) from None
        return data


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

    def _usage(self, obj) -> selectors.SubnetUsage:
        if not hasattr(obj, "_ipresmgr_usage"):
            obj._ipresmgr_usage = selectors.usage(obj)
        return obj._ipresmgr_usage

    @admin.display(description="capacity")
    def capacity(self, obj):
        return self._usage(obj).capacity

    @admin.display(description="reserved", ordering="n_reserved")
    def reserved(self, obj):
        return self._usage(obj).reserved

    @admin.display(description="bound", ordering="n_bound")
    def bound(self, obj):
        return self._usage(obj).bound

    @admin.display(description="free")
    def free(self, obj):
        return self._usage(obj).free

    @admin.display(description="utilization")
    def use(self, obj):
        return utilization_bar(self._usage(obj))

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
            _refused(self, request, "Subnet", exc)
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


# Pools -----------------------------------------------------------------------------------------


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
            for pool in queryset:
                try:
                    services.pool_resize(
                        ctx=admin_ctx(request, AdminAction.POOL_RESIZE), pool=pool, target=form.cleaned_data["target"]
                    )
                    self.message_user(
                        request, f"{pool}: target is now {form.cleaned_data['target']}.", messages.SUCCESS
                    )
                except ServiceError as exc:
                    _refused(self, request, str(pool), exc)
            return None
        return _confirmation(
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
            for pool in queryset:
                try:
                    services.pool_release_one(ctx=admin_ctx(request, AdminAction.POOL_RELEASE), pool=pool)
                    self.message_user(request, f"{pool}: released.", messages.SUCCESS)
                except ServiceError as exc:
                    _refused(self, request, str(pool), exc)
            return None
        return _confirmation(
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


# Addresses -------------------------------------------------------------------------------------


class BindingFilter(admin.SimpleListFilter):
    title = "binding"
    parameter_name = "binding"

    def lookups(self, request, model_admin):
        return [("bound", "bound to a pod"), ("idle", "idle")]

    def queryset(self, request, queryset):
        if self.value() == "bound":
            return queryset.filter(pod_id__isnull=False)
        if self.value() == "idle":
            return queryset.filter(pod_id__isnull=True)
        return queryset


class HoldForm(forms.Form):
    reason = forms.CharField(required=False, max_length=150, help_text="kept with the exclusion")


@admin.register(Address)
class AddressAdmin(ReadOnlyChangeMixin, admin.ModelAdmin):
    list_display = ["ip", "subnet", "pool_link", "pod_id", "bound_at", "idle_since", "mac", "port_id"]
    list_filter = [
        BindingFilter,
        "subnet",
        _value_filter("pool__k8s_cluster_id", "K8SClusterID", _clusters),
        _value_filter("pool__namespace", "K8SNamespace", _namespaces),
    ]
    search_fields = ["ip", "mac", "port_id", "pod_id"]
    search_help_text = "An IP (exact), a MAC, a PortID or a pod UID (or part of one)."
    list_select_related = ["subnet", "pool"]
    actions = ["force_release", "hold", "return_idle"]

    def has_add_permission(self, request):
        return False  # addresses are reserved by pools

    def get_search_results(self, request, queryset, search_term):
        try:
            ip = addressing.parse_ip(search_term)
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(ip=str(ip)), False

    @admin.display(description="pool", ordering="pool")
    def pool_link(self, obj):
        url = reverse("admin:pools_pool_change", args=[obj.pool_id])
        return format_html('<a href="{}">{}</a>', url, obj.pool)

    @admin.action(description="Force-release the binding of the selected addresses", permissions=["change"])
    def force_release(self, request, queryset):
        if "post" in request.POST:
            for address in queryset:
                expected = request.POST.get(f"pod_{address.pk}")
                if not expected:
                    continue  # was not bound when the page was shown
                try:
                    outcome = binding_force_release(
                        ctx=admin_ctx(request, AdminAction.BINDING_FORCE_RELEASE),
                        address=address,
                        expected_pod_id=expected,
                    )
                    self.message_user(
                        request, f"{address.ip}: pod {expected} no longer holds it; {outcome}.", messages.SUCCESS
                    )
                except ServiceError as exc:
                    _refused(self, request, address.ip, exc)
            return None
        bound = [a for a in queryset if a.is_bound]
        idle = [a for a in queryset if not a.is_bound]
        return _confirmation(
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
            for address in queryset:
                try:
                    services.address_hold(
                        ctx=admin_ctx(request, AdminAction.ADDRESS_HOLD),
                        address=address,
                        reason=form.cleaned_data["reason"],
                    )
                    self.message_user(
                        request,
                        f"{address.ip}: held; excluded from subnet {address.subnet.subnet_id}.",
                        messages.SUCCESS,
                    )
                except ServiceError as exc:
                    _refused(self, request, address.ip, exc)
            return None
        return _confirmation(
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
        for address in queryset:
            try:
                services.address_return_idle(ctx=admin_ctx(request, AdminAction.ADDRESS_RETURN), address=address)
                self.message_user(
                    request, f"{address.ip}: returned to subnet {address.subnet.subnet_id}.", messages.SUCCESS
                )
            except ServiceError as exc:
                _refused(self, request, address.ip, exc)


# The audit log ---------------------------------------------------------------------------------


class WhoHeldForm(forms.Form):
    ip = forms.CharField(label="IP", max_length=39)
    at = forms.DateTimeField(label="at (UTC)", help_text="e.g. 2026-05-04 14:02")

    def clean_ip(self):
        try:
            return str(addressing.parse_ip(self.cleaned_data["ip"]))
        except ValueError:
            raise ValidationError("not an IPv4 or IPv6 address") from None


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "at",
        "what",
        "code",
        "k8s_cluster_id",
        "namespace",
        "name",
        "pod_id",
        "ip",
        "req_id",
        "actor",
        "msg",
    ]
    list_filter = [
        ("at", admin.DateFieldListFilter),
        _value_filter("k8s_cluster_id", "K8SClusterID", _clusters),
        _value_filter("namespace", "K8SNamespace", _namespaces),
        "req_type",
        "admin_action",
        "code",
    ]
    search_fields = ["ip", "pod_id", "req_id"]  # see get_search_results: exact, on indexes
    search_help_text = "An IP, a pod UID or a ReqID (exact). Any time range: ?at__gte=2026-05-04T14:00Z&at__lt=…"
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(pod_id=term) | Q(req_id=term)
        try:
            ip = str(addressing.parse_ip(term))
        except ValueError:
            pass
        else:
            match |= Q(ip=ip)
        return queryset.filter(match), False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="ReqType / admin action")
    def what(self, obj):
        return obj.get_req_type_display() if obj.req_type is not None else obj.get_admin_action_display()

    def get_urls(self):
        return [
            path("who-held/", self.admin_site.admin_view(self.who_held_view), name="pools_auditevent_who_held")
        ] + super().get_urls()

    def who_held_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = WhoHeldForm(request.GET or None)
        holding = None
        if form.is_valid():
            holding = history.holder_at(ip=form.cleaned_data["ip"], at=form.cleaned_data["at"])
        return TemplateResponse(
            request,
            "admin/pools/auditevent/who_held.html",
            {
                **self.admin_site.each_context(request),
                "title": "Who held an address",
                "opts": self.model._meta,
                "form": form,
                "holding": holding,
            },
        )
