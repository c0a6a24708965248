"""Group commit: writes that arrive while another write of this process is on its way to the
database are written together, by whichever request leads next, each acknowledged only after
the commit that holds it.

A multi-threaded (gthread) or gevent worker then pays one round trip, one BEGIN/COMMIT and one
WAL flush for several writes. With nothing in flight (a sync worker, a quiet moment) a write goes
alone, at once, without waiting for company. Two kinds use it: answer saves
(services/answers.py `GroupCommit`, one statement for a batch) and joins (quiz/join_lane.py
`JoinGroup`, a batch's joins one after another in one transaction).

The queue is this process's only; nothing another worker needs is kept here, and a batch's
writes are in the database before any of its requests is answered.

Batches that follow each other without a pause may share what a subclass keeps in `kept` (the
joins' database connection): it is handed from leader to leader with the queue and released
(`_release`) as soon as the queue runs empty, so a quiet process holds nothing.
"""
from __future__ import annotations

import threading


class Wakeup:
    """threading.Event's set / wait / is_set for one waiting request, on one lock, held while
    not set. A threading.Event costs three formatted AttributeErrors to build (its Condition probes
    the plain lock for RLock's methods), about 1 % of a join's CPU. Setting it again is harmless;
    it stays set after a wait, as an Event does. The locks are gevent's under monkey patching."""

    __slots__ = ("_lock",)

    def __init__(self):
        self._lock = threading.Lock()
        self._lock.acquire()

    def set(self) -> None:
        try:
            self._lock.release()
        except (RuntimeError, ValueError):  # already set (gevent's lock raises ValueError)
            pass

    def wait(self, timeout: float | None = None) -> bool:
        if not self._lock.acquire(timeout=-1 if timeout is None else timeout):
            return False
        self.set()  # stays set, for a later wait
        return True

    def is_set(self) -> bool:
        return not self._lock.locked()


class Pending:
    """One write waiting for its batch: what to write (`params`), then its result (`row`) or
    `error`, set by the batch that wrote it."""

    __slots__ = ("params", "event", "done", "promoted", "row", "error")

    def __init__(self, params):
        self.params = params
        self.event = Wakeup()
        self.done = self.promoted = False
        self.row = self.error = None


class Batcher:
    """The leader/follower queue of one kind of write. Subclasses write a batch in `_write`: each
    item's `row` or `error`, `done` and `event.set()` (items left undone get an error)."""

    WAIT_SECONDS = 30.0
    timeout_message = "waited too long for its batch"

    def __init__(self):
        self._lock = threading.Lock()
        self._queue: list[Pending] = []
        self._busy = False
        self.kept = None  # what consecutive batches share (used by the leader only)
        self.batches = 0  # statistics (read by tests and benchmarks)
        self.saves = 0

    def submit(self, context, params):
        """Write `params` in the next batch (led by this call when no batch is being written) and
        return its result, or raise its error. `context` is handed to `_write` (e.g. the engine)."""
        item = Pending(params)
        with self._lock:
            self._queue.append(item)
            lead = not self._busy
            self._busy = True
        if not lead and not item.event.wait(self.WAIT_SECONDS):
            with self._lock:
                if item in self._queue and not item.promoted:
                    self._queue.remove(item)  # the database is stuck: let the caller fall back
                    raise TimeoutError(self.timeout_message)
            if not item.promoted:
                item.event.wait()  # its batch is being written: that ends with a row or an error
        if lead or not item.done:  # leader, or promoted to lead the next batch (which includes it)
            self._flush_queue(context)
        if item.error is not None:
            raise item.error
        return item.row

    def _flush_queue(self, context) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            self._write(context, batch)
        finally:
            for item in batch:
                if not item.done:  # never leave a waiting request behind
                    self.finish(item, error=item.error or RuntimeError("the batch was not written"))
            released = None
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.promoted = True
                    successor.event.set()
                else:
                    released, self.kept = self.kept, None
                    self._busy = False
            if released is not None:
                self._release(released)

    def _write(self, context, batch: list[Pending]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _release(self, kept) -> None:
        """Let go of what consecutive batches shared (the queue ran empty)."""

    @staticmethod
    def finish(item: Pending, row=None, error: BaseException | None = None) -> None:
        """Hand `item` its result and wake its request."""
        item.row, item.error, item.done = row, error, True
        item.event.set()
