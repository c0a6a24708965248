"""Saving an answer: the one set of rules every save goes through (docs/rules.md "Time, deadlines
and closing"), and the SQL that applies them.

The rules, each written once here:
- the sheet token: an HMAC of the sheet's id and nonce (`sheet_token`, `token_matches`);
- nothing answered clears the question's answer (`QuestionType.is_empty`);
- a response is normalised by its question type and mapped from the letters the participant saw to
  the bank's letters (`canonical`);
- "is this sheet writable" — open and not past its deadline — is checked in the same statement
  that stores (or clears) the answer (`_WRITABLE`); on PostgreSQL that check takes FOR KEY SHARE
  on the sheet's row, so a grader holding FOR UPDATE (a submission, deadline grading, an
  organiser's close) makes the save wait and re-check: a save is either stored before the sheet
  is graded (and graded with it) or refused after it;
- a live contest's sheet (the hidden quiz of mode "live") takes answers for one question at a
  time: the one the contest's answer window is open for (live_contest.window_question_id, until
  window_until), checked in the same statement (`_WINDOW`). The window is one row for the whole
  contest: the host's start and close change that row, not every player's sheet. Saves take
  FOR KEY SHARE on it and host commands hold it FOR UPDATE, so closing a question is the same
  clean cut as closing a quiz: a save is stored before the cut (and scored) or refused after it,
  and an answer to any question but the running one is refused.

Two transports use these rules:
- the answer lane (quiz/answer_lane.py), a small WSGI handler in front of Flask that serves a
  clean save (`fast_save`): a valid token, a response that normalises, a question on the sheet, a
  sheet that is not a practice sheet. Sheet metadata that never changes (nonce, paper) is cached
  per process; the statement runs on a pooled autocommit connection, and on PostgreSQL saves that
  arrive together are committed together (GroupCommit), each acknowledged only after its commit;
- the Flask view (views/api/sheets.py → services/attempts.save_answer), inside the request's ORM
  transaction (`store`, `writable`), for everything else: clearing an answer, practice feedback,
  the messages of a refusal (submitted, time up: the sheet is then graded at its deadline), and
  every save when the lane is switched off (ANSWER_FAST_LANE = False).
"""
from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from quiz import events
from quiz.models.base import json_column_value, json_engine_options
from quiz.questions import AnswerError, QuestionType, get_type
from quiz.services.batching import Batcher, Pending


# ---------------------------------------------------------------- the rules
@lru_cache(maxsize=8)
def _keyed(secret_key: str):
    """An HMAC-SHA256 already keyed with `secret_key`, copied for each token: keying one afresh
    (OpenSSL 3 looks the algorithm up every time, under a lock the worker's threads share) cost
    more than the rest of the token."""
    return hmac.new(secret_key.encode(), digestmod=hashlib.sha256)


def signed_token(kind: str, item_id: int, nonce: str, secret_key: str) -> str:
    """A bearer token for one item (an answer sheet, a live-contest player): its id and an HMAC of
    the kind, id and nonce (the same every time it is given out)."""
    mac = _keyed(secret_key).copy()
    mac.update(f"{kind}:{item_id}:{nonce}".encode())
    return f"{item_id}.{mac.hexdigest()[:40]}"


def signed_token_matches(kind: str, item_id: int, nonce: str, token: str | None, secret_key: str) -> bool:
    """Does `token` open this item? (Constant-time; anything but an ASCII string does not.)"""
    if not isinstance(token, str) or not token or not token.isascii():  # compare_digest refuses other str
        return False
    return hmac.compare_digest(signed_token(kind, item_id, nonce, secret_key), token.strip())


def sheet_token(attempt_id: int, nonce: str, secret_key: str) -> str:
    """An answer sheet's bearer token (the same on every resume)."""
    return signed_token("attempt", attempt_id, nonce, secret_key)


def token_matches(attempt_id: int, nonce: str, token: str | None, secret_key: str) -> bool:
    """Does `token` open this sheet?"""
    return signed_token_matches("attempt", attempt_id, nonce, token, secret_key)


