"""The load generator: asyncio with a hand-written HTTP/1.1 client, one TCP connection per call (as
the CNI plugin, a fresh process per pod, does). No third-party client: its own CPU is small and on
the record."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from bench.checks import percentile

HOST = "127.0.0.1"


async def call(port: int, path: str, body: dict, *, token: str | None) -> tuple[int, dict]:
    """POST a JSON body on a fresh connection; (HTTP status, decoded JSON body).

    Like a CNI plugin (a Go process that exits when done): HTTP/1.1 without `Connection: close`,
    the answer read by its length, then the client closes. (A `Connection: close` request makes
    gunicorn's gthread worker linger on its main thread until the client has closed too.)"""
    payload = json.dumps(body).encode()
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{auth}Content-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    status, _, content = await _exchange(port, head + payload)
    return status, json.loads(content)


async def get(port: int, path: str, *, token: str | None = None, cookie: str = "") -> tuple[int, dict, bytes]:
    """GET `path` (with its query) on a fresh connection, as a reader of the API or the console
    does; (HTTP status, headers, body)."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    cookies = f"Cookie: {cookie}\r\n" if cookie else ""
    head = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{auth}{cookies}\r\n".encode()
    return await _exchange(port, head)


async def _exchange(port: int, request: bytes) -> tuple[int, dict, bytes]:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(request)
        status_line = await reader.readline()
        headers = {}
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            content = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            content = b""
            while size := int((await reader.readline()).split(b";")[0], 16):
                content += await reader.readexactly(size)
                await reader.readexactly(2)
        else:
            content = await reader.read(-1)
    finally:
        writer.close()
    return int(status_line.split(b" ", 2)[1]), headers, content


@dataclass
class Phase:
    """One kind of call, as the clients saw it."""

    calls: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    def summary(self) -> dict:
        lat = sorted(self.latencies)
        return {
            "calls": self.calls,
            "per_second": round(self.per_second, 1),
            "p50_ms": round(percentile(lat, 0.50) * 1000, 2),
            "p95_ms": round(percentile(lat, 0.95) * 1000, 2),
            "p99_ms": round(percentile(lat, 0.99) * 1000, 2),
            "errors": len(self.errors),
            "first_errors": self.errors[:3],
        }


async def drive(jobs: list, concurrency: int, deadline: float, phase: Phase, one) -> list:
    """Run `one(job)` for every job with `concurrency` clients; returns what the calls returned."""
    queue = iter(jobs)
    results = []

    async def client():
        for job in queue:
            if time.perf_counter() > deadline:
                phase.errors.append("deadline: not all calls were made")
                return
            started = time.perf_counter()
            try:
                ok, result = await one(job)
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                ok, result = False, f"{type(exc).__name__}: {exc}"
            phase.latencies.append(time.perf_counter() - started)
            phase.calls += 1
            if ok:
                results.append(result)
            else:
                phase.errors.append(str(result)[:300])

    started = time.perf_counter()
    await asyncio.gather(*[client() for _ in range(concurrency)])
    phase.seconds += time.perf_counter() - started
    return results
