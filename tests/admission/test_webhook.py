"""The admission webhook (POST /k8s/admission): AdmissionReviews in the apiserver's format create,
scale and release an annotated workload's pool through the pool services, audited; everything else
is allowed untouched; refusals and bad reviews answer what the apiserver can show."""

from __future__ import annotations

import pytest

from core.choices import AdminAction, Code, PoolState, ReqType
from pools import services
from pools.models import Address, Pool
from tests.support.admission import (
    ANNOTATION,
    KIND_NUMBER,
    SUBNET_VALUE,
    UNSET,
    WORKLOAD_KINDS,
    assert_denied,
    create,
    delete,
    pool_of,
    scale,
    update,
    webhook_events,
)
from tests.support.api import CLUSTER, command_ctx, make_subnet

# CREATE, UPDATE, DELETE of each kind -----------------------------------------------------------


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_create_of_an_annotated_workload_creates_its_pool(api, kind):
    body = create(kind, replicas=3)
    answer = api.admit(body)
    assert answer == {"uid": body["request"]["uid"], "allowed": True}
    pool = pool_of(kind)
    assert (pool.namespace, pool.subnet.subnet_id, pool.target, pool.reserved_count) == ("default", "subnet-a", 3, 3)
    assert pool.state == PoolState.ACTIVE
    [event] = webhook_events()
    assert (event.req_type, event.req_id, event.code) == (ReqType.CREATE_IP_POOL, body["request"]["uid"], Code.SUCCESS)
    assert (event.k8s_cluster_id, event.kind, event.name, event.subnet_id) == (
        CLUSTER,
        KIND_NUMBER[kind],
        "web",
        "subnet-a",
    )
    assert event.actor.startswith(f"cluster {CLUSTER} token ")


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_update_that_changes_the_replica_count_scales_the_pool(api, kind):
    api.admit(create(kind, replicas=3))
    body = update(kind, before={"replicas": 3}, after={"replicas": 5})
    assert api.admit(body)["allowed"] is True
    assert (pool_of(kind).target, pool_of(kind).reserved_count) == (5, 5)
    api.admit(update(kind, before={"replicas": 5}, after={"replicas": 1}))
    assert (pool_of(kind).target, pool_of(kind).reserved_count) == (1, 1)
    scale_event = webhook_events()[1]
    assert (scale_event.req_type, scale_event.req_id, scale_event.code) == (
        ReqType.SCALE_IP_POOL,
        body["request"]["uid"],
        Code.SUCCESS,
    )
    assert scale_event.detail["new_target"] == 5


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_delete_releases_the_pool(api, kind):
    api.admit(create(kind, replicas=3))
    body = delete(kind, replicas=3)
    assert body["request"]["object"] is None  # the apiserver sends the deleted object as oldObject
    assert api.admit(body)["allowed"] is True
    assert pool_of(kind).state == PoolState.RELEASED
    assert Address.objects.count() == 0  # idle addresses go back at once (no release grace)
    event = webhook_events()[-1]
    assert (event.req_type, event.req_id, event.code) == (ReqType.RELEASE_IP_POOL, body["request"]["uid"], Code.SUCCESS)


@pytest.mark.parametrize("kind", WORKLOAD_KINDS)
def test_an_absent_replica_count_is_kubernetes_default_of_one(api, kind):
    api.admit(create(kind, replicas=UNSET))
    assert pool_of(kind).target == 1


def test_zero_replicas_make_an_empty_pool_and_scaling_up_fills_it(api):
    api.admit(create(replicas=0))
    assert (pool_of().target, pool_of().reserved_count) == (0, 0)
    api.admit(update(before={"replicas": 0}, after={"replicas": 2}))
    assert pool_of().reserved_count == 2


def test_update_without_a_replica_change_changes_nothing(api):
    api.admit(create(replicas=3))
    body = update(before={"replicas": 3}, after={"replicas": 3, "pad": 10})  # e.g. a new image or label
    assert api.admit(body)["allowed"] is True
    assert len(webhook_events()) == 1
    assert pool_of().target == 3