def canonical(qtype: str, option_count: int, order: list[int] | None, response: Any) -> str:
    """The stored form of a response: normalised by its question type, in the bank's letters.
    Raises AnswerError (a message for the participant) when it cannot be understood."""
    kind = get_type(qtype)
    return kind.to_bank(kind.normalise_response(response, option_count), order)


QUESTION_TTL = 60.0        # seconds a cached question type/option count is trusted (banks events clear it)
SHEET_CACHE_SIZE = 50_000  # sheets kept per process (paper + nonce never change)


@dataclass(frozen=True)
class SheetMeta:
    attempt_id: int
    nonce: str
    practice: bool
    live: bool  # a live contest's sheet: writable only for the question of the contest's answer window
    paper: dict  # question id → option order (list or None)
    kinds: dict  # question id → (type, option count) as drawn, when the paper records them


@dataclass(frozen=True)
class QuestionMeta:
    type: str
    options: int
    loaded: float


_sheets: OrderedDict[int, SheetMeta] = OrderedDict()
_questions: dict[int, QuestionMeta] = {}


def _on_banks_event(event) -> None:
    """A question's type or option count may have changed (banks events, quiz/events.py), or events
    were missed (reset): forget cached questions. Cached sheets (nonce, paper) never change."""
    _questions.clear()
    if event.type == events.RESET:
        _sheets.clear()


events.subscribe(events.BANKS, _on_banks_event)


def clear_caches() -> None:
    from quiz.services.papers import invalidate_pools
    from quiz.services.ranking import clear_board_cache

    clear_board_cache()
    _sheets.clear()
    _questions.clear()
    invalidate_pools()


def _connection(engine: Engine):
    """A pooled connection outside the request's ORM session (autocommit on PostgreSQL: one round
    trip per statement, no BEGIN/COMMIT)."""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


def _read(engine: Engine, sql: str, params: dict):
    """A read of the answer lane: on PostgreSQL from the lane's own autocommit pool, so a crowd of
    first saves never queues for the connections the app's other requests use."""
    source = _hot_engine(engine) if engine.dialect.name == "postgresql" else engine
    with _connection(source) as conn:
        return conn.execute(text(sql), params).first()


def sheet(engine: Engine, attempt_id: int) -> SheetMeta | None:
    meta = _sheets.get(attempt_id)
    if meta is not None:
        _sheets.move_to_end(attempt_id)
        return meta
    row = _read(engine, "SELECT a.nonce, a.paper, q.mode FROM attempt a JOIN quiz q ON q.id = a.quiz_id WHERE a.id = :id",
                {"id": attempt_id})
    if row is None:
        return None
    paper = row.paper if isinstance(row.paper, list) else json_column_value(row.paper)
    meta = SheetMeta(attempt_id, row.nonce, row.mode == "practice", row.mode == "live",
                     {e["q"]: e["order"] for e in paper},
                     {e["q"]: (e["t"], e["n"]) for e in paper if "t" in e and "n" in e})
    _sheets[attempt_id] = meta
    if len(_sheets) > SHEET_CACHE_SIZE:
        _sheets.popitem(last=False)
    return meta


def token_ok(meta: SheetMeta, token: str | None, secret_key: str) -> bool:
    """token_matches for a cached sheet (no database read)."""
    return token_matches(meta.attempt_id, meta.nonce, token, secret_key)


def question(engine: Engine, question_id: int) -> QuestionMeta | None:
    meta = _questions.get(question_id)
    now = time.monotonic()
    if meta is not None and now - meta.loaded < QUESTION_TTL:
        return meta
    row = _read(engine, "SELECT type, options FROM question WHERE id = :id", {"id": question_id})
    if row is None:
        return None
    options = row.options if isinstance(row.options, list) else json_column_value(row.options or "[]")
    meta = QuestionMeta(row.type, len(options or []), now)
    _questions[question_id] = meta
    return meta


# "The sheet is writable" (module docstring). SQLite serialises writers (BEGIN IMMEDIATE), which
# gives the same order as PostgreSQL's row locks without them.
def _writable_sql(table: str = "", now: str = ":now") -> str:
    """The condition on a sheet row (`table`: an alias prefix such as "a.")."""
    return f"{table}status = 'open' AND ({table}deadline IS NULL OR {table}deadline >= {now})"


