"""Joining a quiz: who may join (the identity rules), the answer sheet a join starts or resumes,
and what a phone gets back. The one set of rules every join goes through (docs/rules.md
"Joining"; docs/deployment.md "Joining").

- Identity (`identify`), as the quiz asks (Quiz.identity_check): "none" (name + phone; a new phone
  creates a person in the chosen unit), "roster" (a person on the roster, with the roster's name),
  "code" (as roster, plus the person's personal access code). Details that do not identify the
  person raise IdentityMismatch with one message whatever did not match. A person's unit is never
  changed by joining. A logged-in account joins as the person linked to it, and links itself to the
  person it joins as when neither is linked yet.
- The sheet (`join`): an open sheet of the same person is resumed (graded at its deadline first
  when that has passed); otherwise a new sheet, if the quiz is open and attempts_allowed is not
  used up: 统一试卷 copies the stored paper, 随机组卷 draws from the cached bank pool
  (services/papers.py `paper_for_join`), then the shuffles.
- The quiz row is read with a key-share lock (FOR KEY SHARE on PostgreSQL; SQLite serialises
  writers): a join either finishes before a close, an extension or a paper edit takes its cut, or
  sees its result (services/attempts.py `lock_quiz`).
- What the phone gets (`payload`): the sheet's id and token, its deadline, the questions as shown
  (services/attempts.py `question_view`, in the sheet's option order) and the saved answers.

Two transports use these rules: the Flask views (the API's POST /api/v1/join/<code>; the web join
page and every other caller through attempts.join, which returns ORM objects) and the join lane
(quiz/join_lane.py), a WSGI handler in front of Flask for the API join without cookies.

Why it is fast (docs/benchmarks.md "Joining"): the statements are Core statements on the request's
connection, not ORM object loading; a new person costs the quiz row, the person lookup (with their
open sheet and sheet count in the same statement), the unit lookup, one INSERT … RETURNING per row
(ON CONFLICT DO NOTHING instead of savepoints: a concurrent duplicate is re-read) and the commit;
on PostgreSQL the new person and their sheet are one statement (a data-modifying WITH), and the
statements run on the driver's cursor in the join's transaction (quiz/direct_sql.py). The join
lane's batches (several joins in one transaction) read their lookups in one statement
(`lookups_read_ahead`) and write their new people and sheets in another (`Later`).
The quiz's banks and audience units (fixed when it is created) are cached per process, and so are
the questions as shown, per language (in any option order), dropped with the bank pools on every
`banks` event (quiz/events.py), so the payload needs no question query in the steady state.
"""
from __future__ import annotations

import random
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

import orjson
from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import Integer, String, Text, and_, bindparam, cast, column, func, select, text, true, values
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from quiz import direct_sql, events
from quiz.errors import Conflict, Forbidden, IdentityMismatch, Invalid, TooManyAttempts
from quiz.extensions import db
from quiz.models import Answer, Attempt, Participant, Question, Quiz, Unit, quiz_bank, quiz_unit
from quiz.models.base import json_column_value
from quiz.models.units import path_within
from quiz.questions import get_type
from quiz.services import answers, guards
from quiz.services.papers import draws, paper_for_join, pool_entry_trusted
from quiz.services.people import access_code_matches, normalise_access_code, normalise_name
from quiz.services.people import normalise_phone as _normalise_phone
from quiz.services.units import canonical_path as _canonical_path

if TYPE_CHECKING:
    from quiz.services.attempts import ViewParts

_Q, _P, _U, _A = Quiz.__table__, Participant.__table__, Unit.__table__, Attempt.__table__
# A join's phone and unit are normalised three or four times (its lookup, identify, the guards):
# the values as typed → as stored, kept per process (an invalid one raises every time, in the
# language of the join asking).
normalise_phone = lru_cache(maxsize=4096)(_normalise_phone)
canonical_path = lru_cache(maxsize=4096)(_canonical_path)


# ---------------------------------------------------------------- the quiz as a join reads it
@dataclass
class Person:
    id: int | None  # None: a new person not written yet (join() writes them with their sheet)
    name: str
    unit_id: int
    user_id: int | None
    on_roster: bool
    access_code: str | None
    unit_path: str
    used: int = 0  # sheets of this quiz so far
    sheet: "Sheet | None" = None  # the open sheet of this quiz
    new: dict | None = None  # a new person not written yet (id None): the participant row's values


@dataclass(frozen=True)
class QuizMeta:
    """The quiz row as read under the join's key-share lock, with its banks and audience (the
    units' paths), and what the same statement found for the join: the person with `person_key`
    (("phone", …) or ("user", …)) and the unit at `unit_path`. Its rules are Quiz's own
    (is_open, is_practice …), so it stands in for the ORM object in papers.paper_for_join and
    wherever a join asks the quiz something."""

    id: int
    created_at: datetime
    title: str
    mode: str
    join_code: str
    opens_at: datetime | None
    closes_at: datetime | None
    duration_seconds: int | None
    roster_only: bool
    access_code_required: bool
    attempts_allowed: int
    shuffle_questions: bool
    shuffle_options: bool
    paper_mode: str
    paper: list | None
    rules: list
    bank_ids: tuple[int, ...] = ()
    audience: tuple[str, ...] = ()
    person_key: tuple | None = None
    person: Person | None = None
    unit_path: str | None = None
    unit_id: int | None = None

    is_open = Quiz.is_open
    is_practice = Quiz.is_practice
    is_live = Quiz.is_live
    identity_check = Quiz.identity_check


_QUIZ_NAMES = ("id", "created_at", "title", "mode", "join_code", "opens_at", "closes_at", "duration_seconds",
               "roster_only", "access_code_required", "attempts_allowed", "shuffle_questions", "shuffle_options",
               "paper_mode", "paper", "rules")
