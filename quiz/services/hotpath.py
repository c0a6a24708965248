"""The answer-save hot path: one guarded statement per save.

A contest with thousands of people saves an answer every few seconds per person, so this path
avoids the ORM: the parts of a sheet that never change after it is drawn (its nonce, its paper)
and a question's type and option count are cached per process, and the deadline/status check
and the upsert are one statement (autocommit on PostgreSQL):

    INSERT INTO answer … SELECT … WHERE EXISTS (the sheet is open and not past its deadline)
    ON CONFLICT (attempt_id, question_id) DO UPDATE … RETURNING the sheet's deadline

When that statement inserts nothing (submitted, past the deadline, or a practice sheet) the
caller falls back to the full path in quiz.services.attempts, which raises the right error and
grades an overdue sheet. The rules are the same as attempts.save_answer.

Everything here takes the engine and the secret key explicitly, so it runs both inside a Flask
request (views/api/sheets.py) and in the WSGI fast lane in front of Flask (quiz/fastlane.py).
"""
from __future__ import annotations

import hashlib
import json
import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import text
from sqlalchemy.engine import Engine

from quiz.questions import AnswerError, get_type

QUESTION_TTL = 60.0        # seconds a cached question type/option count is trusted
SHEET_CACHE_SIZE = 50_000  # sheets kept per process (paper + nonce never change)


@dataclass(frozen=True)
class SheetMeta:
    attempt_id: int
    nonce: str
    practice: bool
    paper: dict  # question id → option order (list or None)
    kinds: dict  # question id → (type, option count) as drawn, when the paper records them


@dataclass(frozen=True)
class QuestionMeta:
    type: str
    options: int
    loaded: float


_sheets: OrderedDict[int, SheetMeta] = OrderedDict()
_questions: dict[int, QuestionMeta] = {}


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
    with _connection(engine) as conn:
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
    paper = row.paper if isinstance(row.paper, list) else json.loads(row.paper)
    meta = SheetMeta(attempt_id, row.nonce, row.mode == "practice", {e["q"]: e["order"] for e in paper},
                     {e["q"]: (e["t"], e["n"]) for e in paper if "t" in e and "n" in e})
    _sheets[attempt_id] = meta
    if len(_sheets) > SHEET_CACHE_SIZE:
        _sheets.popitem(last=False)
    return meta


