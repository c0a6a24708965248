"""Quiz ranking (docs/rules.md "Which sheet counts", "Ranking").

The ranking key is written once, here: score descending, then time used ascending, then
submission time ascending (`RANK_KEY`). It makes the SQL ORDER BY (`order_by`), the SQL
"ranks strictly before" condition (`beats`) and the Python sort key (`sort_key`); entries equal
on the key share a rank and the next rank skips (1, 2, 2, 4), computed by `competition_rank`,
which every ranked list uses (boards, verify, regrade previews, points boards, unit reports).

One entry per participant: the sheet that counts is the best (the key, then the lower id) or the
latest submitted, as the quiz says (`count_key`); sheets excluded by an organiser never count.

The public board (JSON, page, big screen) and the rank on a result page are served from a
per-quiz snapshot kept by each process (`BoardSnapshot`, `public_board`): built from the database
once, then kept current by the events of docs/deployment.md "Events and caches" (quiz/events.py):
a `sheet` event is applied in place (the counting rule and the key, in Python); a freeze, regrade
or exclusion marks it for one rebuild (a close changes nothing by itself: the sheets it grades
come as `sheet` events). Without events from other processes (no REDIS_URL,
or the listener down) a snapshot is re-validated with `board_version` after BOARD_MAX_AGE seconds.
Organiser pages, exports and `quiz verify` read the database (`leaderboard`, `ranked_list`).
"""
from __future__ import annotations

import threading
import time
from bisect import bisect_left, insort
from collections import OrderedDict
from datetime import datetime
from typing import Callable, Iterable, NamedTuple, TypeVar

from flask import current_app, has_app_context
from sqlalchemy import and_, func, or_, select

from quiz import events
from quiz.extensions import db
from quiz.models import Attempt, Participant, Quiz, Unit

T = TypeVar("T")

# ---------------------------------------------------------------- the ranking key
RANK_KEY = (("score", True), ("time_used_ms", False), ("submitted_at", False))  # (column, descending)


def _column(source, name: str):
    """A column of a table-like source: a mapped class or alias (attribute) or a subquery (.c)."""
    return getattr(source.c, name) if hasattr(source, "c") else getattr(source, name)


def order_by(source, *, by_id: bool = False) -> list:
    """ORDER BY clauses in rank order (best first) for `source`; with `by_id`, the sheet id
    breaks ties (the choice of a person's best sheet)."""
    clauses = [(_column(source, name).desc() if descending else _column(source, name).asc())
               for name, descending in RANK_KEY]
    return clauses + [_column(source, "id").asc()] if by_id else clauses


def beats(b, a, *, by_id: bool = False):
    """SQL condition: `b` ranks strictly before `a` (with `by_id`, a tie on the key goes to the
    lower id). `a` may be a table-like source or a plain object with the key's attributes."""
    names = [name for name, _desc in RANK_KEY] + (["id"] if by_id else [])
    descending = [desc for _name, desc in RANK_KEY] + ([False] if by_id else [])

    def value(source, name):
        return _column(source, name) if not isinstance(source, Attempt) else getattr(source, name)

    condition = None  # built from the last column back: b < a on it, or equal and b < a on the rest
    for name, desc in reversed(list(zip(names, descending))):
        left, right = value(b, name), value(a, name)
        strictly = left > right if desc else left < right
        condition = strictly if condition is None else or_(strictly, and_(left == right, condition))
    return condition


def sort_key(score: float, time_used_ms: int, submitted_at: datetime) -> tuple:
    """The Python sort key of RANK_KEY: sorting ascending puts the best first."""
    return (-score, time_used_ms, submitted_at)


def count_key(policy: str, *, score: float, time_used_ms: int, submitted_at: datetime, attempt_id: int,
              number: int) -> tuple:
    """Which of a person's submitted sheets counts, in Python (the same rule as counted_attempts):
    the smallest key. "best": RANK_KEY, then the lower id; "latest": the highest number."""
    if policy == "latest":
        return (-number,)
    return (*sort_key(score, time_used_ms, submitted_at), attempt_id)


def competition_rank(items: Iterable[T], key: Callable[[T], object]) -> list[tuple[int, T]]:
    """(rank, item) in order of `key` (ascending = better first; the sort is stable, so items
    equal on the key keep their given order): equal keys share a rank and the next rank skips
    (1, 2, 2, 4)."""
    out, previous, rank = [], object(), 0
    for position, item in enumerate(sorted(items, key=key), start=1):
        value = key(item)
        if value != previous:
            rank, previous = position, value
        out.append((rank, item))
    return out


