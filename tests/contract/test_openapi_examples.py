"""Every example answer in the OpenAPI document is what the server really answers, so the docs
cannot drift from the code: each one is replayed against the demo data (`manage.py demo`) and
compared, but for values that differ on every run (MACs, PortIDs, times, row IDs, token prefixes).

Code 50 and Code 99 cannot be provoked from a test, nor a read timeout on SQLite; their examples
must carry the very Msg the code builds."""

from __future__ import annotations

import io
import json
import re
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from rest_framework.test import APIClient

from admission.openapi import CREATE_WEB
from admission.review import MAX_REVIEW_BYTES
from contract.framework.envelope import UNAVAILABLE_MSG, as_service_error
from contract.reads_openapi import EVENTS_NARROW_BY
from core.bounded_reads import too_broad_msg
from tests.support.openapi import VOLATILE, masked
from tests.support.reconcile import age, cluster_file, reconcile, web

VOLATILE |= {"StartedAt", "FinishedAt", "Since", "Source", "Seconds"}  # reconcile runs
VOLATILE |= {"QuarantinedAt"}
WORKLOAD = {"K8SApiResourceKind": 0, "K8SClusterID": "demo-cluster", "K8SNamespace": "default"}
WEB = {**WORKLOAD, "K8SApiResourceName": "web"}
CREATE = {
    **WEB,
    "K8SApiResourceReplicas": 3,
    "NetRegionalID": "region-1",
    "SubnetID": "subnet-demo",
    "SubnetGatewayAddr": "10.0.3.1",
}
POD = {"K8SApiResourceID": "deploy-uid-1", "K8SPodID": "pod-uid-1"}


class Demo:
    """The demo data, and callers with its tokens."""

    def __init__(self):
        out = io.StringIO()
        call_command("demo", stdout=out)
        text = out.getvalue()
        self.tokens = {
            "cluster": re.search(r"^Cluster token:\s+(\S+)", text, re.M).group(1),
            "operator": re.search(r"^Operator token:\s+(\S+)", text, re.M).group(1),
            None: None,
        }

    def call(self, method: str, path: str, body=None, *, token="cluster", raw: bytes | None = None, **headers):
        client = APIClient()
        if self.tokens[token]:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.tokens[token]}"
        if method == "get":
            return client.get(path, body or {}, **headers)
        if raw is not None:
            return client.generic("POST", path, raw, content_type=headers.pop("content_type"), **headers)
        return client.post(path, body, format="json", **headers)

    def pool_with_one_pod(self):
        assert self.call("post", "/v1/ippool/create", {"ReqID": "setup-1", **CREATE}).json()["Code"] == 0
        assert self.call("post", "/v1/ip/require", {"ReqID": "setup-2", **WEB, **POD}).json()["Code"] == 0


def contract_errors(path: str, body: dict, invalid: dict) -> dict:
    """How to provoke the refusals every contract POST documents."""
    return {
        ("400", "Code 1 InvalidRequest"): lambda d: d.call("post", path, {**body, **invalid}),
        ("413", "Code 1 InvalidRequest"): lambda d: d.call(
            "post", path, raw=b'{"pad": "' + b"x" * 70_000 + b'"}', content_type="application/json"
        ),
        ("415", "Code 1 InvalidRequest"): lambda d: d.call(
            "post", path, raw=json.dumps(body).encode(), content_type="text/plain"
        ),
        ("401", "Code 2 Unauthenticated"): lambda d: d.call("post", path, body, token=None),
    }


def forbidden(path: str, body: dict) -> dict:
    return {
        ("403", "Code 3 Forbidden"): lambda d: d.call("post", path, {**body, "K8SClusterID": "other-cluster"}),
    }


def read_scenarios(path: str, bad_filter: dict) -> dict:
    def page(demo):
        demo.pool_with_one_pod()
        return demo.call("get", path, {"Limit": 1})

    return {
        ("200", "A page"): page,
        ("400", "Code 1 InvalidRequest"): lambda d: d.call("get", path, bad_filter),
        ("401", "Code 2 Unauthenticated"): lambda d: d.call("get", path, token=None),
    }


REQUIRE = {"ReqID": "r2", **WEB, **POD}
RELEASE = {"ReqID": "r3", **WEB, **POD, "IP": "10.0.3.10"}
CONFLICT_RELEASE = {**RELEASE, "Conflict": True, "ConflictMacAddr": "52:54:00:ab:cd:ef"}
SCALE = {"ReqID": "r4", **WEB, "K8SApiResourceOldReplicas": 3, "K8SApiResourceNewReplicas": 5}
SUBNET_B = {
    "ReqID": "r6",
    "NetRegionalID": "region-1",
    "SubnetID": "subnet-b",
    "CIDR": "10.0.4.0/24",
    "Gateway": "10.0.4.1",
    "Exclude": ["10.0.4.2-10.0.4.9", "10.0.4.200"],
    "Grants": [{"K8SClusterID": "demo-cluster", "Quota": 100}],
}


