"""CPU time per call, from /proc: the server's processes (a gunicorn master and its workers) and
every process of the PostgreSQL cluster (backends, WAL writer, checkpointer ...), read before and
after a phase and divided by its calls, so that figures compare across machines.

A process that ends during a phase takes its CPU with it (short-lived backends would be missed);
the server keeps its database connections, so its backends live through the phases."""

from __future__ import annotations

import os
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return text[text.rindex(")") + 2 :].split()


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of the process (all its threads), in clock ticks."""
    fields = _stat(pid)
    return None if fields is None else int(fields[11]) + int(fields[12])


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat(int(name))
            if fields is not None:
                parents.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += parents.get(pid, [])
    return found


def postmaster_pid(database_url: str) -> int | None:
    """The PostgreSQL cluster's main process (the parent of this connection's backend), when the
    cluster runs on this machine."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    fields = _stat(backend)
    return None if fields is None else int(fields[1])


@dataclass
class Meter:
    """Where to read CPU from: the server roots (each a process tree) and the cluster's root."""

    server_roots: list[int] = field(default_factory=list)
    postmaster: int | None = None

    def snapshot(self) -> tuple[dict[int, int], dict[int, int]]:
        def ticks(roots):
            out = {}
            for root in roots:
                for pid in process_tree(root):
                    value = cpu_ticks(pid)
                    if value is not None:
                        out[pid] = value
            return out

        return ticks(self.server_roots), ticks([self.postmaster] if self.postmaster else [])

    @contextmanager
    def counting(self, tally: Tally):
        """Add the CPU spent during the block to `tally`."""
        before = self.snapshot()
        yield
        after = self.snapshot()
        for key, start, end in (("server", before[0], after[0]), ("pg", before[1], after[1])):
            tally.ticks[key] += sum(ticks - start.get(pid, 0) for pid, ticks in end.items())
        for pid, ticks in after[1].items():
            tally.pg_by_role[_pg_role(pid)] += ticks - before[1].get(pid, 0)


AUXILIARY = ("walwriter", "checkpointer", "background writer", "autovacuum", "logical replication", "archiver",
             "walsender", "walreceiver", "startup", "wal summarizer")  # fmt: skip


def _pg_role(pid: int) -> str:
    """A PostgreSQL process's role from its title: "backend" for a client connection (the bench's
    vacuum stand-in's too), else its name (walwriter, checkpointer, ...)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            title = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "gone"
    if not title.startswith("postgres: "):
        return "postmaster"
    rest = title.removeprefix("postgres: ")
    head, _, tail = rest.partition(": ")  # Debian's "15/main: walwriter" (cluster_name)
    if tail and " " not in head:
        rest = tail
    return next((name for name in AUXILIARY if rest.startswith(name)), "backend")


@dataclass
class Tally:
    """CPU ticks spent over one or more blocks of one phase."""

    ticks: dict[str, int] = field(default_factory=lambda: {"server": 0, "pg": 0})
    pg_by_role: Counter = field(default_factory=Counter)  # the "pg" ticks by process role

    def per_call(self, calls: int) -> dict:
        n = max(1, calls)
        out = {f"{key}_cpu_us_per_call": round(1e6 * t / TICKS_PER_SECOND / n, 1) for key, t in self.ticks.items()}
        roles = {role: round(1e6 * t / TICKS_PER_SECOND / n, 1) for role, t in self.pg_by_role.most_common() if t}
        if roles:
            out["pg_cpu_us_per_call_by_role"] = roles
        return out
