"""Live stage contests on the web: the organiser's list and set-up, the host console, the big
screen, the phone (join and play), and the push stream (Server-Sent Events) they all listen to.

The stream: EventSource connects to /live/<id>/stream (a player adds ?token=…; a logged-in
organiser who may view the contest gets the host's view); it first gets the current state, then a
new state after every change (events on channel "live:<id>", from any process or host through
Redis; changes close together make one state), and the host also every second while a question
answered on phones runs (its "answered" counter). EventSource reconnects by itself (to any worker
or host) and gets the current state at once. Each process builds a state once per change however
many phones listen, encodes it once, and holds no database connection between states
(quiz/live_push.py; served by gunicorn's gevent workers, docs/deployment.md "Live contests").
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template, request
from flask_login import current_user

from quiz import live_push
from quiz.errors import QuizError
from quiz.extensions import db
from quiz.forms import EmptyForm
from quiz.inputs import json_body
from quiz.models.base import utcnow
from quiz.models.live import LiveContest
from quiz.services import live as live_service
from quiz.services import scope
from quiz.urls import public_url
from quiz.views.auth import manager_required

bp = Blueprint("live", __name__)

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
        if isinstance(body.get(key), str):
            body[key] = body[key].lower() in ("1", "true", "yes", "on", "y")
    live_service.command(contest, command, body, actor=current_user, now=utcnow())
    db.session.commit()
    return jsonify(live_service.public_state(contest, now=utcnow(), host=True))


@bp.route("/live/<int:contest_id>/screen")
def screen(contest_id: int):
    """The big screen (public, no interaction): it shows what the stream sends."""
    contest = db.get_or_404(LiveContest, contest_id)
    return render_template("live/screen.html", contest=contest,
                           join_url=public_url("live.join", code=contest.join_code))


# ---------------------------------------------------------------- phones
@bp.route("/l/<code>")
def join(code: str):
    """The phone's page: join (name, phone, unit or team code), then wait, answer, buzz."""
    contest = live_service.contest_by_code(code)
    return render_template("live/phone.html", contest=contest)


# ---------------------------------------------------------------- the stream
@bp.route("/live/<int:contest_id>/stream")
def stream(contest_id: int):
    """Server-Sent Events (quiz/live_push.py): the current state at once, then one after each change.
    A phone (?token=) gets its own standing in "me"; an organiser who may view the contest, the
    host's state; anyone else the big screen's. Reconnecting costs no database query when this
    process knows the contest and the phone already."""
    pushed = live_push.feeds()
    feed = pushed.feed(contest_id)
    state = feed.current()
    if state is None:
        pushed.forget(contest_id)
        abort(404)
    role, player = "screen", None
    token = request.args.get("token")
    if token:
        role, player = "player", pushed.player(contest_id, token)
    elif current_user.is_authenticated:
        contest = db.session.get(LiveContest, contest_id)
        if contest is not None and _access(contest) is not None:
            role = "host"
    join_url = public_url("live.join", code=state.snap.public["contest"]["code"])
    frames = live_push.frames(feed, role=role, join_url=join_url, player_id=player.id if player else None,
                              entrant_id=player.entrant_id if player else None)
    db.session.remove()  # the stream holds no database connection while it waits
    headers = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}
    return Response(frames, mimetype="text/event-stream", headers=headers)
