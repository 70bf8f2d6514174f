"""Network namespaces for the CNI end-to-end test, the processes started in them, and what is seen on
their wire: a test's namespaces are all named iprcni-*, so nothing it makes reaches the host's
network; every wait has a bound."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


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