def counted_attempts(quiz: Quiz, *, until: datetime | None = None, root: Unit | None = None):
    """Subquery of the attempt that counts for each participant (submitted attempts not excluded
    by an organiser; with `until`, only those submitted at or before it; with `root`, only people
    of that unit's subtree)."""
    order = (Attempt.number.desc(),) if quiz.attempt_policy == "latest" else order_by(Attempt, by_id=True)
    stmt = (
        select(Attempt.id, Attempt.participant_id, Attempt.score, Attempt.time_used_ms, Attempt.submitted_at,
               func.row_number().over(partition_by=Attempt.participant_id, order_by=order).label("pick"))
        .where(Attempt.quiz_id == quiz.id, Attempt.status == "submitted", Attempt.excluded.is_(False))
    )
    if until is not None:
        stmt = stmt.where(Attempt.submitted_at <= until)
    if root is not None:
        from quiz.services.scope import subtree_condition

        stmt = stmt.where(Attempt.participant_id.in_(
            select(Participant.id).join(Unit, Unit.id == Participant.unit_id).where(subtree_condition(root))))
    numbered = stmt.subquery()
    return select(numbered).where(numbered.c.pick == 1).subquery()


def public_cutoff(quiz: Quiz, now: datetime) -> datetime | None:
    """The freeze time if the public board is frozen now, else None."""
    if quiz.freeze_at is not None and quiz.freeze_at <= now:
        return quiz.freeze_at
    return None


def ranked_entries(quiz: Quiz, *, until: datetime | None = None):
    """Subquery: every counted entry with its rank, name, unit path and unit id."""
    counted = counted_attempts(quiz, until=until)
    rank = func.rank().over(order_by=order_by(counted)).label("rank")
    return (
        select(rank, Participant.name.label("name"), Unit.path.label("unit"), Unit.id.label("unit_id"),
               counted.c.score, counted.c.time_used_ms, counted.c.id.label("attempt_id"),
               counted.c.participant_id)
        .join(Participant, Participant.id == counted.c.participant_id)
        .join(Unit, Unit.id == Participant.unit_id)
    ).subquery()


BOARD_CACHE_SIZE = 8  # quizzes whose full ranking a process keeps
_boards: "OrderedDict[tuple, tuple[tuple, list[tuple]]]" = OrderedDict()


def board_version(quiz: Quiz, until: datetime | None) -> tuple:
    """What the ranking depends on. While events of every process reach this one (REDIS_URL, the
    listener connected) that is the id of the quiz channel's latest event (one Redis GET): every
    change that moves the board publishes one. Otherwise one query: how many sheets are submitted
    and the latest submission (both change on every submission or deadline grading), the number
    of regrades and undos, and of exclusions and restorations of sheets."""
    from quiz.models import Regrade, SheetExclusion

    hub = events.get_hub()
    if hub.shared():
        try:
            return (quiz.id, until, quiz.attempt_policy, "events", hub.epoch(),
                    hub.last_id(events.quiz_channel(quiz.id)))
        except Exception:  # noqa: BLE001 - Redis went away just now: ask the database
            pass
    condition = [Attempt.quiz_id == quiz.id, Attempt.status == "submitted"]
    if until is not None:
        condition.append(Attempt.submitted_at <= until)
    regrades = select(func.count(Regrade.id)).where(Regrade.quiz_id == quiz.id).scalar_subquery()
    undone = select(func.count(Regrade.undone_at)).where(Regrade.quiz_id == quiz.id).scalar_subquery()
    exclusions = select(func.count(SheetExclusion.id)).where(SheetExclusion.quiz_id == quiz.id).scalar_subquery()
    row = db.session.execute(select(func.count(Attempt.id), func.max(Attempt.submitted_at), regrades, undone,
                                    exclusions)
                             .where(*condition)).one()
    return (quiz.id, until, quiz.attempt_policy, *row)


def _uncommitted(quiz_id: int) -> bool:
    """Has this session changed the quiz's results without committing yet (an event is waiting)?
    Then its reads must not come from, or go into, a cache other requests share."""
    pending = db.session().info.get(events.PENDING_KEY) or ()
    channel = events.quiz_channel(quiz_id)
    return any(p[2] == channel for p in pending)


