"""Events (quiz/events.py): delivered only after the transaction that published them commits,
dropped on rollback, ids per channel for SSE replay; through Redis to other apps (processes), and
the caches built on them: two app servers on one database see each other's changes."""
from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta

import pytest

from quiz import create_app, events
from quiz.extensions import db
from quiz.models import Question, Quiz, Unit
from quiz.models.base import utcnow
from quiz.services import attempts as svc
from tests.quizdata import make_quiz, right_response

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


@pytest.fixture
def received():
    """Events reaching a handler on channel test:*, as (app name, channel, id, type, data)."""
    seen = []

    def handler(event):
        from flask import current_app

        seen.append((current_app.name_for_test, event.channel, event.id, event.type, event.data))

    events.subscribe("test:*", handler)
    yield seen
    events._handlers.remove(("test:*", handler))


def _name(app, name):
    app.name_for_test = name
    return app


# ------------------------------------------------------------------ in-process backend
def test_delivered_after_commit_and_dropped_on_rollback(app, received):
    _name(app, "a")
    with app.app_context():
        db.session.execute(db.select(Unit.id)).all()  # a transaction is open
        events.publish("test:1", "hello", {"n": 1})
        assert received == []  # not before the commit
        db.session.commit()
        assert received == [("a", "test:1", 1, "hello", {"n": 1})]

        db.session.execute(db.select(Unit.id)).all()
        events.publish("test:1", "lost", {})
        db.session.rollback()
        db.session.commit()
        assert [r[3] for r in received] == ["hello"]

        # a savepoint that rolls back takes its events with it; the outer ones stay
        db.session.execute(db.select(Unit.id)).all()
        events.publish("test:1", "outer", {})
        try:
            with db.session.begin_nested():
                events.publish("test:1", "inner", {})
                raise RuntimeError("roll the savepoint back")
        except RuntimeError:
            pass
        with db.session.begin_nested():
            events.publish("test:1", "kept", {})
        db.session.commit()
        assert [r[3] for r in received] == ["hello", "outer", "kept"]
        assert [r[2] for r in received] == [1, 2, 3]  # ids per channel, increasing

        events.publish("test:2", "now", {})  # no transaction open: at once
        assert received[-1][1:4] == ("test:2", 1, "now")
        with pytest.raises(TypeError):
            events.publish("test:1", "bad", {"x": object()})  # JSON only, checked at the call


def test_session_closed_without_commit_drops_its_events(app, received):
    _name(app, "a")
    with app.app_context():
        db.session.execute(db.select(Unit.id)).all()
        events.publish("test:1", "never", {})
        db.session.remove()
        db.session.execute(db.select(Unit.id)).all()
        db.session.commit()
    assert received == []


def test_listen_replays_after_the_last_id_then_goes_live(app):
    with app.app_context():
        for n in range(5):
            events.publish("test:9", "tick", {"n": n})
        with events.listen(["test:9"], last_event_id=3) as sub:
            assert [(e.id, e.data["n"]) for e in (sub.get(0), sub.get(0))] == [(4, 3), (5, 4)]
            assert sub.get(0) is None
            events.publish("test:9", "tick", {"n": 5})
            event = sub.get(1)
            assert (event.id, event.type) == (6, "tick")
            assert event.sse() == 'id: 6\nevent: tick\ndata: {"n": 5}\n\n'
        assert events.last_id("test:9") == 6


def test_listen_says_reset_when_the_history_no_longer_reaches_back(app):
    app.extensions["events"].history_size = 3
    app.extensions["events"]._history.clear()
    with app.app_context():
        for n in range(6):
            events.publish("test:5", "tick", {"n": n})
        with events.listen(["test:5"], last_event_id=1) as sub:
            first = sub.get(0)
            assert first.type == events.RESET  # events 2 and 3 are gone: reload the whole state
            assert [sub.get(0).id for _ in range(3)] == [4, 5, 6]