def test_scale_subresource_scales_the_pool(api):
    """`kubectl scale` and the HorizontalPodAutoscaler change replicas through deployments/scale."""
    api.admit(create(replicas=3))
    body = scale(old_replicas=3, new_replicas=6)
    assert body["request"]["kind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert api.admit(body)["allowed"] is True
    assert (pool_of().target, pool_of().reserved_count) == (6, 6)
    api.admit(scale("StatefulSet", old_replicas=1, new_replicas=4))  # a StatefulSet with no pool: not managed
    assert pool_of("StatefulSet") is None


def test_scale_subresource_beyond_the_subnet_is_denied(api):
    api.admit(create(replicas=3))
    message = assert_denied(api.admit(scale(old_replicas=3, new_replicas=400)), Code.SUBNET_EXHAUSTED, 409)
    assert "nothing reserved" in message
    assert (pool_of().target, Address.objects.count()) == (3, 3)


def test_an_update_makes_good_a_scale_the_webhook_missed(api):
    """Scale requests are let through when IPResMgr is down (failurePolicy Ignore): the workload's
    next update sets the pool's target to its replica count, changed in that update or not."""
    api.admit(create(replicas=3))
    assert api.admit(update(before={"replicas": 5}, after={"replicas": 5, "pad": 10}))["allowed"] is True
    assert (pool_of().target, pool_of().reserved_count) == (5, 5)
    api.admit(scale(old_replicas=2, new_replicas=2))
    assert pool_of().target == 2


def test_update_of_a_workload_with_no_pool_creates_it(api):
    """An annotated workload made before the webhook was installed gets its pool at its next scale."""
    assert api.admit(update(before={"replicas": 2}, after={"replicas": 4}))["allowed"] is True
    assert (pool_of().target, pool_of().reserved_count) == (4, 4)
    assert webhook_events()[0].req_type == ReqType.CREATE_IP_POOL


# The annotation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", ["CREATE", "UPDATE", "DELETE"])
def test_a_workload_without_the_annotation_is_allowed_untouched(api, operation):
    bodies = {
        "CREATE": create(subnet=None),
        "UPDATE": update(before={"subnet": None, "replicas": 1}, after={"subnet": None, "replicas": 9}),
        "DELETE": delete(subnet=None),
    }
    assert api.admit(bodies[operation]) == {"uid": bodies[operation]["request"]["uid"], "allowed": True}
    assert Pool.objects.count() == 0 and webhook_events() == []


def test_annotation_added_on_update_creates_the_pool(api):
    api.admit(create(subnet=None))
    assert api.admit(update(before={"subnet": None}, after={"subnet": SUBNET_VALUE}))["allowed"] is True
    assert pool_of().reserved_count == 3


def test_changed_annotation_on_update_is_denied_as_a_pool_conflict(api):
    make_subnet("subnet-b", cidr="10.0.4.0/24", gateway="10.0.4.1")
    api.admit(create(replicas=3))
    body = update(before={"subnet": SUBNET_VALUE}, after={"subnet": "region-1/subnet-b"})
    message = assert_denied(api.admit(body), Code.POOL_CONFLICT, 409)
    assert "already has an active pool in subnet subnet-a" in message
    assert pool_of().subnet.subnet_id == "subnet-a" and Address.objects.count() == 3
    event = webhook_events()[-1]
    assert (event.req_type, event.code, event.req_id) == (
        ReqType.CREATE_IP_POOL,
        Code.POOL_CONFLICT,
        body["request"]["uid"],
    )


def test_removing_the_annotation_while_the_pool_is_active_is_denied(api):
    api.admit(create(replicas=2))
    body = update(before={"subnet": SUBNET_VALUE}, after={"subnet": None})
    message = assert_denied(api.admit(body), Code.POOL_CONFLICT, 409)
    assert f"{ANNOTATION}]: cannot be removed" in message
    assert pool_of().state == PoolState.ACTIVE
    # Once the pool is gone (released by an operator, say) the annotation may go.
    services.pool_release_one(ctx=command_ctx(AdminAction.POOL_RELEASE), pool=pool_of())
    assert api.admit(update(before={"subnet": SUBNET_VALUE}, after={"subnet": None}))["allowed"] is True


@pytest.mark.parametrize("value", ["subnet-a", "region-1/", "/subnet-a", "region-1/subnet-a/x", ""])
def test_a_malformed_annotation_is_denied_naming_it(api, value):
    message = assert_denied(api.admit(create(subnet=value)), Code.INVALID_REQUEST, 400)
    assert f"metadata.annotations[{ANNOTATION}]: must be <NetRegionalID>/<SubnetID>" in message
    assert Pool.objects.count() == 0


def test_an_unregistered_subnet_is_denied_with_code_10(api):
    message = assert_denied(api.admit(create(subnet="region-1/subnet-x")), Code.SUBNET_NOT_FOUND, 404)
    assert "'subnet-x' is not registered under NetRegionalID 'region-1'" in message
    assert Pool.objects.count() == 0


def test_the_pool_takes_the_subnets_registered_gateway(api):
    """The annotation names no gateway, so no Code 11: the subnet's own is taken."""
    make_subnet("subnet-v6", cidr="fd00:9::/64", gateway="fd00:9::1")
    assert api.admit(create(subnet="region-1/subnet-v6"))["allowed"] is True
    assert pool_of().subnet.gateway == "fd00:9::1"


# Refusals -----------------------------------------------------------------------------------------


def test_a_subnet_too_small_is_denied_with_code_12_and_nothing_reserved(api):
    body = create(replicas=300)  # a /24 has 253 usable addresses
    message = assert_denied(api.admit(body), Code.SUBNET_EXHAUSTED, 409)
    assert "has too few free addresses; 300 needed; nothing reserved" in message
    assert Pool.objects.count() == 0 and Address.objects.count() == 0
    [event] = webhook_events()
    assert (event.req_type, event.req_id, event.code) == (
        ReqType.CREATE_IP_POOL,
        body["request"]["uid"],
        Code.SUBNET_EXHAUSTED,
    )
    assert (event.k8s_cluster_id, event.name, event.subnet_id) == (CLUSTER, "web", "subnet-a")


def test_scaling_past_the_subnet_is_denied_and_keeps_the_pool(api):
    api.admit(create(replicas=3))
    assert_denied(api.admit(update(before={"replicas": 3}, after={"replicas": 300})), Code.SUBNET_EXHAUSTED, 409)
    assert (pool_of().target, Address.objects.count()) == (3, 3)
    assert webhook_events()[-1].req_type == ReqType.SCALE_IP_POOL


# dryRun -------------------------------------------------------------------------------------------


def test_dry_run_create_answers_as_for_real_and_changes_nothing(api):
    assert api.admit(create(replicas=3, dry_run=True))["allowed"] is True
    assert Pool.objects.count() == 0 and Address.objects.count() == 0 and webhook_events() == []
    assert_denied(api.admit(create(replicas=300, dry_run=True)), Code.SUBNET_EXHAUSTED, 409)
    assert webhook_events() == []


def test_dry_run_update_and_delete_change_nothing(api):
    api.admit(create(replicas=3))
    assert api.admit(update(before={"replicas": 3}, after={"replicas": 7}, dry_run=True))["allowed"] is True
    assert api.admit(delete(dry_run=True))["allowed"] is True
    pool = pool_of()
    assert (pool.state, pool.target, Address.objects.count()) == (PoolState.ACTIVE, 3, 3)
    assert len(webhook_events()) == 1


# Repeats: the apiserver may call twice -------------------------------------------------------------


def test_repeated_reviews_are_harmless(api):
    body = create(replicas=3)
    assert api.admit(body)["allowed"] is True
    assert api.admit(body)["allowed"] is True
    assert Pool.objects.count() == 1 and Address.objects.count() == 3
    scaled = update(before={"replicas": 3}, after={"replicas": 4})
    api.admit(scaled)
    api.admit(scaled)
    assert (pool_of().target, Address.objects.count()) == (4, 4)
    gone = delete(replicas=4)
    assert api.admit(gone)["allowed"] is True
    assert api.admit(gone)["allowed"] is True
    assert pool_of().state == PoolState.RELEASED
    events = webhook_events()
    assert all(event.code == Code.SUCCESS for event in events)
    # A repeated UPDATE finds the target already set: nothing to do, nothing audited.
    assert [event.req_type for event in events] == [ReqType.CREATE_IP_POOL] * 2 + [ReqType.SCALE_IP_POOL] + [
        ReqType.RELEASE_IP_POOL
    ] * 2


# Not ours ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Pod", "DaemonSet"])
def test_a_kind_ipresmgr_does_not_manage_is_allowed_untouched(api, kind):
    body = create(kind)  # annotated, all the same
    assert api.admit(body) == {"uid": body["request"]["uid"], "allowed": True}
    assert Pool.objects.count() == 0 and webhook_events() == []


def test_a_status_subresource_update_is_allowed_untouched(api):
    api.admit(create(replicas=3))
    body = update(before={"replicas": 3}, after={"replicas": 9})
    body["request"]["subResource"] = "status"
    assert api.admit(body)["allowed"] is True
    assert pool_of().target == 3


def test_a_job_made_by_a_cronjob_uses_the_cronjobs_pool(api):
    owner = {"apiVersion": "batch/v1", "kind": "CronJob", "name": "web", "uid": "c0", "controller": True}
    assert api.admit(create("Job", name="web-28930120", owner=owner))["allowed"] is True
    assert Pool.objects.count() == 0


def test_a_review_larger_than_v1_bodies_is_read(api):
    """/v1 bodies stop at 64 KiB; a review carries the whole object, twice on an UPDATE."""
    body = update(before={"replicas": 3, "pad": 150_000}, after={"replicas": 4, "pad": 150_000})
    api.admit(create(replicas=3))
    assert api.admit(body)["allowed"] is True
    assert pool_of().target == 4