def ranked_list(quiz: Quiz, *, until: datetime | None = None) -> list[tuple]:
    """The whole ranking as (rank, name, unit, score, time_used_ms, attempt_id, participant_id),
    kept per process and recomputed only when board_version changes (cache invalidation on every
    score change: submissions, deadline grading, regrades and their undo)."""
    key = (quiz.id, until)
    version = None if _uncommitted(quiz.id) else board_version(quiz, until)
    hit = _boards.get(key)
    if hit is not None and hit[0] == version:
        _boards.move_to_end(key)
        return hit[1]
    ranked = ranked_entries(quiz, until=until)
    rows = [tuple(r) for r in db.session.execute(
        select(ranked.c.rank, ranked.c.name, ranked.c.unit, ranked.c.score, ranked.c.time_used_ms,
               ranked.c.attempt_id, ranked.c.participant_id).order_by(ranked.c.rank, ranked.c.attempt_id))]
    if version is None:
        return rows
    _boards[key] = (version, rows)
    if len(_boards) > BOARD_CACHE_SIZE:
        _boards.popitem(last=False)
    return rows


def clear_board_cache() -> None:
    """Forget every cached ranking and board snapshot of this process."""
    _boards.clear()
    if has_app_context():
        _store().clear()


def _matches(row: tuple, search: str, unit: Unit | None) -> bool:
    from quiz.models.units import PATH_SEPARATOR

    if search and search.casefold() not in row[1].casefold():
        return False
    return unit is None or row[2] == unit.path or row[2].startswith(unit.path + PATH_SEPARATOR)


def top_entries(quiz: Quiz, *, limit: int, until: datetime | None = None) -> list[tuple]:
    """The first `limit` entries in rank order without ranking the whole board: a sheet counts
    when no other submitted sheet of the same person beats it (the same rule as
    counted_attempts), read in ix_attempt_board order; ranks are given here (1, 2, 2, 4)."""
    from sqlalchemy import exists
    from sqlalchemy.orm import aliased

    a, b = aliased(Attempt, name="a"), aliased(Attempt, name="b")
    better = b.number > a.number if quiz.attempt_policy == "latest" else beats(b, a, by_id=True)
    beaten = select(b.id).where(b.quiz_id == a.quiz_id, b.participant_id == a.participant_id,
                                b.status == "submitted", b.excluded.is_(False), b.id != a.id, better)
    if until is not None:
        beaten = beaten.where(b.submitted_at <= until)
    stmt = (select(Participant.name, Unit.path, a.score, a.time_used_ms, a.submitted_at, a.id, a.participant_id)
            .join(Participant, Participant.id == a.participant_id).join(Unit, Unit.id == Participant.unit_id)
            .where(a.quiz_id == quiz.id, a.status == "submitted", a.excluded.is_(False), ~exists(beaten)))
    if until is not None:
        stmt = stmt.where(a.submitted_at <= until)
    rows = db.session.execute(stmt.order_by(*order_by(a, by_id=True)).limit(limit)).all()
    return [(rank, r.name, r.path, r.score, r.time_used_ms, r.id, r.participant_id)
            for rank, r in competition_rank(rows, key=lambda r: sort_key(r.score, r.time_used_ms, r.submitted_at))]


def leaderboard(quiz: Quiz, *, now: datetime, limit: int = 100, offset: int = 0, search: str = "",
                unit: Unit | None = None, public: bool = False) -> list[dict]:
    """The ranked entries, from stored state (a read never writes: a sheet past its deadline
    appears once it is graded, by a write path or `quiz close-overdue`). Ranks are over the whole
    board; `search` (name) and `unit` (subtree) only filter what is shown. A public board of a
    frozen quiz shows the standings at the freeze time."""
    until = public_cutoff(quiz, now) if public else None
    search = (search or "").strip()
    if not search and unit is None and offset == 0 and limit <= 1000:  # the board's first page: always fresh
        rows = top_entries(quiz, limit=limit, until=until)
        return [{"rank": r[0], "name": r[1], "unit": r[2], "score": r[3], "time_used_seconds": r[4] / 1000,
                     "attempt_id": r[5]} for r in rows]
    rows = ranked_list(quiz, until=until)
    if search or unit is not None:
        rows = [r for r in rows if _matches(r, search, unit)]
    return [{"rank": r[0], "name": r[1], "unit": r[2], "score": r[3], "time_used_seconds": r[4] / 1000,
             "attempt_id": r[5]} for r in rows[offset:offset + limit]]


