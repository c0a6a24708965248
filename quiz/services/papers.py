"""Papers: the rules that make them, the two paper modes, and what a participant gets at join.

Rules implemented here (docs/rules.md "Papers"):

- A **paper rule** draws `count` questions of one type (optionally with any of some tags, of
  some difficulty levels) at `points` each. A rule with count 0 is off and simply ignored (form
  and API); a quiz needs at least one rule with a count above 0. Rules draw without overlap: a
  question taken by an earlier rule is never taken again by a later one.
- **统一试卷** (`paper_mode` "fixed", the default): one paper for everyone, stored on the quiz
  (`Quiz.paper`). It is drawn once from the rules when the quiz is created, or hand-picked
  question by question (API `"questions": [{"id": 12, "points": 2}, …]`, the web pick page).
  Every join copies it; question order and option order are then shuffled per person when the
  quiz says so (grading maps the letters back through each sheet's "order"). The organiser may
  redraw or edit the paper until the first person joins; after that it is locked. Editing by
  hand replaces the quiz's rules with the paper's own summary (count and points per type), so
  the rules, the question count and the full marks always describe the paper.
  Points of a hand-picked question: the points given for it, else the points of the first rule
  of its type, else the question's own 分值 from the bank; none of these is an error.
- **随机组卷** (`paper_mode` "random"): a draw per person, balanced. When the quiz is created each
  rule's difficulty mix is fixed and stored in the rule (`"mix": [{"difficulty": 1, "count": 3},
  …]`; questions without a difficulty form their own level, `null`): proportional to the
  questions the rule can certainly draw at each level, rounded by largest remainder so the
  counts sum to the rule's count (ties: the bigger level, then the easier one). The API may give
  the mix itself (`"mix": {"容易": 8, "中等": 8, "困难": 4}`). Every person's draw takes exactly
  that many per level, so every paper has the same count per type, the same points and the same
  difficulty mix. Quizzes created before paper modes existed are "random" without a mix and draw
  as they always did (per rule, any level).
- **Fillable**: a rule (or one level of its mix) is refused when the banks cannot fill it in
  every draw. A question an earlier rule might take counts as gone: an earlier rule (level) can
  take at most min(its count, the questions it shares with the later one), whatever it draws.
  The message names the rule and, for a mix, the level.
- Every question id coming from a form or the API is checked: it must exist, be in use (not
  retired), belong to one of the quiz's banks and to a bank within the caller's scope.
- A join in "fixed" mode copies the stored paper (no draw), reading it under a key-share lock so
  an edit of the paper and a join can never cross: the edit waits for joins in flight and then
  sees them (locked), a join waits for an edit in flight and then copies the new paper. A join in
  "random" mode draws from the bank pool cached per process (`cached_pool`), dropped by every
  process when a bank changes (the `banks` event of quiz/events.py).
"""
from __future__ import annotations

import itertools
import os
import random
import threading
import time
import weakref
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime
from fractions import Fraction
from functools import lru_cache

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import func, select

from quiz import events
from quiz.errors import Conflict, Forbidden, Invalid
from quiz.extensions import db
from quiz.models import Attempt, Bank, Question, Quiz, User
from quiz.questions import QUESTION_TYPES, get_type, type_from_label
from quiz.questions.base import DIFFICULTY_LABELS, AnswerError, fold
from quiz.services import scope
from quiz.services.importer import parse_difficulty

MAX_RULES = 20
MAX_QUESTIONS = 500
MAX_ID = 2**31 - 1  # question ids are 32-bit integers in the database
MODE_ALIASES = {"fixed": "fixed", "统一试卷": "fixed", "统一": "fixed",
                "random": "random", "随机组卷": "random", "随机": "random"}
NO_DIFFICULTY_WORDS = ("none", "null", "无", "未标", "未标难度", "未定", "-")

Level = int | None  # a difficulty 1–5, or None for questions without one


@dataclass
class Rule:
    """Draw `count` questions of `type` (optionally with any of `tags`, of `difficulty`) at
    `points` each; `mix` (随机组卷) fixes how many of each difficulty level every draw takes."""

    type: str
    count: int
    points: float
    tags: list[str]
    difficulty: list[int]
    mix: list[tuple[Level, int]] | None = None
    number: int = 0  # position as the organiser wrote it (messages name it)

    def as_dict(self) -> dict:
        out = {"type": self.type, "count": self.count, "points": self.points, "tags": self.tags,
               "difficulty": self.difficulty}
        if self.mix is not None:
            out["mix"] = [{"difficulty": level, "count": n} for level, n in self.mix]
        return out

    def matches(self, q: "QuestionRow") -> bool:
        if q.type != self.type:
            return False
        if self.tags and not any(f";{t};" in q.tags_text for t in self.tags):
            return False
        return not self.difficulty or q.difficulty in self.difficulty


