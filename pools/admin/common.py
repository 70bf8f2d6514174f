"""What every page of the operators' console shares: the actor of a change, refusals shown as
messages, confirmation pages, and the rule that nothing is deleted from here."""

from __future__ import annotations

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils import timezone

from core.choices import AdminAction
from core.domain import CallContext, admin_actor
from core.errors import ServiceError
from pools.models import Cluster, Pool


def short_time(value) -> str:
    """A time in a list column: `2026-05-04 14:02` (UTC), the full time on the row's own page."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "-"


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

    extra_readonly: tuple = ()

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return super().get_readonly_fields(request, obj)
        return [f.name for f in self.model._meta.concrete_fields if f.name != "id"] + list(self.extra_readonly)

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


def become(obj, saved) -> None:
    """Make the admin's unsaved form object the row a service saved (for the log and redirect)."""
    for field in saved._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False


def refused(modeladmin, request, what: str, exc: ServiceError) -> None:
    modeladmin.message_user(request, f"{what}: refused (Code {exc.code} {exc.code.label}): {exc.msg}", messages.ERROR)


def for_each(modeladmin, request, rows, act) -> None:
    """Run `act(row)` (one service call, returning what to tell the operator) for every row. A
    refusal is shown for its row, and the other rows still go ahead."""
    for row in rows:
        try:
            done = act(row)
        except ServiceError as exc:
            refused(modeladmin, request, str(row), exc)
        else:
            if done:
                modeladmin.message_user(request, done, messages.SUCCESS)


def confirmation(modeladmin, request, queryset, *, action: str, title: str, template: str, **context):
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


def value_filter(field: str, title: str, values):
    """A list filter whose choices come from a small table, not from DISTINCT over a big one."""

    class ValueFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            return [(v, v) for v in values()]

        def queryset(self, request, queryset):
            return queryset.filter(**{field: self.value()}) if self.value() else queryset

    ValueFilter.title = title
    return ValueFilter


def cluster_ids():
    return Cluster.objects.order_by("cluster_id").values_list("cluster_id", flat=True)[:500]


def namespaces():
    return Pool.objects.order_by("namespace").values_list("namespace", flat=True).distinct()[:500]
