"""Live stage contests on the web: the organiser's list and set-up, the host console, the big
screen, the phone (join and play), and the push stream (Server-Sent Events) they all listen to.

The stream: EventSource connects to /live/<id>/stream (a player adds ?token=…; a logged-in
organiser who may view the contest gets the host's view); it first gets the current state, then a
new state after every change (events on channel "live:<id>", from any process or host through
Redis), and every second while a question answered on phones runs (its counter). EventSource
reconnects by itself with Last-Event-ID and gets the current state at once. Each process builds a
state once per change (a per-process cache keyed by the contest's latest event), however many
phones listen, and releases its database connection between states.
"""
from __future__ import annotations

import json
import threading
import time

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_login import current_user

from quiz import events
from quiz.errors import QuizError
from quiz.extensions import client_ip, db
from quiz.forms import EmptyForm
from quiz.inputs import json_body, parse_bool
from quiz.models import Quiz
from quiz.models.base import utcnow
from quiz.models.live import LiveContest
from quiz.services import guards
from quiz.services import live as live_service
from quiz.services import scope
from quiz.urls import public_url
from quiz.views.auth import manager_required
from quiz.views.play import audience_units
from quiz.views.quizzes import qr_svg

bp = Blueprint("live", __name__)

HEARTBEAT = 15.0  # seconds between keep-alive comments on an idle stream


# ---------------------------------------------------------------- organiser pages
@bp.route("/live/")
@manager_required
def index():
    contests = [c for c in db.session.execute(db.select(LiveContest).order_by(LiveContest.id.desc())).scalars()
                if _access(c) is not None]
    return render_template("live/index.html", contests=contests)


def _access(contest: LiveContest) -> str | None:
    try:
        live_service.require_contest(current_user, contest, scope.VIEW)
    except QuizError:
        return None
    return scope.MANAGE if _manages(contest) else scope.VIEW


def _manages(contest: LiveContest) -> bool:
    try:
        live_service.require_contest(current_user, contest)
    except QuizError:
        return False
    return True


@bp.route("/live/<int:contest_id>/host")
@manager_required
def host(contest_id: int):
    """The host's console (run sheet, commands, buzz order with raw and corrected times, ledger)."""
    contest = live_service.get_contest(contest_id, actor=current_user)
    return render_template("live/host.html", contest=contest, form=EmptyForm(),
                           state=live_service.public_state(contest, now=utcnow(), host=True),
                           join_url=public_url("live.join", code=contest.join_code))


@bp.post("/live/<int:contest_id>/host/<command>")
@manager_required
def host_command(contest_id: int, command: str):
    """A host command from the console (session and CSRF token, like every form) → the host's state."""
    contest = live_service.get_contest(contest_id, actor=current_user)
    body = json_body() if request.is_json else request.form.to_dict()
    for key in ("right", "on"):
        if isinstance(body.get(key), str):  # form posts send words
            body[key] = parse_bool(body[key], key)
    live_service.command(contest, command, body, actor=current_user, now=utcnow())
    db.session.commit()
    return jsonify(live_service.public_state(contest, now=utcnow(), host=True))


@bp.route("/live/<int:contest_id>/screen")
def screen(contest_id: int):
    """The big screen (public, no interaction): it shows what the stream sends (the public view,
    even in an organiser's browser), starting from the state embedded in the page."""
    contest = db.get_or_404(LiveContest, contest_id)
    join_url = public_url("live.join", code=contest.join_code)
    return render_template("live/screen.html", contest=contest, join_url=join_url, qr=qr_svg(join_url),
                           state=live_service.public_state(contest, now=utcnow()))


@bp.route("/live/clock")
def clock():
    """The server's time, for screens and phones to measure their clock's offset (countdowns)."""
    return jsonify({"server_time": utcnow().isoformat()}), 200, {"Cache-Control": "no-store"}


