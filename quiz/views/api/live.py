"""API: live stage contests — set-up and host commands (organisers, API token) and the phone side
(join, state, ping, buzz, stake; a player token). Answers on phones are ordinary answer-sheet saves
(PUT /api/v1/attempts/<sheet>/answers/<question>); the push stream is in quiz/views/live.py."""
from __future__ import annotations

from flask import g, jsonify, request, url_for
from flask_babel import gettext as _

from quiz import live_push
from quiz.errors import QuizError
from quiz.extensions import client_ip, db
from quiz.inputs import json_body
from quiz.models.base import utcnow
from quiz.services import attempts as attempt_service
from quiz.services import guards
from quiz.services import live as live_service
from quiz.services import joins
from quiz.slots import phone_request
from quiz.urls import public_url
from quiz.views.api.common import bp, token_required


def _links(contest) -> dict:
    return {"id": contest.id, "join_code": contest.join_code, "join_url": public_url("live.join", code=contest.join_code),
            "host_url": url_for("live.host", contest_id=contest.id, _external=True),
            "screen_url": url_for("live.screen", contest_id=contest.id, _external=True)}


@bp.post("/live")
@token_required
def create_live():
    """A live contest with its entrants and rounds → 201 {"id", "join_code", "join_url", "host_url", "screen_url"}."""
    contest = live_service.create_contest(json_body(), actor=g.api_user, now=utcnow())
    db.session.commit()
    return jsonify(_links(contest)), 201


@bp.get("/live/<int:contest_id>")
@token_required
def live_state(contest_id: int):
    """Everything the host's console shows: the state, the run sheet (unopened questions too), the ledger."""
    contest = live_service.get_contest(contest_id, actor=g.api_user)
    return jsonify(live_service.public_state(contest, now=utcnow(), host=True))


@bp.post("/live/<int:contest_id>/entrants")
@token_required
def add_live_entrant(contest_id: int):
    contest = live_service.get_contest(contest_id, actor=g.api_user)
    entrant = live_service.add_entrant(contest, json_body(), actor=g.api_user, now=utcnow())
    live_service.bump(contest, utcnow())
    db.session.commit()
    return jsonify({"id": entrant.id, "name": entrant.name, "team_code": entrant.team_code}), 201


@bp.post("/live/<int:contest_id>/rounds")
@token_required
def add_live_round(contest_id: int):
    contest = live_service.get_contest(contest_id, actor=g.api_user)
    live_round = live_service.add_round(contest, json_body(), actor=g.api_user, now=utcnow())
    live_service.bump(contest, utcnow())
    db.session.commit()
    return jsonify({"id": live_round.id, "type": live_round.type, "questions": len(live_round.questions)}), 201


@bp.post("/live/<int:contest_id>/host/<command>")
@token_required
def live_command(contest_id: int, command: str):
    """A host command (open, start, close, reveal, next, judge, wager, pause, resume, correct, undo,
    sound, scoreboard, podium, finish) → the host's state."""
    contest = live_service.get_contest(contest_id, actor=g.api_user)
    body = json_body() if request.content_length else {}
    live_service.command(contest, command, body, actor=g.api_user, clock=utcnow)
    contest_id, join_url = contest.id, public_url("live.join", code=contest.join_code)
    db.session.commit()
    return jsonify(live_push.host_state(contest_id, join_url))  # the streams' build (quiz/live_push.py)


@bp.post("/live/join/<code>")
@phone_request
def join_live(code: str):
    """{"name", "phone", "unit", "team_code", "code"} → {"player_id", "token", "sheet", "state"};
    201 for a new player, 200 when the phone number rejoins (score and place kept). Counted against
    the join limits as a quiz join is (joins.count_join_request)."""
    joins.count_join_request(request.get_json(silent=True), address=client_ip())
    body = json_body()
    contest = guards.live_for_code(code, address=client_ip())
    now = utcnow()
    phone = str(body.get("phone") or "")
    joined = guards.guarded_join(phone, address=client_ip(), join=lambda: live_service.join(
        contest, name=str(body.get("name") or ""), phone=phone,
        unit_path=str(body["unit"]) if body.get("unit") else None,
        team_code=str(body.get("team_code") or "") or None, user=None, now=now,
        access_code=str(body["code"]) if body.get("code") else None))
    player_id, entrant_id = joined.player.id, joined.player.entrant_id
    payload = {"player_id": player_id, "token": live_service.player_token(joined.player),
               "sheet": {"attempt_id": joined.sheet.id, "token": attempt_service.attempt_token(joined.sheet)}
               if joined.sheet is not None else None,
               "stream_url": url_for("live.stream", contest_id=contest.id, _external=True)}
    contest_id, join_url = contest.id, public_url("live.join", code=contest.join_code)
    db.session.commit()  # first: the join holds the contest's row (its version) until then
    # the state from this process's latest build (shared with the streams and other joins)
    payload["state"] = live_push.player_state(contest_id, player_id, entrant_id, join_url)
    return jsonify(payload), (200 if joined.resumed else 201)


def _player(contest):
    header = request.headers.get("Authorization", "")
    scheme, _sep, secret = header.partition(" ")
    token = secret.strip() if scheme.lower() == "bearer" else request.args.get("token")
    return live_service.player_for_token(contest, token)


def _contest(contest_id: int):
    from quiz.models.live import LiveContest

    contest = db.session.get(LiveContest, contest_id)
    if contest is None:
        raise QuizError(_("Live contest %(id)s does not exist.", id=contest_id), status_code=404)
    return contest


@bp.get("/live/<int:contest_id>/state")
@phone_request
def live_player_state(contest_id: int):
    """The phone's state, from this process's latest build (as the stream sends it)."""
    contest = _contest(contest_id)
    player = _player(contest)
    player_id, entrant_id, join_url = player.id, player.entrant_id, public_url("live.join", code=contest.join_code)
    db.session.remove()
    return jsonify(live_push.player_state(contest_id, player_id, entrant_id, join_url))


@bp.post("/live/<int:contest_id>/ping")
@phone_request
def live_ping(contest_id: int):
    """{"rtt": ms measured for the previous ping} → {"server_time", "rtt_ms"} (fair buzz timing)."""
    contest = _contest(contest_id)
    player = _player(contest)
    now = utcnow()
    rtt = live_service.record_ping(player, json_body().get("rtt") if request.content_length else None, now=now)
    db.session.commit()
    return jsonify({"server_time": now.isoformat(), "rtt_ms": rtt})


@bp.post("/live/<int:contest_id>/buzz")
@phone_request
def live_buzz(contest_id: int):
    contest = _contest(contest_id)
    player = _player(contest)
    body = json_body() if request.content_length else {}
    result = live_service.buzz(contest, player, now=g.arrived_at,  # on arrival (quiz/slots.py)
                               rtt_samples=body.get("rtt") if isinstance(body, dict) else None)
    db.session.commit()
    return jsonify(result)


@bp.post("/live/<int:contest_id>/wager")
@phone_request
def live_wager(contest_id: int):
    """{"value": 20}: the stake of the player's team on its 风险题 (before the question shows)."""
    contest = _contest(contest_id)
    player = _player(contest)
    live_service.lock_contest(contest, exclusive=True)
    question = contest.current
    if question is None or question.status != "open":
        raise QuizError(_("No question is waiting for a stake."), status_code=409)
    live_service.place_wager(contest, question, player.entrant_id, json_body().get("value"), now=utcnow())
    live_service.bump(contest, utcnow())
    db.session.commit()
    return jsonify({"stake": json_body().get("value")})
