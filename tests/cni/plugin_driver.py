"""The CNI plugins invoked the way a container runtime invokes them (CNI_* environment, network
configuration on stdin), one by one or as a conflist, and through the vendored libcni itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.cni.namespaces import REPO, Netns, run

CNI_DIR = REPO / "cni"


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
