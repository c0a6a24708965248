"""A live contest's answer window (docs/rules.md "Live contests"): phones answer only the question
that runs, the window is one row of the contest (start and close never rewrite the players'
sheets), and closing a question under a crowd of saves is a clean cut on both save transports and
on SQLite and PostgreSQL: every acknowledged answer is scored, every answer sent after the close
is refused."""
from __future__ import annotations

import random
import threading
import time

import pytest
from sqlalchemy import event, func, select

from quiz.extensions import db
from quiz.models import Answer, Attempt
from quiz.models.live import LiveContest, LiveQuestion, LiveScore
from quiz.models.base import utcnow
from quiz.services.batching import Pending
from tests.conftest import answer_lane
from tests.test_live import _host, _join, _setup

PLAYERS = 16
THREADS = 8


def _contest(app, questions=3, time_seconds=60):
    contest_id = _setup(app, [{"type": "共答", "rules": [{"type": "判断", "count": questions, "points": 10}],
                               "settings": {"time_seconds": time_seconds}}], mode="individuals")
    with app.app_context():
        code = db.session.get(LiveContest, contest_id).join_code
    return contest_id, code


def _save(client, person, qid, response):
    sheet = person["sheet"]
    return client.put(f"/api/v1/attempts/{sheet['attempt_id']}/answers/{qid}", json={"response": response},
                      headers={"Authorization": f"Bearer {sheet['token']}"})


def _stored(app, person, qid):
    with app.app_context():
        return db.session.execute(select(Answer.response).where(
            Answer.attempt_id == person["sheet"]["attempt_id"], Answer.question_id == qid)).scalar_one_or_none()


@pytest.mark.parametrize("fast_lane", [True, False], ids=["answer-lane", "flask-view"])
def test_only_the_running_question_takes_answers(app, client, users, tree, token_for, fast_lane):
    if not fast_lane:
        answer_lane(app).enabled = False
    contest_id, code = _contest(app)
    token = token_for("admin")
    host = lambda name, **b: _host(client, token, contest_id, name, **b)  # noqa: E731
    people = [_join(client, code, f"1390000000{i}", f"选手{i}") for i in range(2)]
    host("open")
    with app.app_context():
        first, second, third = db.session.execute(select(LiveQuestion.question_id).where(
            LiveQuestion.contest_id == contest_id).order_by(LiveQuestion.position)).scalars().all()

    assert _save(client, people[0], first, "正确").status_code == 409  # opened, not started
    host("start")
    assert _save(client, people[0], first, "正确").status_code == 200
    refused = _save(client, people[0], second, "正确")  # a question not asked yet
    assert refused.status_code == 409 and "屏幕上的当前题目" in refused.get_json()["error"]  # answer the one on screen
    host("close")
    host("next")
    assert _save(client, people[1], first, "错误").status_code == 409  # closed, nothing runs
    host("start")
    # the next question runs: the closed one stays closed (was accepted, unscored, before the window)
    late = _save(client, people[1], first, "错误")
    assert late.status_code == 409, late.get_json()
    assert _stored(app, people[1], first) is None
    assert _save(client, people[0], first, "错误").status_code == 409
    assert _stored(app, people[0], first) == "正确"  # the acknowledged answer is unchanged
    assert _save(client, people[1], second, "正确").status_code == 200
    assert _save(client, people[1], third, "正确").status_code == 409
    # clearing an answer follows the same rule
    assert _save(client, people[0], first, None).status_code == 409
    assert _save(client, people[1], second, None).status_code == 200
    assert _stored(app, people[1], second) is None
    host("pause")
    assert _save(client, people[1], second, "正确").status_code == 409
    host("resume")
    assert _save(client, people[1], second, "正确").status_code == 200
    host("close")
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        assert contest.window_question_id is None and contest.window_until is None
        scored = dict(db.session.execute(select(LiveScore.live_question_id, func.count(LiveScore.id))
                                         .where(LiveScore.kind != "base").group_by(LiveScore.live_question_id)).all())
    assert sum(scored.values()) == 2  # one right answer on each question


def test_start_and_close_do_not_touch_the_players_sheets(app, client, users, tree, token_for):
    contest_id, code = _contest(app, questions=1)
    token = token_for("admin")
    people = [_join(client, code, f"139000000{i:02d}", f"选手{i}") for i in range(12)]
    _host(client, token, contest_id, "open")
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()).lower())

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert _host(client, token, contest_id, "start").status_code == 200
        started = list(statements)
        statements.clear()
        assert _host(client, token, contest_id, "close").status_code == 200
        closed = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    for phase in (started, closed):
        writes = [s for s in phase if s.startswith(("update attempt", "delete from attempt", "insert into attempt"))]
        assert writes == [], writes
        assert not any("from attempt" in s and "for update" in s for s in phase)
    with app.app_context():
        sheets = db.session.execute(select(Attempt).where(
            Attempt.id.in_([p["sheet"]["attempt_id"] for p in people]))).scalars().all()
        assert len(sheets) == 12 and all(s.deadline is None and s.status == "open" for s in sheets)