_JSON_NAMES = ("paper", "rules")  # read as text and parsed through the cache (_json_value)
_OPEN = _A.alias("open_sheet")
_PERSON_UNIT = _U.alias("person_unit")
_PERSON_COLUMNS = (_P.c.id, _P.c.name, _P.c.unit_id, _P.c.user_id, _P.c.on_roster, _P.c.access_code,
                   _PERSON_UNIT.c.path, _OPEN.c.id, _OPEN.c.number, _OPEN.c.nonce, _OPEN.c.paper, _OPEN.c.deadline)
_PERSON_LABELS = ("p_id", "p_name", "p_unit_id", "p_user_id", "p_on_roster", "p_access_code", "p_unit_path",
                  "s_id", "s_number", "s_nonce", "s_paper", "s_deadline")
_BANK_IDS = select(quiz_bank.c.bank_id).where(quiz_bank.c.quiz_id == bindparam("quiz")).order_by(quiz_bank.c.bank_id)
_AUDIENCE = select(_U.c.path).join(quiz_unit, quiz_unit.c.unit_id == _U.c.id).where(
    quiz_unit.c.quiz_id == bindparam("quiz")).order_by(_U.c.path)


def _unit_at(path):
    """The id of the unit whose path is `path` (a parameter or a column)."""
    return select(_U.c.id).where(_U.c.path == path)


_UNIT_BY_PATH = _unit_at(bindparam("path"))
_LOOKUPS: dict[tuple[bool, str, bool, int], object] = {}
BATCH_LOOKUPS = 16  # joins per batch lookup statement (one statement per size: prepared, planned once)


def _lookup(by_code: bool, person: str, lock: bool, batch: int = 0):
    """One statement: the quiz (by join code or id; FOR KEY SHARE OF quiz on PostgreSQL), the
    person by phone or account with their unit, open sheet of this quiz and number of sheets, and
    the id of the unit at :path. The person and unit columns are NULL when there is none.

    `batch` (by code and phone): the same for that many joins in one statement, the lookup run for
    each row of a VALUES list (:key_<n>, :phone_<n>, :path_<n>, n from 1) as a LATERAL subquery;
    each row is what the single statement reads for join `n`, with `n`, and a join whose code is
    unknown has no row. A VALUES list of known length, not an array: the row estimate then does
    not depend on the parameters, so PostgreSQL plans the prepared statement once (an unnest of
    arrays was planned again on every run, and cost more than the single lookups it replaced)."""
    key = (by_code, person, lock, batch)
    stmt = _LOOKUPS.get(key)
    if stmt is None:
        if batch:
            names = ("key", "phone", "path")
            given = values(*[column(name, String) for name in names], column("n", Integer), name="given").data(
                [(*[bindparam(f"{name}_{n}", type_=String) for name in names], n) for n in range(1, batch + 1)])
            code, phone, path = given.c.key, given.c.phone, given.c.path
        else:
            code, phone, path = bindparam("key"), bindparam("phone"), bindparam("path")
        match = _P.c.phone == phone if person == "phone" else _P.c.user_id == bindparam("user")
        used = select(func.count(_A.c.id)).where(_A.c.quiz_id == _Q.c.id, _A.c.participant_id == _P.c.id)
        stmt = (select(*[_Q.c[name] if name not in _JSON_NAMES else cast(_Q.c[name], Text).label(name)
                         for name in _QUIZ_NAMES],
                       *[column.label(label) for column, label in zip(_PERSON_COLUMNS, _PERSON_LABELS)],
                       used.scalar_subquery().label("p_used"),
                       _unit_at(path).correlate_except(_U).scalar_subquery().label("unit_id"))
                .select_from(_Q.outerjoin(_P, match).outerjoin(_PERSON_UNIT, _PERSON_UNIT.c.id == _P.c.unit_id)
                             .outerjoin(_OPEN, and_(_OPEN.c.quiz_id == _Q.c.id, _OPEN.c.open_slot == _P.c.id)))
                .where((_Q.c.join_code if by_code else _Q.c.id) == code))
        if by_code:  # never the hidden quiz behind a live contest (quizzes.quiz_by_code)
            stmt = stmt.where(_Q.c.mode != "live")
        if lock:
            stmt = stmt.with_for_update(read=True, key_share=True, of=_Q)
        if batch:
            each = stmt.lateral("each")
            stmt = select(*each.c, given.c.n).select_from(given.join(each, true()))
        stmt = _LOOKUPS[key] = stmt
    return stmt


class _Cache:
    """One app's join caches: the quizzes' banks (never changed after the quiz is created; keyed
    by id and creation time), their audience units' paths (units can be renamed: dropped on
    `units` events), and the questions as shown (dropped on `banks` events)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.banks: dict[tuple[int, datetime], tuple[int, ...]] = {}
        self.audience: dict[tuple[int, datetime], tuple[float, int | None, tuple[str, ...]]] = {}
        self.questions: dict[int, Question] = {}  # detached snapshots
        self.views: dict[str, dict[int, _Shown]] = {}  # per language, by question id
        self.json: dict[str, object] = {}  # the quizzes' papers and rules by their stored text
        self.encoded: dict[str, dict[tuple, bytes]] = {}  # per language: a question as a sheet shows it
        self.loaded = time.monotonic()
        self.epoch: int | None = None
        self.generation = 0


MAX_VIEWS = 10_000  # questions as shown kept per process and language (each with its option cells: a few KB)
MAX_JSON = 256  # quizzes' papers and rules kept parsed per process
MAX_ENCODED = 10_000  # questions encoded per option order and points kept per process and language (~7 MB)


def _cache() -> _Cache:
    cache = current_app.extensions.get("joins")
    if cache is None:
        cache = current_app.extensions.setdefault("joins", _Cache())
    return cache


def _drop_questions(cache: _Cache, epoch: int | None = None) -> None:
    with cache.lock:
        cache.questions = {}
        cache.views = {}
        cache.encoded = {}
        cache.loaded = time.monotonic()
        cache.epoch = epoch
        cache.generation += 1


def _on_banks_event(event) -> None:
    """A question changed somewhere (or events may have been missed): drop the questions as shown,
    like the bank pools (services/papers.py)."""
    _drop_questions(_cache())


def _on_units_event(event) -> None:
    """A unit was renamed, moved or deleted somewhere (or events may have been missed): read the
    audiences' paths again."""
    _cache().audience.clear()


