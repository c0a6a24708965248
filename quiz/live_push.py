"""The push of live contests: Server-Sent Events to every screen, phone and host console
(GET /live/<id>/stream, quiz/views/live.py), served by gunicorn's gevent workers
(docs/deployment.md "Live contests").

One *feed* per contest in each process, fed by the events of channel "live:<id>"
(quiz/events.py: in-process, or from every process and host through Redis):

- an event only bumps the feed's generation and wakes the feed's builder; nothing is built in the
  event handler (it runs in the committing request or the Redis listener);
- the builder (one thread, a greenlet under gevent, per feed with streams attached) builds the
  contest's snapshot (quiz/services/live.py `snapshot`) in a database session it releases at once,
  then wakes the streams, which share that build: each stream wakes once per state, not once per
  event. A build covers every event delivered before it started, so a burst of events (5,000
  buzzes) costs one build per build-time, not one per event, and no stream ever sends a state older
  than one it has sent. Builds for phones' events (joins, buzzes) are at least
  LIVE_PUSH_MIN_INTERVAL apart; a host's command (close, next, …: event type "state") is built at
  once, since that is the change the hall waits for (the host's own request may build it first:
  `host_state`; the builder then publishes that build);
- from a host's command arriving until this process's streams have written its state (at most
  LIVE_PUSH_GC_HOLD seconds) the process runs no garbage collection (`GcHold`): a collection in a
  worker holding thousands of streams stops all of them, and one that lands on a close reaches
  that worker's phones late; it runs right after instead;
- each state is JSON-encoded once per build (the public part, and each entrant's own part once),
  so a stream only joins prepared bytes: its player id and its entrant's standing;
- a stream waits for the builder's next state (a gevent primitive once gevent has patched
  threading), with a keep-alive comment every HEARTBEAT seconds; while a question runs and a host's
  console streams from this process, the builder also builds a state every second, which the
  console gets (its "answered" counter);
  screens and phones get a new state only when something they see changed.

Nothing here is needed by another process: a stream that reconnects to another worker or host
gets that process's current state at once (its feed builds one if it has none).
"""
from __future__ import annotations

import atexit
import gc
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field

from flask import Flask, current_app

from quiz import events

log = logging.getLogger(__name__)

HEARTBEAT = 15.0  # seconds between keep-alive comments on an idle stream
POLL = 1.0  # seconds: how stale a state may get when no events come from other workers
EXTENSION = "live_push"


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def with_join_url(body: dict, join_url: str | None) -> dict:
    """A state as one viewer gets it: the contest's phones' link is the one of the request's host
    (builds are shared by every host name the app is reached by)."""
    return {**body, "contest": {**body["contest"], "join_url": join_url}}


