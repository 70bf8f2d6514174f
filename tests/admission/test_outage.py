"""A database outage: the webhook answers HTTP 503 with a Kubernetes Status (Code 50), so the
apiserver applies the webhook's failurePolicy. A real server process whose PostgreSQL is not
there (a port of ours nothing listens on); no mock."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time

from tests.support.admission import create
from tests.support.servers import REPO, app_env, free_port, release_port

PORTS = range(9000, 9100)


def test_database_outage_answers_503_so_the_failure_policy_applies(tmp_path):
    port, dead_port = free_port(PORTS), free_port(PORTS)  # nothing listens on dead_port
    env = app_env(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{dead_port}/ipr_webhook_gone", IPRESMGR_DB_CONNECT_TIMEOUT_S="2"
    )
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "ipresmgr_site.wsgi", f"--bind=127.0.0.1:{port}", "--workers=1"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        status, body = None, None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request(
                    "POST",
                    "/k8s/admission",
                    json.dumps(create()),
                    {"Content-Type": "application/json", "Authorization": "Bearer ipr_some-cluster-token"},
                )
                answer = conn.getresponse()
                status, body = answer.status, json.loads(answer.read())
                conn.close()
                break
            except ConnectionRefusedError:
                time.sleep(0.2)  # gunicorn is still starting
        assert status == 503, (status, body, (tmp_path / "server.log").read_text())
        assert (body["kind"], body["code"], body["reason"]) == ("Status", 503, "ServiceUnavailable")
        assert body["message"] == "IPResMgr Code 50 Unavailable: database unavailable or busy; retry"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        release_port(port)
        release_port(dead_port)