events.subscribe(events.BANKS, _on_banks_event)
events.subscribe(events.UNITS, _on_units_event)


def _audience(conn, quiz_id: int, key: tuple[int, datetime]) -> tuple[str, ...]:
    cache = _cache()
    hub = events.get_hub()
    hit = cache.audience.get(key)
    if hit is not None and pool_entry_trusted(hit[0], hit[1], hub):
        return hit[2]
    loaded, epoch = time.monotonic(), hub.epoch() if hub.shared() else None
    paths = tuple(direct_sql.execute(conn, _AUDIENCE, {"quiz": quiz_id}).scalars())
    cache.audience[key] = (loaded, epoch, paths)
    return paths


def _json_value(cache: _Cache, stored: str | None):
    """A quiz's paper or rules from its stored JSON text, parsed once per text and process: the
    same value for every join while the text stays the same (an edit changes the text). Shared
    between joins: read, never changed (papers.paper_for_join copies what it changes). A 100-question
    paper took a fifth of a join's JSON work to parse on every join."""
    if stored is None:
        return None
    value = cache.json.get(stored)
    if value is None:
        value = json_column_value(stored)
        with cache.lock:
            if len(cache.json) >= MAX_JSON:
                cache.json.clear()
            cache.json[stored] = value
    return value


def _quiz_meta(row, conn, person_key: tuple | None = None, unit_path: str | None = None) -> QuizMeta:
    cache = _cache()
    key = (row.id, row.created_at)
    bank_ids = cache.banks.get(key)
    if bank_ids is None:
        bank_ids = cache.banks[key] = tuple(direct_sql.execute(conn, _BANK_IDS, {"quiz": row.id}).scalars())
    person = _person_of(row, row.id) if person_key is not None else None
    return QuizMeta(**{name: getattr(row, name) if name not in _JSON_NAMES else _json_value(cache, getattr(row, name))
                       for name in _QUIZ_NAMES}, bank_ids=bank_ids,
                    audience=_audience(conn, row.id, key), person_key=person_key, person=person,
                    unit_path=unit_path, unit_id=row.unit_id if unit_path is not None else None)


def _person_of(row, quiz_id: int) -> Person | None:
    """The person (and their open sheet of this quiz) in a row of _PERSON_LABELS columns + p_used."""
    if row.p_id is None:
        return None
    person = Person(row.p_id, row.p_name, row.p_unit_id, row.p_user_id, row.p_on_roster, row.p_access_code,
                    row.p_unit_path, row.p_used or 0)
    if row.s_id is not None:
        person.sheet = Sheet(row.s_id, quiz_id, row.p_id, row.s_number, row.s_nonce, row.s_paper, row.s_deadline,
                             resumed=True, unit_path=row.p_unit_path)
    return person


def _connection(conn=None):
    """The connection a join runs on: `conn` (the join lane's own), else the request's session's."""
    return conn if conn is not None else db.session.connection()


class NeedsSession(Exception):
    """This join must grade the person's overdue sheet (ORM, events), which a bare connection
    (the join lane's) does not do: the Flask view serves it."""


def _keys(phone: str | None, user_id: int | None, unit_path: str | None) -> tuple[tuple | None, dict, str | None]:
    """What the lookup statement can find for identify(): the person (by account when a logged-in
    account joins without a unit, as identify asks first, else by phone) and the unit. Details
    that do not normalise find nothing here; identify() names them in its own order."""
    if user_id is not None and unit_path is None:
        return ("user", user_id), {"user": user_id}, None
    try:
        phone_key = normalise_phone(phone) if phone else None
    except Invalid:
        phone_key = None
    try:
        path = canonical_path(unit_path) if unit_path else None
    except Invalid:
        path = None
    return ("phone", phone_key), {"phone": phone_key, "path": path}, path


def read_quiz(quiz_id: int, *, lock: bool = True, conn=None, phone: str | None = None,
              user_id: int | None = None, unit_path: str | None = None) -> QuizMeta:
    """The quiz as a join sees it, read under the key-share lock (module docstring), with the
    person and unit the join names; without `lock` for identify() alone (a live contest's join)."""
    conn = _connection(conn)
    person_key, params, path = _keys(phone, user_id, unit_path)
    row = direct_sql.execute(conn, _lookup(False, person_key[0], lock), {"key": quiz_id, "path": None, **params}).one()
    return _quiz_meta(row, conn, person_key, path)


def _by_code(code: str, phone: str | None, user_id: int | None, unit_path: str | None):
    """find_quiz's lookup: (statement, parameters, the person's key, the unit's path)."""
    from quiz.services.quizzes import normalise_join_code

    person_key, params, path = _keys(phone, user_id, unit_path)
    return (_lookup(True, person_key[0], True), {"key": normalise_join_code(code), "path": None, **params},
            person_key, path)


def find_quiz(code: str, *, conn=None, phone: str | None = None, user_id: int | None = None,
              unit_path: str | None = None) -> QuizMeta:
    """The quiz with this join code, read under the key-share lock, with the person and unit the
    join names (read_quiz); NotFound as quizzes.quiz_by_code says it."""
    from quiz.services.quizzes import unknown_join_code

    conn = _connection(conn)
    statement, params, person_key, path = _by_code(code, phone, user_id, unit_path)
    row = direct_sql.execute(conn, statement, params).first()
    if row is None:
        raise unknown_join_code(code)
    return _quiz_meta(row, conn, person_key, path)


def lookup_by_code(code: str, body: dict) -> tuple[object, dict]:
    """The statement and parameters join_by_code(code, body) looks the quiz and person up with
    (for lookups_read_ahead)."""
    fields = details(body)
    statement, params, _person_key, _path = _by_code(code, fields["phone"], None, fields["unit_path"])
    return statement, params


