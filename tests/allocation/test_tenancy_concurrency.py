"""Two clusters racing into the last addresses of a subnet and of a quota, each call on its own
PostgreSQL connection: the subnet's row lock serializes the reservations, so neither the quota nor
the subnet is ever overrun and nothing is reserved twice."""

from collections import Counter

import pytest

from core.choices import AdminAction
from pools import services
from pools.models import Address, Pool
from tests.support.api import V1, command_ctx, make_subnet
from tests.support.concurrency import in_parallel

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

SMALL = {"subnet_id": "subnet-small", "gateway": "10.1.0.1"}  # 10.1.0.0/28: 13 usable addresses


def reserved_by(cluster_id: str) -> int:
    return Address.objects.filter(pool__k8s_cluster_id=cluster_id).count()


def test_two_clusters_growing_into_the_last_addresses_never_pass_the_quota_or_the_subnet(
    cluster_token, other_cluster_token
):
    subnet = make_subnet("subnet-small", "10.1.0.0/28", "10.1.0.1")
    ctx = command_ctx(AdminAction.SUBNET_GRANT)
    services.subnet_grant(ctx=ctx, subnet=subnet, cluster_id="c1", quota=5)
    services.subnet_grant(ctx=ctx, subnet=subnet, cluster_id="c2")
    # c1 asks for 10 addresses against its quota of 5, c2 for 10 against what is left of 13.
    calls = [
        lambda n=n, token=token, cluster=cluster: (
            V1(token).create_pool(1, cluster=cluster, name=f"w{n}", **SMALL).json()
        )
        for n in range(10)
        for token, cluster in ((cluster_token, "c1"), (other_cluster_token, "c2"))
    ]
    answers = in_parallel(calls)
    assert Counter(a["Code"] for a in answers) == {0: 13, 12: 7}, Counter(a["Msg"] for a in answers)
    refusals = {a["Msg"].split(";")[0] for a in answers if a["Code"] == 12}
    assert refusals <= {
        "quota of cluster 'c1' in subnet subnet-small is 5 addresses",
        "subnet subnet-small (10.1.0.0/28) has too few free addresses",
    }
    assert reserved_by("c1") <= 5
    assert reserved_by("c1") + reserved_by("c2") == Address.objects.count() == 13
    ips = list(Address.objects.values_list("ip", flat=True))
    assert len(ips) == len(set(ips))
    for pool in Pool.objects.all():
        assert pool.reserved_count == pool.addresses.count()


def test_one_cluster_racing_into_its_quota_gets_exactly_the_quota(cluster_token):
    services.subnet_grant(
        ctx=command_ctx(AdminAction.SUBNET_GRANT),
        subnet=make_subnet("subnet-small", "10.1.0.0/28", "10.1.0.1"),
        cluster_id="c1",
        quota=7,
    )
    answers = in_parallel(
        [lambda n=n: V1(cluster_token).create_pool(2, name=f"w{n}", **SMALL).json() for n in range(12)]
    )
    assert Counter(a["Code"] for a in answers) == {0: 3, 12: 9}
    assert {a["Msg"].split(";")[0] for a in answers if a["Code"] == 12} == {
        "quota of cluster 'c1' in subnet subnet-small is 7 addresses"
    }
    assert reserved_by("c1") == 6
