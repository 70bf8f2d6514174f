"""Count the SQL statements of one require and one release, through the whole HTTP stack.

Run by bench/run.py against the benchmark's database (DATABASE_URL); prints one JSON line."""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ipresmgr_site.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from core.choices import AdminAction  # noqa: E402
from core.domain import COMMAND_LINE, CallContext  # noqa: E402
from pools import services  # noqa: E402

CTX = CallContext(actor=COMMAND_LINE, admin_action=AdminAction.CLUSTER_CREATE)


def main() -> None:
    name = f"q{uuid.uuid4().hex[:8]}"
    _, token = services.cluster_create(ctx=CTX, cluster_id=name)
    subnet, _ = services.subnet_create(
        ctx=CTX, net_regional_id=name, subnet_id=name, cidr="10.9.0.0/24", gateway="10.9.0.1"
    )
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    workload = {
        "K8SClusterID": name,
        "K8SNamespace": "q",
        "K8SApiResourceKind": 0,
        "K8SApiResourceName": "q",
    }

    def post(path, body):
        answer = client.post(path, {**workload, **body}, content_type="application/json")
        assert answer.status_code == 200, answer.content
        return answer.json()

    post(
        "/v1/ippool/create",
        {
            "K8SApiResourceReplicas": 4,
            "NetRegionalID": name,
            "SubnetID": name,
            "SubnetGatewayAddr": "10.9.0.1",
        },
    )
    post("/v1/ip/require", {"K8SPodID": "warm"})  # first call of a process loads caches
    counts, sql = {}, {}
    for label, path, body in [
        ("require", "/v1/ip/require", {"K8SPodID": "p1"}),
        ("require_again", "/v1/ip/require", {"K8SPodID": "p1"}),
        ("release", "/v1/ip/release", {"K8SPodID": "p1", "IP": ""}),
        ("release_nothing", "/v1/ip/release", {"K8SPodID": "p1", "IP": ""}),
    ]:
        with CaptureQueriesContext(connection) as captured:
            post(path, body)
        counts[label] = len(captured.captured_queries)
        sql[label] = [q["sql"] for q in captured.captured_queries]
    print(json.dumps({**counts, "sql": sql}))


if __name__ == "__main__":
    main()