def leaderboard_size(quiz: Quiz, *, now: datetime, search: str = "", unit: Unit | None = None,
                     public: bool = False) -> int:
    rows = ranked_list(quiz, until=public_cutoff(quiz, now) if public else None)
    search = (search or "").strip()
    if not search and unit is None:
        return len(rows)
    return sum(1 for r in rows if _matches(r, search, unit))


def rank_of(attempt: Attempt, *, now: datetime) -> int | None:
    """The rank this attempt holds now if it is the one that counts for its participant, else the
    rank it would hold (1 + counted entries of other people strictly better). From the live board
    snapshot (a binary search), built once per process; in SQL when this session has uncommitted
    changes to the quiz's results."""
    if attempt.status != "submitted" or attempt.excluded:
        return None
    snapshot = None if _uncommitted(attempt.quiz_id) else board_snapshot(attempt.quiz_id)
    if snapshot is not None:
        return snapshot.rank_among_others(attempt)
    counted = counted_attempts(attempt.quiz)
    better = db.session.scalar(select(func.count()).select_from(counted).where(
        counted.c.participant_id != attempt.participant_id, beats(counted, attempt)))
    return (better or 0) + 1


def ranks_for(quiz: Quiz, attempts: list[Attempt], scores: dict[int, float]) -> dict[int, int]:
    """The same rule computed in Python for given scores (used to check the SQL ranking and to
    preview a regrade): rank of each counted sheet, one per person (best or latest)."""
    best: dict[int, tuple] = {}
    for a in attempts:
        if a.excluded or a.status != "submitted":
            continue
        key = count_key(quiz.attempt_policy, score=scores[a.id], time_used_ms=a.time_used_ms,
                        submitted_at=a.submitted_at, attempt_id=a.id, number=a.number)
        if a.participant_id not in best or key < best[a.participant_id][0]:
            best[a.participant_id] = (key, a)
    ranked = competition_rank((a for _k, a in best.values()),
                              key=lambda a: sort_key(scores[a.id], a.time_used_ms, a.submitted_at))
    return {a.id: rank for rank, a in ranked}


# ---------------------------------------------------------------- the public board snapshot
class Entry(NamedTuple):
    """A counted sheet on a board snapshot."""

    attempt_id: int
    participant_id: int
    number: int
    name: str
    unit: str
    score: float
    time_used_ms: int
    submitted_at: datetime

    @property
    def key(self) -> tuple:
        return sort_key(self.score, self.time_used_ms, self.submitted_at)


def _entry_from_event(data: dict) -> Entry:
    return Entry(int(data["attempt"]), int(data["participant"]), int(data["number"]), data.get("name") or "",
                 data.get("unit") or "", float(data["score"] or 0), int(data["time_used_ms"] or 0),
                 datetime.fromisoformat(data["submitted_at"]))


