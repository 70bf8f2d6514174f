"""A PostgreSQL 15 primary and its streaming standby, made here (initdb, pg_basebackup -R), on
ports of their own, to be killed, promoted, stalled and demoted at will; gunicorn instances in
front of them. Everything on 127.0.0.1, every wait bounded."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.support.servers import PG_BIN, Gunicorn, PrivatePostgres, app_env

PG_PORTS = range(56100, 56180)  # 56180-56199: the Patroni cluster's
APP_PORTS = range(9100, 9200)
DBNAME = "ipam"
WORKER_CLASS = "ipresmgr_site.serving.JsonEdgeThreadWorker"  # the image's: probes on a pool of their own


class Server(PrivatePostgres):
    """One PostgreSQL server of the pair."""

    def sql(self, statement: str, dbname: str = "postgres") -> list[tuple]:
        with psycopg.connect(self.url(dbname), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else []

    def set(self, name: str, value: str) -> None:
        self.sql(f"ALTER SYSTEM SET {name} = '{value}'")
        self.sql("SELECT pg_reload_conf()")

    def pids(self) -> list[int]:
        """The postmaster and its children (backends, walsender, walreceiver, ...)."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
        return [postmaster, *map(int, children)]

    def child_named(self, name: str) -> int:
        for pid in self.pids()[1:]:
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except FileNotFoundError:
                continue
            if name in title:
                return pid
        raise AssertionError(f"no {name} process in {self.data}")

    def kill9(self) -> None:
        """The node dies: SIGKILL to the postmaster and every child at once."""
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=1).close()
            except psycopg.OperationalError:
                return
            time.sleep(0.05)
        raise AssertionError("the killed server still answers")

    def promote(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "promote")

    def become_standby_of(self, primary: Server) -> None:
        """Come back as a standby (a demoted primary): read-only, whatever it can replay."""
        (self.data / "standby.signal").touch()
        with open(self.data / "postgresql.auto.conf", "a") as conf:
            conf.write(f"primary_conninfo = 'host=127.0.0.1 port={primary.port} user=postgres'\n")
        if os.geteuid() == 0:
            shutil.chown(self.data / "standby.signal", "postgres", "postgres")

    def in_recovery(self) -> bool:
        return self.sql("SELECT pg_is_in_recovery()")[0][0]


def primary_server() -> Server:
    server = Server(ports=PG_PORTS)
    server.start()
    server.create_database(DBNAME)
    return server


def standby_of(primary: Server, name: str = "standby1") -> Server:
    standby = Server(ports=PG_PORTS, initdb=False)
    standby._run(
        str(PG_BIN / "pg_basebackup"),
        *("-D", str(standby.data), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
        *("-X", "stream", "-R", "-c", "fast"),
    )
    # Not the primary's synchronous_standby_names (pg_basebackup copies postgresql.auto.conf): once
    # promoted, alone, it would wait for a standby it does not have (a failover manager resets it).
    auto_conf = standby.data / "postgresql.auto.conf"
    kept = [line for line in auto_conf.read_text().splitlines() if not line.startswith("synchronous_standby_names")]
    auto_conf.write_text("\n".join(kept) + "\n")
    standby.extra_options = f"-c cluster_name={name}"  # the walreceiver's application_name
    standby.start()
    wait_for(lambda: primary.sql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")[0][0] == 1)
    return standby


def wait_for(check, timeout: float = 60, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (psycopg.Error, OSError):
            pass
        time.sleep(every)
    raise AssertionError(f"not reached within {timeout}s: {check}")


def both_url_forms(a: Server, b: Server) -> list[str]:
    """libpq's two multi-host forms; target_session_attrs=read-write is implied by the service."""
    return [
        f"postgres://postgres@127.0.0.1:{a.port},127.0.0.1:{b.port}/{DBNAME}",
        f"postgres://postgres@/{DBNAME}?host=127.0.0.1,127.0.0.1&port={a.port},{b.port}",
    ]


def instance_env(url: str, folder: Path, **overrides: str) -> dict:
    metrics_dir = Path(tempfile.mkdtemp(prefix="metrics-", dir=folder))
    return app_env(
        DATABASE_URL=url,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        IPRESMGR_CALL_LOG_LEVEL="WARNING",
        IPRESMGR_DB_CONNECT_TIMEOUT_S="2",
        **overrides,
    )


def start_instance(env: dict, log: Path, workers: int = 2) -> Gunicorn:
    return Gunicorn(env, log, workers=workers, threads=4, worker_class=WORKER_CLASS, ports=APP_PORTS)


@dataclass
class Answer:
    status: int
    body: dict
    seconds: float


def get(server: Gunicorn, path: str, timeout: float = 30) -> Answer:
    start = time.monotonic()
    try:
        conn = http.client.HTTPConnection(*server.base, timeout=timeout)
        conn.request("GET", path)
        response = conn.getresponse()
        raw = response.read()
        conn.close()
    except (OSError, http.client.HTTPException):
        return Answer(0, {}, time.monotonic() - start)
    try:
        body = json.loads(raw)
    except ValueError:
        body = {"text": raw.decode(errors="replace")}
    return Answer(response.status, body, time.monotonic() - start)


def post(server: Gunicorn, path: str, body: dict, token: str, timeout: float = 30) -> Answer:
    start = time.monotonic()
    try:
        conn = http.client.HTTPConnection(*server.base, timeout=timeout)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        conn.request("POST", path, json.dumps(body), headers)
        response = conn.getresponse()
        raw = response.read()
        conn.close()
    except (OSError, http.client.HTTPException):
        return Answer(0, {}, time.monotonic() - start)
    return Answer(response.status, json.loads(raw), time.monotonic() - start)


def failovers_counted(server: Gunicorn) -> float:
    text = get(server, "/metrics").body.get("text", "")
    for line in text.splitlines():
        if line.startswith("ipresmgr_db_failovers_total "):
            return float(line.split()[1])
    return 0.0


@dataclass
class Prober:
    """GET `path` every `every` seconds in the background, as kubelet would."""

    server: Gunicorn
    path: str = "/healthz"
    every: float = 0.25
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.answers.append(get(self.server, self.path, timeout=10))
            self._stop.wait(self.every)

    def stop(self) -> list[Answer]:
        self._stop.set()
        self._thread.join(15)
        return self.answers
