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
