"""Console pages for the audit log: search it, and ask who held an address at a given time.

The log grows by every call, so its list reads a bounded amount whatever its size: pages are
numbered up to the count bound (the newest IPRESMGR_READ_COUNT_BOUND events of the filters; older
ones by narrowing the date, cluster, Code...), every filter has an index, and a query too broad for
the read timeout shows a message and no rows instead of an error page (core/bounded_reads.py)."""

from __future__ import annotations

from functools import cached_property

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from audit import history, retention
from audit.models import AuditEvent
from core import addressing, bounded_reads
from pools.admin.common import cluster_ids, namespaces, short_time, value_filter
from pools.templatetags.pools_admin import cut


class WhoHeldForm(forms.Form):
    ip = forms.CharField(label="IP", max_length=39)
    at = forms.DateTimeField(label="at (UTC)", help_text="e.g. 2026-05-04 14:02")

    def clean_ip(self):
        try:
            return str(addressing.parse_ip(self.cleaned_data["ip"]))
        except ValueError:
            raise ValidationError("not an IPv4 or IPv6 address") from None


class BoundedCountPaginator(Paginator):
    """Counts up to the count bound, never the whole table: past it, the pages cover the newest
    `bound` rows and the page says there are more (`count_exact`)."""

    @cached_property
    def bounded(self) -> bounded_reads.BoundedCount:
        return bounded_reads.bounded_count(self.object_list)

    @cached_property
    def count(self) -> int:
        return self.bounded.n

    @property
    def count_exact(self) -> bool:
        return self.bounded.exact


class BoundedChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # A list that fits one page is shown whole; past the count bound, never more than the bound.
        if not self.paginator.count_exact:
            self.result_list = self.result_list[: self.paginator.count]


NARROW_CONSOLE = "the date, cluster, namespace, Code or admin action filters, or a search by IP, pod or ReqID"


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    # Fits 1366 px: every text a caller chose is cut short (whole on hover), so a refused call with
    # a 5,000-character name cannot stretch the table.
    # The ReqID is on each event's page (and the search finds it).
    list_display = ["time", "what", "code", "workload", "pod", "ip_cell", "who", "message"]
    list_filter = [
        ("at", admin.DateFieldListFilter),
        value_filter("k8s_cluster_id", "K8SClusterID", cluster_ids),
        value_filter("namespace", "K8SNamespace", namespaces),
        "req_type",
        "admin_action",
        "code",
    ]
    search_fields = ["ip", "pod_id", "req_id"]  # see get_search_results: exact, on indexes
    search_help_text = "An IP, a pod UID or a ReqID (exact). Any time range: ?at__gte=2026-05-04T14:00Z&at__lt=…"
    show_full_result_count = False  # no COUNT over the whole table
    # Half Django's default, as the pool page's addresses: each row renders cut texts with hovers,
    # and rendering, not the database, is most of a page's time.
    list_per_page = 50
    paginator = BoundedCountPaginator
    list_max_show_all = 0  # no "Show all" of the log

    def get_changelist(self, request, **kwargs):
        return BoundedChangeList

    def changelist_view(self, request, extra_context=None):
        """The list, read (and rendered: its rows are read then) under the read timeout. A query too
        broad for it gets the list's page with no rows and a message saying how to narrow it. Above
        the list: how far back it goes, and what is kept for longer."""
        extra_context = {"audit_retention": retention.retention_summary(), **(extra_context or {})}
        try:
            with bounded_reads.bounded_read(NARROW_CONSOLE):
                response = super().changelist_view(request, extra_context)
                if hasattr(response, "render"):
                    response.render()
                return response
        except bounded_reads.ReadTooBroad as exc:
            request.audit_read_refused = True
            self.message_user(request, exc.msg, messages.ERROR)
            return super().changelist_view(request, extra_context)

    def get_queryset(self, request):
        events = super().get_queryset(request)
        return events.none() if getattr(request, "audit_read_refused", False) else events

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

    @admin.display(description="at (UTC)", ordering="at")
    def time(self, obj):
        return format_html('<span title="{}">{}</span>', obj.at.isoformat(), short_time(obj.at))

    @admin.display(description="workload")
    def workload(self, obj):
        parts = [part for part in (obj.k8s_cluster_id, obj.namespace, obj.name) if part]
        return cut("/".join(parts) if parts else "-")

    @admin.display(description="K8SPodID")
    def pod(self, obj):
        return cut(obj.pod_id, "short")

    @admin.display(description="IP")
    def ip_cell(self, obj):
        return cut(obj.ip, "short")

    @admin.display(description="actor")
    def who(self, obj):
        return cut(obj.actor, "short")

    @admin.display(description="Msg")
    def message(self, obj):
        return cut(obj.msg)

    def get_urls(self):
        return [
            path("who-held/", self.admin_site.admin_view(self.who_held_view), name="audit_auditevent_who_held")
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
            "admin/audit/auditevent/who_held.html",
            {
                **self.admin_site.each_context(request),
                "title": "Who held an address",
                "opts": self.model._meta,
                "form": form,
                "holding": holding,
                "audit_retention": retention.retention_summary(),
            },
        )