class View:
    """The counted entries of one board (live, or the sheets submitted up to `until`) in rank
    order: one per person (count_key), sorted by RANK_KEY then attempt id; a rank is 1 + the
    entries with a strictly smaller key (competition ranking, found by binary search)."""

    def __init__(self, policy: str, until: datetime | None):
        self.policy, self.until = policy, until
        self.by_person: dict[int, Entry] = {}
        self.by_attempt: dict[int, Entry] = {}
        self.order: list[tuple] = []  # (*sort_key, attempt_id), ascending = best first
        self._options: list[str] | None = None

    def _count_key(self, e: Entry) -> tuple:
        return count_key(self.policy, score=e.score, time_used_ms=e.time_used_ms, submitted_at=e.submitted_at,
                         attempt_id=e.attempt_id, number=e.number)

    def fill(self, entries: Iterable[Entry]) -> None:
        """Every submitted, not excluded sheet of the quiz → the counted ones, sorted once."""
        for e in entries:
            if self.until is not None and e.submitted_at > self.until:
                continue
            current = self.by_person.get(e.participant_id)
            if current is None or self._count_key(e) < self._count_key(current):
                self.by_person[e.participant_id] = e
        self.by_attempt = {e.attempt_id: e for e in self.by_person.values()}
        self.order = sorted((*e.key, e.attempt_id) for e in self.by_person.values())
        self._options = None

    def offer(self, e: Entry) -> bool:
        """A newly submitted sheet: it replaces the person's entry if it counts instead (the same
        rule as fill); True when the board changed. Offering a sheet again changes nothing."""
        if self.until is not None and e.submitted_at > self.until:
            return False
        current = self.by_person.get(e.participant_id)
        if current is not None:
            if current == e:
                return False
            if current.attempt_id != e.attempt_id and self._count_key(current) <= self._count_key(e):
                return False
            del self.order[bisect_left(self.order, (*current.key, current.attempt_id))]
            del self.by_attempt[current.attempt_id]
        self.by_person[e.participant_id] = e
        self.by_attempt[e.attempt_id] = e
        insort(self.order, (*e.key, e.attempt_id))
        self._options = None
        return True

    def __len__(self) -> int:
        return len(self.order)

    def rank(self, key: tuple) -> int:
        """1 + the entries strictly better than `key` (a sort_key)."""
        return bisect_left(self.order, key) + 1

    def ranked(self, keep: Callable[[Entry], bool] | None = None):
        """(rank, entry) in rank order, all or those `keep` accepts (with their overall ranks)."""
        rank, previous = 0, None
        for position, item in enumerate(self.order, start=1):
            if item[:3] != previous:
                rank, previous = position, item[:3]
            e = self.by_attempt[item[3]]
            if keep is None or keep(e):
                yield rank, e

    def page(self, offset: int, limit: int) -> list[tuple[int, Entry]]:
        """One page of the unfiltered board without walking the entries before it."""
        out, rank, previous = [], 0, None
        for position, item in enumerate(self.order[offset:offset + limit], start=offset + 1):
            if item[:3] != previous:
                rank = self.rank(item[:3]) if previous is None else position
                previous = item[:3]
            out.append((rank, self.by_attempt[item[3]]))
        return out

    def unit_options(self) -> list[str]:
        """The units of the people on the board and every unit above them, sorted."""
        if self._options is None:
            from quiz.models.units import PATH_SEPARATOR

            paths: set[str] = set()
            for unit in {e.unit for e in self.by_person.values()}:
                parts = unit.split(PATH_SEPARATOR)
                paths.update(PATH_SEPARATOR.join(parts[:i]) for i in range(1, len(parts) + 1))
            self._options = sorted(paths)
        return self._options


RENDERED_PER_SNAPSHOT = 256  # rendered pages (JSON, HTML) kept per snapshot until it changes


class BoardSnapshot:
    """One quiz's public board in this process: the quiz's title and freeze state, the live view
    and, when a freeze is set, the view up to the freeze time; rendered responses are kept until
    the board changes. Every read and change holds `lock`."""

    def __init__(self, quiz_id: int, title: str, policy: str, freeze_at: datetime | None):
        self.quiz_id, self.title, self.policy, self.freeze_at = quiz_id, title, policy, freeze_at
        self.lock = threading.RLock()
        self.live = View(policy, None)
        self.frozen = View(policy, freeze_at) if freeze_at is not None else None
        self.changes = 0
        self.rendered: OrderedDict = OrderedDict()

    @property
    def id(self) -> int:
        return self.quiz_id

    def fill(self, entries: list[Entry]) -> None:
        self.live.fill(entries)
        if self.frozen is not None:
            self.frozen.fill(entries)

    def apply(self, entry: Entry) -> None:
        """A `sheet` event: offer the sheet to both views."""
        with self.lock:
            changed = self.live.offer(entry)
            if self.frozen is not None:
                changed = self.frozen.offer(entry) or changed
            if changed:
                self.changes += 1
                self.rendered.clear()

    def frozen_at(self, now: datetime) -> datetime | None:
        """The freeze time if the public board is frozen at `now` (public_cutoff)."""
        return self.freeze_at if self.freeze_at is not None and self.freeze_at <= now else None

    def public_view(self, now: datetime) -> View:
        return self.frozen if self.frozen_at(now) is not None else self.live

    def rank_among_others(self, attempt: Attempt) -> int:
        """rank_of on the live view: 1 + counted entries of other people strictly better."""
        key = sort_key(attempt.score, attempt.time_used_ms, attempt.submitted_at)
        with self.lock:
            better = bisect_left(self.live.order, key)
            own = self.live.by_person.get(attempt.participant_id)
            if own is not None and own.key < key:
                better -= 1
        return better + 1

    def entries(self, now: datetime, *, offset: int = 0, limit: int = 100, search: str = "",
                unit: str | None = None) -> tuple[list[dict], int]:
        """A page of the public board as leaderboard() gives it, and how many entries match."""
        from quiz.models.units import PATH_SEPARATOR

        search = (search or "").strip().casefold()
        with self.lock:
            view = self.public_view(now)
            if not search and not unit:
                rows, total = view.page(offset, limit), len(view)
            else:
                def keep(e: Entry) -> bool:
                    return (not search or search in e.name.casefold()) and (
                        not unit or e.unit == unit or e.unit.startswith(unit + PATH_SEPARATOR))

                matching = list(view.ranked(keep))
                rows, total = matching[offset:offset + limit], len(matching)
        return [{"rank": rank, "name": e.name, "unit": e.unit, "score": e.score,
                 "time_used_seconds": e.time_used_ms / 1000, "attempt_id": e.attempt_id}
                for rank, e in rows], total

    def unit_options(self, now: datetime) -> list[str]:
        with self.lock:
            return self.public_view(now).unit_options()

    def rendered_key(self, now: datetime, *parts) -> tuple:
        """The key of a rendered response: what was asked, and the state of the board it shows."""
        return (*parts, self.frozen_at(now) is not None, self.changes)

    def get_rendered(self, key: tuple):
        with self.lock:
            hit = self.rendered.get(key)
            if hit is not None:
                self.rendered.move_to_end(key)
            return hit

    def put_rendered(self, key: tuple, value) -> None:
        with self.lock:
            if key[-1] != self.changes:
                return  # the board changed while this was rendered
            self.rendered[key] = value
            if len(self.rendered) > RENDERED_PER_SNAPSHOT:
                self.rendered.popitem(last=False)