@contextmanager
def lookups_read_ahead(conn, lookups: list[tuple[object, dict]]):
    """A batch of joins in one transaction (the join lane's group commit): their lookups (from
    lookup_by_code) read in one statement on PostgreSQL (_lookup's batch form), each served to its
    own join's find_quiz (direct_sql.served). Elsewhere each join reads its own.

    Each join's lookup is then read before the joins ahead of it in the batch wrote, as if another
    transaction had written them after it: the rules already handle that (a concurrent join's
    insert conflicts, and the person is read again)."""
    single = _lookup(True, "phone", True)
    batch = [(statement, params) for statement, params in lookups if statement is single]
    if conn.dialect.name != "postgresql" or not batch:
        yield
        return
    reads = []
    for start in range(0, len(batch), BATCH_LOOKUPS):
        part = batch[start:start + BATCH_LOOKUPS]
        params = {f"{name}_{n}": p[name] for n, (_, p) in enumerate(part, 1) for name in ("key", "phone", "path")}
        found = {row.n: [row] for row in direct_sql.execute(conn, _lookup(True, "phone", True, len(part)),
                                                            params).all()}
        reads += [(statement, p, found.get(n, [])) for n, (statement, p) in enumerate(part, 1)]
    with direct_sql.served(conn, reads):
        yield


# ---------------------------------------------------------------- the person
_PERSON = (select(*[column.label(label) for column, label in zip(_PERSON_COLUMNS, _PERSON_LABELS)],
                  select(func.count(_A.c.id)).where(_A.c.quiz_id == bindparam("quiz"), _A.c.participant_id == _P.c.id)
                  .scalar_subquery().label("p_used"))
           .select_from(_P.join(_PERSON_UNIT, _PERSON_UNIT.c.id == _P.c.unit_id)
                        .outerjoin(_OPEN, and_(_OPEN.c.quiz_id == bindparam("quiz"), _OPEN.c.open_slot == _P.c.id))))
_PERSON_BY_PHONE = _PERSON.where(_P.c.phone == bindparam("phone"))
_PERSON_BY_USER = _PERSON.where(_P.c.user_id == bindparam("user"))
_PERSON_BY_ID = _PERSON.where(_P.c.id == bindparam("id"))
_LINKED = select(_P.c.id).where(_P.c.user_id == bindparam("user"))


def _person(conn, quiz: QuizMeta, *, fresh: bool = False, **key) -> Person | None:
    """The person by phone, account or id, as the lookup statement found them unless `fresh`
    (or it did not look for them)."""
    name, value = next(iter(key.items()))
    if quiz.person_key == (name, value) and not fresh:
        return quiz.person
    stmt = {"phone": _PERSON_BY_PHONE, "user": _PERSON_BY_USER, "id": _PERSON_BY_ID}[name]
    row = direct_sql.execute(conn, stmt, {"quiz": quiz.id, **key}).first()
    return _person_of(row, quiz.id) if row is not None else None


def _unit_id(conn, quiz: QuizMeta, path: str) -> int | None:
    if quiz.unit_path == path:
        return quiz.unit_id
    return direct_sql.execute(conn, _UNIT_BY_PATH, {"path": path}).scalar()


def _in_audience(quiz: QuizMeta, unit_path: str) -> bool:
    return not quiz.audience or any(path_within(unit_path, path) for path in quiz.audience)


_INSERTS: dict[tuple[str, tuple[str, ...]], object] = {}
WROTE = "quiz.join_wrote"  # Connection.info key: rows the join running on it wrote (see _wrote)


def _wrote(conn, rows: int | None) -> None:
    """Note that the join running on `conn` wrote `rows` rows. A join that then fails is rolled
    back; the join lane's group commit, which runs several joins in one transaction, reads this to
    roll back the whole batch only when a refused join wrote something (quiz/join_lane.py)."""
    if rows:
        conn.info[WROTE] = conn.info.get(WROTE, 0) + rows


@lru_cache(maxsize=8)
def _defaults(table) -> dict:
    """The column defaults of `table` that are plain values (filled in by the INSERTs below)."""
    return {c.key: c.default.arg for c in table.c if c.default is not None and c.default.is_scalar}


def _inserted_id(conn, table, values: dict) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id (SQLite and PostgreSQL alike): a concurrent
    duplicate returns no row. The column defaults that are plain values are filled in; the
    statement is a typed text() because SQLAlchemy does not cache the dialects' ON CONFLICT
    constructs (it would compile the INSERT on every join)."""
    values = {**_defaults(table), **values}
    key = (table.name, tuple(values))
    stmt = _INSERTS.get(key)
    if stmt is None:
        stmt = _INSERTS[key] = text(_insert_sql(table, values)).bindparams(
            *[bindparam(c, type_=table.c[c].type) for c in values]).columns(table.c.id)
    inserted = direct_sql.execute(conn, stmt, values).scalar()
    _wrote(conn, inserted is not None)
    return inserted


def _insert_sql(table, columns) -> str:
    """INSERT INTO table (columns) VALUES (:column, …) ON CONFLICT DO NOTHING RETURNING id."""
    return (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)}) "
            "ON CONFLICT DO NOTHING RETURNING id")


_PAIRS: dict[tuple[tuple[str, ...], tuple[str, ...], int], object] = {}
BATCH_WRITES = 16  # new people (with their sheets) per statement (one statement per size)


def _person_and_sheet(conn, person: dict, sheet: dict) -> tuple[int, int] | None:
    """PostgreSQL: a new person and their first sheet in one statement: the ids (person, sheet), or
    None when the person's insert met a concurrent one (same phone or account) and wrote nothing."""
    return _people_and_sheets(conn, [(person, sheet)])[0]


def _identity_keys(person: dict) -> set[tuple[str, object]]:
    """What two new people may not share: the phone, and the account when there is one."""
    user = person.get("user_id")
    return {("phone", person.get("phone"))} | ({("user", user)} if user is not None else set())


