"""Events: what changed, told to every process and host after the transaction that changed it
commits (docs/deployment.md "Events and caches").

A service says what changed with `publish(channel, type, data)` (or the helpers `quiz_event` and
`sheet_graded`). Nothing leaves the process while the transaction is open: the event waits in the
ORM session and is delivered when the session commits, or dropped when it (or the savepoint it
was published in) rolls back. Delivery:

- in this process at once, inside the commit, to the handlers registered with `subscribe`
  (cache invalidation: the board snapshot, the bank pool, the answer module's sheet cache) and to
  open `listen` subscriptions;
- with `REDIS_URL` set, through Redis to every other process and host: a Lua script gives the
  event the next id of its channel (INCR), keeps the last EVENTS_HISTORY events of the channel for
  replay, and PUBLISHes it, atomically, so ids arrive in order. Each process runs one listener
  (a daemon thread, a greenlet under gevent; started on first use, again after a fork) that
  hands events from other processes to the same handlers and subscriptions.

Without REDIS_URL the in-process backend does the same within one process (tests, the one-process
demo); other processes then never hear of a change, so caches fall back to short expiry
(`shared()` is False). When the Redis listener is not connected (start-up, an outage) `shared()`
is False too, and the handlers get a `reset` event on every (re)connection because events may
have been missed.

Channels and payloads (JSON objects; every event also has `id`, the channel's next integer,
usable as an SSE `Last-Event-ID`):

    quiz:<id>   sheet      a sheet was submitted or graded at its deadline: quiz, attempt,
                           participant, number, name, unit, unit_id, score, max_score,
                           correct_count, time_used_ms, submitted_at (ISO 8601), auto
                closed     the quiz was closed early: quiz, closes_at (its open sheets follow as
                           `sheet` events, one per sheet as each is graded)
                extended   closing time and open deadlines moved: quiz, closes_at, minutes
                freeze     the public board was frozen or revealed: quiz, freeze_at (null = live)
                regrade    scores changed by a regrade or its undo: quiz, regrade, changed, undone
                exclusion  a sheet was excluded or restored: quiz, attempt, participant, excluded
    banks       questions  questions of a bank were imported, edited or retired: bank (or null),
                           questions (ids, or null = any)
    units       changed    a unit was renamed, moved or deleted: unit (its id); the paths of its
                           subtree changed (join caches of audience paths are dropped)
    *           reset      (handlers only, never published) events may have been missed: drop
                           every cached thing

The answer module's sheet cache should subscribe to "quiz:*" (`sheet`: payload.attempt is no
longer open; `closed`/`extended`: deadlines of the quiz's open sheets changed), "banks" (a
question's type or option count may have changed) and "reset".
"""
from __future__ import annotations

import fnmatch
import json
import logging
import os
import threading
import time
import uuid
import weakref
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

from flask import Flask, current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

BANKS = "banks"
UNITS = "units"
RESET = "reset"
PENDING_KEY = "quiz.events.pending"  # session.info: events waiting for the commit


def quiz_channel(quiz_id: int) -> str:
    """The channel of everything that changes a quiz's results: "quiz:<id>"."""
    return f"quiz:{int(quiz_id)}"


@dataclass(frozen=True)
class Event:
    """One delivered event: its channel, the channel's id for it, its type and JSON data."""

    channel: str
    id: int
    type: str
    data: dict
    origin: str = ""

    def sse(self) -> str:
        """The event as a Server-Sent Events frame (id, event, data)."""
        return f"id: {self.id}\nevent: {self.type}\ndata: {json.dumps(self.data, ensure_ascii=False)}\n\n"


# ---------------------------------------------------------------- handlers
_handlers: list[tuple[str, Callable[[Event], None]]] = []


