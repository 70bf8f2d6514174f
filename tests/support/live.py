"""A live IPResMgr as the image runs it: gunicorn with docker/gunicorn.conf.py (JSON edge errors, JSON
logs, multiprocess metrics), on a database of its own (a SQLite file, or a PostgreSQL database next
to pytest's test database), on 127.0.0.1:8500-8599. Reuses the load harness's ports and commands.

Every wait has a bound; no test here measures time."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from prometheus_client.parser import text_string_to_metric_families

from tests.support.servers import REPO, app_env, free_port, manage, release_port

LIVE_PORTS = range(8500, 8600)
GUNICORN_CONF = REPO / "docker" / "gunicorn.conf.py"
CLUSTER = "c-live"
REGION = "region-live"
SUBNET = "subnet-live"
CIDR = "10.30.0.0/24"
GATEWAY = "10.30.0.1"


def postgres_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgres") else None


class LiveDatabase:
    """A database for live servers only: a SQLite file in `folder`, or on PostgreSQL a database
    named after pytest's test database (IPRESMGR_TEST_DB_NAME keeps concurrent runs apart)."""

    def __init__(self, folder: Path, suffix: str):
        self.pg = postgres_url()
        if self.pg:
            test_name = os.environ.get("IPRESMGR_TEST_DB_NAME") or "test_" + urlsplit(self.pg).path.lstrip("/")
            self.name = f"{test_name}_{suffix}"[:63]
            self._admin("DROP DATABASE IF EXISTS", self.name)
            self._admin("CREATE DATABASE", self.name)
            url = urlsplit(self.pg)
            self.env = app_env(DATABASE_URL=urlunsplit(url._replace(path="/" + self.name)))
        else:
            self.name = str(folder / f"{suffix}.sqlite3")
            self.env = app_env(DATABASE_URL=None, IPRESMGR_SQLITE_PATH=self.name)

    def _admin(self, statement: str, name: str) -> None:
        import psycopg

        url = urlsplit(self.pg)
        with psycopg.connect(urlunsplit(url._replace(path="/postgres")), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'{statement} "{name}"' + (" WITH (FORCE)" if statement.startswith("DROP") else ""))

    def migrate(self) -> None:
        manage(self.env, "migrate", "--no-input", "-v0")

    def prepare(self) -> str:
        """Migrate, register a cluster and a subnet; returns the cluster's token."""
        self.migrate()
        token = manage(self.env, "create_cluster", "--cluster-id", CLUSTER).stdout.strip().splitlines()[-1]
        manage(
            self.env,
            *("create_subnet", "--net-regional-id", REGION, "--subnet-id", SUBNET, "--cidr", CIDR),
            *("--gateway", GATEWAY),
        )
        return token

    def drop(self) -> None:
        if self.pg:
            self._admin("DROP DATABASE IF EXISTS", self.name)


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class LiveServer:
    """gunicorn -c docker/gunicorn.conf.py, its stdout and stderr in files."""

    env: dict
    folder: Path
    workers: int = 2
    threads: int = 2
    extra_env: dict = field(default_factory=dict)

    def __post_init__(self):
        self.port = free_port(LIVE_PORTS)
        self.out_path = self.folder / f"gunicorn-{self.port}.out"
        self.err_path = self.folder / f"gunicorn-{self.port}.err"
        env = {
            **self.env,
            "GUNICORN_WORKERS": str(self.workers),
            "GUNICORN_THREADS": str(self.threads),
            # A stopped worker (the metrics test pauses one) must not be killed for a missed heartbeat.
            "GUNICORN_TIMEOUT": "600",
            "LOG_LEVEL": "WARNING",
            **self.extra_env,
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self._out = open(self.out_path, "wb")  # noqa: SIM115 - closed in stop()
        self._err = open(self.err_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "--bind", f"127.0.0.1:{self.port}"]
            + ["ipresmgr_site.wsgi"],
            cwd=REPO,
            env=env,
            stdout=self._out,
            stderr=self._err,
            start_new_session=True,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{self.logs()}")
            try:
                if self.get("/healthz").status == 200 and len(self.worker_pids()) == self.workers:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gunicorn on {self.port} did not answer:\n{self.logs()}")

    # HTTP ---------------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers={"Connection": "close", **(headers or {})})
            response = conn.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()

    def get(self, path: str, headers: dict | None = None) -> Answer:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, body: dict, token: str | None) -> Answer:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.request("POST", path, json.dumps(body).encode(), headers)

    def metrics(self, headers: dict | None = None) -> dict[tuple[str, tuple], float]:
        """Every sample of a scrape: {(name, sorted labels): value}."""
        answer = self.get("/metrics", headers)
        assert answer.status == 200, answer.body
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.body.decode())
            for sample in family.samples
        }

    # processes and logs -------------------------------------------------------------------------

    def worker_pids(self) -> list[int]:
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        except OSError:
            return []
        return sorted(int(pid) for pid in children)

    @staticmethod
    def _json_lines(path: Path) -> list[dict]:
        """The complete lines of a log file, each parsed as JSON (a line that is not fails the test).
        A last line without its newline is still being written by another process: not yet."""
        *complete, _partial = path.read_text().split("\n")
        lines = []
        for raw in complete:
            if raw.strip():
                try:
                    lines.append(json.loads(raw))
                except ValueError:
                    raise AssertionError(f"a log line that is not JSON: {raw!r}") from None
        return lines

    def log_lines(self) -> list[dict]:
        """stderr: the app's and gunicorn's own lines. A call's line is written before its answer."""
        return self._json_lines(self.err_path)

    def access_lines(self, until, timeout: float = 60) -> list[dict]:
        """stdout: the access log, whose line gunicorn writes after the answer: read until `until(lines)`
        holds (or the bound runs out)."""
        deadline = time.monotonic() + timeout
        while True:
            lines = self._json_lines(self.out_path)
            if until(lines) or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)

    def call_lines(self) -> list[dict]:
        return [line for line in self.log_lines() if line.get("logger") == "ipresmgr.calls"]

    def logs(self) -> str:
        self._out.flush()
        self._err.flush()
        return self.out_path.read_text() + self.err_path.read_text()

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM to the master; its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group we started, by its id
                self.proc.wait(timeout=10)
                raise AssertionError(f"gunicorn did not stop on SIGTERM within {timeout}s:\n{self.logs()}") from None
        return self.proc.returncode

    def stop(self) -> None:
        try:
            for pid in self.worker_pids():  # a test may have paused one
                os.kill(pid, signal.SIGCONT)
            self.terminate()
        finally:
            self._out.close()
            self._err.close()
            release_port(self.port)


def contract_body(req_id: str | None = None, **fields) -> dict:
    return {
        "ReqID": req_id or f"live-{uuid.uuid4().hex[:12]}",
        "K8SClusterID": CLUSTER,
        "K8SNamespace": "default",
        "K8SApiResourceKind": 0,
        "K8SApiResourceName": "web",
        **fields,
    }
