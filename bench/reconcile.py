#!/usr/bin/env python3
"""How long `manage.py reconcile` takes, and how much memory, on a big cluster: 100,000 bound
addresses against 100,000 live pods (by default), of which 1,000 bindings belong to pods that are
gone and 1,000 live pods' bindings were lost (as by a database failover: the address idle again,
the pod still showing it in status.podIPs). Not a test: it prints numbers (docs/benchmarks.md, "Reconcile").

    .venv/bin/python bench/reconcile.py                      # the full run (~5 min on 2 cores)
    .venv/bin/python bench/reconcile.py --bindings 5000 --pods 5000 --leaked 50   # a quick one

It creates its own PostgreSQL database (`ipr_reconcile_bench` on 127.0.0.1:5432, dropped at the
end; --database-url to change), reserves and binds the addresses (services for the pools, bulk
inserts for the bindings), serves the cluster's objects from the fake API server of the tests
(tests/support/kube.py, HTTP on 127.0.0.1:8900-8999, pages pre-encoded so that serving costs little) and
writes them as kubectl's JSON too. Each run is `manage.py reconcile` in a process of its own;
its wall time and peak resident memory (wait4's, of a process forked from a small parent) are
what is printed."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ipr_reconcile_bench"
CLUSTER = "bench-cluster"
NAMESPACE = "bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--bindings", type=int, default=100_000, help="bound addresses in the database")
    parser.add_argument("--pods", type=int, default=100_000, help="live pods in the cluster")
    parser.add_argument("--leaked", type=int, default=1_000, help="bindings whose pod is gone")
    parser.add_argument("--lost", type=int, default=1_000, help="live pods whose binding the database lost")
    parser.add_argument("--pool-size", type=int, default=1_000, help="addresses per pool (one Deployment each)")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    if not 0 <= args.leaked <= args.bindings or args.bindings - args.leaked > args.pods:
        parser.error("need 0 <= --leaked <= --bindings and --bindings - --leaked <= --pods")
    if not 0 <= args.lost <= args.bindings - args.leaked:
        parser.error("need 0 <= --lost <= --bindings - --leaked")

    database = args.database_url
    create_database(database)
    env = {**os.environ, "DATABASE_URL": database, "DJANGO_SETTINGS_MODULE": "ipresmgr_site.settings"}
    env["IPRESMGR_DB_STATEMENT_TIMEOUT_MS"] = "120000"  # the bulk set-up, not the runs, needs it
    os.environ.update(env)
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        results = run_bench(args, env)
    finally:
        if not args.keep_database:
            drop_database(database)
    print_results(args, results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def run_bench(args, env: dict) -> dict:
    import django

    django.setup()
    from tests.support.kube import FakeKubeAPI, kubectl_list

    started = time.monotonic()
    bound_pods = set_up_database(args)
    setup_seconds = time.monotonic() - started
    objects = cluster_objects(args, bound_pods)
    with tempfile.TemporaryDirectory(prefix="ipr-reconcile-bench-") as folder:
        folder = Path(folder)
        json_file = folder / "cluster.json"
        json_file.write_text(json.dumps(kubectl_list(*objects), sort_keys=True))
        api = FakeKubeAPI(objects).start()
        del objects
        try:
            prewarm(api, args.page_size)
            kubeconfig = api.kubeconfig(folder / "kubeconfig")
            common = ["reconcile", "--cluster-id", CLUSTER, "--output", "json", "--page-size", str(args.page_size)]
            api_source = ["--kubeconfig", str(kubeconfig)]
            runs = {
                "startup only (manage.py reconcile --help)": measure(env, ["reconcile", "--help"]),
                "dry run, kubernetes client (paged)": measure(env, [*common, *api_source]),
                "dry run, kubectl JSON file": measure(env, [*common, "--from-json", str(json_file)]),
                "--apply, kubernetes client (paged)": measure(env, [*common, *api_source, "--apply"]),
                "dry run right after": measure(env, [*common, *api_source]),
            }
        finally:
            api.stop()
        json_megabytes = json_file.stat().st_size / 2**20
    return {
        "machine": machine(),
        "bindings": args.bindings,
        "live_pods": args.pods,
        "leaked": args.leaked,
        "lost": args.lost,
        "pools": -(-args.bindings // args.pool_size),
        "page_size": args.page_size,
        "setup_seconds": round(setup_seconds, 1),
        "kubectl_json_megabytes": round(json_megabytes, 1),
        "runs": runs,
    }


def set_up_database(args) -> list[tuple[str, str]]:
    """Pools of `pool_size` through the services, every address bound (bulk), all an hour old.
    Returns the bound pods' UIDs and addresses."""
    from django.db import connection
    from django.db.models import F

    from core.choices import AdminAction, ReqType
    from core.domain import COMMAND_LINE, CallContext, Workload
    from leases.models import Lease
    from pools import services
    from pools.models import Address, Pool

    def ctx(**kwargs):
        return CallContext(actor=COMMAND_LINE, **kwargs)

    services.cluster_create(ctx=ctx(admin_action=AdminAction.CLUSTER_CREATE), cluster_id=CLUSTER)
    services.subnet_create(
        ctx=ctx(admin_action=AdminAction.SUBNET_CREATE),
        net_regional_id="bench-region",
        subnet_id="bench-subnet",
        cidr="10.64.0.0/13",
        gateway="10.64.0.1",
        exclusions=[],
    )
    remaining = args.bindings
    number = 0
    while remaining > 0:
        size = min(args.pool_size, remaining)
        services.pool_create(
            ctx=ctx(req_type=ReqType.CREATE_IP_POOL),
            workload=Workload(CLUSTER, NAMESPACE, 0, f"app-{number}"),
            replicas=size,
            net_regional_id="bench-region",
            subnet_id="bench-subnet",
            gateway="10.64.0.1",
        )
        remaining -= size
        number += 1
    pods: list[tuple[str, str]] = []
    now = time.time()
    from datetime import UTC, datetime

    bound_at = datetime.fromtimestamp(now, tz=UTC) - timedelta(hours=1)
    batch: list[Lease] = []
    rows = Address.objects.order_by("pk").values_list("pk", "pool_id", "ip").iterator(chunk_size=5000)
    for address_pk, pool_pk, ip in rows:
        pod_uid = str(uuid.uuid4())
        pods.append((pod_uid, ip))
        batch.append(Lease(address_id=address_pk, pool_id=pool_pk, pod_id=pod_uid, bound_at=bound_at))
        if len(batch) == 5000:
            Lease.objects.bulk_create(batch)
            batch = []
    Lease.objects.bulk_create(batch)
    Address.objects.update(idle_since=None)
    hour = timedelta(hours=1)
    # The failover: `lost` bindings of pods that stay live (not among the leaked ones) are gone
    # from the database; their addresses are idle again, since before the failover.
    leaked = _leaked_pods(args, [uid for uid, _ in pods])
    staying = [uid for uid, _ in pods if uid not in leaked]
    lost = staying[1 :: max(1, len(staying) // max(1, args.lost))][: args.lost] if args.lost else []
    for start in range(0, len(lost), 5000):
        chunk = lost[start : start + 5000]
        addresses = list(Lease.objects.filter(pod_id__in=chunk).values_list("address_id", flat=True))
        Lease.objects.filter(pod_id__in=chunk).delete()
        Address.objects.filter(pk__in=addresses).update(idle_since=bound_at - hour)
    Pool.objects.update(created_at=F("created_at") - hour, updated_at=F("updated_at") - hour)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return pods


def _leaked_pods(args, bound_pods: list[str]) -> set[str]:
    """The `leaked` bound pods that are gone from the cluster, spread over the pools."""
    step = max(1, len(bound_pods) // args.leaked) if args.leaked else 0
    return set(bound_pods[::step][: args.leaked]) if args.leaked else set()


def cluster_objects(args, bound_pods: list[tuple[str, str]]) -> list[dict]:
    """A Deployment and ReplicaSet per pool and a running pod per binding, on its address, but for
    `leaked` pods that are gone (spread over the pools); then pods holding no address of ours up to
    `pods` (on addresses of another network)."""
    from tests.support.kube import deployment, pod, replicaset

    gone = _leaked_pods(args, [uid for uid, _ in bound_pods])
    objects = []
    owners = []
    pools = -(-args.bindings // args.pool_size)
    for number in range(pools):
        replicas = min(args.pool_size, args.bindings - number * args.pool_size)
        dep = deployment(f"app-{number}", replicas, namespace=NAMESPACE)
        rs = replicaset(dep)
        objects += [dep, rs]
        owners.append(rs)
    live = 0
    for index, (uid, ip) in enumerate(bound_pods):
        if uid not in gone:
            objects.append(pod(uid, owner=owners[index // args.pool_size], ip=ip))
            live += 1
    others = deployment("node-agent", args.pods - live, namespace="kube-system")
    others_rs = replicaset(others)
    objects += [others, others_rs]
    objects += [
        pod(str(uuid.uuid4()), owner=others_rs, ip=f"172.16.{n // 250 % 250}.{n % 250 + 1}")
        for n in range(args.pods - live)
    ]
    return objects


def prewarm(api, page_size: int) -> None:
    """Encode every page once, so that the runs measure the reconciler, not this server."""
    from tests.support.kube import PATHS

    authorization = f"Bearer {api.token}"
    for path in PATHS:
        query = {"limit": str(page_size)}
        while True:
            status, body = api.answer(path, query, authorization)
            assert status == 200, body[:200]
            token = json.loads(body)["metadata"].get("continue")
            if not token:
                break
            query = {"limit": str(page_size), "continue": token}
    api.requests.clear()


# Runs the command as its own child and prints that child's peak RSS (KiB). Started fresh, it is
# small when it forks; measured straight from the bench, the child's figure would count the pages
# it shared with this big process between fork and exec.
PEAK_RSS_WRAPPER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime, file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def measure(env: dict, argv: list[str]) -> dict:
    """Run `manage.py ARGV` in its own process: wall time, peak RSS, and what it reported."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_WRAPPER, "manage.py", *argv], cwd=ROOT, env=env, capture_output=True
    )
    seconds = time.monotonic() - started
    stdout, stderr = done.stdout, done.stderr
    peak_kib, cpu_seconds = stderr.decode().strip().splitlines()[-1].split()
    result = {
        "exit_code": done.returncode,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(float(cpu_seconds), 2),  # the command's own, whatever else runs
        "peak_rss_mb": round(int(peak_kib) / 1024),  # Linux reports KiB
    }
    if argv[-1] != "--help":
        try:
            report = json.loads(stdout)
        except ValueError:
            raise SystemExit(f"{' '.join(argv)} printed no JSON: {stderr.decode()[-2000:]}") from None
        result.update(
            {
                "status": report["Status"],
                "steps_seconds": report["Seconds"],
                "bindings_checked": report["BindingsChecked"],
                "live_pods": report["LivePods"],
                "leaked_found": report["LeakedBindings"],
                "freed": report["BindingsFreed"],
                "lost_found": report["LostBindings"],
                "restored": report["BindingsRestored"],
            }
        )
    return result


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
    }


def print_results(args, results: dict) -> None:
    print(
        f"\nreconcile: {results['bindings']:,} bound addresses in {results['pools']} pools, "
        f"{results['live_pods']:,} live pods, {results['leaked']:,} bindings of pods that are gone, "
        f"{results['lost']:,} bindings of live pods lost; "
        f"pages of {results['page_size']}; kubectl JSON {results['kubectl_json_megabytes']} MB; "
        f"set-up {results['setup_seconds']} s"
    )
    print(f"machine: {results['machine']}")
    header = (
        f"{'exit':>4} {'wall s':>7} {'CPU s':>6} {'peak RSS MB':>11}  {'read/compare/apply s':22} "
        "found  freed   lost  restored"
    )
    print(f"{'run':45} {header}")
    for name, run in results["runs"].items():
        steps = run.get("steps_seconds", {})
        split = "/".join(f"{steps[k]:.1f}" for k in ("read", "compare", "apply") if k in steps)
        found = run.get("leaked_found", "")
        freed = run.get("freed", "")
        figures = f"{run['exit_code']:>4} {run['seconds']:>7.1f} {run['cpu_seconds']:>6.1f} {run['peak_rss_mb']:>11}"
        lost, restored = run.get("lost_found", ""), run.get("restored", "")
        print(f"{name:45} {figures}  {split:22} {found!s:>5}  {freed!s:>5}  {lost!s:>5}  {restored!s:>8}")


# The bench's own database ------------------------------------------------------------------------


def _admin_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def create_database(url: str) -> None:
    import psycopg

    admin, name = _admin_url(url)
    with psycopg.connect(admin.replace("postgres://", "postgresql://"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    admin, name = _admin_url(url)
    with psycopg.connect(admin.replace("postgres://", "postgresql://"), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')


if __name__ == "__main__":
    main()
