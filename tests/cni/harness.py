"""Real pieces for the CNI end-to-end test: network namespaces, IPResMgr under gunicorn on
PostgreSQL, a stand-in Kubernetes API, and CNI plugins invoked the way a container runtime
invokes them (CNI_* environment, network configuration on stdin).

Everything the test makes lives in network namespaces of its own, named iprcni-*: a "node"
namespace holds the bridge, the macvlan master, IPResMgr's gunicorn and the Kubernetes API
(each listening on 127.0.0.1 of that namespace only); each pod has its own namespace. The main
plugins run inside the node namespace, so the bridge, its veths and any sysctl they touch are the
test's own, and no packet leaves the test's namespaces. IPResMgr reaches PostgreSQL through its
Unix socket (the filesystem crosses namespaces); the test reads IPResMgr through a Unix socket too.
Every wait has a bound."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CNI_DIR = REPO / "cni"
SERVICE_PORT = 8600  # inside the node namespace; 8600-8699 are this work's ports
KUBE_PORT = 8610
CLUSTER = "iprcni-e2e"
REGION = "iprcni-region"
SUBNET_V4 = ("iprcni-v4", "192.0.2.0/24", "192.0.2.1")  # documentation ranges only (RFC 5737, RFC 3849)
SUBNET_V6 = ("iprcni-v6", "2001:db8::/64", "2001:db8::1")
PG_SOCKET_DIR = "/var/run/postgresql"
DB_NAME = os.environ.get("IPRESMGR_CNI_DB", "ipr_cni")


def run(*args: str, check: bool = True, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def wait_for(what: str, predicate, timeout: float = 60, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(interval)


# Network namespaces ---------------------------------------------------------------------------


class Netns:
    def __init__(self, name: str):
        assert name.startswith("iprcni") and len(name) <= 40, name
        self.name = name
        run("ip", "netns", "add", name)
        run("ip", "-n", name, "link", "set", "lo", "up")

    @property
    def path(self) -> str:
        return f"/var/run/netns/{self.name}"

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run("ip", "-n", self.name, *args, check=check)

    def ip_json(self, *args: str):
        out = self.ip("-j", *args).stdout.strip()
        return json.loads(out) if out else []

    def exec_argv(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def delete(self) -> None:
        run("ip", "netns", "del", self.name, check=False)


def new_suffix() -> str:
    return uuid.uuid4().hex[:4]


# Processes ------------------------------------------------------------------------------------


class Process:
    """A process we started (in its own session), stopped by its own id only."""

    def __init__(self, argv: list[str], log_path: Path, env: dict):
        self.log_path = log_path
        self._log = open(log_path, "a")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the session we started, by its id
                self.proc.wait(timeout=20)
        self._log.close()


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


# CNI invocation -------------------------------------------------------------------------------


@dataclass
class Pod:
    namespace: str
    name: str
    uid: str
    netns: Netns
    container_id: str = field(default_factory=lambda: uuid.uuid4().hex + uuid.uuid4().hex)

    def cni_args(self) -> str:
        return (
            f"IgnoreUnknown=1;K8S_POD_NAMESPACE={self.namespace};K8S_POD_NAME={self.name};"
            f"K8S_POD_INFRA_CONTAINER_ID={self.container_id};K8S_POD_UID={self.uid}"
        )


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict:
        return json.loads(self.stdout)

    def ok(self) -> dict | None:
        assert self.returncode == 0, f"plugin failed ({self.returncode}): {self.stdout}\n{self.stderr}"
        return json.loads(self.stdout) if self.stdout.strip() else None

    def error(self) -> dict:
        assert self.returncode != 0, f"plugin succeeded where it should fail: {self.stdout}"
        return self.json


class Cni:
    """Runs plugins as a runtime does: in the node namespace, CNI_* in the environment, the
    network configuration on stdin, CNI_PATH naming where ipresmgr-ipam and the main plugins are."""

    def __init__(self, node: Netns, bin_dir: Path, plugins_dir: Path):
        self.node = node
        self.bin_dir = bin_dir
        self.plugins_dir = plugins_dir

    def call(self, command: str, conf: dict, pod: Pod, *, plugin: str | None = None, ifname: str = "eth0") -> Outcome:
        plugin = plugin or conf["type"]
        binary = self.bin_dir / plugin if plugin == "ipresmgr-ipam" else self.plugins_dir / plugin
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": pod.container_id,
            "CNI_NETNS": pod.netns.path,
            "CNI_IFNAME": ifname,
            "CNI_PATH": f"{self.bin_dir}:{self.plugins_dir}",
            "CNI_ARGS": pod.cni_args(),
        }
        result = subprocess.run(
            self.node.exec_argv(str(binary)),
            input=json.dumps(conf),
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        return Outcome(result.returncode, result.stdout, result.stderr)


class ConfList:
    """A network configuration list run as libcni runs one: ADD through the plugins in order,
    each given the previous result; CHECK in order and DEL in reverse, each given the cached
    final result as prevResult."""

    def __init__(self, cni: Cni, conflist: dict):
        self.cni = cni
        self.conflist = conflist
        self.result: dict | None = None

    def entry(self, plugin: dict, prev: dict | None) -> dict:
        conf = {**plugin, "cniVersion": self.conflist["cniVersion"], "name": self.conflist["name"]}
        if prev is not None:
            conf["prevResult"] = prev
        return conf

    def add(self, pod: Pod) -> Outcome:
        prev = None
        for plugin in self.conflist["plugins"]:
            outcome = self.cni.call("ADD", self.entry(plugin, prev), pod)
            if outcome.returncode != 0:
                return outcome
            prev = outcome.json
        self.result = prev
        return outcome

    def check(self, pod: Pod) -> Outcome:
        assert self.result is not None
        for plugin in self.conflist["plugins"]:
            outcome = self.cni.call("CHECK", self.entry(plugin, self.result), pod)
            if outcome.returncode != 0:
                return outcome
        return outcome

    def delete(self, pod: Pod) -> Outcome:
        for plugin in reversed(self.conflist["plugins"]):
            outcome = self.cni.call("DEL", self.entry(plugin, self.result), pod)
            if outcome.returncode != 0:
                return outcome
        return outcome


def build_plugin(dest_dir: Path) -> Path:
    """The plugin binary named ipresmgr-ipam in dest_dir: IPRESMGR_CNI_BIN's, or built with go."""
    dest = dest_dir / "ipresmgr-ipam"
    prebuilt = os.environ.get("IPRESMGR_CNI_BIN")
    if prebuilt:
        shutil.copy2(prebuilt, dest)
        return dest
    go = shutil.which("go")
    if go is None:
        raise AssertionError("no IPRESMGR_CNI_BIN and no go to build cni/ with (apt-get install golang-go)")
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=vendor", GOPROXY="off")
    run(go, "build", "-trimpath", "-o", str(dest), "./cmd/ipresmgr-ipam", cwd=CNI_DIR, env=env, timeout=600)
    return dest