def _people_and_sheets(conn, pairs: list[tuple[dict, dict]]) -> list[tuple[int, int] | None]:
    """PostgreSQL: new people and their first sheets, up to BATCH_WRITES pairs per statement (a
    data-modifying WITH over a VALUES list): the ids (person, sheet) of each pair, or None for a
    pair whose person met another with the same phone or account (written before) and wrote
    nothing. A sheet's participant_id and open_slot are its person's id. Every pair names the same
    columns, and no two the same phone or account (Later.write keeps a repeated one back). Values
    are cast to their columns' types (an INSERT … SELECT does not type its parameters)."""
    keys = [key for person, _ in pairs for key in _identity_keys(person)]
    if len(set(keys)) != len(keys):
        raise ValueError("two new people with the same phone or account in one write")
    found: list[tuple[int, int] | None] = []
    for start in range(0, len(pairs), BATCH_WRITES):
        part = pairs[start:start + BATCH_WRITES]
        people = [{**_defaults(_P), **person} for person, _ in part]
        sheets = [{**_defaults(_A), **sheet} for _, sheet in part]
        for sheet in sheets:
            del sheet["participant_id"], sheet["open_slot"]  # the new person's id, from the WITH
        stmt = _pairs_statement(conn.dialect, tuple(people[0]), tuple(sheets[0]), len(part))
        params = {f"{c}_{n}": v for n, person in enumerate(people, 1) for c, v in person.items()}
        params.update({f"s_{c}_{n}": v for n, sheet in enumerate(sheets, 1) for c, v in sheet.items()})
        written = {row[0]: (row[1], row[2]) for row in direct_sql.execute(conn, stmt, params).all()}
        _wrote(conn, 2 * len(written))
        found += [written.get(n) for n in range(1, len(part) + 1)]
    return found


def _pairs_statement(dialect, person: tuple[str, ...], sheet: tuple[str, ...], size: int):
    """The statement of _people_and_sheets for `size` pairs with these columns (cached): rows
    (n, person id, sheet id) of the pairs written. The parameters are suffixed _<n> (from 1), the
    sheet's also prefixed s_ (both tables have created_at …)."""
    key = (person, sheet, size)
    stmt = _PAIRS.get(key)
    if stmt is None:
        def typed(table, column, name):
            return f"CAST(:{name} AS {table.c[column].type.compile(dialect)})"

        columns = ["n", *person, *[f"s_{c}" for c in sheet]]
        rows = ", ".join(
            "(" + ", ".join([f"CAST(:n_{n} AS INTEGER)", *[typed(_P, c, f"{c}_{n}") for c in person],
                             *[typed(_A, c, f"s_{c}_{n}") for c in sheet]]) + ")" for n in range(1, size + 1))
        matched = " AND ".join(f"p.{c} IS NOT DISTINCT FROM given.{c}" for c in ("phone", "user_id") if c in person)
        stmt = _PAIRS[key] = text(
            f"WITH given ({', '.join(columns)}) AS (VALUES {rows}), "
            f"p AS (INSERT INTO {_P.name} ({', '.join(person)}) SELECT {', '.join(person)} FROM given ORDER BY n "
            "ON CONFLICT DO NOTHING RETURNING id, phone, user_id), "
            f"s AS (INSERT INTO {_A.name} ({', '.join(sheet)}, participant_id, open_slot) "
            f"SELECT {', '.join(f's_{c}' for c in sheet)}, p.id, p.id FROM given JOIN p ON {matched} "
            "ON CONFLICT DO NOTHING RETURNING participant_id, id) "
            f"SELECT given.n, s.participant_id, s.id FROM s JOIN p ON p.id = s.participant_id JOIN given ON {matched}"
        ).bindparams(*[bindparam(f"n_{n}", value=n, type_=Integer()) for n in range(1, size + 1)],
                     *[bindparam(f"{c}_{n}", type_=_P.c[c].type) for c in person for n in range(1, size + 1)],
                     *[bindparam(f"s_{c}_{n}", type_=_A.c[c].type) for c in sheet for n in range(1, size + 1)]
                     ).columns(column("n", Integer), _A.c.participant_id, _A.c.id)
    return stmt


def _expire(model, ident: int) -> None:
    """An object of the request's session changed by a Core statement is read again when used."""
    obj = db.session.identity_map.get(identity_key(model, ident))
    if obj is not None:
        db.session.expire(obj)


def _link(conn, person: Person, user_id: int) -> None:
    """A logged-in account joining links itself to this person, unless either is linked already."""
    if person.user_id is None and direct_sql.execute(conn, _LINKED, {"user": user_id}).first() is None:
        result = conn.execute(_P.update().where(_P.c.id == person.id, _P.c.user_id.is_(None)).values(user_id=user_id))
        _wrote(conn, result.rowcount)
        person.user_id = user_id
        _expire(Participant, person.id)


