"""Real processes for the load, fault and live tests: free ports, the app's environment and commands,
gunicorn instances, a private PostgreSQL (the load clients are tests/support/load.py).

Everything listens on 127.0.0.1 only; every wait has a bound."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP_PORTS = range(8300, 8400)
PG_PORTS = range(55432, 55442)
PG_BIN = Path("/usr/lib/postgresql/15/bin")

CLUSTER = "load"
REGION = "region-load"
SUBNET = "subnet-load"
CIDR = "10.20.0.0/22"
GATEWAY = "10.20.0.1"

_ports_taken: set[int] = set()
_ports_lock = threading.Lock()


def free_port(ports: range) -> int:
    with _ports_lock:
        for port in ports:
            if port in _ports_taken:
                continue
            with socket.socket() as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _ports_taken.add(port)
            return port
    raise RuntimeError(f"no free port in {ports}")


def release_port(port: int) -> None:
    with _ports_lock:
        _ports_taken.discard(port)


def app_env(**overrides: str | None) -> dict[str, str]:
    """The environment of a server or command: ours, with overrides (None removes a variable)."""
    env = dict(os.environ)
    env.update({"LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
    env.setdefault("IPRESMGR_SECRET_KEY", "load-tests-" + uuid.uuid4().hex)  # serving is refused without one
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def manage(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
    if check and result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def prepare_database(env: dict) -> str:
    """Migrate, register a cluster and a subnet; returns the cluster token."""
    manage(env, "migrate", "--no-input", "-v0")
    token = manage(env, "create_cluster", "--cluster-id", CLUSTER).stdout.strip().splitlines()[-1]
    manage(
        env, "create_subnet", "--net-regional-id", REGION, "--subnet-id", SUBNET, "--cidr", CIDR, "--gateway", GATEWAY
    )
    return token


def bound_pairs(env: dict) -> set[tuple[str, str]]:
    """(IP, pod) of every bound address, as the database has them."""
    script = (
        "import json; from leases.models import Lease; "
        "print(json.dumps(list(Lease.objects.values_list('address__ip', 'pod_id'))))"
    )
    out = manage(env, "shell", "-c", script).stdout.strip().splitlines()[-1]
    return {(ip, pod) for ip, pod in json.loads(out)}


# Servers ---------------------------------------------------------------------------------------


class Gunicorn:
    """One app instance: a gunicorn master and its workers on a port of our own."""

    def __init__(
        self,
        env: dict,
        log_path: Path,
        *,
        workers: int = 3,
        threads: int = 1,
        worker_class: str | None = None,
        ports: range = APP_PORTS,
    ):
        self.port = free_port(ports)
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "ipresmgr_site.wsgi",
                f"--bind=127.0.0.1:{self.port}",
                f"--workers={workers}",
                f"--threads={threads}",
                "--timeout=30",
                "--graceful-timeout=3",
                "--backlog=256",
                *([f"--worker-class={worker_class}"] if worker_class else []),
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_ready()

    @property
    def base(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited: {self.log_path.read_text()}")
            try:
                conn = http.client.HTTPConnection(*self.base, timeout=2)
                conn.request("GET", "/v1/ready")
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"gunicorn on {self.port} did not answer: {self.log_path.read_text()}")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def kill_a_worker(self) -> int:
        pid = self.worker_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group we started, by its id
                self.proc.wait(timeout=10)
        self._log.close()
        release_port(self.port)


class PrivatePostgres:
    """A throw-away PostgreSQL 15 cluster in a temp dir, owned by user postgres, on its own port.
    It may be stopped and started at will: nobody else uses it."""

    def __init__(self, *, ports: range = PG_PORTS, initdb: bool = True):
        self.port = free_port(ports)
        self.dir = Path(tempfile.mkdtemp(prefix="ipresmgr-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.extra_options = ""  # more `-c name=value` for start()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        if initdb:
            self._run(
                str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "-N"
            )

    def _run(self, *args: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir} "
            "-c fsync=off -c shared_buffers=16MB -c max_connections=50 " + self.extra_options
        )
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
        )

    def stop(self, mode: str = "immediate") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("fast")
            except subprocess.SubprocessError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
        release_port(self.port)


# Clients ---------------------------------------------------------------------------------------
