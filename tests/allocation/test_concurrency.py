"""Many threads, each on its own PostgreSQL connection, hitting one pool at once."""

import random
from collections import Counter

import pytest
from django.db.models import Count

from leases.consistency import find_violations
from leases.models import Lease
from pools.models import Address, Pool
from tests.support.api import V1
from tests.support.concurrency import THREADS, in_parallel

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def test_concurrent_requires_on_one_pool_get_distinct_addresses(cluster_token, subnet):
    V1(cluster_token).create_pool(176)  # surge ceil(176 * 25%) = 44: 220 in all
    pods = [f"pod-{n}" for n in range(230)]
    answers = in_parallel([lambda pod=pod: V1(cluster_token).require(pod).json() for pod in pods])
    granted = [a for a in answers if a["Code"] == 0]
    assert len(granted) == 220
    assert Counter(a["Code"] for a in answers) == {0: 220, 30: 10}
    assert len({a["IP"] for a in granted}) == 220
    assert len({a["MacAddr"] for a in granted}) == 220
    pool = Pool.objects.get()
    assert pool.reserved_count == Address.objects.count() == 220
    assert Address.objects.filter(lease__isnull=False).count() == 220


def test_concurrent_retries_of_one_pod_get_one_address(cluster_token, subnet):
    V1(cluster_token).create_pool(5)
    answers = in_parallel([lambda: V1(cluster_token).require("pod-1").json() for _ in range(20)])
    assert {a["Code"] for a in answers} == {0}
    assert len({a["IP"] for a in answers}) == 1
    assert Address.objects.filter(lease__pod_id="pod-1").count() == 1


def test_concurrent_creates_of_one_workload_make_one_pool(cluster_token, subnet):
    answers = in_parallel([lambda: V1(cluster_token).create_pool(10).json() for _ in range(20)])
    assert {a["Code"] for a in answers} == {0}
    assert Pool.objects.count() == 1 and Address.objects.count() == 10


def test_concurrent_require_and_release_leave_the_pool_consistent(cluster_token, subnet):
    V1(cluster_token).create_pool(20)  # surge 5
    rng = random.Random(7)
    pods = [f"pod-{n}" for n in range(30)]

    def churn(seed):
        client, local = V1(cluster_token), random.Random(seed)
        log = []
        for _ in range(12):
            pod = local.choice(pods)
            if local.random() < 0.55:
                log.append(("require", pod, client.require(pod).json()))
            else:
                log.append(("release", pod, client.release(pod).json()))
        return log

    seeds = [rng.random() for _ in range(THREADS)]
    logs = in_parallel([lambda seed=seed: churn(seed) for seed in seeds])
    codes = Counter(entry[2]["Code"] for log in logs for entry in log)
    assert set(codes) <= {0, 30}, codes
    pool = Pool.objects.get()
    assert pool.reserved_count == Address.objects.count()
    assert 20 <= pool.reserved_count <= 25
    per_pod = Lease.objects.values("pod_id").annotate(n=Count("pk"))
    assert all(row["n"] == 1 for row in per_pod)
    ips = list(Address.objects.values_list("ip", flat=True))
    assert len(ips) == len(set(ips))
    # Once everyone lets go, all addresses are idle and the pool is back at its target.
    in_parallel([lambda pod=pod: V1(cluster_token).release(pod).json() for pod in pods])
    pool.refresh_from_db()
    assert pool.reserved_count == Address.objects.count() == 20
    assert not Lease.objects.exists()


def test_requires_on_different_pools_do_not_interfere(cluster_token, subnet):
    client = V1(cluster_token)
    for name in ("a", "b", "c", "d"):
        client.create_pool(25, name=name)
    calls = [
        lambda n=n, name=name: V1(cluster_token).require(f"{name}-{n}", name=name).json()
        for name in "abcd"
        for n in range(25)
    ]
    answers = in_parallel(calls)
    assert {a["Code"] for a in answers} == {0}
    assert len({a["IP"] for a in answers}) == 100


def test_binds_racing_a_scale_down_leave_no_idle_address_beyond_the_target(cluster_token, subnet):
    """Binders take idle addresses without the pool's lock while a scale-down returns idle ones
    under it: whatever the interleaving, a pool above its target holds only bound addresses."""
    V1(cluster_token).create_pool(60)
    calls = [lambda n=n: V1(cluster_token).require(f"pod-{n}").json() for n in range(40)]
    calls.insert(20, lambda: V1(cluster_token).scale_pool(10).json())
    answers = in_parallel(calls)
    # Pods after the scale-down find a full pool and no surge left (10 + 3): Code 30, rightly.
    assert {a["Code"] for a in answers} <= {0, 30}
    pool = Pool.objects.get()
    bound = Lease.objects.count()
    assert pool.target == 10 and bound == sum(a["Code"] == 0 for a in answers) - 1  # less the scale
    assert pool.reserved_count == Address.objects.count()
    assert Address.objects.filter(idle_since__isnull=False).count() == max(0, pool.target - bound)
    assert find_violations() == []


def test_churn_racing_size_changes_keeps_every_count_exact(cluster_token, subnet):
    """Requires, releases, scales up and down and a surge all at once on one pool."""
    V1(cluster_token).create_pool(20)
    pods = [f"pod-{n}" for n in range(36)]
    targets = [30, 5, 25, 0, 15]

    def churn(seed):
        client, local = V1(cluster_token), random.Random(seed)
        codes = []
        for _ in range(10):
            pod = local.choice(pods)
            call = client.require if local.random() < 0.6 else client.release
            codes.append(call(pod).json()["Code"])
        return codes

    def resize(target):
        return [V1(cluster_token).scale_pool(target).json()["Code"]]

    calls = [lambda seed=seed: churn(seed) for seed in range(40)]
    for k, target in enumerate(targets):
        calls.insert(8 * k + 4, lambda target=target: resize(target))
    results = in_parallel(calls)
    assert {code for codes in results for code in codes} <= {0, 30}
    assert find_violations() == []
    pool = Pool.objects.get()
    assert pool.reserved_count == Address.objects.count()
    # Once every pod lets go, the pool holds exactly its target, all idle.
    in_parallel([lambda pod=pod: V1(cluster_token).release(pod).json() for pod in pods])
    pool.refresh_from_db()
    assert pool.reserved_count == Address.objects.count() == pool.target
    assert not Lease.objects.exists() and find_violations() == []


def test_releases_racing_a_pool_release_leave_no_idle_address_behind(cluster_token, subnet):
    """Pods let go while their workload's pool is released: with no grace, nothing stays idle."""
    client = V1(cluster_token)
    client.create_pool(30)
    for n in range(30):
        assert client.require(f"pod-{n}").json()["Code"] == 0
    calls = [lambda n=n: V1(cluster_token).release(f"pod-{n}").json() for n in range(30)]
    calls.insert(15, lambda: V1(cluster_token).release_pool().json())
    assert {a["Code"] for a in in_parallel(calls)} == {0}
    left = list(Address.objects.values_list("ip", "idle_since", "lease__pod_id"))
    assert not left and not Lease.objects.exists(), left
    assert Pool.objects.get().reserved_count == 0
    assert find_violations() == []