def _then(setup, call):
    def run(demo):
        setup(demo)
        return call(demo)

    return run


def _create_pool(demo):
    assert demo.call("post", "/v1/ippool/create", {"ReqID": "setup-1", **CREATE}).json()["Code"] == 0


def _create_pool_in_v6(demo):
    body = {**CREATE, "ReqID": "setup-1", "SubnetID": "subnet-demo-v6", "SubnetGatewayAddr": "fd00:3::1"}
    assert demo.call("post", "/v1/ippool/create", body).json()["Code"] == 0


def _grant(subnet_id: str, cluster_id: str, *quota: str):
    """The operator grants the subnet to the cluster (registering the cluster if need be)."""

    def run(demo):
        if cluster_id != "demo-cluster":
            call_command("create_cluster", "--cluster-id", cluster_id, stdout=io.StringIO())
        quota_args = ("--quota", *quota) if quota else ()
        call_command(
            "grant_subnet", "--cluster-id", cluster_id, "--subnet-id", subnet_id, *quota_args, stdout=io.StringIO()
        )

    return run


def _fill_pool(demo):
    _create_pool(demo)
    for n in range(4):  # 3 idle addresses, then the surge of 1
        body = {"ReqID": f"setup-{n}", **WEB, **POD, "K8SPodID": f"other-pod-{n}"}
        assert demo.call("post", "/v1/ip/require", body).json()["Code"] == 0


def admission_review(replicas: int = 3, subnet: str = "region-1/subnet-demo", **changes) -> dict:
    """The documented CREATE review, with another replica count or annotation."""
    body = json.loads(json.dumps(CREATE_WEB))
    body.update(changes)
    body["request"]["object"]["spec"]["replicas"] = replicas
    body["request"]["object"]["metadata"]["annotations"]["ipresmgr.io/subnet"] = subnet
    return body


def _reconcile_run(demo):
    """A dry run of the demo cluster an hour later: pod-uid-1 is gone, pod-uid-2 runs."""
    demo.pool_with_one_pod()
    second_pod = {"ReqID": "setup-3", **WEB, **POD, "K8SPodID": "pod-uid-2"}
    assert demo.call("post", "/v1/ip/require", second_pod).json()["Code"] == 0
    age()
    with tempfile.TemporaryDirectory() as folder:
        path = cluster_file(Path(folder), *web(["pod-uid-2"]))
        assert reconcile("--from-json", path, cluster="demo-cluster")[0] == 1
    return demo.call("get", "/v1/reconcile/runs", {"Limit": 1}, token="operator")