class _Slot:
    """A quiz's place in the store: its snapshot and what is known about its freshness."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ready = threading.Condition(self.lock)
        self.snapshot: BoardSnapshot | None = None
        self.stale = False       # a change a snapshot cannot apply in place arrived: rebuild
        self.generation = 0      # counts such changes (one arriving during a rebuild keeps it stale)
        self.building = False
        self.pending: list[Entry] = []  # sheets that arrived during a rebuild
        self.built_at = 0.0      # time.monotonic()
        self.checked_at = 0.0
        self.epoch: int | None = None  # the events epoch the snapshot was built in (None: unshared)
        self.version: tuple | None = None


# Events of a quiz's channel that leave its board as it is: a close or an extension moves
# deadlines; the sheets it grades arrive as `sheet` events of their own.
BOARD_UNCHANGED = frozenset({"closed", "extended"})


class BoardStore:
    """The board snapshots of one app in this process (app.extensions["boards"])."""

    def __init__(self, size: int):
        self.size = size
        self.lock = threading.Lock()
        self.slots: "OrderedDict[int, _Slot]" = OrderedDict()

    def slot(self, quiz_id: int, create: bool = True) -> _Slot | None:
        with self.lock:
            slot = self.slots.get(quiz_id)
            if slot is not None:
                self.slots.move_to_end(quiz_id)
            elif create:
                slot = self.slots[quiz_id] = _Slot()
                while len(self.slots) > self.size:
                    self.slots.popitem(last=False)
            return slot

    def clear(self) -> None:
        with self.lock:
            slots = list(self.slots.values())
            self.slots.clear()
        for slot in slots:
            with slot.lock:
                slot.stale = True
                slot.generation += 1

    def on_event(self, quiz_id: int, event) -> None:
        slot = self.slot(quiz_id, create=False)
        if slot is None:
            return
        if event.type == "sheet":
            entry = _entry_from_event(event.data)
            with slot.lock:
                if slot.building:
                    slot.pending.append(entry)
                snapshot = slot.snapshot
            if snapshot is not None:
                snapshot.apply(entry)
        elif event.type in BOARD_UNCHANGED:
            return
        else:  # freeze, regrade, exclusion, or anything new: rebuild once
            with slot.lock:
                slot.stale = True
                slot.generation += 1


def _store(app=None) -> BoardStore:
    app = app or current_app
    store = app.extensions.get("boards")
    if store is None:
        store = app.extensions.setdefault("boards", BoardStore(int(app.config.get("BOARD_SNAPSHOTS", 8))))
    return store


def _on_quiz_event(event) -> None:
    """Events handler: keep this app's snapshots current (registered with quiz.events)."""
    if event.type == events.RESET:
        _store().clear()
        return
    try:
        quiz_id = int(event.channel.split(":", 1)[1])
    except (IndexError, ValueError):
        return
    _store().on_event(quiz_id, event)