def subscribe(pattern: str, handler: Callable[[Event], None]) -> None:
    """Call `handler(event)` for every event whose channel matches `pattern` (fnmatch style:
    "quiz:*", "banks"), in every app of this process, inside that app's context, from whichever
    thread delivers it (the committing request, or the Redis listener). Handlers must be quick
    and must not touch the database; they also get `reset` events (channel "*"). Registering the
    same handler twice has no effect."""
    if (pattern, handler) not in _handlers:
        _handlers.append((pattern, handler))


def _matching(channel: str) -> list[Callable[[Event], None]]:
    if channel == "*":
        return [h for _p, h in _handlers]
    return [h for p, h in _handlers if p == channel or fnmatch.fnmatchcase(channel, p)]


# ---------------------------------------------------------------- publishing
def publish(channel: str, type: str, data: dict | None = None) -> None:
    """Publish an event once the current transaction commits (at once when none is open).
    `data` must be JSON-serialisable; it is checked here, so a mistake shows at the call."""
    data = dict(data or {})
    json.dumps(data)
    hub = get_hub()
    from quiz.extensions import db

    session = db.session()
    if session.in_transaction():
        tag = session.get_nested_transaction() or session.get_transaction()
        session.info.setdefault(PENDING_KEY, []).append((tag, hub, channel, type, data))
    else:
        hub.publish(channel, type, data)


def quiz_event(quiz_id: int, type: str, **data) -> None:
    """publish on the quiz's channel, with `quiz` in the data; datetimes become ISO 8601."""
    publish(quiz_channel(quiz_id), type, {"quiz": quiz_id, **{k: _jsonable(v) for k, v in data.items()}})


def sheet_graded(attempt) -> None:
    """The `sheet` event of a sheet just submitted or graded at its deadline."""
    from quiz.extensions import db
    from quiz.models import Participant, Unit

    person = db.session.get(Participant, attempt.participant_id)
    unit = db.session.get(Unit, person.unit_id) if person is not None else None
    quiz_event(attempt.quiz_id, "sheet", attempt=attempt.id, participant=attempt.participant_id,
               number=attempt.number, name=person.name if person else "", unit=unit.path if unit else "",
               unit_id=unit.id if unit else None, score=attempt.score, max_score=attempt.max_score,
               correct_count=attempt.correct_count, time_used_ms=attempt.time_used_ms,
               submitted_at=attempt.submitted_at, auto=bool(attempt.auto_submitted))


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _descends(transaction, ancestor) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@sa_event.listens_for(Session, "after_commit")
def _deliver_after_commit(session: Session) -> None:
    pending = session.info.pop(PENDING_KEY, None)
    for _tag, hub, channel, type_, data in pending or ():
        try:
            hub.publish(channel, type_, data)
        except Exception:  # noqa: BLE001 - the commit has happened; a lost event is logged, not raised
            log.exception("event %s on %s could not be delivered", type_, channel)


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction) -> None:
    pending = session.info.get(PENDING_KEY)
    if pending:
        session.info[PENDING_KEY] = [p for p in pending if not _descends(p[0], previous_transaction)]


