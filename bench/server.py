"""gunicorn serving a checkout with the benchmark's settings, ready and warm before anything is timed."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from bench.database import ROOT
from bench.loadgen import HOST, call


def free_port_or_die(port: int) -> None:
    with socket.socket() as s:
        if s.connect_ex((HOST, port)) == 0:
            raise SystemExit(f"port {port} is taken; pass --port")


@contextmanager
def gunicorn(
    env: dict,
    port: int,
    *,
    workers: int,
    threads: int,
    worker_class: str,
    profile: Path | None = None,
    root: Path = ROOT,
):
    """Serve the checkout at `root` (this one by default) with the benchmark's gunicorn settings;
    `worker_class` "granian" serves it with granian instead (measured side by side)."""
    free_port_or_die(port)
    env = {
        **env,
        "GUNICORN_BIND": f"{HOST}:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_WORKER_CLASS": worker_class,
    }
    if worker_class == "granian":  # Rust HTTP, the same WSGI application in its blocking threads
        command = [
            str(Path(sys.executable).with_name("granian")),
            *("--interface", "wsgi", "--host", HOST, "--port", str(port), "--workers", str(workers)),
            *("--blocking-threads", str(threads), "--runtime-threads", "1", "--no-ws", "--log-level", "warning"),
            "ipresmgr_site.wsgi:application",
        ]
    else:
        gunicorn_bin = str(Path(sys.executable).with_name("gunicorn"))
        command = [gunicorn_bin, "ipresmgr_site.wsgi", "-c", str(ROOT / "bench" / "gunicorn.conf.py")]
    if profile:  # sample every worker's on-CPU stacks, collapsed (bench/profile_summary.py)
        py_spy = str(Path(sys.executable).with_name("py-spy"))
        record = [py_spy, "record", "--subprocesses", "--format", "raw", "-r", "200", "-o", str(profile)]
        command = [*record, "--", *command]
    proc = subprocess.Popen(
        command,
        cwd=root,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise SystemExit("gunicorn exited at start")
            try:
                status, _ = asyncio.run(call(port, "/v1/ip/require", {}, token=None))
                if status in (400, 401):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("gunicorn did not answer within 30 s")
            time.sleep(0.2)
        # Warm every worker (imports, first DB connection) before anything is timed.
        asyncio.run(_warm(port, workers * threads * 2))
        yield proc
    finally:
        # Under py-spy, stop gunicorn (its child) and let py-spy write its file as gunicorn ends.
        target = children(proc.pid)[:1] if profile else [proc.pid]
        for pid in target or [proc.pid]:
            os.kill(pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


async def _warm(port: int, n: int) -> None:
    await asyncio.gather(*[call(port, "/v1/ip/require", {}, token=None) for _ in range(n)])
