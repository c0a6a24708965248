"""API: a participant's answer sheet (join, state, clock, answers, submit, review, events),
authenticated by the sheet token."""
from __future__ import annotations

from flask import current_app, jsonify, request
from flask_babel import gettext as _

from quiz.config import Config
from quiz.errors import Invalid, QuizError
from quiz.extensions import check_sheet_limit, client_ip, db, limiter
from quiz.answer_lane import token_from_environ
from quiz.inputs import json_body
from quiz.models.base import utcnow
from quiz.services import attempts as attempt_service
from quiz.services import guards
from quiz.views.api.common import bp


def attempt_token_from_request() -> str | None:
    return token_from_environ(request.environ)


def join_key(prefix: str = "join") -> str:
    """The rate-limit key of a join: the client address and the phone number in the body."""
    body = request.get_json(silent=True) or {}
    phone = body.get("phone") if isinstance(body, dict) else None
    return f"{prefix}:{client_ip()}:{str(phone)[:32]}"


@bp.post("/join/<code>")
@limiter.limit(Config.JOIN_LIMIT, key_func=join_key)
@limiter.limit(Config.JOIN_LIMIT_PER_ADDRESS, key_func=client_ip)
def join(code: str):
    """{"name", "phone", "unit", "code"} → the answer sheet (201 new, 200 resumed). "code" is the
    personal access code, needed when the quiz's identity_check is "code"."""
    body = json_body()
    quiz = guards.quiz_for_code(code, address=client_ip())
    now = utcnow()
    phone = str(body.get("phone") or "")
    access_code = body.get("code", body.get("access_code"))
    result = guards.guarded_join(phone, address=client_ip(), join=lambda: attempt_service.join(
        quiz, name=str(body.get("name") or ""), phone=phone, unit_path=str(body["unit"]) if body.get("unit") else None,
        now=now, access_code=str(access_code) if access_code else None))
    payload = attempt_service.join_payload(result.attempt, new=not result.resumed)  # before the commit expires it
    db.session.commit()
    return jsonify(payload), (200 if result.resumed else 201)


@bp.get("/attempts/<int:attempt_id>")
def attempt_state(attempt_id: int):
    attempt = attempt_service.get_attempt(attempt_id, attempt_token_from_request())
    attempt_service.require_whole_sheet(attempt)
    now = utcnow()
    body = attempt_service.join_payload(attempt)
    # past its deadline and not graded yet: "closed" (as the clock says); reads never grade
    body["status"] = "closed" if attempt_service.is_overdue(attempt, now) else attempt.status
    if attempt.status == "submitted":
        body["result"] = attempt_service.result_payload(attempt, now=now)
    return jsonify(body)


@bp.get("/attempts/<int:attempt_id>/clock")
def attempt_clock(attempt_id: int):
    """{"status", "reason", "deadline", "server_time"}: polled by the sheet every few seconds.
    Reads never write: a sheet past its deadline reads as closed without being graded here."""
    return jsonify(attempt_service.sheet_clock(attempt_id, attempt_token_from_request(), now=utcnow()))


@bp.put("/attempts/<int:attempt_id>/answers/<int:question_id>")
def save_answer(attempt_id: int, question_id: int):
    """{"response": …} → saved; 409 after the deadline (nothing changed).

    Clean saves are usually served by the answer lane (quiz/answer_lane.py) before reaching this
    view; both apply the rules of services/answers.py. This transport serves everything else, and
    every save when the lane is off (ANSWER_FAST_LANE = False)."""
    check_sheet_limit(current_app.config["ANSWER_LIMIT"], attempt_id)
    body = json_body()
    if "response" not in body:
        raise Invalid(_("Send {\"response\": …}."))
    token = attempt_token_from_request()
    attempt = attempt_service.get_attempt(attempt_id, token)
    try:
        result = attempt_service.save_answer(attempt, question_id, body["response"], now=utcnow())
    except QuizError:
        db.session.commit()  # keeps an auto-submission made by the deadline check
        raise
    db.session.commit()
    result.update(_clock(attempt))
    return jsonify(result)


def _clock(attempt) -> dict:
    """The sheet's current deadline and the server's time, so a page can follow extensions."""
    return {"deadline": attempt.deadline.isoformat() if attempt.deadline else None,
            "server_time": utcnow().isoformat()}


@bp.post("/attempts/<int:attempt_id>/submit")
def submit(attempt_id: int):
    attempt = attempt_service.get_attempt(attempt_id, attempt_token_from_request())
    attempt_service.require_whole_sheet(attempt)
    now = utcnow()
    attempt_service.submit(attempt, now=now)
    db.session.commit()
    return jsonify(attempt_service.result_payload(attempt, now=now))


@bp.get("/attempts/<int:attempt_id>/review")
def review(attempt_id: int):
    attempt = attempt_service.get_attempt(attempt_id, attempt_token_from_request())
    questions = attempt_service.review_payload(attempt, now=utcnow())
    if questions is None:
        raise QuizError(_("Submit the answer sheet first."), status_code=409)
    return jsonify({"answers_shown": attempt_service.answers_visible(attempt.quiz, utcnow()),
                    "questions": questions})


@bp.post("/attempts/<int:attempt_id>/events")
def event(attempt_id: int):
    check_sheet_limit(current_app.config["ANSWER_LIMIT"], attempt_id)
    body = json_body()
    attempt = attempt_service.get_attempt(attempt_id, attempt_token_from_request())
    count = attempt_service.record_event(attempt, str(body.get("type") or ""), now=utcnow())
    db.session.commit()
    return jsonify({"tab_switches": count, **_clock(attempt)})
