"""Bounded reads: no list answer's cost grows with the whole table (issue 12).

- Counts are exact up to a bound (`IPRESMGR_READ_COUNT_BOUND`): counting stops at the bound's
  next row, and an answer says whether its count is exact or "more than".
- Deep pages go by keyset on the list's sort keys (a cursor names the last row seen), not by
  OFFSET, which reads and throws away every row before the page.
- On PostgreSQL a read runs under a read slot (at most `IPRESMGR_READ_CONCURRENCY` reads at once
  over every instance on the database, so that reads cannot take every core from the writers; a
  read that finds none free waits up to the read timeout, then answers Code 50, busy) and a
  statement timeout of its own (`IPRESMGR_READ_STATEMENT_TIMEOUT_MS`), shorter than the writers'.
  A read cut off by it is refused as too broad: retrying it would fail again, so it is Code 1
  asking to narrow the query, never Code 50.

The read API (contract.framework.views) and the console (audit.admin) both read through here."""

from __future__ import annotations

import base64
import binascii
import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Q, QuerySet

from core.choices import Code
from core.errors import ServiceError

QUERY_CANCELED = "57014"  # SQLSTATE of a statement cut off by statement_timeout
# First key of the advisory locks that are read slots (second key: the slot's number). Locks on
# two int4 keys are a key space apart from those on one bigint key (which other locks may use), so
# the number only has to differ from other two-key advisory locks on the same database.
READ_SLOT_LOCK_SPACE = 0x1B12


class ReadTooBroad(ServiceError):
    """A read that would take longer than the read timeout: narrow it (a retry would fail again)."""

    def __init__(self, msg: str):
        super().__init__(Code.INVALID_REQUEST, msg)


def too_broad_msg(narrow_by: str) -> str:
    return (
        f"query too broad: it would take longer than {settings.IPRESMGR_READ_STATEMENT_TIMEOUT_MS} ms; "
        f"narrow it with {narrow_by}"
    )


# Counting -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoundedCount:
    """`n` rows exactly, or (`exact` False) more than `n`: counting stopped at the bound."""

    n: int
    exact: bool

    def __str__(self) -> str:
        return f"{self.n}" if self.exact else f"more than {self.n}"


def bounded_count(queryset: QuerySet, bound: int | None = None) -> BoundedCount:
    """Count the rows of `queryset`, but read at most `bound` + 1 of them (one index range scan
    when an index matches the filters), whatever the size of the table."""
    bound = settings.IPRESMGR_READ_COUNT_BOUND if bound is None else bound
    # With the list's ORDER BY kept, the count walks the index the page walks (one that starts with
    # the filter and ends with the sort keys), not a sequential scan the planner may think cheap
    # for a common value, which reads the whole table when that value's rows are old.
    n = queryset[: bound + 1].count()
    return BoundedCount(n=n, exact=True) if n <= bound else BoundedCount(n=bound, exact=False)


# Keyset pages -------------------------------------------------------------------------------------


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    """A position in a list sorted by `keys` (all ascending or all descending, the last one
    unique): the key values of one row, and whether the page wanted is the one after that row or
    the one before it."""

    keys: tuple[str, ...]
    values: tuple
    before: bool = False

    def encode(self) -> str:
        values = [v.isoformat() if isinstance(v, datetime) else v for v in self.values]
        text = json.dumps({"k": list(self.keys), "v": values, "b": self.before}, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, keys: tuple[str, ...], fields: dict[str, type]) -> Cursor:
        """The cursor in `token`, which must have been made for a list sorted by `keys`; `fields`
        says which keys are times (datetime) and which integers."""
        try:
            data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            if tuple(data["k"]) != keys:
                raise BadCursor("made for another Ordering")
            values = tuple(
                _time(value) if fields[key.lstrip("-")] is datetime else _row_id(value)
                for key, value in zip(keys, data["v"], strict=True)
            )
            return cls(keys=keys, values=values, before=bool(data["b"]))
        except BadCursor:
            raise
        except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, OverflowError):
            raise BadCursor("not a cursor this server made") from None

    @classmethod
    def of(cls, row, keys: tuple[str, ...], *, before: bool = False) -> Cursor:
        return cls(keys=keys, values=tuple(getattr(row, key.lstrip("-")) for key in keys), before=before)


