"""Console pages for clusters and their tokens. A new token is shown once, on its own page."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from core.choices import AdminAction
from core.domain import CLUSTER_ID_RULE, is_cluster_id
from pools import services
from pools.admin.common import ReadOnlyChangeMixin, admin_ctx, become
from pools.models import ApiToken, Cluster


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
        if not is_cluster_id(value):  # the service checks it too; here it shows on the form
            raise ValidationError(CLUSTER_ID_RULE)
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
        become(obj, cluster)
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
        become(obj, token)
        request.ipresmgr_new_tokens = [(token.scope, key)]

    def response_add(self, request, obj, post_url_continue=None):
        return _token_page(self, request, request.ipresmgr_new_tokens)

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        for token in queryset:
            services.token_revoke(ctx=admin_ctx(request, AdminAction.TOKEN_REVOKE), token=token)
        self.message_user(request, f"{queryset.count()} token(s) revoked.", messages.SUCCESS)
