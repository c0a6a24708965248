"""API: a participant's answer sheet (join, state, clock, answers, submit, review, events),
authenticated by the sheet token."""
from __future__ import annotations

from flask import current_app, jsonify, request
from flask_babel import gettext as _

from quiz.errors import Invalid, QuizError
from quiz.extensions import check_sheet_limit, client_ip, db
from quiz.answer_lane import token_from_environ
from quiz.join_lane import JOIN_LIMIT_COUNTED, join_body
from quiz.inputs import json_body
from quiz.models.base import utcnow
from quiz.services import attempts as attempt_service
from quiz.services import joins
from quiz.views.api.common import bp


def attempt_token_from_request() -> str | None:
    return token_from_environ(request.environ)


@bp.post("/join/<code>")
def join(code: str):
    """{"name", "phone", "unit", "code"} → the answer sheet (201 new, 200 resumed). "code" is the
    personal access code, needed when the quiz's identity_check is "code".

    Usually served by the join lane (quiz/join_lane.py) before reaching this view; both apply the
    rules of services/joins.py. This transport serves the rest (cookies, a query string, a body the
    lane does not read) and every join when the lane is off (JOIN_LANE = False)."""
    if not request.environ.pop(JOIN_LIMIT_COUNTED, None):  # the lane counted it before falling back
        joins.count_join_request(request.get_json(silent=True), address=client_ip())
    body = json_body()
    sheet = joins.join_by_code(code, body, address=client_ip(), now=utcnow())
    answer = join_body(current_app, sheet)  # the bytes jsonify(joins.payload(sheet)) sends
    db.session.commit()
    return current_app.response_class(answer, status=200 if sheet.resumed else 201, mimetype=current_app.json.mimetype)


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
