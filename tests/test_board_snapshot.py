"""The public board snapshot (quiz/services/ranking.py): no database query in the steady state,
one rebuild per change that cannot be applied in place, the same ranks as the database ranking
after any sequence of changes, and the board lane serving the very bytes Flask rendered."""
from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from quiz.errors import Conflict
from quiz.extensions import db
from quiz.models import Attempt, Quiz
from quiz.models.base import utcnow
from quiz.services import attempts as svc
from quiz.services import ranking
from quiz.services.exclusions import exclude_sheet, restore_sheet
from quiz.services.quizzes import reveal, set_freeze
from quiz.services.ranking import board_snapshot, leaderboard, rank_of
from tests.quizdata import make_quiz, right_response

UNITS = ["乔司街道/三角村社区", "乔司街道/永丰村", "伦教街道/常教社区"]


def _sit(quiz, person: int, start, *, right: int, seconds: int):
    """Person `person` joins at `start`, answers `right` questions right and submits after
    `seconds`; returns the attempt."""
    attempt = svc.join(quiz, name=f"人{person:02d}", phone=f"1380000{person:04d}", unit_path=UNITS[person % 3],
                       now=start).attempt
    questions = svc.questions_by_id([e["q"] for e in attempt.paper])
    for entry in attempt.paper[:right]:
        svc.save_answer(attempt, entry["q"], right_response(questions[entry["q"]], entry),
                        now=start + timedelta(seconds=1))
    svc.submit(attempt, now=start + timedelta(seconds=seconds))
    db.session.commit()
    return attempt


@pytest.fixture
def contest(app, tree):
    with app.app_context():
        start = utcnow() - timedelta(hours=1)
        quiz = make_quiz(now=start, attempts_allowed=3)
        for person in range(6):
            _sit(quiz, person, start, right=person % 4, seconds=30 + 5 * (person % 2))
        return quiz.id


class Statements:
    """SQL statements and commits issued while it is active."""

    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.sql: list[str] = []
        self.commits = 0

    def _sql(self, conn, cursor, statement, *args):
        self.sql.append(statement)

    def _commit(self, session):
        self.commits += 1

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._sql)
        event.listen(Session, "after_commit", self._commit)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._sql)
        event.remove(Session, "after_commit", self._commit)


def test_steady_state_board_reads_make_no_database_query(app, client, contest):
    urls = [f"/api/v1/quizzes/{contest}/leaderboard", f"/board/{contest}", f"/board/{contest}?q=人0&unit=乔司街道",
            f"/board/{contest}/screen?top=5", f"/board/{contest}?lang=en"]
    first = {url: client.get(url) for url in urls}
    assert all(r.status_code == 200 for r in first.values())
    assert "13800000000" not in first[f"/board/{contest}"].get_data(as_text=True)
    cookie = app.test_client()
    cookie.set_cookie("session", "not-a-valid-session")  # has a session cookie: through Flask, not the lane
    with Statements(app) as seen:
        again = {url: client.get(url) for url in urls}
        flask = {url: cookie.get(url) for url in urls}
    assert seen.sql == [] and seen.commits == 0
    for url in urls:
        assert again[url].get_data() == first[url].get_data() == flask[url].get_data()
        assert again[url].headers["Content-Type"] == first[url].headers["Content-Type"]
    assert "Leaderboard" in first[f"/board/{contest}?lang=en"].get_data(as_text=True)
    assert "排行榜" in first[f"/board/{contest}"].get_data(as_text=True)


def test_the_lane_answers_stored_responses_without_flask(app, client, contest):
    calls = []
    app.before_request(lambda: calls.append(1))
    url = f"/api/v1/quizzes/{contest}/leaderboard?limit=3"
    body = client.get(url).get_data()
    assert calls == [1]  # the first one is rendered by Flask …
    for _ in range(3):
        reply = client.get(url)
        assert reply.get_data() == body
        assert reply.headers["X-Content-Type-Options"] == "nosniff"  # security headers still on
    assert calls == [1]  # … the others come from the lane
    assert client.get(f"/api/v1/quizzes/{contest}/leaderboard?limit=abc").status_code == 422
    assert client.get("/api/v1/quizzes/99999/leaderboard").status_code == 404
    assert client.get("/board/99999").status_code == 404


def test_rebuilt_once_per_change_and_submissions_applied_in_place(app, client, contest, monkeypatch):
    builds = []
    real = ranking._build_snapshot
    monkeypatch.setattr(ranking, "_build_snapshot", lambda row: builds.append(row.id) or real(row))
    url = f"/api/v1/quizzes/{contest}/leaderboard"
    names = lambda: [e["name"] for e in client.get(url).get_json()["entries"]]  # noqa: E731
    before = names()
    assert len(builds) == 1
    with app.app_context():
        quiz = db.session.get(Quiz, contest)
        late = _sit(quiz, 7, utcnow() - timedelta(minutes=30), right=5, seconds=20)  # full marks
        late_id = late.id
    assert names() == ["人07"] + before and len(builds) == 1  # applied in place, no rebuild
    names()
    with app.app_context():
        exclude_sheet(db.session.get(Attempt, late_id), reason="核实", actor=None, now=utcnow())
        db.session.commit()
    assert names() == before and len(builds) == 2
    names()
    assert len(builds) == 2
    with app.app_context():
        set_freeze(db.session.get(Quiz, contest), None, actor=None, now=utcnow())
        db.session.commit()
    assert client.get(url).get_json()["frozen_at"] is not None and len(builds) == 3
    with app.app_context():
        restore_sheet(db.session.get(Attempt, late_id), reason="恢复", actor=None, now=utcnow())
        quiz = db.session.get(Quiz, contest)
        reveal(quiz, actor=None)
        db.session.commit()  # two changes, one commit: one rebuild
    assert names() == ["人07"] + before and len(builds) == 4


