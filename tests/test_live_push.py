"""The live push's feeds (quiz/live_push.py): one build per burst of changes, frames encoded once
and identical to the state as JSON, no database work when a known phone reconnects, polling when
no events come from the other workers, and the gevent check on the database driver."""
from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy import event

from quiz import live_push
from quiz.extensions import db
from quiz.models.live import LiveContest
from quiz.urls import public_url
from tests.test_live import TEAMS, _host, _join, _setup


def _contest(app):
    contest_id = _setup(app, [{"type": "共答", "rules": [{"type": "单选", "count": 2}]}])
    with app.app_context():
        return contest_id, db.session.get(LiveContest, contest_id).join_code


def test_a_burst_of_changes_makes_one_build_and_states_never_go_back(app, client, users, tree, token_for):
    contest_id, code = _contest(app)
    app.config["LIVE_PUSH_MIN_INTERVAL"] = 0
    with app.test_request_context():
        feed = live_push.feeds(app).feed(contest_id)
        first = feed.current()
        assert feed.builds == 1 and feed.current() is first  # nothing changed: no new build
        for _ in range(50):
            feed.changed()
        assert feed.current().generation == 50 and feed.builds == 2
        assert first.content == feed.current().content  # the same content: streams send nothing new
    phone = _join(client, code, TEAMS[0][2][0])  # a join publishes an event: the next state has the player
    with app.test_request_context():
        state = feed.current()
        assert feed.builds == 3 and state.generation == 51 and state.content == first.content + 1
        assert phone["state"]["contest"]["players"] == 1 == state.snap.public["contest"]["players"]
        assert state.event_id >= 1


def test_frames_are_the_state_as_json_with_the_phones_own_part(app, client, users, tree, token_for):
    contest_id, code = _contest(app)
    phone = _join(client, code, TEAMS[1][2][0])
    _host(client, token_for("admin"), contest_id, "open")
    with app.test_request_context():
        join_url = public_url("live.join", code=code)
        state = live_push.feeds(app).feed(contest_id).current()

        def data(frame: bytes) -> dict:
            head, _sep, body = frame.decode().partition("data: ")
            assert head == f"id: {state.event_id}\nevent: state\n" and body.endswith("\n\n")
            return json.loads(body)

        entrant = next(e for e, m in state.snap.mine.items() if m["entrant"] == TEAMS[1][0])
        mine = data(state.frame("player", join_url, phone["player_id"], entrant))
        public = {k: v for k, v in state.snap.public.items() if k != "scores"}  # a phone gets no scoreboard
        assert mine == {**public, "contest": {**public["contest"], "join_url": join_url},
                        "me": {"player": phone["player_id"], **state.snap.mine[mine["me"]["entrant_id"]]}}
        assert mine["me"]["entrant"] == TEAMS[1][0] and mine["question"]["stem"] and "scores" not in mine
        assert data(state.frame("player", join_url, 7, 99999))["me"] == {"player": 7}  # no such entrant
        screen = data(state.frame("screen", join_url))
        assert "me" not in screen and "run_sheet" not in screen and screen["contest"]["join_url"] == join_url
        assert [s["name"] for s in screen["scores"]] == [name for name, _unit, _phones in TEAMS]
        assert data(state.frame("host", join_url))["run_sheet"]
        assert state.frame("screen", join_url) is state.frame("screen", join_url)  # encoded once


def test_a_known_phone_reconnects_without_a_database_query(app, client, users, tree):
    contest_id, code = _contest(app)
    phone = _join(client, code, TEAMS[0][2][0])
    queries = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: queries.append(args[2])  # noqa: E731
    response = client.get(f"/live/{contest_id}/stream?token={phone['token']}", buffered=False)
    response.close()
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for _ in range(3):
            response = client.get(f"/live/{contest_id}/stream?token={phone['token']}", buffered=False)
            chunks = iter(response.response)
            assert next(chunks) == b"retry: 2000\n\n" and b'"me":{"player":' in next(chunks)
            response.close()
        assert queries == []
        wrong = phone["token"][:-2] + ("AA" if not phone["token"].endswith("AA") else "BB")
        assert client.get(f"/live/{contest_id}/stream?token={wrong}").status_code == 401
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert client.get("/live/4242/stream").status_code == 404
    assert 4242 not in live_push.feeds(app)._feeds


def test_several_workers_without_events_from_each_other_poll(app, users, tree):
    contest_id, _code = _contest(app)
    with app.test_request_context():
        feed = live_push.feeds(app).feed(contest_id)
        assert not feed.polling()
        first = feed.current()
        feed.workers = 2  # e.g. gunicorn -w 2 without REDIS_URL: other workers' changes never arrive
        assert feed.polling() and feed.current() is first
        first.built -= live_push.POLL
        assert feed.current() is not first and feed.builds == 2


def test_gevent_must_patch_before_the_database_driver_is_imported():
    script = ("import sys\n"
              "if sys.argv[1] == 'late':\n    import psycopg\n"
              "from gevent import monkey\nmonkey.patch_all()\nimport psycopg\n"
              "from quiz.live_push import gevent_problem\nprint(gevent_problem())\n")
    late = subprocess.run([sys.executable, "-c", script, "late"], capture_output=True, text=True, timeout=60)
    assert "psycopg was imported before gevent patched" in late.stdout, late.stderr
    right = subprocess.run([sys.executable, "-c", script, "right"], capture_output=True, text=True, timeout=60)
    assert right.stdout.strip() == "None", right.stderr
    assert live_push.gevent_problem() is None  # this process is not under gevent


