"""Operator commands with the names and output SPEC.md fixes."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from pools.models import ApiToken, Subnet, SubnetGrant
from tests.support.api import V1


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_create_cluster_prints_a_working_token_on_the_last_line():
    token = run("create_cluster", "--cluster-id", "prod-1").strip().splitlines()[-1]
    run("create_subnet", "--net-regional-id", "r", "--subnet-id", "s", "--cidr", "10.1.0.0/24", "--gateway", "10.1.0.1")
    client = V1(token)
    body = client.create_pool(1, cluster="prod-1", region="r", subnet_id="s", gateway="10.1.0.1")
    assert body.json()["Code"] == 0
    assert client.create_pool(1, cluster="other", region="r", subnet_id="s", gateway="10.1.0.1").json()["Code"] == 3


@pytest.mark.django_db
def test_create_cluster_twice_is_refused():
    run("create_cluster", "--cluster-id", "prod-1")
    with pytest.raises(CommandError):
        run("create_cluster", "--cluster-id", "prod-1")


@pytest.mark.django_db
def test_create_token_for_operator_and_for_cluster():
    operator_key = run("create_token", "--operator").strip().splitlines()[-1]
    assert ApiToken.objects.get(key_hash=ApiToken.hash_key(operator_key)).is_operator
    run("create_cluster", "--cluster-id", "prod-1")
    cluster_key = run("create_token", "--cluster-id", "prod-1").strip().splitlines()[-1]
    token = ApiToken.objects.get(key_hash=ApiToken.hash_key(cluster_key))
    assert token.cluster.cluster_id == "prod-1" and not token.is_operator
    with pytest.raises(CommandError):
        run("create_token", "--cluster-id", "unknown")


@pytest.mark.django_db
def test_create_subnet_with_exclusions():
    out = run(
        "create_subnet",
        *("--net-regional-id", "r", "--subnet-id", "s", "--cidr", "10.1.0.0/24", "--gateway", "10.1.0.1"),
        *("--exclude", "10.1.0.2-10.1.0.20", "--exclude", "10.1.0.99"),
    )
    assert "s" in out
    subnet = Subnet.objects.get(subnet_id="s")
    assert sorted(subnet.exclusions.values_list("first_ip", "last_ip")) == [
        ("10.1.0.2", "10.1.0.20"),
        ("10.1.0.99", "10.1.0.99"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cidr", "gateway", "exclude"),
    [
        ("10.1.0.1/24", "10.1.0.1", []),  # host bits set
        ("10.1.0.0/24", "10.2.0.1", []),  # gateway outside
        ("10.1.0.0/24", "10.1.0.0", []),  # gateway is the network address
        ("10.1.0.0/24", "10.1.0.1", ["10.9.0.1"]),  # exclusion outside
        ("10.1.0.0/24", "10.1.0.1", ["10.1.0.9-10.1.0.2"]),  # backwards range
        ("nonsense", "10.1.0.1", []),
    ],
)
def test_create_subnet_refuses_bad_definitions(cidr, gateway, exclude):
    args = ["--net-regional-id", "r", "--subnet-id", "s", "--cidr", cidr, "--gateway", gateway]
    for item in exclude:
        args += ["--exclude", item]
    with pytest.raises(CommandError):
        run("create_subnet", *args)
    assert not Subnet.objects.exists()


@pytest.mark.django_db
def test_overlapping_subnets_in_one_region_are_refused_but_not_across_regions():
    run("create_subnet", "--net-regional-id", "r", "--subnet-id", "a", "--cidr", "10.1.0.0/24", "--gateway", "10.1.0.1")
    with pytest.raises(CommandError, match="overlaps"):
        run(
            "create_subnet",
            "--net-regional-id",
            "r",
            "--subnet-id",
            "b",
            "--cidr",
            "10.1.0.0/25",
            "--gateway",
            "10.1.0.1",
        )
    run(
        "create_subnet", "--net-regional-id", "r2", "--subnet-id", "c", "--cidr", "10.1.0.0/24", "--gateway", "10.1.0.1"
    )
    assert Subnet.objects.count() == 2


@pytest.mark.django_db
def test_demo_sets_up_data_and_prints_curls():
    out = run("demo")
    assert "curl" in out and "/v1/ip/require" in out
    assert Subnet.objects.filter(subnet_id="subnet-demo").exists()
    run("demo")  # again: harmless


@pytest.mark.django_db
def test_grant_subnet_and_revoke_subnet_set_who_may_grow_pools_there():
    run("create_cluster", "--cluster-id", "prod-1")
    token = run("create_cluster", "--cluster-id", "prod-2").strip().splitlines()[-1]
    run("create_subnet", "--net-regional-id", "r", "--subnet-id", "s", "--cidr", "10.1.0.0/24", "--gateway", "10.1.0.1")
    out = run("grant_subnet", "--cluster-id", "prod-1", "--subnet-id", "s", "--quota", "10")
    assert out.strip() == (
        "cluster prod-1 granted subnet s with a quota of 10 addresses; the subnet now serves granted clusters only"
    )
    assert "nothing to do" in run("grant_subnet", "--cluster-id", "prod-1", "--subnet-id", "s", "--quota", "10")
    assert "-> no quota" in run("grant_subnet", "--cluster-id", "prod-1", "--subnet-id", "s")
    client = V1(token)
    body = client.create_pool(1, cluster="prod-2", region="r", subnet_id="s", gateway="10.1.0.1").json()
    assert body["Code"] == 3 and "may not use subnet s" in body["Msg"]
    run("grant_subnet", "--cluster-id", "prod-2", "--subnet-id", "s", "--quota", "1")
    assert client.create_pool(1, cluster="prod-2", region="r", subnet_id="s", gateway="10.1.0.1").json()["Code"] == 0
    out = run("revoke_subnet", "--cluster-id", "prod-2", "--subnet-id", "s")
    assert out.startswith("grant of subnet s to cluster prod-2 withdrawn; its pools keep the 1 addresses")
    assert "nothing to do" in run("revoke_subnet", "--cluster-id", "prod-2", "--subnet-id", "s")
    assert SubnetGrant.objects.get().cluster.cluster_id == "prod-1"
    actions = AuditEvent.objects.filter(actor="manage.py", admin_action__startswith="subnet_g")
    assert actions.count() == 3  # two grants, one quota change; repeats are not events


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("grant_subnet", "--cluster-id", "nobody", "--subnet-id", "s"), "cluster 'nobody' is not registered"),
        (("grant_subnet", "--cluster-id", "prod-1", "--subnet-id", "nope"), "subnet 'nope' is not registered"),
        (("grant_subnet", "--cluster-id", "prod-1", "--subnet-id", "s", "--quota", "-1"), "must not be negative"),
        (("revoke_subnet", "--cluster-id", "nobody", "--subnet-id", "s"), "cluster 'nobody' is not registered"),
    ],
)
def test_grant_and_revoke_refuse_unknown_names(args, error):
    run("create_cluster", "--cluster-id", "prod-1")
    run("create_subnet", "--net-regional-id", "r", "--subnet-id", "s", "--cidr", "10.1.0.0/24", "--gateway", "10.1.0.1")
    with pytest.raises(CommandError, match=error):
        run(*args)
    assert not SubnetGrant.objects.exists()


@pytest.mark.django_db
def test_create_subnet_refuses_an_absurdly_large_network():
    with pytest.raises(CommandError, match="0.0.0.0/0 is far too large"):
        run(
            "create_subnet", "--net-regional-id", "r", "--subnet-id", "s", "--cidr", "0.0.0.0/0", "--gateway", "0.0.0.1"
        )
    assert not Subnet.objects.exists()