def identify(quiz: QuizMeta, *, name: str, phone: str, unit_path: str | None, user_id: int | None,
             now: datetime, access_code: str | None = None, conn=None, defer_insert: bool = False) -> Person:
    """The participant joining, checked as the quiz asks (module docstring). Their open sheet of
    this quiz and the number of their sheets come with them. With `defer_insert`, a new person is
    returned unwritten (id None, their row's values in `new`) for join() to write with their sheet."""
    conn = _connection(conn)
    if user_id is not None and unit_path is None:  # a logged-in account linked to a person: no code needed
        person = _person(conn, quiz, user=user_id)
        if person is not None:
            if quiz.roster_only and not person.on_roster:
                raise Forbidden(_("This quiz is only for the people on its roster; please contact the organiser."))
            if not _in_audience(quiz, person.unit_path):
                raise Forbidden(_("This quiz is not open to your unit."))
            return person
    name = normalise_name(name)
    phone = normalise_phone(phone)
    person = _person(conn, quiz, phone=phone)
    if quiz.access_code_required and not normalise_access_code(access_code):
        raise Invalid(_("access code: enter the personal access code the organiser gave you."))
    if quiz.roster_only:
        matches = person is not None and person.on_roster and person.name == name
        if quiz.access_code_required:
            matches = matches and access_code_matches(person, access_code)
            if not matches:
                raise IdentityMismatch(_("The name, phone number and access code do not match this quiz's "
                                         "roster; please check them or contact the organiser."))
        elif not matches:
            raise IdentityMismatch(_("The name and phone number do not match this quiz's roster; please check "
                                     "them or contact the organiser."))
    elif person is not None and person.name != name:
        raise IdentityMismatch(_("The name and phone number do not match; please check them or contact "
                                 "the organiser."))
    if person is not None:
        if not _in_audience(quiz, person.unit_path):
            raise Forbidden(_("This quiz is not open to your registered unit “%(unit)s”; if you have moved, "
                              "please ask the organiser to update your details.", unit=person.unit_path))
    else:
        path = canonical_path(unit_path) if unit_path else None
        unit_id = _unit_id(conn, quiz, path) if path else None
        if unit_id is None:
            raise Invalid(_("unit: choose your unit from the list."))
        if not _in_audience(quiz, path):
            raise Forbidden(_("This quiz is not open to “%(unit)s”.", unit=path))
        # an account already linked to another person (joined before with another phone) stays so
        link = user_id is not None and direct_sql.execute(conn, _LINKED, {"user": user_id}).first() is None
        values = {"name": name, "phone": phone, "unit_id": unit_id, "on_roster": False, "created_at": now,
                  "updated_at": now, "user_id": user_id if link else None, "access_code": None}
        if defer_insert:
            return Person(None, name, unit_id, values["user_id"], False, None, path, new=values)
        person_id = _inserted_id(conn, _P, values)
        if person_id is None:  # the same phone joined at the same moment
            person = _person(conn, quiz, phone=phone, fresh=True)
            if person is None:  # pragma: no cover - the conflict was on the account link
                raise RuntimeError("a concurrent join took this account")
            if person.name != name:
                raise IdentityMismatch(_("The name and phone number do not match; please check them or "
                                         "contact the organiser."))
        else:
            return Person(person_id, name, unit_id, user_id if link else None, False, None, path)
    if user_id is not None:
        _link(conn, person, user_id)
    return person


# ---------------------------------------------------------------- the sheet
@dataclass
class Sheet:
    """An answer sheet as a join starts or resumes it (a new one left to Later.write has no ids
    until it is written)."""

    id: int | None
    quiz_id: int
    participant_id: int | None
    number: int
    nonce: str
    paper: list[dict]
    deadline: datetime | None
    resumed: bool
    unit_path: str = ""  # the person's registered unit

    @classmethod
    def of(cls, attempt: Attempt, *, resumed: bool = True) -> "Sheet":
        return cls(attempt.id, attempt.quiz_id, attempt.participant_id, attempt.number, attempt.nonce,
                   attempt.paper, attempt.deadline, resumed)

    def token(self, secret_key: str | None = None) -> str:
        return answers.sheet_token(self.id, self.nonce, secret_key or current_app.config["SECRET_KEY"])


class Later:
    """New people and their first sheets that the joins of one batch (the join lane's group commit,
    one transaction) leave to be written together (`write`): one statement for the batch instead
    of one per join."""

    def __init__(self):
        self.pending: list[tuple[dict, dict, Sheet]] = []

    def add(self, person: dict, values: dict, sheet: Sheet) -> Sheet:
        self.pending.append((person, values, sheet))
        return sheet

    def write(self, conn) -> list[Sheet]:
        """Write them: each Sheet gets its ids. Returns the sheets that were not written, their
        joins to run again: a person with the same phone or account was written meanwhile (by
        another process, or earlier in this batch)."""
        pending, self.pending = self.pending, []
        first, again, seen = [], [], set()
        for entry in pending:
            keys = _identity_keys(entry[0])
            (again if keys & seen else first).append(entry)
            seen |= keys
        for (_person, _values, sheet), ids in zip(first, _people_and_sheets(conn, [e[:2] for e in first])
                                                  if first else []):
            if ids is None:
                again.append((_person, _values, sheet))
            else:
                sheet.participant_id, sheet.id = ids
        return [sheet for _, _, sheet in again]


def join(quiz: QuizMeta, *, name: str = "", phone: str = "", unit_path: str | None = None,
         user_id: int | None = None, now: datetime, rng: random.Random | None = None,
         access_code: str | None = None, conn=None, later: Later | None = None) -> Sheet:
    """Start an answer sheet, or resume the open one (same person, before its deadline). `quiz`
    comes from read_quiz/find_quiz in the same transaction (it holds the key-share lock). On a
    bare connection (`conn`: the join lane's), an overdue open sheet raises NeedsSession.

    With `later` (PostgreSQL), a new person and their sheet are left to `later.write`: the Sheet
    returned has no ids until then, and a join whose sheet that did not write runs again."""
    bare = conn is not None
    conn = _connection(conn)
    if quiz.opens_at is not None and now < quiz.opens_at:
        raise Conflict(_("This quiz has not opened yet."))
    # on PostgreSQL a new person is written with their sheet, in one statement (_person_and_sheet)
    for defer in ((True, False) if conn.dialect.name == "postgresql" else (False,)):
        person = identify(quiz, name=name, phone=phone, unit_path=unit_path, user_id=user_id, now=now,
                          access_code=access_code, conn=conn, defer_insert=defer)
        if person.sheet is not None:
            if person.sheet.deadline is not None and now > person.sheet.deadline:
                if bare:
                    raise NeedsSession(person.sheet.id)
                from quiz.services.attempts import grade_attempt

                grade_attempt(db.session.get(Attempt, person.sheet.id), at=person.sheet.deadline, auto=True)
            else:
                return person.sheet
        if not quiz.is_open(now):
            raise Conflict(_("This quiz is closed."))
        used = person.used
        if quiz.attempts_allowed and used >= quiz.attempts_allowed:
            raise Conflict(ngettext("You have already used your %(num)d attempt for this quiz.",
                                    "You have used all %(num)d attempts for this quiz.", quiz.attempts_allowed))
        paper = paper_for_join(quiz, rng or draws(),  # 统一试卷: a copy; 随机组卷: a draw
                               bank_ids=list(quiz.bank_ids), conn=conn)
        deadline = None
        if quiz.duration_seconds and not quiz.is_practice:
            deadline = now + timedelta(seconds=quiz.duration_seconds)
            if quiz.closes_at is not None:
                deadline = min(deadline, quiz.closes_at)
        nonce = secrets.token_hex(16)
        values = {"quiz_id": quiz.id, "participant_id": person.id, "number": used + 1, "nonce": nonce,
                  "status": "open", "open_slot": person.id, "paper": paper, "started_at": now, "deadline": deadline,
                  "max_score": round(sum(e["points"] for e in paper), 4), "question_count": len(paper)}
        if person.id is None:
            if later is not None:
                sheet = Sheet(None, quiz.id, None, used + 1, nonce, paper, deadline, resumed=False,
                              unit_path=person.unit_path)
                return later.add(person.new, values, sheet)
            ids = _person_and_sheet(conn, person.new, values)
            if ids is None:
                continue  # the same phone joined at the same moment: identify them again, as written
            person.id, sheet_id = ids
        else:
            sheet_id = _inserted_id(conn, _A, values)
            if sheet_id is None:  # a concurrent join created it first: resume that one
                again = _person(conn, quiz, id=person.id)
                if again is None or again.sheet is None:  # pragma: no cover - as an IntegrityError before
                    raise RuntimeError("a concurrent join's sheet is no longer open")
                return again.sheet
        return Sheet(sheet_id, quiz.id, person.id, used + 1, nonce, paper, deadline, resumed=False,
                     unit_path=person.unit_path)
    raise RuntimeError("unreachable: the last pass writes the person on its own")  # pragma: no cover