def _window_sql(qid: str = ":qid", now: str = ":now", table: str = "c.") -> str:
    """The condition on a live contest's row: its answer window is open for this question."""
    return f"{table}window_question_id = {qid} AND {table}window_until >= {now}"


_WRITABLE = _writable_sql()
# a live sheet's extra condition (the contest row is found from the sheet's quiz)
_WINDOW = ("\n  AND EXISTS (SELECT 1 FROM live_contest c WHERE c.quiz_id = (SELECT quiz_id FROM attempt WHERE id = :aid)"
           " AND {window}{lock})".format(window=_window_sql(), lock="{lock}"))

_UPSERT_TEMPLATE = """
INSERT INTO answer (attempt_id, question_id, response, saved_at)
SELECT :aid, :qid, :response, :now
WHERE EXISTS (SELECT 1 FROM attempt WHERE id = :aid AND {writable}{lock}){window}
ON CONFLICT (attempt_id, question_id) DO UPDATE SET response = excluded.response, saved_at = excluded.saved_at
RETURNING (SELECT deadline FROM attempt WHERE id = :aid)
"""
_DELETE_TEMPLATE = """
DELETE FROM answer WHERE attempt_id = :aid AND question_id = :qid
AND EXISTS (SELECT 1 FROM attempt WHERE id = :aid AND {writable}{lock}){window}
"""
_WRITABLE_TEMPLATE = "SELECT deadline FROM attempt WHERE id = :aid AND {writable}{window}{lock}"


def _statement(template: str, dialect: str, live: bool = False) -> str:
    lock = " FOR KEY SHARE" if dialect == "postgresql" else ""
    window = _WINDOW.format(lock=lock) if live else ""
    return template.format(writable=_WRITABLE, lock=lock, window=window)


def _pyformat(sql: str) -> str:
    """:name → %(name)s for the raw psycopg cursor."""
    for name in ("aid", "qid", "response", "now"):
        sql = sql.replace(f":{name}", f"%({name})s")
    return sql


_UPSERT = {live: _statement(_UPSERT_TEMPLATE, "sqlite", live) for live in (False, True)}
_PG_UPSERT = {live: _pyformat(_statement(_UPSERT_TEMPLATE, "postgresql", live)) for live in (False, True)}


def _bind_now(session_or_engine, now: datetime) -> datetime:
    dialect = session_or_engine.get_bind().dialect.name if hasattr(session_or_engine, "get_bind") \
        else session_or_engine.dialect.name
    return now if dialect != "sqlite" else now.astimezone(timezone.utc).replace(tzinfo=None)


def writable(session, attempt_id: int, now: datetime, *, question_id: int | None = None,
             live: bool = False) -> bool:
    """Is the sheet open and within its deadline at `now` (and, for a `live` contest's sheet, is the
    contest's answer window open for `question_id`)? In the session's transaction; on PostgreSQL the
    rows stay key-share locked until it ends."""
    dialect = session.get_bind().dialect.name
    live = live and question_id is not None
    params = {"aid": attempt_id, "now": _bind_now(session, now)}
    if live:
        params["qid"] = question_id
    return session.execute(text(_statement(_WRITABLE_TEMPLATE, dialect, live)), params).first() is not None


def store(session, attempt_id: int, question_id: int, response: str | None, now: datetime, *,
          live: bool = False) -> bool:
    """Store (upsert) a canonical response, or clear the answer when `response` is None, in the
    session's transaction, if the sheet is writable; False when it is not (nothing changed)."""
    dialect = session.get_bind().dialect.name
    params = {"aid": attempt_id, "qid": question_id, "response": response, "now": _bind_now(session, now)}
    if response is None:
        if not writable(session, attempt_id, now, question_id=question_id, live=live):
            return False
        session.execute(text(_statement(_DELETE_TEMPLATE, dialect, live)), params)
        return True
    return session.execute(text(_statement(_UPSERT_TEMPLATE, dialect, live)), params).first() is not None