def test_a_quiz_change_publishes_on_its_channel(app, tree):
    """Submissions, freezes, closes: each is an event on quiz:<id> with JSON data."""
    with app.app_context():
        quiz = make_quiz(now=utcnow() - timedelta(minutes=5))
        channel = events.quiz_channel(quiz.id)
        db.session.commit()
        with events.listen([channel], last_event_id=0) as sub:
            attempt = svc.join(quiz, name="张三", phone="13800000001", unit_path="乔司街道/三角村社区",
                               now=utcnow()).attempt
            svc.submit(attempt, now=utcnow())
            assert sub.get(0) is None  # not committed yet
            db.session.commit()
            sheet = sub.get(1)
            assert sheet.type == "sheet" and sheet.data["attempt"] == attempt.id
            assert sheet.data["name"] == "张三" and sheet.data["unit"] == "乔司街道/三角村社区"
            from quiz.services.quizzes import close_quiz, set_freeze

            set_freeze(quiz, None, actor=None, now=utcnow())
            db.session.commit()
            assert sub.get(1).type == "freeze"
            close_quiz(quiz, actor=None)
            assert sub.get(1).type == "closed"


# ------------------------------------------------------------------ Redis
def _redis_or_skip():
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:  # pragma: no cover - depends on the machine
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {exc}")


