"""Phone slots (quiz/slots.py): phones' calls to a live contest use at most LIVE_PHONE_SLOTS of a
process's pooled connections, so the host's commands never queue behind a crowd of phones; a call
that finds no slot in time gets 503 with Retry-After, and a buzz that waited for a slot is still
timed by its arrival."""
from __future__ import annotations

import threading
import time
from datetime import datetime

from quiz import slots
from quiz.extensions import db
from quiz.models.live import LiveBuzz, LiveContest
from sqlalchemy import select
from tests.test_live import _host, _join, _setup


def test_slot_count_leaves_connections_for_the_host():
    assert slots.slot_count({"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 10, "max_overflow": 20}}) == 27
    assert slots.slot_count({"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 10, "max_overflow": 5},
                             "LIVE_HOST_RESERVE": 5}) == 10
    assert slots.slot_count({"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 2, "max_overflow": 0}}) == 1
    assert slots.slot_count({"LIVE_PHONE_SLOTS": 4, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 100}}) == 4


def _buzzer_contest(app):
    contest_id = _setup(app, [{"type": "抢答", "rules": [{"type": "单选", "count": 2}],
                               "settings": {"points": 20, "time_seconds": 60}}], mode="individuals")
    with app.app_context():
        return contest_id, db.session.get(LiveContest, contest_id).join_code


def test_phones_wait_for_a_slot_the_host_does_not(app, client, users, tree, token_for):
    app.config.update(LIVE_PHONE_SLOTS=1, LIVE_PHONE_SLOT_WAIT=0.05)
    contest_id, code = _buzzer_contest(app)
    token = token_for("admin")
    phone = _join(client, code, "13900000001", "选手1")
    headers = {"Authorization": f"Bearer {phone['token']}"}
    held = slots._slots(app)
    assert held.acquire(timeout=1)  # every phone slot is taken
    try:
        busy = client.post(f"/api/v1/live/{contest_id}/ping", headers=headers, json={})
        # Retry-After: 1 (Flask-Limiter raises it to its window's reset when an app-wide limit applies)
        assert busy.status_code == 503 and int(busy.headers["Retry-After"]) >= 1 and busy.get_json()["error"]
        assert client.get(f"/api/v1/live/{contest_id}/state", headers=headers).status_code == 503
        assert client.get(f"/live/{contest_id}/stream?token={phone['token']}").status_code == 503
        # the host's commands and the big screen's stream never wait for a phone slot
        assert _host(client, token, contest_id, "open").status_code == 200
        assert _host(client, token, contest_id, "start").status_code == 200
        screen = client.get(f"/live/{contest_id}/stream", buffered=False)
        assert screen.status_code == 200
        screen.close()
    finally:
        held.release()
    assert client.post(f"/api/v1/live/{contest_id}/ping", headers=headers, json={}).status_code == 200


def test_a_buzz_that_waited_for_a_slot_is_timed_by_its_arrival(app, users, tree, token_for):
    app.config.update(LIVE_PHONE_SLOTS=1, LIVE_PHONE_SLOT_WAIT=5)
    client = app.test_client()
    contest_id, code = _buzzer_contest(app)
    token = token_for("admin")
    phone = _join(client, code, "13900000001", "选手1")
    _host(client, token, contest_id, "open")
    _host(client, token, contest_id, "start")
    held = slots._slots(app)
    assert held.acquire(timeout=1)
    threading.Timer(1.5, held.release).start()  # the slot comes free 1.5 s after the buzz
    sent = datetime.now().astimezone()
    started = time.monotonic()
    reply = client.post(f"/api/v1/live/{contest_id}/buzz", headers={"Authorization": f"Bearer {phone['token']}"})
    assert reply.status_code == 200 and reply.get_json()["accepted"]
    assert time.monotonic() - started >= 1.4  # it did wait
    with app.app_context():
        buzz = db.session.execute(select(LiveBuzz)).scalar_one()
        assert (buzz.received_at - sent).total_seconds() < 0.75  # timed on arrival, not after the 1.5 s wait