@dataclass
class QuestionRow:
    id: int
    type: str
    tags_text: str
    difficulty: int | None
    options_count: int


# ---------------------------------------------------------------- settings
def parse_paper_mode(value) -> str:
    """"fixed" (统一试卷, the default) or "random" (随机组卷); the Chinese names are accepted."""
    if value in (None, ""):
        return "fixed"
    mode = MODE_ALIASES.get(fold(value).lower()) if isinstance(value, str) else None
    if mode is None:
        raise Invalid(_("paper_mode must be fixed (统一试卷) or random (随机组卷)."))
    return mode


def parse_rules(raw) -> list[Rule]:
    """Validate paper rules as sent by a form or the API; raises Invalid naming the rule.

    Rules with count 0 are off and left out; at least one rule must remain."""
    if not isinstance(raw, list) or not raw:
        raise Invalid(_("Paper rules: give at least one rule such as {\"type\": \"单选\", \"count\": 20, \"points\": 2}."))
    if len(raw) > MAX_RULES:
        raise Invalid(_("Paper rules: at most %(n)d rules.", n=MAX_RULES))
    rules = []
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise Invalid(_("Paper rule %(n)d is not an object.", n=index))
        try:
            count = _whole(item.get("count"))
        except (TypeError, ValueError, OverflowError):
            raise Invalid(_("Paper rule %(n)d: count and points must be numbers.", n=index))
        if count == 0:
            continue  # a rule switched off
        qtype = type_from_label(item.get("type", ""))
        if qtype is None:
            raise Invalid(_("Paper rule %(n)d: question type “%(value)s” is not recognised (use 单选, 多选, 判断 or 填空).",
                            n=index, value=item.get("type", "")))
        try:
            points = float(item.get("points"))
        except (TypeError, ValueError, OverflowError):
            raise Invalid(_("Paper rule %(n)d: count and points must be numbers.", n=index))
        if not (1 <= count <= MAX_QUESTIONS) or not (0 < points <= 1000):
            raise Invalid(_("Paper rule %(n)d: count must be 0–%(max)d (0 = rule off) and points more than 0 and "
                            "at most 1000.", n=index, max=MAX_QUESTIONS))
        tags = item.get("tags") or []
        if isinstance(tags, str):
            tags = [t for t in tags.replace("；", ";").split(";") if t.strip()]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise Invalid(_("Paper rule %(n)d: tags must be a list of strings.", n=index))
        difficulty = item.get("difficulty")
        if difficulty in (None, "", []):
            levels: list[int] = []
        else:
            values = difficulty if isinstance(difficulty, list) else [difficulty]
            try:
                levels = sorted({parse_difficulty(str(v)) for v in values} - {None})
            except AnswerError as exc:
                raise Invalid(_("Paper rule %(n)d: %(error)s", n=index, error=str(exc)))
        mix = _parse_mix(item.get("mix"), count, index)
        rules.append(Rule(qtype, count, points, [t.strip() for t in tags if t.strip()], levels, mix, index))
    if not rules:
        raise Invalid(_("Paper rules: every rule has count 0 (off); give at least one rule with a count above 0."))
    if sum(r.count for r in rules) > MAX_QUESTIONS:
        raise Invalid(_("A paper can have at most %(n)d questions.", n=MAX_QUESTIONS))
    return rules


def _whole(value) -> int:
    if isinstance(value, bool):
        raise TypeError("bool")
    number = float(value)
    if not number.is_integer():
        raise ValueError("not whole")
    return int(number)


def _parse_mix(raw, count: int, index: int) -> list[tuple[Level, int]] | None:
    """An explicit difficulty mix: {"容易": 8, "中等": 8} or [{"difficulty": 1, "count": 8}, …]."""
    if raw in (None, "", [], {}):
        return None
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list) and all(isinstance(p, dict) for p in raw):
        pairs = [(p.get("difficulty"), p.get("count")) for p in raw]
    else:
        raise Invalid(_("Paper rule %(n)d: mix must be an object such as {\"容易\": 8, \"中等\": 8, \"困难\": 4}.",
                        n=index))
    if len(pairs) > 6:
        raise Invalid(_("Paper rule %(n)d: mix names at most 6 difficulty levels.", n=index))
    mix: dict[Level, int] = {}
    for key, value in pairs:
        if key is None or (isinstance(key, str) and fold(key).lower() in NO_DIFFICULTY_WORDS):
            level = None
        else:
            try:
                level = parse_difficulty(str(key))
            except AnswerError as exc:
                raise Invalid(_("Paper rule %(n)d: %(error)s", n=index, error=str(exc)))
        try:
            number = _whole(value)
        except (TypeError, ValueError, OverflowError):
            number = -1
        if number < 0:
            raise Invalid(_("Paper rule %(n)d: the mix count for difficulty %(level)s must be a whole number "
                            "0 or more.", n=index, level=level_label(level)))
        if level in mix:
            raise Invalid(_("Paper rule %(n)d: difficulty %(level)s appears twice in the mix.", n=index,
                            level=level_label(level)))
        mix[level] = number
    if sum(mix.values()) != count:
        raise Invalid(_("Paper rule %(n)d: the mix adds up to %(total)d questions but the rule's count is "
                        "%(count)d.", n=index, total=sum(mix.values()), count=count))
    return sorted(((lvl, n) for lvl, n in mix.items() if n), key=lambda p: _level_key(p[0]))