def _time(text: str) -> datetime:
    """A time in UTC, as the database compares it (an offset PostgreSQL refuses never reaches it)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("a cursor's time carries its offset")
    return value.astimezone(UTC)


def _row_id(value: int) -> int:
    if type(value) is not int or not 0 <= value < 2**63:
        raise ValueError("a cursor's row ID is a 64-bit integer")
    return value


def beyond(queryset: QuerySet, cursor: Cursor) -> QuerySet:
    """The rows after the cursor's row in the cursor's sort (before it, for `before`), in the order
    to read them: the page's rows come first.

    The condition is `k1 <= v1 AND (k1 < v1 OR (k1 = v1 AND k2 < v2) ...)` (`>=`, `>` ascending):
    its first term is an index range condition, so the scan starts at the cursor instead of
    stepping over every row before it; the rest settles rows whose first key ties."""
    descending = cursor.keys[0].startswith("-")
    forward = descending != cursor.before  # True: read towards smaller values
    fields = [key.lstrip("-") for key in cursor.keys]
    strict = "lt" if forward else "gt"
    match = Q()
    for position, (field, value) in enumerate(zip(fields, cursor.values, strict=True)):
        ties = {f: v for f, v in zip(fields[:position], cursor.values[:position], strict=True)}
        match |= Q(**ties, **{f"{field}__{strict}": value})
    first = {f"{fields[0]}__{strict}e": cursor.values[0]}
    order = [("-" if forward else "") + field for field in fields]
    return queryset.filter(**first).filter(match).order_by(*order)


# The read timeout and read slots ------------------------------------------------------------------


@contextmanager
def bounded_read(narrow_by: str = "a time window (Since, Until) or another filter") -> Iterator[None]:
    """Run the reads inside under a read slot and the read statement timeout (PostgreSQL), in one
    transaction. A statement the timeout cuts off raises ReadTooBroad naming `narrow_by`.

    SQLite has neither: it serves one process, and its readers never block its writer (WAL)."""
    if connection.vendor != "postgresql":
        yield
        return
    try:
        with transaction.atomic():
            _take_read_slot_and_timeout()
            yield
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == QUERY_CANCELED:
            raise ReadTooBroad(too_broad_msg(narrow_by)) from None
        raise


def _take_read_slot_and_timeout() -> None:
    """Hold one of the `IPRESMGR_READ_CONCURRENCY` read slots until the transaction ends, and set
    the read timeout for the statements that follow: one round trip when a slot is free. Else wait
    for one, as long as the read timeout (then Code 50: busy, retry).

    An advisory lock per slot, so the bound holds over every process and instance on the database
    and a crashed reader's slot is freed with its connection."""
    slots = settings.IPRESMGR_READ_CONCURRENCY
    timeout = f"{settings.IPRESMGR_READ_STATEMENT_TIMEOUT_MS}ms"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, true), "
            "%s <= 0 OR EXISTS (SELECT FROM generate_series(0, %s - 1) AS s WHERE pg_try_advisory_xact_lock(%s, s))",
            [timeout, slots, slots, READ_SLOT_LOCK_SPACE],
        )
        if cursor.fetchone()[1]:
            return
        # Every slot is taken: wait for one, bounded by the lock timeout rather than the statement
        # timeout, so that a wait is told apart from a query too broad.
        cursor.execute(
            "SELECT set_config('statement_timeout', '0', true), set_config('lock_timeout', %s, true)", [timeout]
        )
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [READ_SLOT_LOCK_SPACE, random.randrange(slots)])
        cursor.execute(
            "SELECT set_config('statement_timeout', %s, true), "
            "set_config('lock_timeout', (SELECT reset_val FROM pg_settings WHERE name = 'lock_timeout'), true)",
            [timeout],
        )