def token_ok(meta: SheetMeta, token: str | None, secret_key: str) -> bool:
    """The same HMAC as attempts.attempt_token, without loading the attempt."""
    if not token or not token.isascii():  # compare_digest refuses other str
        return False
    digest = hmac.new(secret_key.encode(), f"attempt:{meta.attempt_id}:{meta.nonce}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"{meta.attempt_id}.{digest[:40]}", token.strip())


def question(engine: Engine, question_id: int) -> QuestionMeta | None:
    meta = _questions.get(question_id)
    now = time.monotonic()
    if meta is not None and now - meta.loaded < QUESTION_TTL:
        return meta
    row = _read(engine, "SELECT type, options FROM question WHERE id = :id", {"id": question_id})
    if row is None:
        return None
    options = row.options if isinstance(row.options, list) else json.loads(row.options or "[]")
    meta = QuestionMeta(row.type, len(options or []), now)
    _questions[question_id] = meta
    return meta


# The rule "a sheet is writable": it is open and `now` is not past its deadline. On PostgreSQL the
# check takes FOR KEY SHARE on the sheet's row, so a grader holding FOR UPDATE on it (submission,
# deadline grading, an organiser's close) makes the save wait and then re-check the new row: a save
# is either stored before the sheet is graded (and graded with it) or refused after. SQLite
# serialises writers (BEGIN IMMEDIATE), which gives the same order without a row lock.
_WRITABLE = "status = 'open' AND (deadline IS NULL OR deadline >= :now)"

_UPSERT_TEMPLATE = """
INSERT INTO answer (attempt_id, question_id, response, saved_at)
SELECT :aid, :qid, :response, :now
WHERE EXISTS (SELECT 1 FROM attempt WHERE id = :aid AND {writable}{lock})
ON CONFLICT (attempt_id, question_id) DO UPDATE SET response = excluded.response, saved_at = excluded.saved_at
RETURNING (SELECT deadline FROM attempt WHERE id = :aid)
"""
_DELETE_TEMPLATE = """
DELETE FROM answer WHERE attempt_id = :aid AND question_id = :qid
AND EXISTS (SELECT 1 FROM attempt WHERE id = :aid AND {writable}{lock})
"""
_WRITABLE_TEMPLATE = "SELECT deadline FROM attempt WHERE id = :aid AND {writable}{lock}"


def _statement(template: str, dialect: str) -> str:
    return template.format(writable=_WRITABLE, lock=" FOR KEY SHARE" if dialect == "postgresql" else "")


_UPSERT = _statement(_UPSERT_TEMPLATE, "sqlite")


def _pyformat(sql: str) -> str:
    """:name → %(name)s for the raw psycopg cursor."""
    for name in ("aid", "qid", "response", "now"):
        sql = sql.replace(f":{name}", f"%({name})s")
    return sql


_PG_UPSERT = _pyformat(_statement(_UPSERT_TEMPLATE, "postgresql"))


def _bind_now(session_or_engine, now: datetime) -> datetime:
    dialect = session_or_engine.get_bind().dialect.name if hasattr(session_or_engine, "get_bind") \
        else session_or_engine.dialect.name
    return now if dialect != "sqlite" else now.astimezone(timezone.utc).replace(tzinfo=None)


def store_in_session(session, attempt_id: int, question_id: int, response: str | None, now: datetime) -> bool:
    """The same guarded write inside an ORM session's transaction (the Flask path): upsert the
    response, or delete it when `response` is None. False when the sheet is not writable."""
    dialect = session.get_bind().dialect.name
    params = {"aid": attempt_id, "qid": question_id, "response": response, "now": _bind_now(session, now)}
    if response is None:
        writable = session.execute(text(_statement(_WRITABLE_TEMPLATE, dialect)), params).first()
        if writable is None:
            return False
        session.execute(text(_statement(_DELETE_TEMPLATE, dialect)), params)
        return True
    return session.execute(text(_statement(_UPSERT_TEMPLATE, dialect)), params).first() is not None


_hot_engines: dict[str, Engine] = {}
_hot_lock = threading.Lock()


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

                hot = create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=10, max_overflow=40,
                                    pool_recycle=3600)
                _hot_engines[key] = hot
    return hot


_PG_BATCH_UPSERT = """
INSERT INTO answer (attempt_id, question_id, response, saved_at)
SELECT v.aid, v.qid, v.response, v.now
FROM unnest(%(aid)s::bigint[], %(qid)s::bigint[], %(response)s::text[], %(now)s::timestamptz[])
     AS v(aid, qid, response, now)
JOIN attempt a ON a.id = v.aid AND a.status = 'open' AND (a.deadline IS NULL OR a.deadline >= v.now)
FOR KEY SHARE OF a
ON CONFLICT (attempt_id, question_id) DO UPDATE SET response = excluded.response, saved_at = excluded.saved_at
RETURNING attempt_id, question_id, (SELECT deadline FROM attempt WHERE id = answer.attempt_id)
"""


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


def _pg_upsert(engine: Engine, params: dict):
    """The guarded upsert in one round trip (psycopg prepares it after a few uses)."""
    def run(cursor):
        cursor.execute(_PG_UPSERT, params)
        return cursor.fetchone()

    return _pg_execute(engine, run)


class _Pending:
    __slots__ = ("params", "event", "done", "promoted", "row", "error")

    def __init__(self, params: dict):
        self.params = params
        self.event = threading.Event()
        self.done = self.promoted = False
        self.row = self.error = None