@sa_event.listens_for(Session, "after_transaction_end")
def _drop_unfinished(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended without a commit (after_commit emptied it)
        session.info.pop(PENDING_KEY, None)


# ---------------------------------------------------------------- subscriptions (SSE)
class Subscription:
    """Events of some channels as they are delivered in this process, after a replay of the ones
    after `last_ids` (per channel) that are still kept. `get(timeout)` returns the next event or
    None; an event of type `reset` means events were missed (the history no longer reaches back
    to the last id, or the Redis listener reconnected): reload the whole state."""

    def __init__(self, hub: "Hub", channels: Iterable[str], last_ids: dict[str, int] | None = None,
                 max_queued: int = 10_000):
        self.hub = hub
        self.channels = set(channels)
        self.last = dict(last_ids or {})
        self._queue: deque[Event] = deque()
        self._cond = threading.Condition()
        self._max = max_queued
        self.closed = False
        hub._subscriptions.add(self)
        for channel in sorted(self.channels):
            if channel in self.last:
                self._replay(channel, self.last[channel])

    def _replay(self, channel: str, after: int) -> None:
        events = self.hub.history(channel, after)
        if after and (not events or events[0].id > after + 1) and self.hub.last_id(channel) > after:
            self._put(Event(channel, after, RESET, {"reason": "history"}))
        for e in events:
            self._put(e)

    def _put(self, event: Event) -> None:
        with self._cond:
            if len(self._queue) >= self._max:
                self._queue.clear()
                self._queue.append(Event(event.channel, event.id, RESET, {"reason": "overflow"}))
            else:
                self._queue.append(event)
            self._cond.notify()

    def offer(self, event: Event) -> None:
        if event.channel == "*" or event.channel in self.channels:
            self._put(event)

    def get(self, timeout: float | None = None) -> Event | None:
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                while self._queue:
                    e = self._queue.popleft()
                    if e.type == RESET or e.id > self.last.get(e.channel, 0):
                        if e.type != RESET:
                            self.last[e.channel] = e.id
                        return e
                remaining = None if end is None else end - time.monotonic()
                if self.closed or (remaining is not None and remaining <= 0):
                    return None
                self._cond.wait(remaining)

    def close(self) -> None:
        self.closed = True
        self.hub._subscriptions.discard(self)
        with self._cond:
            self._cond.notify_all()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------- the hub of one app
class Hub:
    """One app's events: ids, history, local delivery; subclasses add a transport."""

    shared_backend = False

    def __init__(self, app: Flask, history: int):
        self.app = app
        self.origin = uuid.uuid4().hex
        self.history_size = history
        self._subscriptions: "weakref.WeakSet[Subscription]" = weakref.WeakSet()
        self._lock = threading.Lock()

    # transport
    def publish(self, channel: str, type_: str, data: dict) -> Event:
        raise NotImplementedError

    def last_id(self, channel: str) -> int:
        raise NotImplementedError

    def history(self, channel: str, after: int) -> list[Event]:
        raise NotImplementedError

    def shared(self) -> bool:
        """Do events of other processes reach this one now?"""
        return False

    def epoch(self) -> int:
        """Changes whenever the delivery from other processes (re)starts: a cache filled in an
        earlier epoch may have missed events."""
        return 0

    # delivery
    def deliver(self, event: Event) -> None:
        """Hand an event to this app's handlers (in its app context) and subscriptions."""
        handlers = _matching(event.channel)
        if handlers:
            if has_app_context() and current_app._get_current_object() is self.app:
                self._call(handlers, event)
            else:
                with self.app.app_context():
                    self._call(handlers, event)
        for subscription in list(self._subscriptions):
            subscription.offer(event)

    @staticmethod
    def _call(handlers, event: Event) -> None:
        for handler in handlers:
            try:
                handler(event)
            except Exception:  # noqa: BLE001 - one broken handler must not stop the others
                log.exception("event handler %r failed on %s %s", handler, event.channel, event.type)


class MemoryHub(Hub):
    """In-process backend: ids and history in memory; events reach this app only."""

    def __init__(self, app: Flask, history: int):
        super().__init__(app, history)
        self._ids: dict[str, int] = defaultdict(int)
        self._history: dict[str, deque] = defaultdict(lambda: deque(maxlen=self.history_size))

    def publish(self, channel: str, type_: str, data: dict) -> Event:
        with self._lock:
            self._ids[channel] += 1
            event = Event(channel, self._ids[channel], type_, data, self.origin)
            self._history[channel].append(event)
        self.deliver(event)
        return event

    def last_id(self, channel: str) -> int:
        return self._ids.get(channel, 0)

    def history(self, channel: str, after: int) -> list[Event]:
        with self._lock:
            return [e for e in self._history.get(channel, ()) if e.id > after]


_PUBLISH_LUA = """
local id = redis.call('INCR', KEYS[1])
local message = id .. ' ' .. ARGV[1]
redis.call('ZADD', KEYS[2], id, message)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
redis.call('PUBLISH', KEYS[3], message)
return id
"""

_redis_hubs: "weakref.WeakSet[RedisHub]" = weakref.WeakSet()


def _after_fork() -> None:
    for hub in list(_redis_hubs):
        hub._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class RedisHub(Hub):
    """Redis pub/sub backend: every process and host on the same Redis (and EVENTS_PREFIX)."""

    shared_backend = True

    def __init__(self, app: Flask, history: int, url: str, prefix: str, history_ttl: int):
        super().__init__(app, history)
        import redis

        self.url, self.prefix, self.history_ttl = url, prefix, history_ttl
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._redis.register_script(_PUBLISH_LUA)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._healthy = False
        self._epoch = 0
        self._down_until = 0.0  # after a failed publish, skip Redis for a moment (no stall per request)
        _redis_hubs.add(self)

    def _key(self, kind: str, channel: str) -> str:
        return f"{self.prefix}{kind}:{channel}"

    def publish(self, channel: str, type_: str, data: dict) -> Event:
        body = json.dumps({"t": type_, "d": data, "o": self.origin}, ensure_ascii=False, separators=(",", ":"))
        event_id = 0
        if time.monotonic() >= self._down_until:
            try:
                event_id = int(self._script(keys=[self._key("seq", channel), self._key("log", channel),
                                                  self.prefix + channel],
                                            args=[body, self.history_size, self.history_ttl]))
            except Exception:  # noqa: BLE001 - Redis down: this process still hears its own event
                log.warning("events: Redis publish failed; other processes miss %s on %s", type_, channel,
                            exc_info=True)
                self._down_until = time.monotonic() + 5
        event = Event(channel, event_id, type_, data, self.origin)
        self.deliver(event)
        self.ensure_listening()
        return event

    def last_id(self, channel: str) -> int:
        return int(self._redis.get(self._key("seq", channel)) or 0)

    def history(self, channel: str, after: int) -> list[Event]:
        rows = self._redis.zrangebyscore(self._key("log", channel), f"({int(after)}", "+inf")
        return [e for e in (self._decode(channel, raw) for raw in rows) if e is not None]

    def _decode(self, channel: str, raw) -> Event | None:
        try:
            text = raw.decode() if isinstance(raw, bytes) else raw
            head, _sep, body = text.partition(" ")
            message = json.loads(body)
            return Event(channel, int(head), message["t"], message.get("d") or {}, message.get("o", ""))
        except (ValueError, KeyError, TypeError):
            log.warning("events: malformed message on %s: %r", channel, raw[:200])
            return None

    # listening
    def shared(self) -> bool:
        self.ensure_listening()
        return self._healthy

    def epoch(self) -> int:
        return self._epoch

    def ensure_listening(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._stop.clear()
                    self._thread = threading.Thread(target=self._listen, name="quiz-events", daemon=True)
                    self._thread.start()

    def _forked(self) -> None:
        """In a forked child the parent's listener does not exist: start afresh on next use."""
        self._thread, self._healthy, self._lock = None, False, threading.Lock()
        self._redis.connection_pool.reset()

    def stop(self) -> None:
        self._stop.set()

    def _set_unhealthy(self) -> None:
        if self._healthy:
            self._healthy = False
            self._epoch += 1

    def _listen(self) -> None:
        import redis

        backoff = 0.2
        while not self._stop.is_set():
            client = redis.Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=None,
                                          socket_keepalive=True, health_check_interval=15)
            pubsub = client.pubsub()
            try:
                pubsub.psubscribe(self.prefix + "*")
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "psubscribe":
                        self._epoch += 1
                        self.deliver(Event("*", 0, RESET, {"reason": "subscribed"}))
                        self._healthy = True
                        backoff = 0.2
                    elif message["type"] == "pmessage":
                        self._receive(message["channel"], message["data"])
            except Exception:  # noqa: BLE001 - reconnect with backoff; caches expire meanwhile
                if not self._stop.is_set():
                    log.warning("events: Redis listener lost its connection; reconnecting", exc_info=True)
            finally:
                self._set_unhealthy()
                try:
                    pubsub.close()
                    client.close()
                except Exception:  # noqa: BLE001
                    pass
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 5.0)

    def _receive(self, channel, raw) -> None:
        channel = channel.decode() if isinstance(channel, bytes) else channel
        if not channel.startswith(self.prefix):
            return
        event = self._decode(channel[len(self.prefix):], raw)
        if event is not None and event.origin != self.origin:  # our own were delivered at commit
            self.deliver(event)