events.subscribe("quiz:*", _on_quiz_event)


def _trusted(slot: _Slot, config, hub) -> bool:
    """May the slot's snapshot be served without asking the database? Yes while it is not stale
    and either events of every process reach this one since it was built, or it was built or
    checked less than BOARD_MAX_AGE seconds ago; never after BOARD_REFRESH seconds (changes that
    publish no event: a participant or unit renamed)."""
    if slot.snapshot is None or slot.stale:
        return False
    now = time.monotonic()
    if now - slot.built_at > float(config.get("BOARD_REFRESH", 60)):
        return False
    if slot.epoch is not None and hub.shared() and slot.epoch == hub.epoch():
        return True
    return now - slot.checked_at < float(config.get("BOARD_MAX_AGE", 1.0))


def peek_snapshot(app, quiz_id: int) -> BoardSnapshot | None:
    """The quiz's snapshot if it can be served without the database (for the WSGI board lane)."""
    store = app.extensions.get("boards")
    slot = store.slot(quiz_id, create=False) if store is not None else None
    if slot is None:
        return None
    return slot.snapshot if _trusted(slot, app.config, events.get_hub(app)) else None


def _quiz_row(quiz_id: int):
    return db.session.execute(select(Quiz.id, Quiz.title, Quiz.mode, Quiz.attempt_policy, Quiz.freeze_at)
                              .where(Quiz.id == quiz_id)).one_or_none()


def _snapshot_version(row) -> tuple:
    return (row.title, row.mode, row.attempt_policy, row.freeze_at, board_version(row, None))


def _build_snapshot(row) -> BoardSnapshot:
    """Every submitted, not excluded sheet of the quiz with its person's name and unit: one query."""
    snapshot = BoardSnapshot(row.id, row.title, row.attempt_policy, row.freeze_at)
    rows = db.session.execute(
        select(Attempt.id, Attempt.participant_id, Attempt.number, Participant.name, Unit.path, Attempt.score,
               Attempt.time_used_ms, Attempt.submitted_at)
        .join(Participant, Participant.id == Attempt.participant_id).join(Unit, Unit.id == Participant.unit_id)
        .where(Attempt.quiz_id == row.id, Attempt.status == "submitted", Attempt.excluded.is_(False)))
    snapshot.fill([Entry(*r) for r in rows])
    return snapshot


def board_snapshot(quiz_id: int) -> BoardSnapshot | None:
    """The quiz's public board snapshot (None: no such quiz, or a practice set), built or
    re-validated when needed. While one thread rebuilds, the others serve the previous snapshot;
    a session with uncommitted changes to the quiz gets a private one."""
    if _uncommitted(quiz_id):
        row = _quiz_row(quiz_id)
        return None if row is None or row.mode == "practice" else _build_snapshot(row)
    app = current_app._get_current_object()
    hub = events.get_hub(app)
    slot = _store(app).slot(quiz_id)
    with slot.lock:
        if _trusted(slot, app.config, hub):
            return slot.snapshot
        while slot.building:
            if slot.snapshot is not None:
                return slot.snapshot  # at most one rebuild behind
            slot.ready.wait(30)
        stale, previous = slot.stale, slot.snapshot
        slot.building, slot.pending, generation = True, [], slot.generation
    snapshot, version = None, None
    try:
        epoch = hub.epoch() if hub.shared() else None
        row = _quiz_row(quiz_id)
        if row is not None and row.mode != "practice":
            if epoch is None:
                version = _snapshot_version(row)
            age = time.monotonic() - slot.built_at
            if (previous is not None and not stale and epoch is None and version == slot.version
                    and age <= float(app.config.get("BOARD_REFRESH", 60))):
                snapshot = previous  # unshared: nothing changed since it was built
            else:
                snapshot = _build_snapshot(row)
    finally:
        with slot.lock:
            slot.building = False
            if snapshot is not None:
                for entry in slot.pending:
                    snapshot.apply(entry)
                now = time.monotonic()
                if snapshot is not previous:
                    slot.built_at = now
                slot.snapshot, slot.checked_at, slot.epoch, slot.version = snapshot, now, epoch, version
                slot.stale = slot.generation != generation
            else:
                slot.snapshot = None
            slot.pending = []
            slot.ready.notify_all()
    return snapshot
