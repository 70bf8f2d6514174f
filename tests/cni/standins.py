"""What the CNI plugin talks to in the end-to-end test, inside the node namespace: IPResMgr under
gunicorn on PostgreSQL (reached over its Unix socket, which crosses namespaces) and a stand-in
Kubernetes API (tests/cni/kubeapi.py) serving the test's objects."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import uuid
from pathlib import Path

from tests.cni.namespaces import REPO, Netns, Process, wait_for

SERVICE_PORT = 8600  # inside the node namespace; 8600-8699 are this work's ports
KUBE_PORT = 8610
CLUSTER = "iprcni-e2e"
REGION = "iprcni-region"
SUBNET_V4 = ("iprcni-v4", "192.0.2.0/24", "192.0.2.1")  # documentation ranges only (RFC 5737, RFC 3849)
SUBNET_V6 = ("iprcni-v6", "2001:db8::/64", "2001:db8::1")
PG_SOCKET_DIR = "/var/run/postgresql"
DB_NAME = os.environ.get("IPRESMGR_CNI_DB", "ipr_cni")


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


# IPResMgr -------------------------------------------------------------------------------------


class Service:
    """IPResMgr on PostgreSQL database DB_NAME (made afresh), served by gunicorn inside the node
    namespace on 127.0.0.1:SERVICE_PORT and on a Unix socket for the test."""

    def __init__(self, node: Netns, workdir: Path):
        self.node = node
        self.workdir = workdir
        self.socket_path = str(workdir / "ipresmgr.sock")
        self.process: Process | None = None
        self.tcp_url = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
        self.socket_url = f"postgres://postgres@{PG_SOCKET_DIR.replace('/', '%2F')}/{DB_NAME}"
        self._reset_database()
        self.token = self.manage("create_cluster", "--cluster-id", CLUSTER).stdout.strip().splitlines()[-1]
        for subnet_id, cidr, gateway in (SUBNET_V4, SUBNET_V6):
            self.manage(
                "create_subnet",
                "--net-regional-id",
                REGION,
                "--subnet-id",
                subnet_id,
                "--cidr",
                cidr,
                "--gateway",
                gateway,
            )
        self.token_file = workdir / "ipresmgr-token"
        self.token_file.write_text(self.token + "\n")
        self.token_file.chmod(0o600)

    def env(self, database_url: str) -> dict:
        env = dict(os.environ)
        env.update({"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"})
        # Serving refuses the public development key; this throwaway service gets its own.
        env.setdefault("IPRESMGR_SECRET_KEY", secrets.token_urlsafe(50))
        env.pop("IPRESMGR_ALLOW_ANONYMOUS", None)
        return env

    def _reset_database(self) -> None:
        import psycopg

        with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=10) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{DB_NAME}"')
        self.manage("migrate", "--no-input", "-v0")

    def drop_database(self) -> None:
        import psycopg

        with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=10) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env(self.tcp_url),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def start(self, database_url: str | None = None) -> None:
        """Serve; database_url replaces the real database (a dead one answers Code 50)."""
        assert self.process is None or not self.process.alive()
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        argv = self.node.exec_argv(
            sys.executable,
            "-m",
            "gunicorn",
            "ipresmgr_site.wsgi",
            f"--bind=127.0.0.1:{SERVICE_PORT}",
            f"--bind=unix:{self.socket_path}",
            "--workers=2",
            "--timeout=60",
            "--graceful-timeout=5",
        )
        self.process = Process(argv, self.workdir / "gunicorn.log", self.env(database_url or self.socket_url))
        wait_for("IPResMgr answering", self._answers, timeout=90)

    def _answers(self) -> bool:
        if self.process is not None and not self.process.alive():
            raise AssertionError(f"gunicorn exited:\n{(self.workdir / 'gunicorn.log').read_text()}")
        try:
            status, _ = self.request("GET", "/v1/ready", timeout=5)
            return status == 404
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 30):
        conn = UnixHTTPConnection(self.socket_path, timeout=timeout)
        try:
            headers = {"Authorization": f"Bearer {self.token}"}
            data = None
            if body is not None:
                data = json.dumps(body)
                headers["Content-Type"] = "application/json"
            conn.request(method, path, data, headers)
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            conn.close()

    def post(self, path: str, body: dict) -> dict:
        status, answer = self.request("POST", path, body)
        assert status == 200 and answer["Code"] == 0, (path, status, answer)
        return answer

    def create_pool(self, namespace: str, kind: int, name: str, replicas: int, subnet) -> dict:
        subnet_id, _, gateway = subnet
        return self.post(
            "/v1/ippool/create",
            {
                "ReqID": f"iprcni-create-{name}",
                "K8SClusterID": CLUSTER,
                "K8SNamespace": namespace,
                "K8SApiResourceKind": kind,
                "K8SApiResourceName": name,
                "K8SApiResourceReplicas": replicas,
                "NetRegionalID": REGION,
                "SubnetID": subnet_id,
                "SubnetGatewayAddr": gateway,
            },
        )

    def addresses(self, **query: str) -> list[dict]:
        from urllib.parse import urlencode

        status, answer = self.request("GET", "/v1/addresses?" + urlencode(query))
        assert status == 200 and answer["Code"] == 0, answer
        return answer["Results"]


# The Kubernetes API ---------------------------------------------------------------------------


class KubeAPI:
    """tests/cni/kubeapi.py inside the node namespace, serving the objects of a JSON file."""

    def __init__(self, node: Netns, workdir: Path):
        self.workdir = workdir
        self.token = "iprcni-kube-" + uuid.uuid4().hex
        self.objects_file = workdir / "kube-objects.json"
        self.log_file = workdir / "kube-requests.log"
        self.objects: dict[str, dict] = {}
        self.save()
        self.log_file.write_text("")
        ready = workdir / "kube-ready"
        argv = node.exec_argv(
            sys.executable,
            "-m",  # run from the repository (the Process's cwd), so it imports tests.support.kube
            "tests.cni.kubeapi",
            f"--port={KUBE_PORT}",
            f"--objects={self.objects_file}",
            f"--token={self.token}",
            f"--log={self.log_file}",
            f"--ready={ready}",
        )
        self.process = Process(argv, workdir / "kubeapi.log", dict(os.environ))
        wait_for("the Kubernetes API stand-in", ready.exists, timeout=60)
        self.url = f"http://127.0.0.1:{KUBE_PORT}"
        self.token_file = workdir / "kube-token"
        self.token_file.write_text(self.token + "\n")

    def add(self, *objects: dict) -> None:
        for obj in objects:
            self.objects[object_path(obj)] = obj
        self.save()

    def delete(self, obj: dict) -> None:
        self.objects.pop(object_path(obj), None)
        self.save()

    def save(self) -> None:
        tmp = self.objects_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.objects))
        tmp.replace(self.objects_file)

    def requests(self) -> list[str]:
        return self.log_file.read_text().splitlines()

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig in the flat shape CNI installers (Calico, Multus) write."""
        path.write_text(
            "# Kubeconfig file for the ipresmgr-ipam CNI plugin (as installers write them).\n"
            "apiVersion: v1\n"
            "kind: Config\n"
            "clusters:\n"
            "- name: local\n"
            "  cluster:\n"
            f"    server: {self.url}\n"
            "users:\n"
            "- name: ipresmgr-cni\n"
            "  user:\n"
            f'    token: "{self.token}"\n'
            "contexts:\n"
            "- name: ipresmgr-cni-context\n"
            "  context:\n"
            "    cluster: local\n"
            "    user: ipresmgr-cni\n"
            "current-context: ipresmgr-cni-context\n"
        )
        return path


def object_path(obj: dict) -> str:
    group_version = obj["apiVersion"]
    prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    resource = obj["kind"].lower() + "s"
    meta = obj["metadata"]
    return f"{prefix}/namespaces/{meta['namespace']}/{resource}/{meta['name']}"