# ---------------------------------------------------------------- phones
@bp.route("/l/<code>")
def join(code: str):
    """The phone's page: join (name, phone, unit or team code), then wait, answer, buzz. The code
    is guarded like a quiz's join code (wrong guesses are counted per address)."""
    contest = guards.live_for_code(code, address=client_ip())
    quiz = db.session.get(Quiz, contest.quiz_id)
    return render_template("live/phone.html", contest=contest, units=audience_units(quiz),
                           access_code=bool(quiz.access_code_required))


# ---------------------------------------------------------------- the stream
class _Snapshots:
    """Per process: the latest snapshot of each contest, built for the contest's latest event id
    (and, while a question answered on phones runs, for the current second: its counter)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.entries: dict[int, tuple[int, int, live_service.Snapshot]] = {}

    def get(self, app, contest_id: int, seen: int) -> live_service.Snapshot | None:
        second = int(time.time())
        with self.lock:
            hit = self.entries.get(contest_id)
            if hit is not None and hit[0] == seen and (not hit[2].running or hit[1] == second):
                return hit[2]
            with app.app_context():
                try:
                    contest = db.session.get(LiveContest, contest_id)
                    if contest is None:
                        return None
                    snap = live_service.snapshot(contest, now=utcnow())
                finally:
                    db.session.remove()  # no connection is held between states
            self.entries[contest_id] = (seen, second, snap)
            return snap


_snapshots = _Snapshots()


def clear_snapshots() -> None:
    """Forget the cached states (tests: contest ids and event ids start again after the tables are
    emptied, so a cached state could pass for another contest's)."""
    with _snapshots.lock:
        _snapshots.entries.clear()


def _viewer(contest: LiveContest):
    """("host", None) for an organiser who may view the contest, ("player", player) with a valid
    ?token=, else ("screen", None); ?view=screen asks for the public view (the big screen, which
    must never show the host's answer, also when opened in an organiser's browser)."""
    token = request.args.get("token")
    if token:
        return "player", live_service.player_for_token(contest, token)
    if request.args.get("view") == "screen":
        return "screen", None
    if current_user.is_authenticated and _access(contest) is not None:
        return "host", None
    return "screen", None


@bp.route("/live/<int:contest_id>/stream")
def stream(contest_id: int):
    contest = db.session.get(LiveContest, contest_id)
    if contest is None:
        abort(404)
    role, player = _viewer(contest)
    player_id = player.id if player is not None else None
    entrant_id = player.entrant_id if player is not None else None
    channel = live_service.channel(contest_id)
    last = events.parse_last_event_id(request.headers.get("Last-Event-ID") or request.args.get("last_event_id"))
    subscription = events.listen([channel], last)
    app = current_app._get_current_object()
    start = events.last_id(channel) if last is None else last
    join_url = public_url("live.join", code=contest.join_code)
    db.session.remove()  # the stream holds no database connection while it waits

    def frames():
        sent, seen = None, start
        try:
            yield "retry: 2000\n\n"
            while not subscription.closed:
                snap = _snapshots.get(app, contest_id, seen)
                if snap is None:
                    return
                body = _for(snap, role, player_id, entrant_id)
                body = {**body, "contest": {**body["contest"], "join_url": join_url}}
                text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
                if text != sent:
                    yield f"id: {seen}\nevent: state\ndata: {text}\n\n"
                    sent = text
                event = subscription.get(1.0 if snap.running else HEARTBEAT)
                if event is None:
                    if not snap.running:
                        yield ": keep-alive\n\n"
                    continue
                seen = max(seen, event.id) if event.type != events.RESET else seen + 1
        finally:
            subscription.close()

    headers = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
    return Response(frames(), mimetype="text/event-stream", headers=headers)


def _for(snap: live_service.Snapshot, role: str, player_id: int | None, entrant_id: int | None) -> dict:
    if role == "host":
        return snap.host
    if role == "player":
        return {**snap.public, "me": {"player": player_id, **snap.mine.get(entrant_id, {})}}
    return snap.public