# On the wire -----------------------------------------------------------------------------------


class Wire:
    """ARP and neighbour discovery frames seen on an interface of a namespace (tests/cni/wire.py),
    from start() until frames() stops the watch."""

    def __init__(self, netns: Netns, ifname: str, seconds: float = 120):
        self.process = subprocess.Popen(
            netns.exec_argv(sys.executable, "-m", "tests.cni.wire", ifname, str(seconds)),
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self.process.stdout.readline()
        assert json.loads(ready)["kind"] == "ready", ready

    def frames(self) -> list[dict]:
        time.sleep(0.5)  # frames in flight reach the watcher
        self.process.terminate()
        out, _ = self.process.communicate(timeout=30)
        return [json.loads(line) for line in out.splitlines() if line.strip()]


class Intruder:
    """A host the IPResMgr does not know, plugged into the node's bridge (a veth) or the macvlan
    master (a macvlan of its own), configured by hand with an address: another MAC answers for it."""

    def __init__(self, node: Netns, name: str, address: str, *, bridge: str | None = None, master: str | None = None):
        self.netns = Netns(name)
        self.ifname = "eth0"
        outside = f"{name[-9:]}x"
        if bridge is not None:
            node.ip("link", "add", outside, "type", "veth", "peer", "name", "intr0")
            node.ip("link", "set", outside, "master", bridge, "up")
        else:
            node.ip("link", "add", "link", master, "name", "intr0", "type", "macvlan", "mode", "bridge")
        node.ip("link", "set", "intr0", "netns", self.netns.name)
        self.netns.ip("link", "set", "intr0", "name", self.ifname)
        # nodad: it was there first; its own duplicate address detection has nothing to find.
        extra = ["nodad"] if ":" in address else []
        self.netns.ip("addr", "add", address, "dev", self.ifname, *extra)
        self.netns.ip("link", "set", self.ifname, "up")
        (link,) = self.netns.ip_json("link", "show", "dev", self.ifname)
        self.mac = link["address"]

    def delete(self) -> None:
        self.netns.delete()  # takes its end of the veth (and the peer) or its macvlan with it


# libcni itself ----------------------------------------------------------------------------------


class LibcniRuntime:
    """cni/cmd/ipresmgr-cnirun: a conflist driven through the vendored libcni, as containerd's CRI
    plugin drives one (its own result cache, prevResult chaining, CHECK and DEL from the cache)."""

    def __init__(self, node: Netns, binary: Path, cni: Cni, workdir: Path):
        self.node = node
        self.binary = binary
        self.cni = cni
        self.cache_dir = workdir / "libcni-cache"
        self.conf_dir = workdir / "libcni-conf"
        self.conf_dir.mkdir(exist_ok=True)

    def call(self, command: str, conflist: dict, pod: Pod) -> Outcome:
        path = self.conf_dir / f"{conflist['name']}.conflist"
        path.write_text(json.dumps(conflist))
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "CNI_PATH": f"{self.cni.bin_dir}:{self.cni.plugins_dir}",
            "CNI_CACHE_DIR": str(self.cache_dir),
        }
        argv = [str(self.binary), command, str(path), pod.netns.path, pod.container_id, "eth0", pod.cni_args()]
        result = subprocess.run(self.node.exec_argv(*argv), env=env, capture_output=True, text=True, timeout=180)
        return Outcome(result.returncode, result.stdout, result.stderr)


def build_runtime(dest_dir: Path) -> Path:
    """The libcni test runtime: IPRESMGR_CNI_RUNTIME's, or built with go from cni/vendor/."""
    dest = dest_dir / "ipresmgr-cnirun"
    prebuilt = os.environ.get("IPRESMGR_CNI_RUNTIME")
    if prebuilt:
        shutil.copy2(prebuilt, dest)
        return dest
    env = dict(os.environ, CGO_ENABLED="0", GOFLAGS="-mod=vendor", GOPROXY="off")
    run(
        shutil.which("go") or "go", "build", "-o", str(dest), "./cmd/ipresmgr-cnirun", cwd=CNI_DIR, env=env, timeout=600
    )
    return dest