def test_phones_events_are_spaced_but_a_hosts_command_is_built_at_once(app, client, users, tree, token_for,
                                                                        monkeypatch):
    """Joins and buzzes arriving in a storm share builds at least LIVE_PUSH_MIN_INTERVAL apart; the
    host's command (close, next: the change the hall waits for) is built without that wait."""
    contest_id, code = _contest(app)
    app.config["LIVE_PUSH_MIN_INTERVAL"] = 30  # any wait would show
    sleeps: list[float] = []
    monkeypatch.setattr(live_push.time, "sleep", sleeps.append)
    with app.test_request_context():
        feed = live_push.feeds(app).feed(contest_id)
        feed.current()
    _join(client, code, TEAMS[0][2][0])  # a phone's event: the next build waits for the interval
    with app.test_request_context():
        assert feed.current().snap.public["contest"]["players"] == 1
    # the rest of the 30 s since the last build (what the join between took is already gone; a
    # loaded box took 1.3 s for it once)
    assert len(sleeps) == 1 and 20 < sleeps[0] <= 30
    _host(client, token_for("admin"), contest_id, "open")  # a host's command: built at once
    with app.test_request_context():
        assert feed.current().snap.public["question"] is not None
    assert len(sleeps) == 1


def test_one_builder_per_feed_wakes_each_stream_once_per_state(app, client, users, tree, token_for):
    """The feed's builder builds after events and wakes the streams with the state: a burst of
    events that changes nothing a screen sees sends the screen nothing (a keep-alive when due), the
    host's console gets the new build; a host's command reaches both; the builder stops with the
    last stream."""
    import threading

    contest_id, code = _contest(app)
    app.config["LIVE_PUSH_MIN_INTERVAL"] = 0
    with app.test_request_context():
        feed = live_push.feeds(app).feed(contest_id)
        screen = live_push.frames(feed, role="screen", join_url="u", heartbeat=0.5)
        host = live_push.frames(feed, role="host", join_url="u", heartbeat=30)
        assert next(screen) == next(host) == b"retry: 2000\n\n"
        assert b'"phase":"lobby"' in next(screen) and b'"run_sheet"' in next(host)
        assert feed.streams == 2 and feed._builder is not None  # attached with their first frames
        got: dict[str, list] = {"screen": [], "host": []}

        def read(name, gen, count):
            with app.test_request_context():
                for _ in range(count):
                    got[name].append(next(gen))

        readers = [threading.Thread(target=read, args=("screen", screen, 1)),
                   threading.Thread(target=read, args=("host", host, 1))]
        for reader in readers:
            reader.start()
        for _ in range(100):
            if feed.streams == 2 and feed._builder is not None:
                break
            threading.Event().wait(0.01)
        builds = feed.builds
        for _ in range(30):
            feed.changed()  # nothing a viewer sees changes
        for reader in readers:
            reader.join(5)
        assert got["screen"] == [b": keep-alive\n\n"]  # no state: nothing a screen sees changed
        assert len(got["host"]) == 1 and b'"run_sheet"' in got["host"][0]  # the host gets the new build
        assert 1 <= feed.builds - builds <= 3  # one build per build-time, not one per event

        reader = threading.Thread(target=read, args=("screen", screen, 1))
        reader.start()
        _host(client, token_for("admin"), contest_id, "open")  # a host's command: the question shows
        reader.join(5)
        assert b'"stem":"' in got["screen"][-1]
        screen.close()
        host.close()
        for _ in range(100):
            if feed._builder is None:
                break
            threading.Event().wait(0.02)
        assert feed.streams == 0 and feed._builder is None


def test_no_garbage_collection_while_a_hosts_command_reaches_the_streams(app, users, tree):
    """A host's command (an urgent event) turns the collector off in the process until its streams
    have written the new state, or LIVE_PUSH_GC_HOLD seconds at the latest; a collector that was
    already off is left alone."""
    import gc
    import threading

    contest_id, _code = _contest(app)
    hold = live_push.gc_hold
    hold.release()  # a host's command of an earlier test may still hold it
    assert gc.isenabled() and not hold.held
    try:
        with app.test_request_context():
            feed = live_push.feeds(app).feed(contest_id)
            screen = live_push.frames(feed, role="screen", join_url="u", heartbeat=30)
            next(screen)
            feed.changed(urgent=True)
            assert not gc.isenabled() and hold.held
            assert b"event: state" in next(screen)  # the one stream writes the command's state …
            reader = threading.Thread(target=lambda: next(screen, None), daemon=True)
            reader.start()  # … and asks for the next: the command has reached every stream here
            for _ in range(100):
                if gc.isenabled():
                    break
                threading.Event().wait(0.01)
            assert gc.isenabled() and not hold.held
            feed._publish(None)  # the contest is gone: the stream ends
            reader.join(5)

            feed.gc_hold = 0.2  # no stream writes it: released after the hold's time
            feed.changed(urgent=True)
            assert not gc.isenabled()
            for _ in range(100):
                if gc.isenabled():
                    break
                threading.Event().wait(0.01)
            assert gc.isenabled() and not hold.held

            gc.disable()  # off already (not by the feed): left off
            feed.changed(urgent=True)
            hold.release()
            assert not gc.isenabled() and not hold.held
    finally:
        hold.release()
        gc.enable()