def _server(database_url, tmp_path, prefix, name, **extra):
    """One 'app server': its own app, engine, caches and events listener, on the shared database."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                      "WTF_CSRF_ENABLED": False, "UPLOAD_FOLDER": str(tmp_path / "uploads"),
                      "REDIS_URL": REDIS_URL, "EVENTS_PREFIX": prefix, **extra})
    return _name(app, name)


def _listening(*apps, timeout=10.0):
    end = time.monotonic() + timeout
    for app in apps:
        while not events.shared(app):
            assert time.monotonic() < end, "the Redis listener did not subscribe"
            time.sleep(0.02)


@pytest.fixture
def servers(app, database_url, tmp_path):
    """Two app servers sharing the test database and one Redis (a prefix of their own)."""
    _redis_or_skip()
    prefix = f"test-events-{uuid.uuid4().hex[:8]}:"
    a = _server(database_url, tmp_path, prefix, "a")
    b = _server(database_url, tmp_path, prefix, "b")
    _listening(a, b)
    yield a, b
    for one in (a, b):
        one.extensions["events"].stop()
        with one.app_context():
            db.session.remove()
            db.engine.dispose()
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def _until(check, timeout=1.0):
    """True once check() is, polling for at most `timeout` seconds."""
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def test_redis_carries_events_to_the_other_server_once(servers, received):
    a, b = servers
    with a.app_context():
        db.session.execute(db.select(Unit.id)).all()
        events.publish("test:7", "hello", {"n": 1})
        time.sleep(0.2)
        assert received == []  # nothing leaves before the commit
        db.session.commit()
    assert _until(lambda: len(received) == 2)
    time.sleep(0.2)  # and nothing arrives twice (a's own event comes back from Redis, and is skipped)
    assert sorted(received) == [("a", "test:7", 1, "hello", {"n": 1}), ("b", "test:7", 1, "hello", {"n": 1})]
    with b.app_context():
        events.publish("test:7", "again", {})
        assert events.last_id("test:7") == 2  # one id sequence for every server
        with events.listen(["test:7"], last_event_id=0) as sub:  # replayed from Redis
            assert [(e.id, e.type) for e in (sub.get(1), sub.get(1))] == [(1, "hello"), (2, "again")]


def test_two_servers_on_one_database_see_each_others_changes(servers, tree):
    """A submission, a freeze and a bank edit on server a are on server b within a second,
    although b had the board and the bank pool cached."""
    a, b = servers
    start = utcnow() - timedelta(minutes=30)
    with a.app_context():
        quiz = make_quiz(now=start, paper_mode="random")
        quiz_id = quiz.id
        first = svc.join(quiz, name="甲", phone="13800000001", unit_path="乔司街道/三角村社区", now=start).attempt
        svc.submit(first, now=start + timedelta(seconds=40))
        db.session.commit()
    reader = b.test_client()

    def names():
        return [e["name"] for e in reader.get(f"/api/v1/quizzes/{quiz_id}/leaderboard").get_json()["entries"]]

    assert names() == ["甲"]  # b builds its snapshot now
    with b.app_context():
        from quiz.services.papers import cached_pool

        pool = {q.id for q in cached_pool([bank.id for bank in db.session.get(Quiz, quiz_id).banks])}
        db.session.remove()
    with a.app_context():
        quiz = db.session.get(Quiz, quiz_id)
        second = svc.join(quiz, name="乙", phone="13800000002", unit_path="乔司街道/永丰村", now=start).attempt
        questions = svc.questions_by_id([e["q"] for e in second.paper])
        for entry in second.paper:
            svc.save_answer(second, entry["q"], right_response(questions[entry["q"]], entry),
                            now=start + timedelta(seconds=5))
        svc.submit(second, now=start + timedelta(seconds=30))
        db.session.commit()
    assert _until(lambda: names() == ["乙", "甲"])

    with a.app_context():
        from quiz.services.quizzes import set_freeze

        set_freeze(db.session.get(Quiz, quiz_id), None, actor=None, now=utcnow())
        db.session.commit()
    assert _until(lambda: reader.get(f"/api/v1/quizzes/{quiz_id}/leaderboard").get_json()["frozen_at"] is not None)

    retired = sorted(pool)[0]
    with a.app_context():
        from quiz.services.banks import set_retired

        set_retired(db.session.get(Question, retired), True, actor=None, now=utcnow())
        db.session.commit()
    with b.app_context():
        assert _until(lambda: retired not in {q.id for q in cached_pool(sorted(
            bank.id for bank in db.session.get(Quiz, quiz_id).banks))})
        db.session.remove()


def test_without_redis_another_server_is_seen_after_board_max_age(app, database_url, tmp_path, tree):
    """No REDIS_URL: events stay in their process, so a snapshot is re-validated with one query
    after BOARD_MAX_AGE seconds."""
    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                        "BOARD_MAX_AGE": 0.3})
    start = utcnow() - timedelta(minutes=30)
    with app.app_context():
        quiz = make_quiz(now=start)
        quiz_id = quiz.id
        svc.submit(svc.join(quiz, name="甲", phone="13800000001", unit_path="乔司街道/三角村社区",
                            now=start).attempt, now=start + timedelta(seconds=40))
        db.session.commit()
    reader = other.test_client()
    url = f"/api/v1/quizzes/{quiz_id}/leaderboard"
    assert [e["name"] for e in reader.get(url).get_json()["entries"]] == ["甲"]
    with app.app_context():
        quiz = db.session.get(Quiz, quiz_id)
        svc.submit(svc.join(quiz, name="乙", phone="13800000002", unit_path="乔司街道/永丰村",
                            now=start).attempt, now=start + timedelta(seconds=50))
        db.session.commit()
    assert len(reader.get(url).get_json()["entries"]) == 1  # other did not hear of it …
    time.sleep(0.35)
    assert [e["name"] for e in reader.get(url).get_json()["entries"]] == ["甲", "乙"]  # … until it checked
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_sse_frames_for_a_stream(app):
    assert events.parse_last_event_id("41") == 41
    assert [events.parse_last_event_id(v) for v in (None, "", "-1", "4x", "１２", "9" * 30)] == [None] * 6
    with app.app_context():
        events.publish("test:3", "tick", {"n": 1})
        subscription = events.listen(["test:3"], last_event_id=events.parse_last_event_id("0"))
        frames = events.sse_frames(subscription, heartbeat=0.05)
        assert next(frames) == 'id: 1\nevent: tick\ndata: {"n": 1}\n\n'
        assert next(frames) == ": keep-alive\n\n"  # nothing new within the heartbeat
        events.publish("test:3", "tick", {"n": 2})
        assert next(frames).startswith("id: 2\n")
        frames.close()
        assert subscription.closed