# ---------------------------------------------------------------- app wiring
def _default_prefix(url: str) -> str:
    """Pub/sub channels are not separated by Redis database numbers: the number goes into the
    prefix, so two installations on different databases of one Redis never hear each other."""
    from urllib.parse import urlparse

    path = urlparse(url).path.strip("/") or "0"
    return f"quiz-events:{path}:"


def init_app(app: Flask) -> None:
    """Create the app's hub: Redis pub/sub when REDIS_URL is set (EVENTS_BACKEND "auto"), else
    in-process."""
    url = app.config.get("REDIS_URL")
    backend = app.config.get("EVENTS_BACKEND", "auto")
    history = int(app.config.get("EVENTS_HISTORY", 1000))
    if backend == "redis" or (backend == "auto" and url):
        if not url:
            raise RuntimeError("EVENTS_BACKEND = 'redis' needs REDIS_URL")
        hub: Hub = RedisHub(app, history, url, app.config.get("EVENTS_PREFIX") or _default_prefix(url),
                            int(app.config.get("EVENTS_HISTORY_SECONDS", 86_400)))
    else:
        hub = MemoryHub(app, history)
        from quiz.security import server_workers

        workers = server_workers()
        if workers and workers > 1:
            log.warning("Events stay inside each of %d worker processes (no REDIS_URL; this is pid %d): a "
                        "worker sees another's changes to boards and bank pools only after re-checking the "
                        "database (BOARD_MAX_AGE). Set REDIS_URL=redis://… (docs/deployment.md).",
                        workers, os.getpid())
    app.extensions["events"] = hub


