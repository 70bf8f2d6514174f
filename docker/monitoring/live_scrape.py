"""For .ci/stages/67-observability.sh: serves a fresh SQLite database with gunicorn (two workers,
the image's gunicorn.conf.py, so the multiprocess metrics), makes a call of every kind (create,
scale, require, release, release pool, a Code 1, a read), then writes what /metrics,
/metrics/instance and /metrics/database answer to OUT/<name>.prom for `promtool check metrics`.

    python docker/monitoring/live_scrape.py OUT_DIR"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PORTS = range(9500, 9600)
CLUSTER, REGION, SUBNET, GATEWAY = "ci-cluster", "ci-region", "ci-subnet", "10.9.0.1"
METRICS_TOKEN = "ci-metrics-token"  # noqa: S105 - a throwaway server


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit(f"no free port in {PORTS}")


def request(base: str, path: str, token: str, body: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        with urllib.request.urlopen(urllib.request.Request(base + path, data, headers), timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="ipresmgr-observability-"))
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")},
        "IPRESMGR_SQLITE_PATH": str(folder / "db.sqlite3"),
        "IPRESMGR_SECRET_KEY": "ci-only-secret",
        "IPRESMGR_METRICS_TOKEN": METRICS_TOKEN,
        "GUNICORN_WORKERS": "2",
        "LOG_LEVEL": "WARNING",
        "IPRESMGR_CALL_LOG_LEVEL": "WARNING",
    }

    def manage(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True, capture_output=True, text=True
        ).stdout

    manage("migrate", "--no-input", "-v0")
    token = manage("create_cluster", "--cluster-id", CLUSTER).strip().splitlines()[-1]
    operator = manage("create_token", "--operator").strip().splitlines()[-1]
    manage(
        "create_subnet",
        "--net-regional-id",
        REGION,
        "--subnet-id",
        SUBNET,
        "--cidr",
        "10.9.0.0/24",
        "--gateway",
        GATEWAY,
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(folder / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "docker/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"]
        + ["ipresmgr_site.wsgi"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(base, "/readyz", "")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"gunicorn did not get ready:\n{(folder / 'gunicorn.log').read_text()}")
            time.sleep(0.3)
        workload = {
            "K8SClusterID": CLUSTER,
            "K8SNamespace": "default",
            "K8SApiResourceKind": 0,
            "K8SApiResourceName": "web",
        }
        pod = {**workload, "K8SApiResourceID": "rid-1", "K8SPodID": "pod-1"}
        calls = [
            (
                "/v1/ippool/create",
                {
                    **workload,
                    "K8SApiResourceReplicas": 2,
                    "NetRegionalID": REGION,
                    "SubnetID": SUBNET,
                    "SubnetGatewayAddr": GATEWAY,
                },
                0,
            ),
            ("/v1/ippool/scale", {**workload, "K8SApiResourceOldReplicas": 2, "K8SApiResourceNewReplicas": 1}, 0),
            ("/v1/ip/require", pod, 0),
            ("/v1/ip/require", {**pod, "K8SPodID": "pod-2"}, 0),  # the surge address: the pool is full
            ("/v1/ip/release", {**pod, "K8SPodID": "pod-2", "IP": ""}, 0),
            ("/v1/ip/require", {**workload, "K8SPodID": 7}, 1),  # ill-typed: Code 1
            ("/v1/ippool/release", {**workload, "K8SApiResourceName": "web-2"}, None),  # no such pool: any Code
        ]
        for n, (path, body, code) in enumerate(calls):
            status, answer = request(base, path, token, {"ReqID": f"ci-{n}", **body})
            got = json.loads(answer)["Code"]
            if code is not None and got != code:
                raise SystemExit(f"{path}: Code {got}, expected {code}: {answer!r}")
        for n in range(8):  # more pools, so the per-pool series and their bound are exercised
            body = {**workload, "K8SApiResourceName": f"w{n}", "K8SApiResourceReplicas": 1}
            request(
                base,
                "/v1/ippool/create",
                token,
                {
                    "ReqID": f"ci-w{n}",
                    **body,
                    "NetRegionalID": REGION,
                    "SubnetID": SUBNET,
                    "SubnetGatewayAddr": GATEWAY,
                },
            )
        full = {**pod, "K8SApiResourceName": "w0", "ReqID": "ci-w0-pod"}
        assert json.loads(request(base, "/v1/ip/require", token, full)[1])["Code"] == 0  # w0 full: it has series
        assert request(base, "/v1/pools?State=active", operator)[0] == 200
        assert request(base, "/v1/ippool/release", token, {"ReqID": "ci-release-pool", **workload})[0] == 200
        for name in ("metrics", "metrics/instance", "metrics/database"):
            status, text = request(base, f"/{name}", METRICS_TOKEN)
            assert status == 200, (name, status, text)
            (out / f"{name.replace('/', '-')}.prom").write_bytes(text)
        print(f"scraped {base}: {', '.join(sorted(p.name for p in out.glob('*.prom')))}")
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
