"""`python manage.py reconcile` as a real process: its exit codes as a CronJob or a script sees them,
and kubectl's output piped in on stdin. A SQLite file of its own, set up by the same commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.kube import kubectl_list
from tests.support.reconcile import web

ROOT = Path(__file__).resolve().parents[2]

SETUP = """
from datetime import timedelta
from django.db.models import F
from leases import services as leases
from leases.models import Lease
from pools import services
from core.choices import AdminAction, ReqType
from core.domain import COMMAND_LINE, CallContext, Workload
from pools.models import Pool
services.subnet_create(ctx=CallContext(actor=COMMAND_LINE, admin_action=AdminAction.SUBNET_CREATE),
    net_regional_id="r", subnet_id="s", cidr="10.0.3.0/24", gateway="10.0.3.1", exclusions=[])
web = Workload("c1", "default", 0, "web")
services.pool_create(ctx=CallContext(actor=COMMAND_LINE, req_type=ReqType.CREATE_IP_POOL), workload=web,
    replicas=3, net_regional_id="r", subnet_id="s", gateway="10.0.3.1")
for pod in ("pod-a", "pod-b", "pod-c"):
    leases.ip_require(ctx=CallContext(actor=COMMAND_LINE, req_type=ReqType.REQUIRE_IP), workload=web, pod_id=pod)
Lease.objects.update(bound_at=F("bound_at") - timedelta(hours=1))
Pool.objects.update(created_at=F("created_at") - timedelta(hours=1), updated_at=F("updated_at") - timedelta(hours=1))
"""


@pytest.fixture(scope="module")
def manage(tmp_path_factory):
    """Runs manage.py in a process of its own on a SQLite file with c1's pool of pod-a, b, c."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["IPRESMGR_SQLITE_PATH"] = str(tmp_path_factory.mktemp("reconcile-process") / "db.sqlite3")

    def run(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    for step in (("migrate", "-v0"), ("create_cluster", "--cluster-id", "c1"), ("shell", "-c", SETUP)):
        done = run(*step)
        assert done.returncode == 0, done.stderr
    return run


def test_exit_codes_of_the_process(manage):
    leaky = json.dumps(kubectl_list(*web(["pod-b", "pod-c"])))
    clean = json.dumps(kubectl_list(*web(["pod-a", "pod-b", "pod-c"])))

    assert manage("reconcile", "--cluster-id", "c1", "--from-json", "-", stdin=clean).returncode == 0
    found = manage("reconcile", "--cluster-id", "c1", "--from-json", "-", stdin=leaky)
    assert found.returncode == 1
    assert "pod-a" in found.stdout and "kubectl JSON on stdin" in found.stdout
    assert "findings to act on" in found.stderr
    bad_argument = manage("reconcile", "--cluster-id", "c1", "--grace-seconds", "soon")
    assert bad_argument.returncode == 2 and "--grace-seconds" in bad_argument.stderr
    unknown = manage("reconcile", "--cluster-id", "c9", "--from-json", "-", stdin=clean)
    assert unknown.returncode == 2 and "not registered" in unknown.stderr
    cut = manage("reconcile", "--cluster-id", "c1", "--from-json", "-", "--apply", stdin=leaky[:100])
    assert cut.returncode == 2 and "is not complete JSON" in cut.stderr

    applied = manage("reconcile", "--cluster-id", "c1", "--from-json", "-", "--apply", "--output", "json", stdin=leaky)
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["BindingsFreed"] == 1
    assert manage("reconcile", "--cluster-id", "c1", "--from-json", "-", stdin=leaky).returncode == 0
    assert manage("check_consistency").returncode == 0