# ---------------------------------------------------------------- the API join, for both transports
def details(body: dict) -> dict:
    """The join details of an API body ({"name", "phone", "unit", "code"}; "code" is the personal
    access code, also accepted as "access_code") as join() takes them."""
    access_code = body.get("code", body.get("access_code"))
    return {"name": str(body.get("name") or ""), "phone": str(body.get("phone") or ""),
            "unit_path": str(body["unit"]) if body.get("unit") else None,
            "access_code": str(access_code) if access_code else None}


def limit_key_phone(body) -> str:
    """The phone part of the per-person join limit's key, as sent (not normalised)."""
    phone = body.get("phone") if isinstance(body, dict) else None
    return str(phone)[:32]


def count_join_request(body, *, address: str) -> None:
    """Count one API join against JOIN_LIMIT (per address and phone as sent) and
    JOIN_LIMIT_PER_ADDRESS, in Flask-Limiter's storage (shared with Redis); over either, 429 with
    Retry-After. A storage outage lets the join through (guards.wait_seconds)."""
    for setting, key in (("JOIN_LIMIT", f"join:{address}:{limit_key_phone(body)}"),
                         ("JOIN_LIMIT_PER_ADDRESS", address)):
        wait = guards.hit_limit(setting, key)
        if wait:
            raise TooManyAttempts(_("Too many requests; please wait a moment and try again."), retry_after=wait)


def join_by_code(code: str, body: dict, *, address: str, now: datetime,
                 rng: random.Random | None = None, conn=None, later: Later | None = None) -> Sheet:
    """POST /api/v1/join/<code>: the quiz by its code (guessing guarded), then join() guarded
    (details that do not match are counted against the address and the phone)."""
    fields = details(body)
    quiz = guards.guarded_lookup(lambda c: find_quiz(c, conn=conn, phone=fields["phone"],
                                                     unit_path=fields["unit_path"]), code, address=address)
    return guards.guarded_join(fields["phone"], address=address, address_checked=True,
                               join=lambda: join(quiz, now=now, rng=rng, conn=conn, later=later, **fields))


# ---------------------------------------------------------------- what a phone gets
def payload(sheet: Sheet, *, conn=None) -> dict:
    """What a phone gets on joining or resuming: the token, the deadline, the questions as shown
    and the saved answers (none on a new sheet: nothing to read)."""
    return _payload(sheet, paper_views(sheet.paper, conn=conn), conn)


def _payload(sheet: Sheet, questions_shown: list, conn) -> dict:
    return {
        "attempt_id": sheet.id,
        "token": sheet.token(),
        "deadline": sheet.deadline.isoformat() if sheet.deadline else None,
        "questions": questions_shown,
        "answers": saved_answers(sheet.id, sheet.paper, conn=conn) if sheet.resumed else {},
    }


def payload_json(sheet: Sheet, *, conn=None) -> bytes | None:
    """payload(sheet) as compact JSON (the app's `json.compact_bytes`), byte for byte, with each
    question from its cached encoding (`encoded_questions`); None when the encoder refuses a value
    (an integer beyond 64 bits in a saved answer): the caller then encodes payload(sheet). Building
    the questions' dicts and encoding them again was a seventh of a join's CPU."""
    encode = current_app.json.compact_bytes
    body = _payload(sheet, encoded_questions(sheet.paper, encode, conn=conn), conn)
    try:
        return encode(body, strict=True)
    except TypeError:
        return None


def _keep(cache: _Cache, generation: int, target: dict, fresh: dict, limit: int | None = None) -> None:
    """Store `fresh` in `target`, one of the cache's dicts, unless a bank changed since
    `generation` was read (what was built meanwhile may be stale); emptied first when it would grow
    past `limit`."""
    with cache.lock:
        if cache.generation == generation:
            if limit is not None and len(target) + len(fresh) > limit:
                target.clear()
            target.update(fresh)


def _cache_checked() -> _Cache:
    """The cache, emptied first when it can no longer be trusted (the bank pools' rule)."""
    cache = _cache()
    hub = events.get_hub()
    if not pool_entry_trusted(cache.loaded, cache.epoch, hub):
        _drop_questions(cache, hub.epoch() if hub.shared() else None)
    return cache