class GroupCommit:
    """Group commit for answer saves on PostgreSQL.

    Every save still waits for its own durable commit before it is acknowledged; what changes is
    that saves arriving while another save of this process is on its way to the database are
    written together, in one statement and one commit, by whichever request leads next. A
    multi-threaded (gthread) or gevent worker then pays one round trip, one WAL flush and one
    statement overhead for several answers. With nothing in flight (a sync worker, a quiet
    moment) a save goes alone, as before, without waiting for company.

    A batch checks each sheet's status and deadline row by row like the single statement; rows it
    did not store come back as not saved (the caller falls back to the full path). If the batch
    statement fails, its saves are retried one by one so one bad row does not sink the others.
    """

    WAIT_SECONDS = 30.0

    def __init__(self):
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._busy = False
        self.batches = 0   # statistics (read by tests and benchmarks)
        self.saves = 0

    def save(self, engine: Engine, params: dict):
        item = _Pending(params)
        with self._lock:
            self._queue.append(item)
            lead = not self._busy
            self._busy = True
        if not lead and not item.event.wait(self.WAIT_SECONDS):
            with self._lock:
                if item in self._queue and not item.promoted:
                    self._queue.remove(item)  # the database is stuck: let the caller fall back
                    raise TimeoutError("answer save waited too long for its batch")
            if not item.promoted:
                item.event.wait()  # its batch is being written: that ends with a row or an error
        if lead or not item.done:  # leader, or promoted to lead the next batch (which includes it)
            self._flush_queue(engine)
        if item.error is not None:
            raise item.error
        return item.row

    def _flush_queue(self, engine: Engine) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            self._write(engine, batch)
        finally:
            for item in batch:
                if not item.done:  # never leave a waiting request behind
                    item.done = True
                    item.error = item.error or RuntimeError("answer batch was not written")
                    item.event.set()
            with self._lock:
                if self._queue:
                    successor = self._queue[0]
                    successor.promoted = True
                    successor.event.set()
                else:
                    self._busy = False

    def _write(self, engine: Engine, batch: list[_Pending]) -> None:
        keys = {(i.params["aid"], i.params["qid"]) for i in batch}
        if len(batch) == 1 or len(keys) < len(batch):
            self._one_by_one(engine, batch)  # alone, or the same question twice (in arrival order)
            return
        params = {name: [i.params[name] for i in batch] for name in ("aid", "qid", "response", "now")}

        def run(cursor):
            cursor.execute(_PG_BATCH_UPSERT, params)
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
            item.row = stored.get((item.params["aid"], item.params["qid"]))
            item.done = True
            item.event.set()

    def _one_by_one(self, engine: Engine, batch: list[_Pending]) -> None:
        for item in batch:
            try:
                item.row = _pg_upsert(engine, item.params)
            except Exception as exc:  # noqa: BLE001 - handed to the waiting request
                item.error = exc
            self.batches += 1
            self.saves += 1
            item.done = True
            item.event.set()


_groups: dict[str, GroupCommit] = {}


def group_commit_for(engine: Engine) -> GroupCommit:
    """The process's GroupCommit for this database (a batch never mixes two databases)."""
    key = engine.url.render_as_string(hide_password=False)
    group = _groups.get(key)
    if group is None:
        with _hot_lock:
            group = _groups.setdefault(key, GroupCommit())
    return group


def guarded_upsert(engine: Engine, attempt_id: int, question_id: int, response: str,
                   now: datetime) -> tuple[bool, datetime | None]:
    """Store the response if the sheet is open and within its deadline, in one statement.

    Returns (saved, deadline)."""
    params = {"aid": attempt_id, "qid": question_id, "response": response, "now": _bind_now(engine, now)}
    if engine.dialect.name == "postgresql":
        row = group_commit_for(engine).save(engine, params)
    else:
        with _connection(engine) as conn:
            row = conn.execute(text(_UPSERT), params).first()
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
    """Save through the hot path, or return None when the full path must decide (unknown or
    practice sheet, wrong token, question not on the sheet, nothing to store, refused)."""
    from quiz.services.attempts import response_for_client, to_original

    meta = sheet(engine, attempt_id)
    if meta is None or meta.practice or not token_ok(meta, token, secret_key) or question_id not in meta.paper:
        return None
    if response is None or response == "" or response == [] or (
            isinstance(response, list) and all(isinstance(x, str) and not x.strip() for x in response)):
        return None  # clearing goes through the full path
    if question_id in meta.kinds:
        qtype, options = meta.kinds[question_id]
    else:  # papers drawn before type/option count were recorded
        info = question(engine, question_id)
        if info is None:
            return None
        qtype, options = info.type, info.options
    kind = get_type(qtype)
    try:
        canonical = kind.normalise_response(response, options)
    except AnswerError:
        return None  # the full path decides: 409 for a closed sheet comes before 422
    order = meta.paper[question_id]
    if qtype in ("single", "multi"):
        canonical = to_original(canonical, order)
    saved, deadline = guarded_upsert(engine, attempt_id, question_id, canonical, now)
    if not saved:
        return None
    return {"saved": True, "response": response_for_client(qtype, canonical, order),
            "deadline": deadline.isoformat() if deadline else None, "server_time": now.isoformat()}
