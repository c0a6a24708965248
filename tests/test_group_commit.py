"""Group commit of answer saves (quiz.services.answers.GroupCommit) on PostgreSQL.

Saves that arrive while another save of the process is being written go to the database together,
each still checked against its own sheet and acknowledged only after the commit."""
import threading
import time
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import select, update

from quiz.extensions import db
from quiz.models import Answer, Attempt
from quiz.models.base import utcnow
from quiz.services.batching import Pending
from quiz.services import answers
from tests.test_api_quiz import PERSON, quiz_id  # noqa: F401  (fixture)


@pytest.fixture
def sheets(app, client, quiz_id):  # noqa: F811
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("group commit is used on PostgreSQL only (SQLite serialises writers)")
    out = []
    for i in range(4):
        body = client.post(f"/api/v1/join/{quiz_id['join_code']}",
                           json={**PERSON, "name": f"选手{i}", "phone": f"1390000{i:04d}"}).json
        qid = next(q["id"] for q in body["questions"] if q["type"] == "single")
        out.append((body["attempt_id"], qid))
    return out


def params(aid, qid, response, now=None):
    return {"aid": aid, "qid": qid, "response": response, "now": now or utcnow()}


def stored(app, aid, qid):
    with app.app_context():
        return db.session.execute(select(Answer.response).where(
            Answer.attempt_id == aid, Answer.question_id == qid)).scalar_one_or_none()


def run_held(app, monkeypatch, first, followers):
    """The first save leads and is held inside the database call until every follower is queued;
    returns (results by name, the GroupCommit)."""
    group = answers.GroupCommit()
    release = threading.Event()
    real = answers._pg_upsert
    calls = {"n": 0}

    def held(engine, p, *live):
        calls["n"] += 1
        if calls["n"] == 1:
            assert release.wait(10)
        return real(engine, p, *live)

    monkeypatch.setattr(answers, "_pg_upsert", held)
    results, threads = {}, []
    with app.app_context():
        engine = db.engine

    def go(name, p):
        try:
            results[name] = ("row", group.save(engine, p))
        except Exception as exc:  # noqa: BLE001
            results[name] = ("error", exc)

    threads.append(threading.Thread(target=go, args=first))
    threads[0].start()
    while not group._busy:
        time.sleep(0.001)
    for number, (name, p) in enumerate(followers, start=1):
        threads.append(threading.Thread(target=go, args=(name, p)))
        threads[-1].start()
        deadline = time.monotonic() + 10  # queued in this order
        while len(group._queue) < number and time.monotonic() < deadline:
            time.sleep(0.001)
    assert len(group._queue) == len(followers)
    release.set()
    for t in threads:
        t.join(10)
    return results, group


def test_waiting_saves_are_written_in_one_batch(app, sheets, monkeypatch):
    (a1, q1), (a2, q2), (a3, q3), (a4, q4) = sheets
    with app.app_context():  # sheet 4 is closed: its save must be refused inside the batch
        db.session.execute(update(Attempt).where(Attempt.id == a4).values(status="submitted"))
        db.session.commit()
    results, group = run_held(app, monkeypatch, ("one", params(a1, q1, "A")),
                              [("two", params(a2, q2, "B")), ("three", params(a3, q3, "C")),
                               ("four", params(a4, q4, "D"))])
    assert group.batches == 2 and group.saves == 4  # the leader alone, then the three together
    assert all(kind == "row" for kind, _ in results.values()), results
    assert results["one"][1] is not None and results["two"][1] is not None and results["three"][1] is not None
    assert results["four"][1] is None  # not saved: the caller falls back and reports 409
    deadline = results["two"][1][0]
    assert deadline is not None and deadline > utcnow()
    assert [stored(app, a, q) for a, q in sheets] == ["A", "B", "C", None]
    assert not group._busy and group._queue == []


def test_same_question_twice_in_a_batch_keeps_the_later_value(app, sheets, monkeypatch):
    (a1, q1), (a2, q2), _, _ = sheets
    now = utcnow()
    results, group = run_held(app, monkeypatch, ("lead", params(a1, q1, "A", now)),
                              [("first", params(a2, q2, "B", now)),
                               ("second", params(a2, q2, "C", now + timedelta(milliseconds=5)))])
    assert all(kind == "row" and row is not None for kind, row in results.values()), results
    assert stored(app, a2, q2) == "C"


def test_a_failing_batch_is_retried_one_by_one(app, sheets, monkeypatch):
    (a1, q1), (a2, q2), (a3, q3), _ = sheets
    results, group = run_held(app, monkeypatch, ("lead", params(a1, q1, "A")),
                              [("good", params(a2, q2, "B")), ("bad", params(a3, 987_654_321, "C"))])
    assert results["good"] == ("row", results["good"][1]) and results["good"][1] is not None
    kind, error = results["bad"]
    assert kind == "error" and isinstance(error, psycopg.errors.ForeignKeyViolation)
    assert stored(app, a2, q2) == "B"
    assert not group._busy


def test_api_saves_from_many_threads_all_land(app, client, sheets):
    """End to end through the fast lane: concurrent PUTs on several sheets, every acknowledged
    value stored (the process-wide GroupCommit decides how they are grouped)."""
    from tests.test_api_quiz import bearer  # noqa: F401

    with app.app_context():
        tokens = {}
        from quiz.services.attempts import attempt_token
        for aid, _ in sheets:
            tokens[aid] = attempt_token(db.session.get(Attempt, aid))
    with app.app_context():
        group = answers.group_commit_for(db.engine)
    before = group.saves
    errors = []

    def worker(aid, qid):
        with app.test_client() as c:
            for letter in "ABCDABCD":
                r = c.put(f"/api/v1/attempts/{aid}/answers/{qid}", json={"response": letter},
                          headers={"Authorization": f"Bearer {tokens[aid]}"})
                if r.status_code != 200:
                    errors.append(r.json)

    threads = [threading.Thread(target=worker, args=s) for s in sheets]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert errors == []
    assert [stored(app, a, q) for a, q in sheets] and all(stored(app, a, q) is not None for a, q in sheets)
    assert group.saves - before == 32


def test_a_batch_locks_sheets_in_id_order_like_a_close(app, sheets):
    """Closing a quiz or a live question locks the open sheets FOR UPDATE in id order; a batch that
    key-share-locked them in arrival order deadlocked with it (seen in bench/bench_live.py)."""
    from sqlalchemy import text

    (low, qid_low), (high, qid_high) = sorted(sheets[:2])
    with app.app_context():
        engine = db.engine
        group = answers.GroupCommit()
        batch = [Pending(params(high, qid_high, "A")), Pending(params(low, qid_low, "A"))]
        with engine.connect() as close, engine.connect() as probe:
            close.execute(text("SELECT id FROM attempt WHERE id = :id FOR UPDATE"), {"id": low})  # a close, midway
            writer = threading.Thread(target=group._write, args=(engine, batch))
            writer.start()
            end = time.monotonic() + 10
            while not probe.execute(text("SELECT 1 FROM pg_locks WHERE NOT granted")).first():
                assert time.monotonic() < end, "the batch never waited for the close"
                time.sleep(0.02)
            probe.rollback()
            # the batch waits for the low sheet holding nothing else: the close can take the next one
            close.execute(text("SELECT id FROM attempt WHERE id = :id FOR UPDATE NOWAIT"), {"id": high})
            close.rollback()
            writer.join(10)
    assert all(item.done and item.error is None and item.row for item in batch)
    assert stored(app, low, qid_low) == stored(app, high, qid_high) == "A"
