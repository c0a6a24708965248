"""Migration 0013 (a live contest's answer window in one row) carries a running contest over, both
ways: before it the window was the deadline of every open sheet of the contest; after it, the
contest row's window_question_id/window_until, and the sheets have no deadline."""
from __future__ import annotations

from datetime import timedelta

from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from quiz.cli import ROOT
from quiz.extensions import db
from quiz.models import LiveContest, LiveQuestion
from tests.test_live import _host, _join
from tests.test_live_window import _contest, _save

MIGRATIONS = str(ROOT / "migrations")


def _open_deadlines(contest_id: int) -> set:
    return set(db.session.execute(text(
        "SELECT a.deadline FROM attempt a JOIN live_contest c ON c.quiz_id = a.quiz_id "
        "WHERE c.id = :id AND a.status = 'open'"), {"id": contest_id}).scalars())


def test_a_running_question_keeps_its_window_down_and_up(app, client, users, tree, token_for):
    contest_id, code = _contest(app, questions=2, time_seconds=600)
    token = token_for("admin")
    people = [_join(client, code, f"1390000010{i}", f"选手{i}") for i in range(3)]
    assert _host(client, token, contest_id, "open").status_code == 200
    assert _host(client, token, contest_id, "start").status_code == 200
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        running = db.session.get(LiveQuestion, contest.current_id).question_id
        until = contest.window_until
        assert contest.window_question_id == running and until is not None
        assert _open_deadlines(contest_id) == {None}
        db.session.remove()
        try:
            downgrade(directory=MIGRATIONS, revision="0012_pictures")
            # before 0013 the window was every open sheet's deadline
            deadlines = _open_deadlines(contest_id)
            assert len(deadlines) == 1
            (deadline,) = deadlines
            stored = deadline if not isinstance(deadline, str) else until.fromisoformat(deadline)
            assert abs(stored.replace(tzinfo=None) - until.replace(tzinfo=None)) < timedelta(seconds=1)
            db.session.remove()
        finally:
            upgrade(directory=MIGRATIONS)
        db.session.remove()
        contest = db.session.get(LiveContest, contest_id)
        assert contest.window_question_id == running
        assert abs(contest.window_until - until) < timedelta(seconds=1)
        assert _open_deadlines(contest_id) == {None}
        other = db.session.execute(select(LiveQuestion.question_id).where(
            LiveQuestion.contest_id == contest_id, LiveQuestion.question_id != running)).scalar()
        db.session.remove()
    # the phones go on answering the running question, and only it
    assert _save(client, people[0], running, "正确").status_code == 200
    assert _save(client, people[1], other, "正确").status_code == 409
    assert _host(client, token, contest_id, "close").status_code == 200
    assert _save(client, people[2], running, "正确").status_code == 409


def test_a_closed_or_paused_question_gets_no_window(app, client, users, tree, token_for):
    contest_id, code = _contest(app, questions=2, time_seconds=600)
    token = token_for("admin")
    person = _join(client, code, "13900000201", "选手")
    for name in ("open", "start", "pause"):
        assert _host(client, token, contest_id, name).status_code == 200
    with app.app_context():
        running = db.session.get(LiveQuestion, db.session.get(LiveContest, contest_id).current_id).question_id
        db.session.remove()
        try:
            downgrade(directory=MIGRATIONS, revision="0012_pictures")
            db.session.remove()
        finally:
            upgrade(directory=MIGRATIONS)
        db.session.remove()
        contest = db.session.get(LiveContest, contest_id)
        assert contest.window_question_id is None and contest.window_until is None
        assert _open_deadlines(contest_id) == {None}
        db.session.remove()
    assert _save(client, person, running, "正确").status_code == 409  # paused: no answers
    assert _host(client, token, contest_id, "resume").status_code == 200
    assert _save(client, person, running, "正确").status_code == 200
