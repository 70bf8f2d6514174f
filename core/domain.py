"""Small value types and name rules shared by services, views, admin and commands."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.choices import AdminAction, Kind, ReqType

# Kubernetes' own validation (apimachinery/pkg/util/validation), and SPEC.md's cluster IDs.
# Anchored, because the OpenAPI document shows them as JSON Schema patterns; match with fullmatch().
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
CLUSTER_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
CLUSTER_ID_RULE = "must be 1-128 of letters, digits, '-', '_', '.'"


def is_cluster_id(value: str) -> bool:
    return CLUSTER_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class Workload:
    cluster_id: str
    namespace: str
    kind: int
    name: str

    def __str__(self) -> str:
        return f"{self.cluster_id}/{self.namespace}/{Kind(self.kind).label}/{self.name}"

    def as_filter(self) -> dict:
        return {"k8s_cluster_id": self.cluster_id, "namespace": self.namespace, "kind": self.kind, "name": self.name}


@dataclass(frozen=True)
class Actor:
    """Who is calling: a cluster token, an operator token, an admin user, a command, or nobody."""

    label: str
    cluster_id: str | None = None  # the one cluster a cluster token may act on
    is_operator: bool = False

    def may_act_on(self, cluster_id: str) -> bool:
        return self.cluster_id is None or self.cluster_id == cluster_id


ANONYMOUS = Actor(label="anonymous")
COMMAND_LINE = Actor(label="manage.py", is_operator=True)


def admin_actor(username: str) -> Actor:
    return Actor(label=f"admin:{username}", is_operator=True)


@dataclass(frozen=True)
class CallContext:
    """What the audit log needs to know about the call a service is serving."""

    actor: Actor
    req_id: str = ""
    req_type: ReqType | None = None
    admin_action: AdminAction | str = ""