@pytest.mark.parametrize("policy", ["best", "latest"])
def test_snapshot_agrees_with_the_database_after_any_sequence(app, tree, policy):
    """Random sittings (second and third attempts, ties), exclusions, restorations and freezes:
    after each step the public board from the snapshot, the database ranking and rank_of agree."""
    rnd = random.Random(7 if policy == "best" else 11)
    with app.app_context():
        start = utcnow() - timedelta(hours=2)
        quiz = make_quiz(now=start, attempts_allowed=3, attempt_policy=policy)
        excluded: list[int] = []
        for step in range(40):
            action = rnd.random()
            when = start + timedelta(seconds=rnd.randint(0, 3000))
            if action < 0.7:
                person = rnd.randrange(12)
                try:
                    _sit(quiz, person, when, right=rnd.randint(0, 5), seconds=rnd.choice([20, 30, 30, 45]))
                except Conflict:  # all three attempts used: a refusal changes nothing
                    db.session.rollback()
            elif action < 0.8:
                sheet = db.session.execute(select(Attempt).where(
                    Attempt.quiz_id == quiz.id, Attempt.status == "submitted", Attempt.excluded.is_(False))
                    .order_by(Attempt.id)).scalars().all()
                if sheet:
                    chosen = rnd.choice(sheet)
                    exclude_sheet(chosen, reason="核实", actor=None, now=utcnow())
                    excluded.append(chosen.id)
                    db.session.commit()
            elif action < 0.9 and excluded:
                restore_sheet(db.session.get(Attempt, excluded.pop()), reason="恢复", actor=None, now=utcnow())
                db.session.commit()
            elif quiz.freeze_at is None:
                set_freeze(quiz, when, actor=None, now=utcnow())
                db.session.commit()
            else:
                reveal(quiz, actor=None)
                db.session.commit()
            now = utcnow()
            expected = [(e["rank"], e["attempt_id"]) for e in leaderboard(quiz, now=now, limit=10 ** 6, public=True)]
            snapshot = board_snapshot(quiz.id)
            served, total = snapshot.entries(now, limit=10 ** 6)
            assert [(e["rank"], e["attempt_id"]) for e in served] == expected, step
            assert total == len(expected)
            page, _n = snapshot.entries(now, offset=2, limit=3)
            assert [(e["rank"], e["attempt_id"]) for e in page] == expected[2:5]
            for attempt in db.session.execute(select(Attempt).where(
                    Attempt.quiz_id == quiz.id, Attempt.status == "submitted")).scalars():
                sql = _sql_rank(attempt)
                assert rank_of(attempt, now=now) == sql, (step, attempt.id)


def _sql_rank(attempt):
    """rank_of's SQL form (used when a session has uncommitted changes)."""
    if attempt.excluded:
        return None
    counted = ranking.counted_attempts(attempt.quiz)
    better = db.session.scalar(select(db.func.count()).select_from(counted).where(
        counted.c.participant_id != attempt.participant_id, ranking.beats(counted, attempt)))
    return (better or 0) + 1


def test_uncommitted_changes_never_reach_the_shared_snapshot(app, contest):
    with app.app_context():
        quiz = db.session.get(Quiz, contest)
        shared = board_snapshot(contest)
        attempt = svc.join(quiz, name="新人", phone="13900000001", unit_path=UNITS[0],
                           now=utcnow() - timedelta(minutes=20)).attempt
        svc.submit(attempt, now=utcnow() - timedelta(minutes=19))
        private = board_snapshot(contest)  # this session sees its own sheet …
        assert private is not shared and attempt.id in private.live.by_attempt
        assert rank_of(attempt, now=utcnow()) == _sql_rank(attempt)
        attempt_id = attempt.id  # the join stored the sheet with a Core statement: after the rollback
        db.session.rollback()    # the ORM object is expired, and its row gone
        assert board_snapshot(contest) is shared  # … nobody else does, and it was rolled back
        assert attempt_id not in shared.live.by_attempt


def test_a_future_freeze_takes_effect_on_time_without_an_event(app, client, contest):
    url = f"/api/v1/quizzes/{contest}/leaderboard"
    with app.app_context():
        at = utcnow() + timedelta(seconds=1)
        set_freeze(db.session.get(Quiz, contest), at, actor=None, now=utcnow())
        db.session.commit()
    assert client.get(url).get_json()["frozen_at"] is None
    with app.app_context():
        snapshot = board_snapshot(contest)
        assert snapshot.frozen_at(at + timedelta(microseconds=1)) == at
        assert snapshot.frozen_at(at - timedelta(microseconds=1)) is None


def test_closing_adds_the_graded_sheets_without_a_rebuild(app, client, contest, monkeypatch):
    from quiz.services.quizzes import close_quiz

    with app.app_context():
        quiz = db.session.get(Quiz, contest)
        svc.join(quiz, name="未交卷", phone="13900000002", unit_path=UNITS[1], now=utcnow() - timedelta(minutes=2))
        db.session.commit()
    url = f"/api/v1/quizzes/{contest}/leaderboard"
    before = [e["name"] for e in client.get(url).get_json()["entries"]]
    builds = []
    real = ranking._build_snapshot
    monkeypatch.setattr(ranking, "_build_snapshot", lambda row: builds.append(row.id) or real(row))
    with app.app_context():
        assert close_quiz(db.session.get(Quiz, contest), actor=None) == 1
    after = [e["name"] for e in client.get(url).get_json()["entries"]]
    assert sorted(after) == sorted(before + ["未交卷"]) and builds == []
