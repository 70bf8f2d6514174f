"""Helpers of the failover tests."""

from __future__ import annotations

import json

from tests.support.load import LoadRun


def figures(name: str, **values) -> None:
    print(f"FIGURES {name} " + json.dumps(values, sort_keys=True))


def assert_only_unavailable_or_definite(load: LoadRun) -> None:
    """No 500, no hang, no lost connection: every attempt a definite answer or 503 / Code 50."""
    bad = [
        c
        for c in load.calls
        if c.status not in (200, 404, 409, 503) or (c.status == 503) != (c.code == 50) or c.status == 0
    ]
    assert not bad, [(c.op, c.status, c.code, c.msg) for c in bad[:10]]
    assert not load.unexpected, load.unexpected[:10]
