"""The big screen's and the phone's pages of a live contest (the server side; the browser test is
tests/browser/test_live_browser.py): the screen carries the join QR code and the current public
state, its stream stays public in an organiser's browser, the phone page offers the join form of
the contest's mode and is guarded against code guessing, and /live/clock gives the server time
that countdowns are corrected by."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from quiz.extensions import db
from quiz.models.live import LiveContest
from tests.test_live import _host, _join, _setup
from tests.test_live_stream import _frames

NAT = {"REMOTE_ADDR": "203.0.113.8"}
OTHER = {"REMOTE_ADDR": "198.51.100.10"}


def _embedded(html: str, element_id: str) -> dict:
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no #{element_id} in the page"
    return json.loads(match.group(1))


def _contest(app, contest_id):
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        return {"code": contest.join_code, "teams": {e.name: e.team_code for e in contest.entrants}}


def test_screen_page_has_the_join_qr_code_and_the_current_state(app, client, users, tree, token_for):
    contest_id = _setup(app, [{"type": "抢答", "rules": [{"type": "单选", "count": 2}]}])
    code = _contest(app, contest_id)["code"]
    _join(client, code, "13800000001")
    page = client.get(f"/live/{contest_id}/screen")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<svg" in html and "<path" in html  # the QR code, drawn by the qrcode library
    assert f"/l/{code}" in html and code in html
    assert re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", html) is None  # no inline script
    data = _embedded(html, "screen-data")
    assert data["state"]["contest"]["phase"] == "lobby" and data["state"]["contest"]["players"] == 1
    assert data["stream"].endswith(f"/live/{contest_id}/stream?view=screen")
    assert data["state"]["question"] is None and "run_sheet" not in data["state"]
    # once a question is open the page starts from it, without its answer
    _host(client, token_for("admin"), contest_id, "open")
    data = _embedded(client.get(f"/live/{contest_id}/screen").get_data(as_text=True), "screen-data")
    assert data["state"]["question"]["stem"].startswith("单选题") and "answer" not in data["state"]["question"]
    assert client.get("/live/999/screen").status_code == 404


def test_screen_stream_is_public_in_an_organisers_browser(app, client, users, tree, token_for):
    """The big screen is often opened on the host's laptop: with ?view=screen the stream sends the
    public state (no run sheet, no answer before the reveal), not the host's."""
    contest_id = _setup(app, [{"type": "抢答", "rules": [{"type": "单选", "count": 2}]}])
    _host(client, token_for("admin"), contest_id, "open")
    organiser = app.test_client()
    organiser.post("/login", data={"username": "admin", "password": "secret-pass"})
    hosted = _frames(organiser.get(f"/live/{contest_id}/stream", buffered=False), 1)[0]
    assert hosted["run_sheet"] and hosted["question"]["answer"] == "B"
    screen = _frames(organiser.get(f"/live/{contest_id}/stream?view=screen", buffered=False), 1)[0]
    assert "run_sheet" not in screen and "ledger" not in screen and "answer" not in screen["question"]
    assert screen["question"]["stem"] == hosted["question"]["stem"]
    page = organiser.get(f"/live/{contest_id}/screen").get_data(as_text=True)
    assert "answer" not in _embedded(page, "screen-data")["state"]["question"]


def test_phone_page_offers_the_join_form_of_the_contest(app, client, users, tree):
    teams_id = _setup(app, [{"type": "共答", "rules": [{"type": "判断", "count": 1}]}])
    code = _contest(app, teams_id)["code"]
    page = client.get(f"/l/{code.lower()}")  # codes are read in any case
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="join"' in html and 'name="team_code"' in html and 'name="phone"' in html
    assert '<option value="乔司街道/三角村社区">' in html  # units to pick from
    data = _embedded(html, "phone-data")
    assert data["join"] == f"/api/v1/live/join/{code}" and data["contest"] == teams_id
    assert data["stream"] == f"/live/{teams_id}/stream" and data["answers"] == "/api/v1/attempts/0/answers/0"
    assert data["mode"] == "teams" and data["i18n"]["waiting_start"]


def test_individuals_phone_page_has_no_team_code(app, client, users, tree):
    contest_id = _setup(app, [{"type": "共答", "rules": [{"type": "判断", "count": 1}]}], mode="individuals")
    html = client.get(f"/l/{_contest(app, contest_id)['code']}").get_data(as_text=True)
    assert 'id="join"' in html and 'name="team_code"' not in html
    assert _embedded(html, "phone-data")["mode"] == "individuals"


def test_guessing_live_codes_on_the_phone_page_is_limited(app, client, users, tree):
    contest_id = _setup(app, [{"type": "抢答", "rules": [{"type": "单选", "count": 1}]}])
    code = _contest(app, contest_id)["code"]
    wrong = "AAAAAA" if code != "AAAAAA" else "BBBBBB"
    for _ in range(100):
        assert client.get(f"/l/{wrong}", environ_base=NAT).status_code == 404
    refused = client.get(f"/l/{code}", environ_base=NAT)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert client.get(f"/l/{code}", environ_base=OTHER).status_code == 200


def test_clock_gives_the_server_time_uncached(client):
    before = datetime.now(timezone.utc)
    reply = client.get("/live/clock")
    after = datetime.now(timezone.utc)
    assert reply.status_code == 200 and reply.headers["Cache-Control"] == "no-store"
    moment = datetime.fromisoformat(reply.get_json()["server_time"])
    assert before - timedelta(seconds=1) <= moment <= after + timedelta(seconds=1)
    assert reply.headers["X-Content-Type-Options"] == "nosniff"  # the security headers, as on every response


def test_the_clock_is_served_in_front_of_flask_with_the_views_body(app, client, monkeypatch):
    """Phones ping /live/clock every few seconds: the board lane answers it without Flask, with the
    body the Flask view gives (services/live.py server_clock)."""
    from quiz.services import live as live_service
    from quiz.views import live as live_views

    fixed = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
    monkeypatch.setattr("quiz.board_lane.utcnow", lambda: fixed)
    monkeypatch.setattr(live_views, "utcnow", lambda: fixed + timedelta(hours=1))  # the view's clock differs
    called = []
    monkeypatch.setattr(live_service, "server_clock", lambda now: called.append(now) or {"server_time": now.isoformat()})
    lane = client.get("/live/clock")
    assert lane.get_json() == {"server_time": fixed.isoformat()} and called == [fixed]  # the lane answered
    with app.test_request_context():
        view_body, status, headers = live_views.clock()
    assert view_body.get_json() == {"server_time": (fixed + timedelta(hours=1)).isoformat()}
    assert status == 200 and headers["Cache-Control"] == lane.headers["Cache-Control"] and len(called) == 2


def test_a_live_contests_code_typed_on_the_quiz_code_page_opens_the_phone_page(app, client, users, tree):
    """People type whatever code they were given into /j: a live contest's code leads to its phone
    page; an unknown code is still refused (and counted) as before."""
    from tests.test_live import _setup

    contest_id = _setup(app, [{"type": "共答", "rules": [{"type": "判断", "count": 1}]}])
    with app.app_context():
        code = db.session.get(LiveContest, contest_id).join_code
    typed = client.post("/j", data={"code": code.lower()}, follow_redirects=False)
    assert typed.status_code == 302 and typed.headers["Location"].endswith(f"/j/{code}")
    page = client.get(f"/j/{code}")
    assert page.status_code == 302 and page.headers["Location"].endswith(f"/l/{code}")
    assert client.get(f"/l/{code}").status_code == 200
    assert client.get("/j/NOSUCH9").status_code == 404