_hot_engines: dict[str, Engine] = {}
_hot_lock = threading.Lock()
HOT_POOL = {"pool_size": 10, "max_overflow": 40}  # ANSWER_ENGINE_OPTIONS (quiz/config.py) sets it


def configure_pool(options: dict | None) -> None:
    """The answer lane's pool size (per process; read when its engine is first made)."""
    if options:
        HOT_POOL.update({k: int(v) for k, v in options.items() if k in ("pool_size", "max_overflow")})


def _hot_engine(engine: Engine) -> Engine:
    """A second engine on the same database whose connections stay in autocommit, kept for the
    hot statement (one round trip, no BEGIN/COMMIT, nothing toggled per request). Its pool works
    for threads and for gevent greenlets alike."""
    key = engine.url.render_as_string(hide_password=False)
    hot = _hot_engines.get(key)
    if hot is None:
        with _hot_lock:
            hot = _hot_engines.get(key)
            if hot is None:
                from sqlalchemy import create_engine

                hot = create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_recycle=3600, **HOT_POOL,
                                    **json_engine_options(engine.url.drivername))
                _hot_engines[key] = hot
    return hot


_PG_BATCH_TEMPLATE = """
INSERT INTO answer (attempt_id, question_id, response, saved_at)
SELECT v.aid, v.qid, v.response, v.now
FROM unnest(%(aid)s::bigint[], %(qid)s::bigint[], %(response)s::text[], %(now)s::timestamptz[])
     AS v(aid, qid, response, now)
JOIN attempt a ON a.id = v.aid AND {writable}{window}
ORDER BY v.aid
FOR KEY SHARE OF a{window_lock}
ON CONFLICT (attempt_id, question_id) DO UPDATE SET response = excluded.response, saved_at = excluded.saved_at
RETURNING attempt_id, question_id, (SELECT deadline FROM attempt WHERE id = answer.attempt_id)
"""
_PG_BATCH_UPSERT = {
    live: _PG_BATCH_TEMPLATE.format(
        writable=_writable_sql("a.", "v.now"),
        window=f"\nJOIN live_contest c ON c.quiz_id = a.quiz_id AND {_window_sql('v.qid', 'v.now')}" if live else "",
        window_lock=", c" if live else "")
    for live in (False, True)}


def _pg_execute(engine: Engine, run):
    """run(cursor) on a pooled autocommit connection; a dropped connection is retried once."""
    import psycopg

    hot = _hot_engine(engine)
    for attempt in range(2):
        pooled = hot.raw_connection()
        try:
            with pooled.driver_connection.cursor() as cursor:
                return run(cursor)
        except psycopg.OperationalError:
            pooled.invalidate()  # retry once on a fresh connection, then give up
            if attempt:
                raise
        finally:
            pooled.close()  # back to the pool (a no-op after invalidate)


def _pg_upsert(engine: Engine, params: dict, live: bool = False):
    """The guarded upsert in one round trip (psycopg prepares it after a few uses)."""
    def run(cursor):
        cursor.execute(_PG_UPSERT[live], params)
        return cursor.fetchone()

    return _pg_execute(engine, run)


