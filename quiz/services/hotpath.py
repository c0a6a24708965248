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
request (views/api.py) and in the WSGI fast lane in front of Flask (quiz/fastlane.py).
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
    if not token:
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


_UPSERT = """
INSERT INTO answer (attempt_id, question_id, response, saved_at)
SELECT :aid, :qid, :response, :now
WHERE EXISTS (SELECT 1 FROM attempt WHERE id = :aid AND status = 'open' AND (deadline IS NULL OR deadline >= :now))
ON CONFLICT (attempt_id, question_id) DO UPDATE SET response = excluded.response, saved_at = excluded.saved_at
RETURNING (SELECT deadline FROM attempt WHERE id = :aid)
"""


_PG_UPSERT = _UPSERT.replace(":aid", "%(aid)s").replace(":qid", "%(qid)s").replace(
    ":response", "%(response)s").replace(":now", "%(now)s")


_local = threading.local()


def _pg_connection(engine):
    """This thread's own autocommit psycopg connection for the hot statement (opened on first
    use, reopened after an error); kept apart from the ORM pool so nothing is toggled per request."""
    connection = getattr(_local, "connection", None)
    if connection is None or connection.closed or getattr(_local, "url", None) != engine.url:
        import psycopg

        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = psycopg.connect(dsn, autocommit=True)
        _local.connection, _local.url = connection, engine.url
    return connection


def _pg_upsert(engine, params: dict):
    """The guarded upsert in one round trip (psycopg prepares it after a few uses)."""
    import psycopg

    for attempt in range(2):
        connection = _pg_connection(engine)
        try:
            with connection.cursor() as cursor:
                cursor.execute(_PG_UPSERT, params)
                return cursor.fetchone()
        except psycopg.OperationalError:
            connection.close()  # a dropped connection: reopen once, then give up
            if attempt:
                raise


def guarded_upsert(engine: Engine, attempt_id: int, question_id: int, response: str,
                   now: datetime) -> tuple[bool, datetime | None]:
    """Store the response if the sheet is open and within its deadline, in one statement.

    Returns (saved, deadline)."""
    stored_now = now if engine.dialect.name != "sqlite" else now.astimezone(timezone.utc).replace(tzinfo=None)
    params = {"aid": attempt_id, "qid": question_id, "response": response, "now": stored_now}
    if engine.dialect.name == "postgresql":
        row = _pg_upsert(engine, params)
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
