"""What audit retention must keep about bindings: one of `manage.py prune_audit`'s keep rules (audit.retention).

Two readers of the audit log need a binding's RequireIP event for as long as the binding matters:
- `check_consistency` (leases.consistency, binding_not_audited): for every bound address, the
  latest successful RequireIP of its IP and SubnetID must name the pod and workload holding it.
- "Who held this IP" (audit.history.holder_at): the latest successful RequireIP up to the time
  asked, and, for "since", the first RequireIP of that pod for that IP after its last release.

So a successful RequireIP is kept, however old, when
1. its binding is still in force: a lease binds that IP of that subnet to that pod, bound at or
   before the event. That is the binding's first RequireIP (the lease's bound_at is its time) and
   every retry of it since, the latest one included. Retries never come before the binding, and
   older events of the IP are pruned oldest first, so who-held's "since" stays the binding's
   first event. Or
2. its binding ended only after the cutoff: the pod's release of that IP (its ReleaseIP, or a
   force-release from the console or the reconciler) is younger than the cutoff and no release of
   it by that pod came between the event and the cutoff. So "who held this IP" answers right for
   every time within the retention, not only for bindings that began within it.
Every other RequireIP older than the cutoff has a release older than the cutoff after it, or no
recorded end at all (events written by hand or a restored backup), and goes.

Lookups: the address by IP (address_ip_idx), the lease by address (its key), the releases by pod
(audit_pod_at_idx); a handful of index probes per RequireIP older than the cutoff. The releases
are looked up as scalar subqueries (LIMIT 1), not EXISTS: PostgreSQL may run an EXISTS as one
hashed scan of every release younger than the cutoff, i.e. of the whole retained log, per batch."""

from __future__ import annotations

from django.db import connection

from core.choices import AdminAction, Code, ReqType
from leases.tables import quoted_tables

RELEASE_OF_THE_BINDING = """
    r.pod_id = e.pod_id AND r.ip = e.ip AND r.code = %s AND (r.req_type = %s OR r.admin_action = %s)
"""


BINDING_PROOF = "the RequireIP events that prove a binding still in force, or one that ended within the retention"


def binding_proof(cutoff) -> tuple[str, list]:
    """audit.retention's keep rule for bindings: the SQL condition on the event `e`, and its params."""
    adapt = connection.ops.adapt_datetimefield_value
    release_params = [Code.SUCCESS, ReqType.RELEASE_IP, AdminAction.BINDING_FORCE_RELEASE]
    sql = """
    (e.req_type = %s OR e.admin_action = %s) AND e.code = %s AND (
        EXISTS (
            SELECT 1 FROM {address} a
            JOIN {subnet} s ON s.id = a.subnet_id JOIN {lease} l ON l.address_id = a.id
            WHERE a.ip = e.ip AND s.subnet_id = e.subnet_id AND l.pod_id = e.pod_id AND l.bound_at <= e.at
        )
        OR (
            (SELECT r.id FROM {event} r WHERE {release} AND r.at >= %s LIMIT 1) IS NOT NULL
            AND (SELECT r.id FROM {event} r WHERE {release} AND r.at >= e.at AND r.at < %s LIMIT 1) IS NULL
        )
    )
    """.format(**quoted_tables(), release=RELEASE_OF_THE_BINDING)
    params = [
        ReqType.REQUIRE_IP,
        AdminAction.BINDING_RESTORE,  # a binding reconcile restored is proven by that event
        Code.SUCCESS,
        *release_params,
        adapt(cutoff),
        *release_params,
        adapt(cutoff),
    ]
    return sql, params
