"""Logs as JSON lines: exactly one line per /v1 call (logger `ipresmgr.calls`), every other record
one line too. A call's warnings and errors (the view's "internal error" with its traceback, a
database outage) are folded into that call's own line, and Django's per-response
"Unauthorized: /v1/..." lines are dropped, so a storm of wrong tokens is one line per call.

Nothing here reads request headers: no token, nor its hash, can reach a log line."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

CALL_LOGGER = "ipresmgr.calls"


class CallNotes:
    """What happened during one /v1 call besides its answer."""

    __slots__ = ("errors", "traceback", "db_errors")

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.traceback: str | None = None
        self.db_errors: list[str] = []


_current_call: ContextVar[CallNotes | None] = ContextVar("ipresmgr_current_call", default=None)


@contextmanager
def call_scope() -> Iterator[CallNotes]:
    """Collect what is logged in this thread while a /v1 call runs."""
    notes = CallNotes()
    token = _current_call.set(notes)
    try:
        yield notes
    finally:
        _current_call.reset(token)


class FoldIntoCallLine(logging.Filter):
    """A handler filter: during a /v1 call, warnings and errors of other loggers go into the call's
    line instead of lines of their own; Django's response lines for /v1 paths are dropped (the call
    line carries the status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == CALL_LOGGER:
            return True
        if record.name == "django.request":
            request = getattr(record, "request", None)
            if str(getattr(request, "path", "")).startswith("/v1/"):
                return False
        notes = _current_call.get()
        if notes is None or record.levelno < logging.WARNING:
            return True
        notes.errors.append(record.getMessage())
        if record.exc_info and record.exc_info[0] is not None and notes.traceback is None:
            notes.traceback = "".join(traceback.format_exception(*record.exc_info))
        return False


def iso_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback included, its newlines escaped).
    A record with an `ipresmgr` dict (the call line) carries those fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict = {"time": iso_time(record.created), "level": record.levelname.lower(), "logger": record.name}
        fields = getattr(record, "ipresmgr", None)
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line["msg"] = record.getMessage()
        if record.exc_info and record.exc_info[0] is not None:
            line["traceback"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str, separators=(",", ":"))
