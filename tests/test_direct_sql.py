"""quiz/direct_sql.py: a Core statement run on the DBAPI cursor reads exactly what Connection.execute
reads (types' bind and result processing included), in the caller's transaction, and the engine's
statement listeners still see it. On SQLite it is Connection.execute itself."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, event, select, text

from quiz import direct_sql
from quiz.extensions import db
from quiz.models import Attempt, Quiz
from quiz.services.attempts import join
from tests.quizdata import make_quiz

_A, _Q = Attempt.__table__, Quiz.__table__
_SHEET = select(_A.c.id, _A.c.paper, _A.c.deadline, _A.c.started_at, _A.c.max_score, _A.c.status).where(
    _A.c.id == bindparam("id"))
_QUIZ_NOT_LIVE = select(_Q.c.id, _Q.c.title).where(_Q.c.id == bindparam("id"), _Q.c.mode != "live")
_INSERT_NOTE = text("UPDATE attempt SET deadline = :deadline WHERE id = :id").bindparams(
    bindparam("deadline", type_=_A.c.deadline.type))
_IN = select(_A.c.id).where(_A.c.id.in_(bindparam("ids", expanding=True)))


@pytest.fixture
def sheet(ctx, tree):
    quiz = make_quiz(now=datetime.now(timezone.utc), duration_seconds=600)
    attempt = join(quiz, name="直连", phone="13900001111", unit_path="乔司街道/三角村社区",
                   now=datetime.now(timezone.utc)).attempt
    db.session.flush()
    ids = quiz.id, attempt.id
    db.session.commit()
    db.session.close()  # SQLite: no transaction of the session left open beside the test's connections
    return ids


def test_rows_read_as_connection_execute_reads_them(sheet):
    quiz_id, sheet_id = sheet
    with db.engine.connect() as conn:
        expected = conn.execute(_SHEET, {"id": sheet_id}).one()
        got = direct_sql.execute(conn, _SHEET, {"id": sheet_id}).one()
        assert tuple(got) == tuple(expected)
        # on PostgreSQL the statement ran on the cursor itself (a Core Row has _mapping)
        assert hasattr(got, "_mapping") is (conn.dialect.name != "postgresql")
        assert got.deadline.tzinfo is not None and got.deadline == expected.deadline  # UTCDateTime: aware
        assert isinstance(got.paper, list) and got.paper == expected.paper  # JSON
        assert direct_sql.execute(conn, _QUIZ_NOT_LIVE, {"id": quiz_id}).one().id == quiz_id  # a bound literal
        assert direct_sql.execute(conn, _QUIZ_NOT_LIVE, {"id": -1}).first() is None
        assert direct_sql.execute(conn, _SHEET, {"id": sheet_id}).scalar() == sheet_id
        assert list(direct_sql.execute(conn, _IN, {"ids": [sheet_id]}).scalars()) == [sheet_id]  # expanding IN: plain
        with pytest.raises(Exception, match="exactly one|No row"):
            direct_sql.execute(conn, _SHEET, {"id": -1}).one()


def test_writes_join_the_callers_transaction_and_are_counted(sheet):
    _quiz_id, sheet_id = sheet
    seen = []
    listener = lambda conn, cursor, statement, *rest: seen.append(statement)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        later = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(hours=8)))
        with db.engine.connect() as conn:
            before = direct_sql.execute(conn, _SHEET, {"id": sheet_id}).one().deadline
            direct_sql.execute(conn, _INSERT_NOTE, {"deadline": later, "id": sheet_id})
            assert direct_sql.execute(conn, _SHEET, {"id": sheet_id}).one().deadline == later
            conn.rollback()
            assert conn.execute(_SHEET, {"id": sheet_id}).one().deadline == before  # rolled back with it
            direct_sql.execute(conn, _INSERT_NOTE, {"deadline": later, "id": sheet_id})
            conn.commit()
        with db.engine.connect() as other:
            assert other.execute(_SHEET, {"id": sheet_id}).one().deadline == later
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert sum("UPDATE attempt SET deadline" in s for s in seen) == 2
    assert sum(s.lstrip().startswith("SELECT attempt.id, attempt.paper") for s in seen) == 4


def test_rows_read_ahead_are_served_once_inside_the_block(sheet):
    quiz_id, sheet_id = sheet
    seen = []
    listener = lambda conn, cursor, statement, *rest: statement.startswith("SELECT") and seen.append(statement)  # noqa
    with db.engine.connect() as conn:
        before = direct_sql.execute(conn, _SHEET, {"id": sheet_id}).one()
        later = datetime.now(timezone.utc) + timedelta(hours=1)
        conn.execute(_INSERT_NOTE, {"deadline": later, "id": sheet_id})
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            with direct_sql.served(conn, [(_SHEET, {"id": sheet_id}, [before]), (_QUIZ_NOT_LIVE, {"id": -1}, [])]):
                got = direct_sql.execute(conn, _SHEET, {"id": sheet_id}).one()
                assert tuple(got) == tuple(before)  # as read before the write
                assert direct_sql.execute(conn, _QUIZ_NOT_LIVE, {"id": -1}).first() is None
                assert seen == []  # both served: nothing ran
                again = direct_sql.execute(conn, _SHEET, {"id": sheet_id}).one()  # served once: now read
                assert again.deadline == later
                assert direct_sql.execute(conn, _QUIZ_NOT_LIVE, {"id": quiz_id}).one().id == quiz_id  # others run
                assert len(seen) == 2
            assert direct_sql.SERVED not in conn.info
            assert direct_sql.execute(conn, _QUIZ_NOT_LIVE, {"id": -1}).first() is None  # nothing left over
            assert len(seen) == 3
            conn.rollback()
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