def _hammer(app, people, qid, stop: threading.Event, log: list, errors: list, seed: int):
    client = app.test_client()
    rng = random.Random(seed)
    while not stop.is_set():
        for person in people:
            response = rng.choice(["正确", "错误"])
            sent = time.monotonic()
            try:
                reply = _save(client, person, qid, response)
            except Exception as exc:  # noqa: BLE001 - reported by the test
                errors.append(repr(exc))
                continue
            log.append((person["player_id"], response, reply.status_code, sent))
        time.sleep(0.002)


@pytest.mark.parametrize("fast_lane", [True, False], ids=["answer-lane", "flask-view"])
def test_closing_a_question_under_load_is_a_clean_cut(app, users, tree, token_for, fast_lane):
    app.config["ANSWER_LIMIT"] = "100000/minute"
    if not fast_lane:
        answer_lane(app).enabled = False
    client = app.test_client()
    contest_id, code = _contest(app, questions=1)
    token = token_for("admin")
    people = [_join(client, code, f"139000000{i:02d}", f"选手{i}") for i in range(PLAYERS)]
    _host(client, token, contest_id, "open")
    state = _host(client, token, contest_id, "start").get_json()
    qid = state["question"]["question_id"]
    stop, log, errors = threading.Event(), [], []
    workers = [threading.Thread(target=_hammer, args=(app, people[i::THREADS], qid, stop, log, errors, i))
               for i in range(THREADS)]
    for worker in workers:
        worker.start()
    time.sleep(0.6)
    closed_at = time.monotonic()
    reply = _host(client, token, contest_id, "close")
    close_done = time.monotonic()
    assert reply.status_code == 200, reply.get_json()
    time.sleep(0.4)
    stop.set()
    for worker in workers:
        worker.join(timeout=30)

    assert not errors
    assert {status for _p, _r, status, _t in log} <= {200, 409}
    assert any(s == 200 and t < closed_at for _p, _r, s, t in log), "no save was acknowledged before the close"
    assert any(s == 409 and t > close_done for _p, _r, s, t in log), "no save was refused after the close"
    assert not any(s == 200 and t > close_done for _p, _r, s, t in log), "a save after the close was acknowledged"
    last_ack: dict[int, str] = {}
    for player, response, status, _t in log:
        if status == 200:
            last_ack[player] = response
    answered = reply.get_json()["question"]["answered"]
    assert answered == len(last_ack)  # every acknowledged answer was counted by the close
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        cut = contest.current.closed_at
        rows = db.session.execute(select(Attempt.id, Answer.response, Answer.saved_at)
                                  .join(Answer, Answer.attempt_id == Attempt.id)
                                  .where(Attempt.quiz_id == contest.quiz_id)).all()
        assert all(saved_at <= cut for _a, _r, saved_at in rows)
        by_sheet = {attempt_id: response for attempt_id, response, _s in rows}
        for person in people:
            if person["player_id"] in last_ack:  # the last acknowledged answer is the one scored
                assert by_sheet[person["sheet"]["attempt_id"]] == last_ack[person["player_id"]]
        points = dict(db.session.execute(select(LiveScore.entrant_id, func.sum(LiveScore.points))
                                         .where(LiveScore.kind != "base").group_by(LiveScore.entrant_id)).all())
        right = sum(1 for response in last_ack.values() if response == "正确")
        assert round(sum(points.values())) == 10 * right


def test_a_batch_of_live_saves_checks_each_contests_window(app, client, users, tree, token_for):
    """PostgreSQL's group commit writes saves that arrive together in one statement: for live
    sheets that statement checks the window row by row (the running question is stored, another
    question of the same contest is not)."""
    from quiz.services import answers

    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("group commit is used on PostgreSQL only (SQLite serialises writers)")
        engine = db.engine
    contest_id, code = _contest(app, questions=2)
    token = token_for("admin")
    people = [_join(client, code, f"1390000000{i}", f"选手{i}") for i in range(3)]
    _host(client, token, contest_id, "open")
    running = _host(client, token, contest_id, "start").get_json()["question"]["question_id"]
    with app.app_context():
        other = db.session.execute(select(LiveQuestion.question_id).where(
            LiveQuestion.contest_id == contest_id, LiveQuestion.question_id != running)).scalar_one()
    now = utcnow()
    items = [Pending({"aid": p["sheet"]["attempt_id"], "qid": qid, "response": "正确", "now": now})
             for p, qid in ((people[0], running), (people[1], other), (people[2], running))]
    group = answers.GroupCommit(live=True)
    group._write(engine, items)
    assert group.batches == 1 and group.saves == 3  # one statement for the three
    assert [item.row is not None for item in items] == [True, False, True]
    assert [_stored(app, p, q) for p, q in ((people[0], running), (people[1], other), (people[2], running))] == \
        ["正确", None, "正确"]