SCENARIOS = {
    ("post", "/v1/ippool/create"): {
        ("200", "Code 0 Success"): lambda d: d.call("post", "/v1/ippool/create", {"ReqID": "r1", **CREATE}),
        **contract_errors("/v1/ippool/create", {"ReqID": "r1", **CREATE}, {"K8SApiResourceKind": 7}),
        **forbidden("/v1/ippool/create", {"ReqID": "r1", **CREATE}),
        ("404", "Code 10 SubnetNotFound"): lambda d: d.call(
            "post", "/v1/ippool/create", {"ReqID": "r1", **CREATE, "SubnetID": "subnet-x"}
        ),
        ("409", "Code 11 SubnetMismatch"): lambda d: d.call(
            "post", "/v1/ippool/create", {"ReqID": "r1", **CREATE, "SubnetGatewayAddr": "10.0.3.254"}
        ),
        ("409", "Code 12 SubnetExhausted"): lambda d: d.call(
            "post", "/v1/ippool/create", {"ReqID": "r1", **CREATE, "K8SApiResourceReplicas": 500}
        ),
        ("409", "Code 21 PoolConflict"): _then(
            _create_pool_in_v6, lambda d: d.call("post", "/v1/ippool/create", {"ReqID": "r1", **CREATE})
        ),
        ("403", "Code 3 Forbidden: subnet not granted"): _then(
            _grant("subnet-demo-v6", "other-cluster"),
            lambda d: d.call(
                "post",
                "/v1/ippool/create",
                {**CREATE, "ReqID": "r1", "SubnetID": "subnet-demo-v6", "SubnetGatewayAddr": "fd00:3::1"},
            ),
        ),
        ("409", "Code 12 SubnetExhausted: quota"): _then(
            _grant("subnet-demo", "demo-cluster", "2"),
            lambda d: d.call("post", "/v1/ippool/create", {"ReqID": "r1", **CREATE}),
        ),
    },
    ("post", "/v1/ippool/scale"): {
        ("200", "Code 0 Success"): _then(_create_pool, lambda d: d.call("post", "/v1/ippool/scale", SCALE)),
        **contract_errors("/v1/ippool/scale", SCALE, {"K8SApiResourceKind": 7}),
        **forbidden("/v1/ippool/scale", SCALE),
        ("404", "Code 20 PoolNotFound"): lambda d: d.call("post", "/v1/ippool/scale", SCALE),
        ("409", "Code 12 SubnetExhausted"): _then(
            _create_pool,
            lambda d: d.call("post", "/v1/ippool/scale", {**SCALE, "K8SApiResourceNewReplicas": 500}),
        ),
        ("403", "Code 3 Forbidden: subnet not granted"): _then(
            lambda d: (_create_pool(d), _grant("subnet-demo", "other-cluster")(d)),
            lambda d: d.call("post", "/v1/ippool/scale", SCALE),
        ),
        ("409", "Code 12 SubnetExhausted: quota"): _then(
            lambda d: (_create_pool(d), _grant("subnet-demo", "demo-cluster", "4")(d)),
            lambda d: d.call("post", "/v1/ippool/scale", SCALE),
        ),
    },
    ("post", "/v1/ippool/release"): {
        ("200", "Code 0 Success"): _then(
            _create_pool, lambda d: d.call("post", "/v1/ippool/release", {"ReqID": "r1", **WEB})
        ),
        **contract_errors("/v1/ippool/release", {"ReqID": "r1", **WEB}, {"K8SApiResourceKind": 7}),
        **forbidden("/v1/ippool/release", {"ReqID": "r1", **WEB}),
    },
    ("post", "/v1/ip/require"): {
        ("200", "Code 0 Success"): _then(_create_pool, lambda d: d.call("post", "/v1/ip/require", REQUIRE)),
        **contract_errors("/v1/ip/require", REQUIRE, {"K8SPodID": None}),
        **forbidden("/v1/ip/require", REQUIRE),
        ("404", "Code 20 PoolNotFound"): lambda d: d.call("post", "/v1/ip/require", REQUIRE),
        ("409", "Code 30 NoAddressAvailable"): _then(_fill_pool, lambda d: d.call("post", "/v1/ip/require", REQUIRE)),
    },
    ("post", "/v1/ip/release"): {
        ("200", "Code 0 Success"): _then(Demo.pool_with_one_pod, lambda d: d.call("post", "/v1/ip/release", RELEASE)),
        ("200", "Code 0 Success (quarantined)"): _then(
            Demo.pool_with_one_pod, lambda d: d.call("post", "/v1/ip/release", CONFLICT_RELEASE)
        ),
        **contract_errors("/v1/ip/release", RELEASE, {"K8SPodID": None}),
        **forbidden("/v1/ip/release", RELEASE),
        ("409", "Code 31 AddressConflict"): _then(
            Demo.pool_with_one_pod,
            lambda d: d.call("post", "/v1/ip/release", {**RELEASE, "K8SPodID": "pod-uid-2"}),
        ),
    },
    ("post", "/v1/subnets"): {
        ("200", "Code 0 Success"): lambda d: d.call("post", "/v1/subnets", SUBNET_B, token="operator"),
        ("400", "Code 1 InvalidRequest"): lambda d: d.call(
            "post", "/v1/subnets", {**SUBNET_B, "CIDR": "10.0.4.1/24"}, token="operator"
        ),
        ("400", "Code 1 InvalidRequest: network too large"): lambda d: d.call(
            "post", "/v1/subnets", {**SUBNET_B, "CIDR": "0.0.0.0/0", "Gateway": "0.0.0.1"}, token="operator"
        ),
        ("409", "Code 1 InvalidRequest"): lambda d: d.call(
            "post", "/v1/subnets", {**SUBNET_B, "SubnetID": "subnet-demo"}, token="operator"
        ),
        ("413", "Code 1 InvalidRequest"): lambda d: d.call(
            "post", "/v1/subnets", raw=b'{"pad": "' + b"x" * 70_000 + b'"}', content_type="application/json"
        ),
        ("415", "Code 1 InvalidRequest"): lambda d: d.call(
            "post", "/v1/subnets", raw=json.dumps(SUBNET_B).encode(), content_type="text/plain", token="operator"
        ),
        ("401", "Code 2 Unauthenticated"): lambda d: d.call("post", "/v1/subnets", SUBNET_B, token=None),
        ("403", "Code 3 Forbidden"): lambda d: d.call("post", "/v1/subnets", SUBNET_B),
    },
    ("post", "/k8s/admission"): {
        ("200", "Allowed: the pool is ready"): lambda d: d.call("post", "/k8s/admission", admission_review()),
        ("200", "Denied: Code 12 SubnetExhausted"): lambda d: d.call(
            "post", "/k8s/admission", admission_review(replicas=500)
        ),
        ("200", "Denied: Code 10 SubnetNotFound"): lambda d: d.call(
            "post", "/k8s/admission", admission_review(subnet="region-1/subnet-x")
        ),
        ("400", "Code 1 InvalidRequest"): lambda d: d.call(
            "post", "/k8s/admission", admission_review(apiVersion="admission.k8s.io/v1beta1")
        ),
        ("413", "Code 1 InvalidRequest"): lambda d: d.call(
            "post",
            "/k8s/admission",
            raw=b'{"pad": "' + b"x" * MAX_REVIEW_BYTES + b'"}',
            content_type="application/json",
        ),
        ("415", "Code 1 InvalidRequest"): lambda d: d.call(
            "post", "/k8s/admission", raw=json.dumps(admission_review()).encode(), content_type="text/plain"
        ),
        ("401", "Code 2 Unauthenticated"): lambda d: d.call("post", "/k8s/admission", admission_review(), token=None),
        ("403", "Code 3 Forbidden"): lambda d: d.call("post", "/k8s/admission", admission_review(), token="operator"),
    },
    ("get", "/v1/subnets"): read_scenarios("/v1/subnets", {"IPVersion": "5"}),
    ("get", "/v1/pools"): read_scenarios("/v1/pools", {"State": "gone"}),
    ("get", "/v1/addresses"): read_scenarios("/v1/addresses", {"IP": "not-an-ip"}),
    ("get", "/v1/quarantined-addresses"): {
        **read_scenarios("/v1/quarantined-addresses", {"IP": "not-an-ip"}),
        ("200", "A page"): _then(
            _then(Demo.pool_with_one_pod, lambda d: d.call("post", "/v1/ip/release", CONFLICT_RELEASE)),
            lambda d: d.call("get", "/v1/quarantined-addresses", {"Limit": 1}),
        ),
    },
    ("get", "/v1/events"): {
        **read_scenarios("/v1/events", {"Code": "7"}),
        ("400", "Code 1 InvalidRequest: Offset beyond the bound"): lambda d: d.call(
            "get", "/v1/events", {"Offset": settings.IPRESMGR_READ_OFFSET_MAX + 1}
        ),
    },
    ("get", "/v1/reconcile/runs"): {
        ("200", "A page"): _reconcile_run,
        ("400", "Code 1 InvalidRequest"): lambda d: d.call(
            "get", "/v1/reconcile/runs", {"Status": "done"}, token="operator"
        ),
        ("401", "Code 2 Unauthenticated"): lambda d: d.call("get", "/v1/reconcile/runs", token=None),
        ("403", "Code 3 Forbidden"): lambda d: d.call("get", "/v1/reconcile/runs"),
    },
}
FROM_CODE = {
    "Code 50 Unavailable": UNAVAILABLE_MSG,
    "Code 99 Internal": as_service_error(RuntimeError()).msg,
    # A read timeout is provoked on PostgreSQL only (tests/contract/test_bounded_reads.py).
    "Code 1 InvalidRequest: query too broad": too_broad_msg(EVENTS_NARROW_BY),
}


