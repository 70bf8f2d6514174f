"""An etcd on loopback and Patroni members managing PostgreSQL 15 (Debian's packages), on free ports
of their own range (56180-56199): a real automatic failover. Members run as user postgres when we are root."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.support.servers import PG_BIN, free_port

# The range lies among the kernel's ephemeral ports: any client connection may hold one of them,
# so each port is probed free when the cluster is made, never fixed.
PORTS = range(56180, 56200)
MEMBERS = ("m1", "m2")
SCOPE = "ipresmgr-ci"


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PatroniCluster:
    def __init__(self, *, sync: bool = True):
        self.dir = Path(tempfile.mkdtemp(prefix="ipresmgr-patroni-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.sync = sync
        self.etcd_client, self.etcd_peer = free_port(PORTS), free_port(PORTS)
        # member -> (PostgreSQL, REST API)
        self.member_ports = {member: (free_port(PORTS), free_port(PORTS)) for member in MEMBERS}
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs: list = []

    # processes ---------------------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(self.dir / f"{name}.log", "w")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        self.procs[name] = subprocess.Popen(
            _as_postgres(command), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.dir
        )

    def start_etcd(self) -> None:
        client, peer = f"http://127.0.0.1:{self.etcd_client}", f"http://127.0.0.1:{self.etcd_peer}"
        self._spawn(
            "etcd",
            [
                "etcd",
                "--name=e1",
                f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls={client}",
                f"--advertise-client-urls={client}",
                f"--listen-peer-urls={peer}",
                f"--initial-advertise-peer-urls={peer}",
                f"--initial-cluster=e1={peer}",
                "--initial-cluster-state=new",
            ],
        )
        self._wait(lambda: urllib.request.urlopen(f"{client}/health", timeout=2).status == 200, "etcd")

    def config(self, member: str) -> Path:
        pg_port, api_port = self.member_ports[member]
        config = {
            "scope": SCOPE,
            "name": member,
            "restapi": {"listen": f"127.0.0.1:{api_port}", "connect_address": f"127.0.0.1:{api_port}"},
            "etcd3": {"hosts": f"127.0.0.1:{self.etcd_client}"},
            "bootstrap": {
                "dcs": {
                    "ttl": 20,
                    "loop_wait": 2,
                    "retry_timeout": 5,
                    "synchronous_mode": self.sync,
                    "postgresql": {"use_pg_rewind": False, "parameters": {"fsync": "off", "max_connections": 50}},
                },
                "initdb": [{"encoding": "UTF8"}, {"auth": "trust"}],
                "pg_hba": [
                    "local all all trust",
                    "host all all 127.0.0.1/32 trust",
                    "host replication all 127.0.0.1/32 trust",
                ],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{pg_port}",
                "connect_address": f"127.0.0.1:{pg_port}",
                "data_dir": str(self.dir / member),
                "bin_dir": str(PG_BIN),
                "pgpass": str(self.dir / f"pgpass-{member}"),
                "authentication": {
                    "superuser": {"username": "postgres", "password": "ci"},
                    "replication": {"username": "postgres", "password": "ci"},
                },
                "parameters": {"unix_socket_directories": str(self.dir), "shared_buffers": "16MB"},
            },
        }
        path = self.dir / f"{member}.yml"
        path.write_text(json.dumps(config))  # YAML is a superset of JSON
        return path

    def start_member(self, member: str) -> None:
        self._spawn(member, ["patroni", str(self.config(member))])

    # state -------------------------------------------------------------------------------------

    def member_state(self, member: str) -> dict:
        api_port = self.member_ports[member][1]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{api_port}/patroni", timeout=2) as response:
                return json.loads(response.read())
        except OSError as exc:
            if hasattr(exc, "read"):  # a 503 from a replica's /patroni still carries the state
                return json.loads(exc.read())
            return {}

    def leader(self) -> str | None:
        for member in self.member_ports:
            state = self.member_state(member)
            if state.get("role") in ("master", "primary") and state.get("state") == "running":
                return member
        return None

    def sync_standby_ready(self) -> bool:
        leader = self.leader()
        if leader is None:
            return False
        state = self.member_state(leader)
        return any(r.get("sync_state") == "sync" for r in state.get("replication", []))

    def pg_port(self, member: str) -> int:
        return self.member_ports[member][0]

    def url(self, dbname: str) -> str:
        hosts = ",".join(f"127.0.0.1:{pg}" for pg, _ in self.member_ports.values())
        return f"postgres://postgres@{hosts}/{dbname}"

    def kill_member(self, member: str) -> None:
        """The node dies: Patroni and its PostgreSQL, SIGKILL, at once."""
        postmaster_pid = self.dir / member / "postmaster.pid"
        pids = [self.procs[member].pid]
        if postmaster_pid.exists():
            pids.append(int(postmaster_pid.read_text().split()[0]))
        for pid in pids:
            try:
                os.killpg(pid, signal.SIGKILL) if pid == self.procs[member].pid else os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.procs[member].wait(10)

    @staticmethod
    def _wait(check, what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{what} not ready within {timeout}s")

    def wait(self, check, what: str, timeout: float = 90) -> None:
        self._wait(check, what, timeout)

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(20)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        for member in self.member_ports:  # a PostgreSQL whose Patroni died first
            if (self.dir / member / "postmaster.pid").exists():
                subprocess.run(
                    _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir / member), "-m", "immediate", "stop"]),
                    capture_output=True,
                    timeout=60,
                )
        for log in self._logs:
            log.close()

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.dir.glob("*.log")))

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
