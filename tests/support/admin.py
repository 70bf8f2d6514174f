"""Helpers for the console's tests: run an admin action the way the changelist form posts it."""

from __future__ import annotations

from django.urls import reverse

from audit.models import AuditEvent


def changelist(model: str) -> str:
    app = "audit" if model == "auditevent" else "pools"
    return reverse(f"admin:{app}_{model}_changelist")


def run_action(client, model: str, action: str, pks, *, confirm: bool = True, follow: bool = True, **extra):
    data = {"action": action, "_selected_action": [str(pk) for pk in pks], **extra}
    if confirm:
        data["post"] = "yes"
    return client.post(changelist(model), data, follow=follow)


def page_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def last_admin_event(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(admin_action=action).latest("at", "id")


def subnet_form(exclusions=(), existing=(), grants=(), existing_grants=(), **fields):
    """The subnet page's POST. `grants`: (cluster pk, quota) rows to add; `existing_grants`:
    (grant pk, cluster pk, quota, delete) rows shown on the page."""
    data = {
        "net_regional_id": "region-1",
        "subnet_id": "subnet-b",
        "cidr": "10.0.5.0/24",
        "gateway": "10.0.5.1",
        "open_without_grants": "on",
    }
    data.update({key: value for key, value in fields.items() if value is not None})
    for key in [key for key, value in fields.items() if value is None]:
        data.pop(key, None)
    grant_rows = list(existing_grants) + [(None, cluster, quota, False) for cluster, quota in grants]
    data.update(
        {
            "grants-TOTAL_FORMS": str(len(grant_rows)),
            "grants-INITIAL_FORMS": str(len(existing_grants)),
            "grants-MIN_NUM_FORMS": "0",
            "grants-MAX_NUM_FORMS": "1000",
        }
    )
    for i, (pk, cluster, quota, delete) in enumerate(grant_rows):
        data[f"grants-{i}-id"] = str(pk or "")
        data[f"grants-{i}-cluster"] = str(cluster)
        data[f"grants-{i}-quota"] = "" if quota is None else str(quota)
        if delete:
            data[f"grants-{i}-DELETE"] = "on"
    rows = list(existing) + [(None, first, last) for first, last in exclusions]
    data.update(
        {
            "exclusions-TOTAL_FORMS": str(len(rows)),
            "exclusions-INITIAL_FORMS": str(len(existing)),
            "exclusions-MIN_NUM_FORMS": "0",
            "exclusions-MAX_NUM_FORMS": "1000",
        }
    )
    for i, (pk, first, last) in enumerate(rows):
        data[f"exclusions-{i}-id"] = str(pk or "")
        data[f"exclusions-{i}-first_ip"] = first
        data[f"exclusions-{i}-last_ip"] = last
    return data