def documented_examples():
    """(method, path, status, summary, value) of every example answer in the document."""
    schema = json.loads(APIClient().get("/api/schema/", {"format": "json"}).content)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                examples = response.get("content", {}).get("application/json", {}).get("examples", {})
                assert examples, f"{method} {path} {status} documents no example answer"
                for example in examples.values():
                    yield method, path, status, example["summary"], example["value"]


def test_every_example_answer_is_what_the_server_answers(db):
    problems = []
    for method, path, status, summary, documented in documented_examples():
        if summary in FROM_CODE:
            # The /v1 envelope's Msg, or a Kubernetes Status's "IPResMgr Code <n> <name>: <Msg>".
            msg = documented["Msg"] if "Msg" in documented else documented["message"].split(": ", 1)[1]
            if msg != FROM_CODE[summary]:
                problems.append(f"{method} {path} {status} {summary}: Msg {msg!r} is not the code's")
            continue
        scenario = SCENARIOS.get((method, path), {}).get((status, summary))
        if scenario is None:
            problems.append(f"{method} {path} {status} {summary}: no scenario replays this example")
            continue
        with transaction.atomic():  # each replay starts from the demo data alone
            demo = Demo()
            answer = scenario(demo)
            real = answer.json()
            if summary == "A page":  # the document shows one row, in a page drf-spectacular makes
                real, documented = real["Results"][0], documented["Results"][0]
            elif str(answer.status_code) != status:
                problems.append(f"{method} {path} {status} {summary}: the server answered HTTP {answer.status_code}")
            if masked(real) != masked(documented):
                problems.append(f"{method} {path} {status} {summary}:")
                problems.append(f"  documented {masked(documented)}\n  real       {masked(real)}")
            transaction.set_rollback(True)
    assert not problems, "\n".join(problems)