def questions(ids, *, conn=None) -> dict[int, Question]:
    """Detached snapshots of these questions, cached until a bank changes (one query for the ones
    not cached yet). They are read, never changed."""
    cache = _cache_checked()
    found = {qid: cache.questions[qid] for qid in ids if qid in cache.questions}
    missing = [qid for qid in ids if qid not in found]
    if missing:
        generation = cache.generation
        # a session of its own on the request's connection: the snapshots stay out of the request's
        # session (whose objects they would otherwise be, and expire on its commit)
        with Session(bind=_connection(conn)) as side:
            loaded = side.execute(select(Question).where(Question.id.in_(missing))).scalars().all()
            side.expunge_all()
        fresh = {q.id: q for q in loaded}
        _keep(cache, generation, cache.questions, fresh)
        found.update(fresh)
    return found


class _Shown:
    """A question as shown in one language, cached: its view's parts (attempts.view_parts) and,
    once asked for, their encoding (`_encoding`)."""

    __slots__ = ("parts", "encoding")

    def __init__(self, parts: ViewParts):
        self.parts = parts
        self.encoding: tuple | None = None


def _shown(paper: list[dict], conn) -> list[_Shown]:
    """The cached _Shown of each entry's question in the current language (one question query for
    those not cached yet)."""
    from quiz import locale_key
    from quiz.services.attempts import view_parts

    cache = _cache_checked()
    locale = locale_key()  # the language get_locale() parses (quiz/__init__.py select_locale), read cheaper
    views = cache.views.get(locale)
    if views is None:
        views = cache.views.setdefault(locale, {})
    shown = [views.get(entry["q"]) for entry in paper]
    if not all(shown):
        missing = [entry["q"] for entry, item in zip(paper, shown) if item is None]
        found = questions(missing, conn=conn)
        generation = cache.generation
        fresh = {qid: _Shown(view_parts(found[qid])) for qid in missing}
        _keep(cache, generation, views, fresh, MAX_VIEWS)
        shown = [item or fresh[entry["q"]] for entry, item in zip(paper, shown)]
    return shown


def paper_views(paper: list[dict], *, conn=None) -> list[dict]:
    """The questions of a paper as shown (attempts.question_view, in each entry's option order),
    with their points; from the cache when this question was shown in this language before (its
    parts that do not depend on the option order: attempts.view_parts)."""
    from quiz.services.attempts import view_in_order

    return [view_in_order(item.parts, entry.get("order"), points=entry["points"])
            for item, entry in zip(_shown(paper, conn), paper)]


_OPTIONS, _POINTS = "options", "points"  # the two fields of a question's view that differ between sheets


def _encoding(parts: ViewParts, encode) -> tuple:
    """A question's view encoded in pieces, as `encode` writes it (sorted keys): the bytes before
    the options' cells, between them and the points' value, and after it; each option cell encoded
    (cells[j][i], tuples), and the options in the bank's order (a sheet without an option order)."""
    base, cells = parts
    keys = sorted([*base, _OPTIONS, _POINTS])
    at_options, at_points = keys.index(_OPTIONS), keys.index(_POINTS)
    fields = [encode({key: base[key]})[1:-1] if key in base else b"" for key in keys]  # each "key":value
    head = b"{" + b"".join(field + b"," for field in fields[:at_options]) + b'"options":['
    middle = b"]" + b"".join(b"," + field for field in fields[at_options + 1:at_points]) + b',"points":'
    tail = b"".join(b"," + field for field in fields[at_points + 1:]) + b"}"
    encoded = tuple(tuple(encode(cell) for cell in row) for row in cells)
    return head, middle, tail, encoded, b",".join(row[i] for i, row in enumerate(encoded))


def encoded_questions(paper: list[dict], encode, *, conn=None) -> orjson.Fragment:
    """paper_views(paper) as one JSON fragment (orjson.Fragment), the bytes `encode` writes for
    that list. Each question's bytes are cached per language, option order and points (up to
    MAX_ENCODED per language, emptied when full), built on a miss from its cached pieces
    (`_encoding`). `encode` is the app's compact encoder (sorted keys); tests/test_joins.py checks
    the bytes against encoding paper_views."""
    from quiz import locale_key

    cache = _cache_checked()
    generation = cache.generation
    locale = locale_key()
    done = cache.encoded.get(locale)
    if done is None:
        done = cache.encoded.setdefault(locale, {})
    # 2 and 2.0 points are written differently: the type is part of the key
    keys = [(e["q"], tuple(e["order"]) if e.get("order") else None, e["points"], type(e["points"])) for e in paper]
    found = [done.get(key) for key in keys]
    if not all(found):
        fresh = {}
        for index, (item, entry) in enumerate(zip(_shown(paper, conn), paper)):
            if found[index] is None:
                found[index] = fresh[keys[index]] = _encoded_question(item, entry, encode)
        _keep(cache, generation, done, fresh, MAX_ENCODED)
    return orjson.Fragment(b"[" + b",".join(found) + b"]")


def _encoded_question(item: _Shown, entry: dict, encode) -> bytes:
    """One question of a sheet as `encode` writes its view: its cached pieces with the entry's
    option order and points put in."""
    encoding = item.encoding
    if encoding is None:
        encoding = item.encoding = _encoding(item.parts, encode)
    head, middle, tail, cells, in_bank_order = encoding
    order = entry.get("order")
    options = b",".join([cells[j][i] for i, j in enumerate(order)]) if order else in_bank_order
    return b"".join((head, options, middle, encode(entry["points"]), tail))


_SAVED = select(Answer.__table__.c.question_id, Answer.__table__.c.response).where(
    Answer.__table__.c.attempt_id == bindparam("sheet"))


def saved_answers(sheet_id: int, paper: list[dict], *, conn=None) -> dict[str, object]:
    """The sheet's saved answers as the client sent them ({question id: response})."""
    rows = direct_sql.execute(_connection(conn), _SAVED, {"sheet": sheet_id}).all()
    if not rows:
        return {}
    entries = {e["q"]: e for e in paper}
    missing = [q for q in entries if "t" not in entries[q]]  # papers drawn before types were recorded
    kinds = {qid: q.type for qid, q in questions(missing, conn=conn).items()} if missing else {}
    return {str(qid): get_type(entries[qid].get("t") or kinds[qid]).for_client(resp, entries[qid]["order"])
            for qid, resp in rows}
