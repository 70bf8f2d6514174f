"""A release with Conflict racing requires on PostgreSQL: a quarantined address is never bound."""

from collections import Counter

import pytest

from leases.models import Lease
from pools.consistency import find_violations
from pools.models import Address, Pool, QuarantinedAddress
from tests.support.api import V1, make_subnet
from tests.support.concurrency import in_parallel

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def conflict(client: V1, pod: str, ip: str) -> dict:
    body = {**client.workload(), "K8SApiResourceID": "rid", "K8SPodID": pod, "IP": ip}
    body |= {"Conflict": True, "ConflictMacAddr": "52:54:00:00:00:01"}
    return client.post("/v1/ip/release", body).json()


def test_conflict_releases_racing_requires_never_bind_a_quarantined_address(cluster_token, db):
    # 13 addresses (.2-.14): replacements and surges wrap around to the quarantined ones.
    make_subnet("small", cidr="10.0.9.0/28", gateway="10.0.9.1")
    V1(cluster_token).create_pool(8, subnet_id="small", gateway="10.0.9.1")  # surge 2
    bound = {f"probe-{n}": V1(cluster_token).require(f"probe-{n}").json()["IP"] for n in range(4)}
    idle = list(Address.objects.filter(lease__isnull=True).order_by("idle_since", "id").values_list("ip", flat=True))
    calls = [lambda pod=pod, ip=ip: ("conflict", ip, conflict(V1(cluster_token), pod, ip)) for pod, ip in bound.items()]
    # The probe of a pod that never got the idle address: quarantined unless a require binds it first.
    calls += [lambda ip=ip: ("conflict", ip, conflict(V1(cluster_token), "probe-x", ip)) for ip in idle[:4]]
    calls += [lambda n=n: ("require", n, V1(cluster_token).require(f"pod-{n}").json()) for n in range(16)]
    results = in_parallel(calls)

    quarantined = set(QuarantinedAddress.objects.values_list("ip", flat=True))
    assert set(bound.values()) <= quarantined  # bound to the pod that reported: always quarantined
    handed_out = {answer["IP"] for what, _, answer in results if what == "require" and answer["Code"] == 0}
    assert not handed_out & quarantined
    assert not Lease.objects.filter(address__ip__in=quarantined).exists()
    assert not Address.objects.filter(ip__in=quarantined).exists()
    for what, ip, answer in results:
        if what == "conflict":
            assert answer["Code"] in (0, 31), answer
            assert (ip in quarantined) == (answer["Code"] == 0), (ip, answer)
    codes = Counter(answer["Code"] for what, _, answer in results if what == "require")
    assert set(codes) <= {0, 12, 30}, codes
    pool = Pool.objects.get()
    assert pool.reserved_count == Address.objects.filter(pool=pool).count()
    assert find_violations() == []