class GroupCommit(Batcher):
    """Group commit for answer saves on PostgreSQL (services/batching.py): saves arriving while
    another save of this process is on its way to the database are written in one statement and
    one commit, each acknowledged only after it.

    A batch checks each sheet's status and deadline row by row like the single statement (and, for
    live contests' sheets, `live`, each contest's answer window); rows it did not store come back as
    not saved (the caller falls back to the full path). If the batch statement fails, its saves are
    retried one by one so one bad row does not sink the others.
    """

    timeout_message = "answer save waited too long for its batch"

    def __init__(self, live: bool = False):
        super().__init__()
        self.live = live

    def save(self, engine: Engine, params: dict):
        return self.submit(engine, params)

    def _write(self, engine: Engine, batch: list[Pending]) -> None:
        keys = {(i.params["aid"], i.params["qid"]) for i in batch}
        if len(batch) == 1 or len(keys) < len(batch):
            self._one_by_one(engine, batch)  # alone, or the same question twice (in arrival order)
            return
        # sheets locked in ascending id order, as closing a quiz or a live question locks them (FOR
        # UPDATE ORDER BY id): in any other order a batch and a close could deadlock
        ordered = sorted(batch, key=lambda i: (i.params["aid"], i.params["qid"]))
        params = {name: [i.params[name] for i in ordered] for name in ("aid", "qid", "response", "now")}

        def run(cursor):
            cursor.execute(_PG_BATCH_UPSERT[self.live], params)
            return cursor.fetchall()

        try:
            rows = _pg_execute(engine, run)
        except Exception:  # noqa: BLE001 - retry each save alone; its own error is reported to it
            self._one_by_one(engine, batch)
            return
        stored = {(aid, qid): (deadline,) for aid, qid, deadline in rows}
        self.batches += 1
        self.saves += len(batch)
        for item in batch:
            self.finish(item, stored.get((item.params["aid"], item.params["qid"])))

    def _one_by_one(self, engine: Engine, batch: list[Pending]) -> None:
        for item in batch:
            try:
                row, error = _pg_upsert(engine, item.params, self.live), None
            except Exception as exc:  # noqa: BLE001 - handed to the waiting request
                row, error = None, exc
            self.batches += 1
            self.saves += 1
            self.finish(item, row, error)


_groups: dict[tuple[str, bool], GroupCommit] = {}


def group_commit_for(engine: Engine, live: bool = False) -> GroupCommit:
    """The process's GroupCommit for this database and kind of sheet (a batch never mixes two
    databases, nor quiz sheets with live contests' sheets)."""
    key = (engine.url.render_as_string(hide_password=False), live)
    group = _groups.get(key)
    if group is None:
        with _hot_lock:
            group = _groups.setdefault(key, GroupCommit(live))
    return group


def guarded_upsert(engine: Engine, attempt_id: int, question_id: int, response: str,
                   now: datetime, *, live: bool = False) -> tuple[bool, datetime | None]:
    """Store the response if the sheet is open and within its deadline (a `live` contest's sheet:
    and the contest's answer window is open for the question), in one statement.

    Returns (saved, deadline)."""
    params = {"aid": attempt_id, "qid": question_id, "response": response, "now": _bind_now(engine, now)}
    if engine.dialect.name == "postgresql":
        row = group_commit_for(engine, live).save(engine, params)
    else:
        with _connection(engine) as conn:
            row = conn.execute(text(_UPSERT[live]), params).first()
            conn.commit()
    if row is None:
        return False, None
    deadline = row[0]
    if isinstance(deadline, str):
        deadline = datetime.fromisoformat(deadline)
    if deadline is not None and deadline.tzinfo is None:
        deadline = deadline.replace(tzinfo=timezone.utc)
    return True, deadline


def fast_save(engine: Engine, secret_key: str, attempt_id: int, question_id: int, response, token: str | None,
              *, now: datetime) -> dict | None:
    """Serve a clean save for the answer lane, or return None when the Flask view must decide
    (unknown or practice sheet, wrong token, question not on the sheet, clearing, a response that
    does not normalise — a closed sheet's 409 comes before a 422 —, or the sheet is not writable)."""
    meta = sheet(engine, attempt_id)
    if meta is None or meta.practice or not token_ok(meta, token, secret_key) or question_id not in meta.paper:
        return None
    if QuestionType.is_empty(response):
        return None
    if question_id in meta.kinds:
        qtype, options = meta.kinds[question_id]
    else:  # papers drawn before type/option count were recorded
        info = question(engine, question_id)
        if info is None:
            return None
        qtype, options = info.type, info.options
    order = meta.paper[question_id]
    try:
        stored = canonical(qtype, options, order, response)
    except AnswerError:
        return None
    saved, deadline = guarded_upsert(engine, attempt_id, question_id, stored, now, live=meta.live)
    if not saved:
        return None
    return {"saved": True, "response": get_type(qtype).for_client(stored, order),
            "deadline": deadline.isoformat() if deadline else None, "server_time": now.isoformat()}