class GcHold:
    """No automatic garbage collection in this process while a host's command is delivered: held
    when the command's event arrives, released when the feed's streams have written its state, or
    after `seconds` at the latest. A process whose collector was already off (by someone else) is
    left as it is."""

    def __init__(self):
        self._lock = threading.Lock()
        self.held = False
        self._timer: threading.Timer | None = None

    def hold(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            if self.held or not gc.isenabled():
                return
            gc.disable()
            self.held = True
            self._timer = threading.Timer(seconds, self.release)
            self._timer.daemon = True
            self._timer.start()

    def release(self) -> None:
        with self._lock:
            if not self.held:
                return
            self.held = False
            gc.enable()
            timer, self._timer = self._timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()


gc_hold = GcHold()


@dataclass
class State:
    """One build of a contest's snapshot, with its encodings (made on first use, then shared)."""

    generation: int  # the feed's generation when the build started: it covers every earlier event
    event_id: int  # the channel's latest event id known then (the SSE id; Last-Event-ID)
    second: int
    snap: object  # quiz.services.live.Snapshot
    built: float  # time.monotonic() of the build
    content: int = 0  # goes up when what screens and phones see changed (server_time aside)
    seen: str = ""  # that content, for the comparison with the next build
    urgent_at: float | None = None  # time.monotonic() when the host's command it covers arrived here
    build_ms: float = 0.0
    sends: int = 0  # streams of this process that have written it (the write returned)
    last_sent: float = 0.0  # time.monotonic() of the latest of those writes
    _frames: dict = field(default_factory=dict)
    _mine: dict = field(default_factory=dict)

    def frame(self, role: str, join_url: str | None, player_id: int | None = None,
              entrant_id: int | None = None) -> bytes:
        """The SSE frame of this state for one viewer: "host", "screen", or "player"."""
        key = (role, join_url)
        head = self._frames.get(key)
        if head is None:
            body = with_join_url({"host": self.snap.host, "player": self.snap.phone}.get(role, self.snap.public),
                                 join_url)
            text = f"id: {self.event_id}\nevent: state\ndata: {_dumps(body)}"
            # a player's frame is the public one with "me" spliced in before its closing brace
            head = (text + "\n\n").encode() if role != "player" else (text[:-1] + ',"me":{"player":').encode()
            self._frames[key] = head
        if role != "player":
            return head
        mine = self._mine.get(entrant_id)
        if mine is None:
            rest = _dumps(self.snap.mine.get(entrant_id, {}))
            mine = (("," + rest[1:]) if rest != "{}" else "}").encode() + b"}\n\n"
            self._mine[entrant_id] = mine
        return head + str(player_id).encode() + mine


class Feed:
    """One contest in one process: the latest state and the streams waiting for the next."""

    def __init__(self, app: Flask, contest_id: int, event_id: int, workers: int = 1):
        self.app = app
        self.contest_id = contest_id
        self.channel = f"live:{contest_id}"
        self.generation = 0
        self.urgent = 0  # the generation of the latest host command: built without the interval
        self.urgent_at = 0.0  # time.monotonic() when that command's event arrived
        self.event_id = event_id
        self.state: State | None = None
        self._changed = threading.Condition()
        self._build = threading.Lock()
        self.builds = 0
        self.built_at = float("-inf")
        self.min_interval = float(app.config.get("LIVE_PUSH_MIN_INTERVAL", 0.2))
        self.gc_hold = float(app.config.get("LIVE_PUSH_GC_HOLD", 1.0))
        self.workers = workers
        self.streams = 0  # streams attached (frames): the builder runs while there are any
        self.hosts = 0  # of which hosts' consoles: only they need a state every second of a question
        self.published: State | None = None  # the builder's latest state (the host's streams send each)
        self.published_content: State | None = None  # its latest that changed what phones and screens see
        self.gone = False  # the contest no longer exists: the streams end
        lock = threading.Lock()
        self._any = threading.Condition(lock)  # a state was published
        self._content = threading.Condition(lock)  # … that changed what phones and screens see
        self._builder: threading.Thread | None = None

    def changed(self, event_id: int = 0, *, urgent: bool = False) -> None:
        """An event arrived (or events may have been missed): wake the builder. An `urgent` one (a
        host's command) is built without waiting for the interval between builds."""
        with self._changed:
            self.generation += 1
            if urgent:
                self.urgent = self.generation
                self.urgent_at = time.monotonic()
                gc_hold.hold(self.gc_hold)
            self.event_id = max(self.event_id, event_id)
            self._changed.notify_all()

    # ---------------------------------------------------------------- the builder and its streams
    def attach(self, *, host: bool = False) -> None:
        """A stream starts: make sure the builder runs."""
        with self._changed:
            self.streams += 1
            self.hosts += host
            if self._builder is None:
                self._builder = threading.Thread(target=self._build_loop, name=f"live-feed-{self.contest_id}",
                                                 daemon=True)
                self._builder.start()

    def detach(self, *, host: bool = False) -> None:
        with self._changed:
            self.streams -= 1
            self.hosts -= host
            self._changed.notify_all()  # the builder stops with the last stream

    def next_state(self, sent: State, timeout: float, *, every: bool = False) -> State | None:
        """The builder's first state built after `sent` (with `every`, any; else one that changed
        what phones and screens see), or None after `timeout` seconds without one or when the
        contest is gone. Streams wake once per such state, not once per event."""
        deadline = time.monotonic() + timeout
        condition = self._any if every else self._content
        with condition:
            while not self.gone:
                latest = self.published if every else self.published_content
                if latest is not None and latest.built > sent.built:
                    return latest
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                condition.wait(remaining)
        return None

    def _publish(self, state: State | None) -> None:
        with self._any:
            if state is None:
                self.gone = True
            elif state is self.published:
                return
            else:
                changed = self.published_content is None or state.content != self.published_content.content
                self.published = state
                if not changed:
                    self._any.notify_all()
                    return
                self.published_content = state
            self._any.notify_all()
            self._content.notify_all()

    def _build_loop(self) -> None:
        """Build a state after each change (also every second while a question runs and a host's
        console streams from this process, every POLL seconds when polling), publish it to the
        streams; stop when no stream is attached."""
        while True:
            with self._changed:
                state = self.state
                if self.streams <= 0:
                    self._builder = None
                    return
                ticking = self.hosts > 0 and state is not None and state.snap.running
                if state is not None and state.generation == self.generation and state is self.published:
                    # nothing new: wait for an event (or the next second while a question runs and a
                    # host's console is here: its counter; POLL seconds when polling; HEARTBEAT
                    # seconds to look again)
                    self._changed.wait(max(0.05, 1.0 - time.time() % 1.0) if ticking else
                                       POLL if self.polling() else HEARTBEAT)
                    if self.streams <= 0:
                        self._builder = None
                        return
                    ticking = self.hosts > 0
            try:
                state = self.current(tick=ticking)
            except Exception:  # noqa: BLE001 - the database away for a moment: streams keep the last state
                log.warning("live push: building contest %d's state failed", self.contest_id, exc_info=True)
                time.sleep(POLL)
                continue
            self._publish(state)
            if state is None:
                with self._changed:
                    self._builder = None
                return

    def current(self, *, tick: bool = False) -> State | None:
        """A state covering every event delivered so far (with `tick`, also built within the
        current second); None when the contest no longer exists."""
        state = self.state
        if self._fresh(state, tick):
            return state
        with self._build:
            state = self.state
            if self._fresh(state, tick):
                return state
            wait = self.built_at + self.min_interval - time.monotonic()
            if wait > 0 and not (state is not None and self.urgent > state.generation):
                time.sleep(wait)  # what changes meanwhile is covered by this build too
            generation, event_id = self.generation, self.event_id
            urgent_at = self.urgent_at if state is None or self.urgent > state.generation else None
            self.built_at = time.monotonic()
            snap = self._snapshot()
            if snap is None:
                return None
            build_ms = (time.monotonic() - self.built_at) * 1000
            self.builds += 1
            _stats["builds"] += 1
            if self.builds % 100 == 0:
                log.info("live push: %d states of contest %d built in pid %d", self.builds, self.contest_id,
                         os.getpid())
            # what viewers see: not the clock, nor the join link (each viewer's is its request's host)
            seen = _dumps([with_join_url({k: v for k, v in snap.public.items() if k != "server_time"}, None),
                           snap.mine])
            previous = self.state
            content = previous.content if previous is not None and previous.seen == seen else (
                (previous.content if previous is not None else 0) + 1)
            if previous is not None and previous.urgent_at is not None:
                _log_delivery(self.contest_id, previous)
            self.state = State(generation, event_id, int(time.time()), snap, self.built_at, content, seen,
                               urgent_at=urgent_at, build_ms=build_ms)
            return self.state

    def _fresh(self, state: State | None, tick: bool) -> bool:
        return state is not None and state.generation >= self.generation and (
            not tick or not state.snap.running or state.second == int(time.time())) and (
            not self.polling() or time.monotonic() - state.built < POLL)

    def polling(self) -> bool:
        """Several workers and no events from the others (no REDIS_URL, or Redis unreachable): a
        state older than POLL seconds is rebuilt, and streams look every POLL seconds."""
        return self.workers > 1 and not events.shared(self.app)

    def _snapshot(self):
        from quiz.extensions import db
        from quiz.models.base import utcnow
        from quiz.models.live import LiveContest
        from quiz.services import live as live_service

        with self.app.app_context():
            try:
                contest = db.session.get(LiveContest, self.contest_id)
                return None if contest is None else live_service.snapshot(contest, now=utcnow())
            finally:
                db.session.remove()  # no connection is held between states


def _log_delivery(contest_id: int, state: State) -> None:
    """How a host's command reached this process's streams (logged when the next state replaces
    it): from the command's event arriving here to the state built, and to the last stream's write
    of it. bench/bench_live.py reads these lines to split a slow close into the server's share and
    the rest (nginx, the network, the phones)."""
    now_wall, now = time.time(), time.monotonic()
    log.info("live push: delivery contest=%d event_at=%.3f built_ms=%.1f build_ms=%.1f last_write_ms=%.1f streams=%d "
             "pid=%d", contest_id, now_wall - (now - state.urgent_at), (state.built - state.urgent_at) * 1000
             + state.build_ms, state.build_ms, (state.last_sent - state.urgent_at) * 1000 if state.sends else -1,
             state.sends, os.getpid())


def gevent_problem() -> str | None:
    """Under gevent, what would stall every stream of a worker, or None. gevent must patch the
    standard library before the PostgreSQL driver is imported (gunicorn -k gevent does, without
    --preload): psycopg 3 then waits for the server through gevent; imported earlier, it blocks the
    whole worker during every query."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("select"):
        return None
    waiting = sys.modules.get("psycopg.waiting")
    if waiting is not None and getattr(waiting, "wait_c", None) is not None and waiting.wait is waiting.wait_c:
        return ("psycopg was imported before gevent patched the standard library: every database query blocks "
                "the whole gevent worker. Start gunicorn -k gevent without --preload and import nothing of the "
                "app in a gunicorn config file (docs/deployment.md \"Live contests\").")
    return None


@dataclass(frozen=True)
class Player:
    """What a stream needs of a phone: its id, contest and entrant, and the nonce its token signs."""

    id: int
    contest_id: int
    entrant_id: int
    nonce: str


class Feeds:
    """The feeds of one app in this process (app.extensions["live_push"]), and the players whose
    token it has checked (a phone's player id, contest, entrant and nonce never change), so that
    5,000 phones reconnecting at once (a worker gone) cost no database query each."""

    MAX_PLAYERS = 200_000

    def __init__(self, app: Flask):
        self.app = app
        problem = gevent_problem()
        if problem:
            log.error(problem)
        self._feeds: dict[int, Feed] = {}
        self._lock = threading.Lock()
        self._players: dict[int, Player] = {}
        from quiz.security import server_workers

        self.workers = server_workers() or 1

    def player(self, contest_id: int, token: str) -> Player:
        """The player a token opens, checked with the one token rule (services/answers.py
        `signed_token_matches`, as `live.player_for_token` does); anything unknown or wrong goes to
        `player_for_token` itself, which reads the database and raises its 401."""
        from quiz.services import answers
        from quiz.services import live as live_service

        head = token.split(".", 1)[0]
        known = self._players.get(int(head)) if head.isdigit() and len(head) < 10 else None
        if known is not None and known.contest_id == contest_id and answers.signed_token_matches(
                live_service.TOKEN_KIND, known.id, known.nonce, token, self.app.config["SECRET_KEY"]):
            return known
        from quiz.extensions import db
        from quiz.models.live import LiveContest

        contest = db.session.get(LiveContest, contest_id)
        if contest is None:
            from flask import abort

            abort(404)
        player = live_service.player_for_token(contest, token)
        known = Player(player.id, player.contest_id, player.entrant_id, player.nonce)
        if len(self._players) >= self.MAX_PLAYERS:
            self._players.clear()
        self._players[player.id] = known
        return known

    def forget(self, contest_id: int) -> None:
        """Drop a feed whose contest does not exist (a stream asked for a wrong id)."""
        with self._lock:
            feed = self._feeds.get(contest_id)
            if feed is not None and feed.state is None:
                del self._feeds[contest_id]

    def feed(self, contest_id: int) -> Feed:
        feed = self._feeds.get(contest_id)
        if feed is None:
            events.shared(self.app)  # start the Redis listener (if any) before the first state
            last = _last_id(self.app, f"live:{contest_id}")
            with self._lock:
                feed = self._feeds.setdefault(contest_id, Feed(self.app, contest_id, last, self.workers))
        return feed

    def deliver(self, event: events.Event) -> None:
        if event.channel == "*":  # reset: events may have been missed
            for feed in list(self._feeds.values()):
                feed.changed()
            return
        _prefix, _sep, number = event.channel.partition(":")
        feed = self._feeds.get(int(number)) if number.isdigit() else None
        if feed is not None:
            feed.changed(event.id, urgent=event.type == "state")


def _last_id(app: Flask, channel: str) -> int:
    try:
        return events.get_hub(app).last_id(channel)
    except Exception:  # noqa: BLE001 - Redis away: ids restart from what this process hears
        return 0


_stats = {"builds": 0, "streams": 0}


@atexit.register
def _report() -> None:
    if _stats["streams"]:
        log.info("live push: built %d states for %d streams (pid %d)", _stats["builds"], _stats["streams"], os.getpid())


def _on_event(event: events.Event) -> None:
    feeds = current_app.extensions.get(EXTENSION)
    if feeds is not None:
        feeds.deliver(event)


def feeds(app: Flask | None = None) -> Feeds:
    app = app or current_app._get_current_object()
    registry = app.extensions.get(EXTENSION)
    if registry is None:
        registry = app.extensions.setdefault(EXTENSION, Feeds(app))
        events.subscribe("live:*", _on_event)
    return registry


def player_state(contest_id: int, player_id: int, entrant_id: int, join_url: str | None) -> dict | None:
    """A phone's state (public state + "me") from this process's latest build: joins and state
    reads share the builds of the streams instead of making one each (call after the commit)."""
    state = feeds().feed(contest_id).current()
    if state is None:
        return None
    return {**with_join_url(state.snap.phone, join_url),
            "me": {"player": player_id, **state.snap.mine.get(entrant_id, {})}}


def host_state(contest_id: int, join_url: str | None) -> dict | None:
    """The host's state after a command (call after its commit): this process's build, which the
    command's event has just made stale, so the one build serves the host's reply and every
    stream of this process."""
    state = feeds().feed(contest_id).current()
    if state is None:
        return None
    return with_join_url(state.snap.host, join_url)


def frames(feed: Feed, *, role: str, join_url: str | None, player_id: int | None = None,
           entrant_id: int | None = None, heartbeat: float = HEARTBEAT):
    """The SSE frames of one stream: the current state at once, then a state after each change
    (several changes close together make one), keep-alive comments while nothing changes."""
    _stats["streams"] += 1
    yield b"retry: 2000\n\n"
    every = role == "host"  # the host's console gets every state (its counters); others, changes they see
    state = feed.current(tick=every)
    if state is None:
        return
    feed.attach(host=every)
    try:
        sent: State | None = None
        written = time.monotonic()
        while True:
            if sent is None or every or state.content != sent.content:
                yield state.frame(role, join_url, player_id, entrant_id)
                written = state.last_sent = time.monotonic()  # gunicorn asks for the next frame after its write
                state.sends += 1
                if state.urgent_at is not None and state.sends >= feed.streams:
                    gc_hold.release()  # the host's command has reached every stream here
            sent = state
            later = feed.next_state(state, max(0.0, heartbeat - (time.monotonic() - written)), every=every)
            if feed.gone:
                return
            if later is not None:
                state = later
            elif time.monotonic() - written >= heartbeat:
                yield b": keep-alive\n\n"
                written = time.monotonic()
    finally:
        feed.detach(host=every)