def get_hub(app: Flask | None = None) -> Hub:
    return (app or current_app).extensions["events"]


def shared(app: Flask | None = None) -> bool:
    """True while events published by other processes reach this one (Redis, listener connected)."""
    return get_hub(app).shared()


def last_id(channel: str) -> int:
    """The id of the channel's latest event (0 when none)."""
    return get_hub().last_id(channel)


def listen(channels: Iterable[str], last_event_id: int | dict[str, int] | None = None) -> Subscription:
    """Subscribe this process to `channels` (for a Server-Sent Events stream): events after
    `last_event_id` that are still kept come first, then every new one as it is delivered. One
    channel per stream lets the SSE `Last-Event-ID` be the channel's integer id; for several,
    pass {channel: id}. Close it (or use `with`) when the client goes."""
    hub = get_hub()
    channels = list(channels)
    if isinstance(last_event_id, int):
        last = {c: last_event_id for c in channels}
    else:
        last = dict(last_event_id or {})
    if isinstance(hub, RedisHub):
        hub.ensure_listening()
    return Subscription(hub, channels, last)


def parse_last_event_id(value: str | None) -> int | None:
    """An SSE `Last-Event-ID` header (or ?last_event_id=) as a channel id; None when absent or not
    a plain non-negative integer."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def sse_frames(subscription: Subscription, *, heartbeat: float = 15.0, stop: Callable[[], bool] | None = None):
    """Server-Sent Events frames for a subscription, for a streaming response: each event as
    Event.sse(), and a comment line every `heartbeat` seconds without one (keeps proxies and
    phones from dropping the connection). Ends when `stop()` says so or the subscription closes."""
    try:
        while not subscription.closed and not (stop and stop()):
            event = subscription.get(heartbeat)
            yield event.sse() if event is not None else ": keep-alive\n\n"
    finally:
        subscription.close()