def rules_from_quiz(quiz: Quiz) -> list[Rule]:
    return [Rule(r["type"], r["count"], r["points"], r.get("tags") or [], r.get("difficulty") or [],
                 [(m["difficulty"], m["count"]) for m in r["mix"]] if r.get("mix") is not None else None,
                 number)
            for number, r in enumerate(quiz.rules or [], start=1)]


def level_label(level: Level) -> str:
    """容易 … 困难, or "no difficulty" for questions without one."""
    if level is None:
        return _("no difficulty")
    return str(DIFFICULTY_LABELS.get(level, level))


def _level_key(level: Level) -> tuple[bool, int]:
    return (level is None, level or 0)


# ---------------------------------------------------------------- the bank pool
POOL_MAX_AGE = 1.0  # seconds a pool is trusted while events of other processes do not arrive
POOL_REFRESH = 300.0  # seconds after which a pool is reloaded anyway


class _Pools:
    """One app's cached bank pools: {bank ids: (loaded at, events epoch or None, pool, index)}."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries: dict[tuple[int, ...], tuple[float, int | None, list[QuestionRow], dict[int, QuestionRow]]] = {}
        self.generation = 0


_all_pools: "weakref.WeakSet[_Pools]" = weakref.WeakSet()


def _app_pools() -> _Pools:
    pools = current_app.extensions.get("pools")
    if pools is None:
        pools = current_app.extensions.setdefault("pools", _Pools())
        _all_pools.add(pools)
    return pools


def _drop(pools: _Pools) -> None:
    with pools.lock:
        pools.entries.clear()
        pools.generation += 1


def invalidate_pools() -> None:
    """Forget cached pools (after an import, edit or retirement): this app's at once, and every
    process's once the change commits (a `banks` event). Outside an app context: every app's in
    this process."""
    if not has_app_context():
        for pools in list(_all_pools):
            _drop(pools)
        return
    _drop(_app_pools())
    events.publish(events.BANKS, "questions", {"bank": None, "questions": None})


def _on_banks_event(event) -> None:
    """A bank changed somewhere (or, with `reset`, events may have been missed): drop the pools."""
    _drop(_app_pools())


events.subscribe(events.BANKS, _on_banks_event)


def pool_entry_trusted(loaded: float, epoch: int | None, hub, now: float | None = None) -> bool:
    """May something cached from the banks at `loaded` (monotonic) still be used? For
    POOL_MAX_AGE seconds in any case; then only while the events of other processes arrive (the
    hub is shared) and none were missed since (its epoch is the same); never after POOL_REFRESH."""
    age = (time.monotonic() if now is None else now) - loaded
    return age < POOL_REFRESH and (age < POOL_MAX_AGE or (hub.shared() and epoch == hub.epoch()))


def _cached(bank_ids: list[int], conn=None) -> tuple[float, int | None, list[QuestionRow], dict[int, QuestionRow]]:
    key = tuple(sorted(bank_ids))
    pools = _app_pools()
    hub = events.get_hub()
    shared = hub.shared()
    hit = pools.entries.get(key)
    now = time.monotonic()
    if hit is not None and pool_entry_trusted(hit[0], hit[1], hub, now):
        return hit
    generation = pools.generation
    epoch = hub.epoch() if shared else None
    pool = load_pool(list(key), conn=conn)
    entry = (now, epoch, pool, {q.id: q for q in pool})
    with pools.lock:
        if pools.generation == generation:  # no bank changed while it was loaded
            pools.entries[key] = entry
    return entry


def cached_pool(bank_ids: list[int], conn=None) -> list[QuestionRow]:
    """load_pool, reused until a bank changes (POOL_MAX_AGE seconds while events of other
    processes do not arrive): every join draws from it, so a busy start of a contest does not
    reload the whole bank per person."""
    return _cached(bank_ids, conn)[2]


def cached_index(bank_ids: list[int], conn=None) -> dict[int, QuestionRow]:
    """The cached pool by question id (a fixed paper refreshes option counts from it)."""
    return _cached(bank_ids, conn)[3]


def load_pool(bank_ids: list[int], conn=None) -> list[QuestionRow]:
    """Active questions of the banks (ids, type, tags, difficulty, option count); on `conn` (a
    join's own connection) when given, else in the request's session."""
    if not bank_ids:
        return []
    rows = (conn if conn is not None else db.session).execute(
        select(Question.id, Question.type, Question.tags_text, Question.difficulty, Question.options)
        .where(Question.bank_id.in_(bank_ids), Question.retired.is_(False))
        .order_by(Question.id)
    )
    return [QuestionRow(r.id, r.type, r.tags_text, r.difficulty, len(r.options or [])) for r in rows]


# ---------------------------------------------------------------- fillable and balanced
@dataclass
class _Taken:
    """What earlier rules may take: per bucket (a rule, or one level of its mix) its question
    ids and how many it draws from them."""

    buckets: list[tuple[set[int], int]] = field(default_factory=list)

    def reserved(self, ids: set[int]) -> int:
        """At most this many of `ids` can be gone whatever the earlier rules drew."""
        return sum(min(n, len(ids & bucket)) for bucket, n in self.buckets)


def _plan(rules: list[Rule], pool: list[QuestionRow], *, balance: bool) -> list[Rule]:
    """Check every rule (and every level of its mix) can be filled in every draw; with
    `balance`, give rules without a mix one (largest remainder over what they can surely draw)."""
    taken = _Taken()
    planned = []
    for position, rule in enumerate(rules, start=1):
        number = rule.number or position
        by_level: dict[Level, set[int]] = defaultdict(set)
        for q in pool:
            if rule.matches(q):
                by_level[q.difficulty].add(q.id)
        if rule.mix is None and not balance:
            ids = set().union(*by_level.values()) if by_level else set()
            _require_enough(rule, number, len(ids), taken.reserved(ids))
            taken.buckets.append((ids, rule.count))
            planned.append(rule)
            continue
        capacity = {level: len(ids) - taken.reserved(ids) for level, ids in by_level.items()}
        mix = rule.mix
        if mix is None:
            ids = set().union(*by_level.values()) if by_level else set()
            _require_enough(rule, number, len(ids), taken.reserved(ids))
            mix = largest_remainder(rule.count, capacity)
        for level, n in mix:
            available = capacity.get(level, 0)
            if available < n:
                raise Invalid(_("Paper rule %(n)d (%(type)s) needs %(count)d questions of difficulty %(level)s%(filter)s "
                                "but the banks can surely give only %(available)d.", n=number,
                                type=QUESTION_TYPES[rule.type].label, count=n, level=level_label(level),
                                filter=_describe_filter(rule), available=max(available, 0)))
            taken.buckets.append((by_level.get(level, set()), n))
        planned.append(replace(rule, mix=mix))
    return planned


def _require_enough(rule: Rule, number: int, matching: int, reserved: int) -> None:
    if matching - reserved >= rule.count:
        return
    label = QUESTION_TYPES[rule.type].label
    if reserved:
        raise Invalid(_("Paper rule %(n)d asks for %(count)d %(type)s questions%(filter)s but the banks have only "
                        "%(available)d once earlier rules have drawn theirs (%(matching)d match, earlier rules may "
                        "take %(reserved)d).", n=number, count=rule.count, type=label, filter=_describe_filter(rule),
                        available=max(matching - reserved, 0), matching=matching, reserved=reserved))
    raise Invalid(_("Paper rule %(n)d asks for %(count)d %(type)s questions%(filter)s but the banks have "
                    "only %(available)d.", n=number, count=rule.count, type=label,
                    available=matching, filter=_describe_filter(rule)))


def check_fillable(rules: list[Rule], pool: list[QuestionRow]) -> None:
    """Raise Invalid naming the first rule (or level of a rule's mix) the pool cannot fill in
    every draw (rules draw without overlap)."""
    _plan(rules, pool, balance=False)


def balance_rules(rules: list[Rule], pool: list[QuestionRow]) -> list[Rule]:
    """The rules with their difficulty mix fixed (随机组卷); raises Invalid like check_fillable."""
    return _plan(rules, pool, balance=True)


def largest_remainder(count: int, capacity: dict[Level, int]) -> list[tuple[Level, int]]:
    """Split `count` over the levels in proportion to `capacity` (Hamilton's method): each level
    gets the whole part of its share, the rest go to the biggest fractional parts (ties: the
    bigger level, then the easier one). Never more than a level's capacity when count ≤ total."""
    levels = sorted((lvl for lvl, cap in capacity.items() if cap > 0), key=_level_key)
    total = sum(capacity[lvl] for lvl in levels)
    if count <= 0 or total <= 0:
        return []
    shares = {lvl: Fraction(count * capacity[lvl], total) for lvl in levels}
    counts = {lvl: int(shares[lvl]) for lvl in levels}
    left = count - sum(counts.values())
    by_remainder = sorted(levels, key=lambda lvl: (-(shares[lvl] - counts[lvl]), -capacity[lvl], _level_key(lvl)))
    for lvl in by_remainder[:left]:
        counts[lvl] += 1
    return [(lvl, counts[lvl]) for lvl in levels if counts[lvl]]


def _describe_filter(rule: Rule) -> str:
    parts = []
    if rule.tags:
        parts.append(_("tags %(tags)s", tags="、".join(rule.tags)))
    if rule.difficulty:
        parts.append(_("difficulty %(levels)s", levels="、".join(str(d) for d in rule.difficulty)))
    return _(" (%(details)s)", details=_("; ").join(parts)) if parts else ""


# ---------------------------------------------------------------- drawing
_DRAWS = random.Random()  # seeded from the operating system's entropy


os.register_at_fork(after_in_child=_DRAWS.seed)  # a forked worker must not repeat its siblings' draws


def draws() -> random.Random:
    """The random source of draws and shuffles (papers, option orders, live rounds) when the caller
    gives none: one per process, seeded from the operating system, again in each forked worker.
    Its calls are safe from several threads. A generator seeded per join
    (random.Random(secrets.randbits(64))) spent about 1 % of a join's CPU seeding its 624 words."""
    return _DRAWS


def draw_questions(rules: list[Rule], pool: list[QuestionRow], rng: random.Random) -> list[dict]:
    """One draw by the rules, in rule order (sorted by id within a rule), without option orders:
    [{"q", "points", "t", "n"}]. A rule with a mix takes exactly that many per level."""
    taken: set[int] = set()
    paper: list[dict] = []
    for rule in rules:
        candidates = [q for q in pool if q.id not in taken and rule.matches(q)]
        if rule.mix is None:
            if len(candidates) < rule.count:
                raise _no_longer_enough()
            chosen = rng.sample(candidates, rule.count)
        else:
            by_level: dict[Level, list[QuestionRow]] = defaultdict(list)
            for q in candidates:
                by_level[q.difficulty].append(q)
            chosen = []
            for level, n in rule.mix:
                if len(by_level[level]) < n:
                    raise _no_longer_enough()
                chosen.extend(rng.sample(by_level[level], n))
        chosen.sort(key=lambda q: q.id)
        for q in chosen:
            taken.add(q.id)
            # type and option count ride along so answer saves need no question lookup
            paper.append({"q": q.id, "points": rule.points, "t": q.type, "n": q.options_count})
    return paper


def _no_longer_enough() -> Invalid:
    return Invalid(_("The question banks no longer have enough questions for this quiz; please tell the organiser."))


def shuffled(items: list, rng: random.Random) -> list:
    """The items in a uniformly random order: each gets an independent random key and they are
    sorted by it (one C call per item; random.shuffle's per-item draws in Python were about 8 % of
    a join's CPU)."""
    keys = [rng.random() for _ in items]
    return [items[i] for i in sorted(range(len(items)), key=keys.__getitem__)]


@lru_cache(maxsize=None)
def _orders(n: int) -> tuple[tuple[int, ...], ...]:
    """Every order of n options (n ≤ MAX_LISTED_ORDERS: at most 720)."""
    return tuple(itertools.permutations(range(n)))


MAX_LISTED_ORDERS = 6


def option_order(n: int, rng: random.Random) -> list[int]:
    """A uniformly random order of n options: one of the listed orders (one draw), or shuffled
    for more options than MAX_LISTED_ORDERS (a paper's option orders were a tenth of a join's
    draw and shuffle work)."""
    return list(rng.choice(_orders(n))) if n <= MAX_LISTED_ORDERS else shuffled(list(range(n)), rng)


def personalise(entries: list[dict], quiz: Quiz, rng: random.Random) -> list[dict]:
    """One person's sheet from a paper: an option order per choice question when options are
    shuffled, then the question order shuffled when the quiz says so."""
    paper = []
    for entry in entries:
        order = None
        if quiz.shuffle_options and entry["n"] > 1 and get_type(entry["t"]).shuffles_options:
            order = option_order(entry["n"], rng)
        paper.append({"q": entry["q"], "points": entry["points"], "order": order, "t": entry["t"], "n": entry["n"]})
    return shuffled(paper, rng) if quiz.shuffle_questions else paper


def draw_paper(quiz: Quiz, pool: list[QuestionRow], rng: random.Random) -> list[dict]:
    """One participant's paper in 随机组卷: a draw by the rules (balanced by their mixes), then
    personalised."""
    return personalise(draw_questions(rules_from_quiz(quiz), pool, rng), quiz, rng)


def paper_for_join(quiz: Quiz, rng: random.Random, bank_ids: list[int] | None = None, conn=None) -> list[dict]:
    """The sheet a joining person gets: 统一试卷 copies the stored paper (option counts refreshed
    from the cached pool, in case a question's options were edited), 随机组卷 draws. `quiz` may be
    the quiz as a join reads it (services/joins.py QuizMeta, with its `bank_ids`)."""
    if bank_ids is None:
        bank_ids = [b.id for b in quiz.banks]
    if quiz.paper_mode != "fixed" or quiz.paper is None:
        return draw_paper(quiz, cached_pool(bank_ids, conn), rng)
    # the join has read the quiz under a key-share lock (services/joins.py): other joins go on,
    # while an edit of the paper, a close or an extension (FOR UPDATE) and this join wait for each
    # other, so `quiz.paper` is the paper as it stands (module docstring)
    stored = quiz.paper
    index = cached_index(bank_ids, conn)
    entries = []
    for entry in stored or []:
        row = index.get(entry["q"])
        entries.append({**entry, "n": row.options_count} if row is not None else entry)
    return personalise(entries, quiz, rng)


# ---------------------------------------------------------------- hand-picked papers
def _question_id(value, index: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise Invalid(_("questions: item %(n)d needs a question id (a whole number).", n=index))
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10 or not 1 <= int(text) <= MAX_ID:
        raise Invalid(_("questions: item %(n)d: “%(value)s” is not a question id.", n=index, value=text[:30]))
    return int(text)


def _points(value, where: str) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError, OverflowError):
        number = float("nan")
    if not 0 < number <= 1000:  # also refuses NaN
        raise Invalid(_("%(where)s: points must be more than 0 and at most 1000.", where=where))
    return number


def hand_picked(items, *, banks: list[Bank], rule_points: dict[str, float], actor: User | None) -> list[dict]:
    """A paper from hand-picked questions ([{"id": 12, "points": 2}, …] or plain ids), in the
    given order. Every id is checked (module docstring); raises Invalid/Forbidden naming it."""
    if not isinstance(items, list) or not items:
        raise Invalid(_("questions: give a list of question ids such as [{\"id\": 12, \"points\": 2}]."))
    if len(items) > MAX_QUESTIONS:
        raise Invalid(_("A paper can have at most %(n)d questions.", n=MAX_QUESTIONS))
    wanted: list[tuple[int, float | None]] = []
    for index, item in enumerate(items, start=1):
        raw_points = None
        if isinstance(item, dict):
            raw_id, raw_points = item.get("id"), item.get("points")
        else:
            raw_id = item
        qid = _question_id(raw_id, index)
        wanted.append((qid, None if raw_points in (None, "") else
                       _points(raw_points, _("questions: question %(id)d", id=qid))))
    ids = [qid for qid, _p in wanted]
    found = {q.id: q for q in db.session.execute(select(Question).where(Question.id.in_(ids))).scalars()}
    bank_ids = {b.id for b in banks}
    paper, seen = [], set()
    for qid, points in wanted:
        question = found.get(qid)
        if question is None:
            raise Invalid(_("questions: question %(id)d does not exist.", id=qid))
        if not scope.can_use_bank(actor, question.bank):  # as scope.require_bank_use for the quiz's banks
            raise Forbidden(_("questions: question %(id)d is in a question bank outside your scope.", id=qid))
        if question.bank_id not in bank_ids:
            raise Invalid(_("questions: question %(id)d is in “%(bank)s”, which is not one of this quiz's question "
                            "banks.", id=qid, bank=question.bank.name))
        if question.retired:
            raise Invalid(_("questions: question %(id)d is retired; restore it in its bank or choose another.", id=qid))
        if qid in seen:
            raise Invalid(_("questions: question %(id)d is listed twice.", id=qid))
        seen.add(qid)
        if points is None:
            points = rule_points.get(question.type, question.points)
        if points is None:
            raise Invalid(_("questions: question %(id)d has no points: give them, or a rule for its type, or 分值 "
                            "in the bank.", id=qid))
        paper.append({"q": qid, "points": float(points), "t": question.type, "n": len(question.options or [])})
    return paper


def points_by_type(raw) -> dict[str, float]:
    """For a hand-picked paper the rules only lend points per type ({"type": "单选", "points": 2};
    the count does not matter): the first rule of each type wins."""
    if raw in (None, "", []):
        return {}
    if not isinstance(raw, list) or len(raw) > MAX_RULES:
        raise Invalid(_("Paper rules: at most %(n)d rules.", n=MAX_RULES))
    points: dict[str, float] = {}
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise Invalid(_("Paper rule %(n)d is not an object.", n=index))
        qtype = type_from_label(item.get("type", ""))
        if qtype is None:
            raise Invalid(_("Paper rule %(n)d: question type “%(value)s” is not recognised (use 单选, 多选, 判断 or 填空).",
                            n=index, value=item.get("type", "")))
        points.setdefault(qtype, _points(item.get("points"), _("Paper rule %(n)d", n=index)))
    return points


def summary_rules(paper: list[dict]) -> list[dict]:
    """A paper's own rules: count per (type, points), in order of first appearance."""
    groups: dict[tuple[str, float], int] = {}
    for entry in paper:
        key = (entry["t"], entry["points"])
        groups[key] = groups.get(key, 0) + 1
    return [Rule(t, n, p, [], []).as_dict() for (t, p), n in groups.items()]


def paper_points(paper: list[dict]) -> float:
    return round(sum(e["points"] for e in paper), 4)


@dataclass
class PaperPlan:
    """What create_quiz stores: the mode, the rules (with mixes) and the fixed paper."""

    mode: str
    rules: list[dict]
    paper: list[dict] | None
    max_score: float


def plan_paper(payload: dict, banks: list[Bank], *, actor: User | None,
               rng: random.Random | None = None) -> PaperPlan:
    """The paper settings of a new quiz (rules, mode, hand-picked questions) → PaperPlan."""
    mode = parse_paper_mode(payload.get("paper_mode"))
    picked = payload.get("questions")
    rng = rng or draws()
    if picked not in (None, "", []):
        if mode != "fixed":
            raise Invalid(_("questions: a hand-picked paper is one paper for everyone; use paper_mode fixed "
                            "(统一试卷)."))
        paper = hand_picked(picked, banks=banks, rule_points=points_by_type(payload.get("rules")), actor=actor)
        return PaperPlan(mode, summary_rules(paper), paper, paper_points(paper))
    rules = parse_rules(payload.get("rules"))
    pool = load_pool([b.id for b in banks])
    if mode == "random":
        rules = balance_rules(rules, pool)
        return PaperPlan(mode, [r.as_dict() for r in rules], None,
                         round(sum(r.count * r.points for r in rules), 4))
    check_fillable(rules, pool)
    paper = draw_questions(rules, pool, rng)
    return PaperPlan(mode, [r.as_dict() for r in rules], paper, paper_points(paper))


# ---------------------------------------------------------------- editing a fixed paper
def sheets_started(quiz: Quiz) -> int:
    """Answer sheets started for the quiz (any status): one means the paper is locked."""
    return db.session.scalar(select(func.count(Attempt.id)).where(Attempt.quiz_id == quiz.id)) or 0


def _require_editable(quiz: Quiz, actor: User | None) -> None:
    scope.require_quiz(actor, quiz)
    if quiz.paper_mode != "fixed":
        raise Conflict(_("This quiz draws a paper per person (随机组卷); there is no fixed paper to edit."))
    # FOR UPDATE waits for joins in flight (they hold a key-share lock on the quiz) and keeps
    # new ones waiting until this edit commits (module docstring)
    db.session.execute(select(Quiz.id).where(Quiz.id == quiz.id).with_for_update())
    started = sheets_started(quiz)
    if started:
        raise Conflict(_("The paper is locked: %(n)d answer sheets have been started with it. Everyone must "
                         "answer the same paper, so it cannot change once somebody has joined.", n=started))


def _store(quiz: Quiz, paper: list[dict], rules: list[dict], now: datetime) -> None:
    max_score = paper_points(paper)
    for label, value in ((_("pass mark"), quiz.pass_score), (_("excellent mark"), quiz.excellent_score)):
        if value is not None and value > max_score:
            raise Invalid(_("The paper would be worth %(max)g points, less than the %(what)s (%(value)g).",
                            max=max_score, what=label, value=value))
    quiz.paper = paper
    quiz.rules = rules
    quiz.max_score = max_score
    quiz.updated_at = now
    db.session.flush()


def set_fixed_paper(quiz: Quiz, items, *, actor: User | None, now: datetime) -> list[dict]:
    """Replace the fixed paper by hand-picked questions (same checks as at creation); the
    quiz's rules become the paper's summary. Refused once anybody has joined."""
    _require_editable(quiz, actor)
    paper = hand_picked(items, banks=list(quiz.banks), rule_points=points_by_type(quiz.rules), actor=actor)
    _store(quiz, paper, summary_rules(paper), now)
    return paper


def redraw_fixed_paper(quiz: Quiz, *, actor: User | None, now: datetime,
                       rng: random.Random | None = None) -> list[dict]:
    """Draw the fixed paper again from the quiz's rules. Refused once anybody has joined."""
    _require_editable(quiz, actor)
    rules = rules_from_quiz(quiz)
    pool = load_pool([b.id for b in quiz.banks])
    check_fillable(rules, pool)
    paper = draw_questions(rules, pool, rng or draws())
    _store(quiz, paper, quiz.rules, now)
    return paper


def paper_items(quiz: Quiz) -> list[dict]:
    """The fixed paper as hand-picked items ([{"id", "points"}]), the form the edits take."""
    return [{"id": e["q"], "points": e["points"]} for e in quiz.paper or []]


def add_to_paper(quiz: Quiz, question_id, points, *, actor: User | None, now: datetime) -> list[dict]:
    """Append one question to the fixed paper (points: as given, else as set_fixed_paper)."""
    qid = _question_id(question_id, len(quiz.paper or []) + 1)
    for number, entry in enumerate(quiz.paper or [], start=1):
        if entry["q"] == qid:
            raise Invalid(_("Question %(id)d is already on the paper (number %(n)d).", id=qid, n=number))
    return set_fixed_paper(quiz, paper_items(quiz) + [{"id": qid, "points": points}], actor=actor, now=now)


def rearranged(items: list[dict], *, up=None, down=None, remove=None) -> list[dict]:
    """The pick page's rows with one moved up or down or removed (row indexes from 0)."""
    items = list(items)
    for value, action in ((up, "up"), (down, "down"), (remove, "remove")):
        if value in (None, ""):
            continue
        text = str(value)
        if not text.isascii() or not text.isdigit() or int(text) >= len(items):
            raise Invalid(_("That row is no longer on the paper; reload the page and try again."))
        i = int(text)
        if action == "remove":
            del items[i]
        elif action == "up" and i > 0:
            items[i - 1], items[i] = items[i], items[i - 1]
        elif action == "down" and i + 1 < len(items):
            items[i + 1], items[i] = items[i], items[i + 1]
    if not items:
        raise Invalid(_("A paper needs at least one question; add another before removing the last one."))
    return items


# ---------------------------------------------------------------- showing it
@dataclass
class PaperRow:
    number: int
    question: Question
    points: float


def fixed_rows(quiz: Quiz) -> list[PaperRow]:
    """The fixed paper's questions in order (for the quiz page, the pick page and the API)."""
    entries = quiz.paper or []
    found = {q.id: q for q in db.session.execute(
        select(Question).where(Question.id.in_([e["q"] for e in entries]))).scalars()} if entries else {}
    return [PaperRow(i, found[e["q"]], e["points"]) for i, e in enumerate(entries, start=1) if e["q"] in found]


def pickable_banks(quiz: Quiz, actor: User | None) -> list[Bank]:
    """The quiz's banks the actor may pick questions from (hand_picked checks the same)."""
    return [bank for bank in quiz.banks if scope.can_use_bank(actor, bank)]


def candidates(quiz: Quiz, actor: User | None, *, q: str = "", qtype: str = "", tag: str = ""):
    """Select of the questions the pick page offers: in use, in the quiz's banks the actor may
    pick from, filtered by text, type and tag."""
    from quiz.services.banks import question_filter

    return question_filter(pickable_banks(quiz, actor), q=q, qtype=qtype, tag=tag, status="active")


def default_points(quiz: Quiz, question: Question) -> float:
    """Points a question gets when added by hand: the rule of its type, else its 分值, else 1."""
    for rule in quiz.rules or []:
        if rule["type"] == question.type:
            return rule["points"]
    return question.points or 1.0



def paper_json(quiz: Quiz) -> dict:
    """The paper as the API shows it (docs/api.md)."""
    fixed = None
    if quiz.paper_mode == "fixed":
        fixed = [{"id": r.question.id, "points": r.points, "type": r.question.type,
                  "difficulty": r.question.difficulty, "bank": r.question.bank.name} for r in fixed_rows(quiz)]
    return {"paper_mode": quiz.paper_mode, "shuffle_questions": quiz.shuffle_questions,
            "shuffle_options": quiz.shuffle_options, "rules": quiz.rules, "max_score": quiz.max_score,
            "locked": quiz.paper_mode == "fixed" and sheets_started(quiz) > 0, "questions": fixed}
