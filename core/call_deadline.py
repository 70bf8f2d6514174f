"""No call holds a worker thread on the database past IPRESMGR_DB_CALL_TIMEOUT_MS.

statement_timeout bounds statements, not a COMMIT waiting for a synchronous standby: PostgreSQL
waits for the standby without limit, and a cancel during that wait leaves the transaction
committed locally (with a WARNING). So a watchdog cancels the backend of a call past its
deadline, and the call answers Code 50 "outcome unknown, retry" whatever the database said
(every /v1 call is idempotent, so the retry is safe).

Cheap on the hot path: one timer thread per process and a heap of deadlines; a call pushes its
deadline and marks it done, nothing else. Entries of finished calls are dropped lazily when their
deadline comes up, and the timer wakes at most every `TICK_S`."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time

log = logging.getLogger("ipresmgr.database")

TICK_S = 0.1  # the timer's resolution: a deadline fires at most this late
REPEAT_S = 1.0  # a call still running after its cancel is cancelled again this often
CANCEL_TIMEOUT_S = 2.0


class Watch:
    __slots__ = ("wrapper", "deadline", "lock", "done", "fired")

    def __init__(self, wrapper, deadline: float):
        self.wrapper = wrapper  # the calling thread's Django connection
        self.deadline = deadline
        self.lock = threading.Lock()  # a cancel never reaches the connection's next call
        self.done = False
        self.fired = False


class Watchdog:
    def __init__(self):
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._idle = False

    def watch(self, wrapper, timeout_s: float) -> Watch:
        watch = Watch(wrapper, time.monotonic() + timeout_s)
        with self._cond:
            heapq.heappush(self._heap, (watch.deadline, next(self._seq), watch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ipresmgr-call-deadline", daemon=True)
                self._thread.start()
            elif self._idle or self._heap[0][2] is watch:  # a later deadline needs no wake-up
                self._cond.notify()
        return watch

    @staticmethod
    def release(watch: Watch) -> bool:
        """The call is over; True when its deadline passed (its outcome is unknown)."""
        with watch.lock:
            watch.done = True
        return watch.fired

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].done or self._heap[0][0] <= now):
                    _, _, watch = heapq.heappop(self._heap)
                    if not watch.done:
                        self._fire(watch, now)
                if not self._heap:
                    self._idle = True
                    self._cond.wait()
                    self._idle = False
                else:
                    self._cond.wait(max(self._heap[0][0] - now, TICK_S))

    def _fire(self, watch: Watch, now: float) -> None:
        first = not watch.fired
        watch.fired = True
        heapq.heappush(self._heap, (now + REPEAT_S, next(self._seq), watch))
        # The cancel is a network round trip: never on the timer's thread. Rare by design.
        threading.Thread(target=self._cancel, args=(watch, first), daemon=True).start()

    @staticmethod
    def _cancel(watch: Watch, first: bool) -> None:
        with watch.lock:
            if watch.done:
                return
            connection = watch.wrapper.connection
            if connection is None or connection.closed:
                return  # connecting: bounded by connect_timeout
            if first:
                log.warning("database call past IPRESMGR_DB_CALL_TIMEOUT_MS: cancelling it (outcome unknown)")
            try:
                connection.cancel_safe(timeout=CANCEL_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - the server may be gone; the call fails by itself then
                log.warning("cancelling a database call failed: %s", exc)


WATCHDOG = Watchdog()
