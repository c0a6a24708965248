"""The live contest's push stream (Server-Sent Events): the current state at once (also after a
reconnect with Last-Event-ID), a new state after each change, and what each viewer may see."""
from __future__ import annotations

import json
import threading
import time

from quiz.extensions import db
from quiz.models.live import LiveContest
from tests.test_live import TEAMS, _host, _join, _setup


def _frames(response, count: int, timeout: float = 10.0) -> list[dict]:
    """The first `count` state events of a streaming response, as JSON."""
    out, buffer, end = [], "", time.monotonic() + timeout
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            frame, buffer = buffer.split("\n\n", 1)
            lines = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line and not line.startswith(":"))
            if lines.get("event") == "state":
                out.append({"id": int(lines["id"]), **json.loads(lines["data"])})
        if len(out) >= count or time.monotonic() > end:
            break
    response.close()
    return out


def test_stream_pushes_the_state_to_screens_phones_and_the_host(app, client, users, tree, token_for):
    contest_id = _setup(app, [{"type": "抢答", "rules": [{"type": "单选", "count": 2}]}])
    token = token_for("admin")
    with app.app_context():
        code = db.session.get(LiveContest, contest_id).join_code
    phone = _join(client, code, TEAMS[0][2][0])

    screen = client.get(f"/live/{contest_id}/stream", buffered=False)
    assert screen.headers["Content-Type"].startswith("text/event-stream")
    assert screen.headers["Cache-Control"].startswith("no-cache") and screen.headers["X-Accel-Buffering"] == "no"
    timer = threading.Timer(0.5, lambda: _host(app.test_client(), token, contest_id, "open"))
    timer.start()
    first, second = _frames(screen, 2)
    timer.join()
    assert first["question"] is None and first["contest"]["phase"] == "lobby"
    assert "run_sheet" not in first and "me" not in first and first["contest"]["players"] == 1
    assert second["question"]["stem"].startswith("单选题") and "answer" not in second["question"]
    assert second["id"] > first["id"]

    # a phone gets its own standing; a reconnect with Last-Event-ID gets the current state at once
    mine = _frames(client.get(f"/live/{contest_id}/stream?token={phone['token']}", buffered=False), 1)[0]
    assert mine["me"]["entrant"] == TEAMS[0][0] and mine["me"]["may_buzz"] is True
    again = _frames(client.get(f"/live/{contest_id}/stream", headers={"Last-Event-ID": str(first["id"])},
                               buffered=False), 1)[0]
    assert again["question"]["id"] == second["question"]["id"]

    # the host (logged in) sees the run sheet and the answer; a wrong token is refused
    host_client = app.test_client()
    host_client.post("/login", data={"username": "admin", "password": "secret-pass"})
    hosted = _frames(host_client.get(f"/live/{contest_id}/stream", buffered=False), 1)[0]
    assert hosted["run_sheet"] and hosted["question"]["answer"] == "B"
    assert client.get(f"/live/{contest_id}/stream?token=1.bad").status_code == 401
    assert client.get("/live/999/stream").status_code == 404
