"""Small value types shared by services, views, admin and commands."""

from __future__ import annotations

from dataclasses import dataclass

from pools.choices import AdminAction, Kind, ReqType


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
