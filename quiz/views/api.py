"""JSON API (/api/v1), authenticated by `Authorization: Bearer TOKEN`, never by cookie."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _

from quiz.errors import Forbidden, Invalid, QuizError
from quiz.extensions import csrf, db
from quiz.models.base import utcnow
from quiz.services import scope
from quiz.services.banks import bank_counts
from quiz.services.importer import import_bank_file
from quiz.services.people import user_for_token
from quiz.services.units import get_unit

bp = Blueprint("api", __name__)
csrf.exempt(bp)

TRUE_VALUES = {"1", "true", "yes", "on", "y"}


def token_required(view):
    """401 without a valid bearer token; the user is in g.api_user."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _sep, secret = header.partition(" ")
        user = user_for_token(secret.strip(), now=utcnow()) if scheme.lower() == "bearer" else None
        if user is None:
            raise QuizError(_("A valid API token is required (Authorization: Bearer TOKEN)."), status_code=401)
        g.api_user = user
        return view(*args, **kwargs)

    return wrapped


def _flag(name: str) -> bool:
    return str(request.form.get(name, "")).strip().lower() in TRUE_VALUES


@bp.post("/banks/import")
@token_required
def import_bank():
    """Multipart `file`, `bank`, optional `skip_invalid`, `dry_run`, `unit` (path for a new bank).

    200 with the import JSON when imported (or a dry run that would import); 422 when rejected.
    """
    user = g.api_user
    scope.require_manager(user)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Invalid(_("Send the spreadsheet as the multipart field “file”."))
    bank = (request.form.get("bank") or "").strip()
    if not bank:
        raise Invalid(_("The field “bank” (bank name) is required."))
    unit = get_unit(request.form["unit"]) if request.form.get("unit") else None
    report = import_bank_file(bank, upload.read(), upload.filename, actor=user, now=utcnow(),
                              skip_invalid=_flag("skip_invalid"), dry_run=_flag("dry_run"), unit=unit)
    if report.written:
        db.session.commit()
    else:
        db.session.rollback()
    return jsonify(report.as_dict()), (200 if report.accepted else 422)


@bp.get("/banks")
@token_required
def list_banks():
    user = g.api_user
    scope.require_manager(user)
    banks = db.session.execute(scope.visible_banks(user)).scalars().all()
    return jsonify({"banks": [{"id": b.id, "name": b.name, "unit": b.unit.path if b.unit else None,
                               "questions": bank_counts(b)} for b in banks]})


@bp.get("/me")
@token_required
def me():
    user = g.api_user
    return jsonify({"username": user.username, "role": user.role, "unit": user.unit.path if user.unit else None})


@bp.errorhandler(Forbidden)
def forbidden(error: Forbidden):
    return jsonify({"error": error.message, "status": 403}), 403


# ====================================================================== quizzes and attempts
from flask import url_for  # noqa: E402

from quiz.config import Config  # noqa: E402
from quiz.extensions import check_sheet_limit, client_ip, limiter  # noqa: E402
from quiz.fastlane import FAST_LANE_TRIED, token_from_environ  # noqa: E402
from quiz.inputs import MAX_DB_INT, json_body, query_int  # noqa: E402
from quiz.services import attempts as attempt_service  # noqa: E402
from quiz.services import hotpath  # noqa: E402
from quiz.services import quizzes as quiz_service  # noqa: E402
from quiz.services.ranking import leaderboard  # noqa: E402


def attempt_token_from_request() -> str | None:
    return token_from_environ(request.environ)


def _join_key() -> str:
    body = request.get_json(silent=True) or {}
    phone = body.get("phone") if isinstance(body, dict) else None
    return f"join:{client_ip()}:{str(phone)[:32]}"


def join_url(quiz) -> str:
    return url_for("play.join", code=quiz.join_code, _external=True)


@bp.post("/quizzes")
@token_required
def create_quiz():
    """Organisers create a quiz; returns {"id", "join_code", "join_url"}."""
    quiz = quiz_service.create_quiz(json_body(), actor=g.api_user, now=utcnow())
    db.session.commit()
    return jsonify({"id": quiz.id, "join_code": quiz.join_code, "join_url": join_url(quiz)}), 201


@bp.get("/quizzes/<int:quiz_id>")
@token_required
def quiz_status(quiz_id: int):
    quiz = quiz_service.get_quiz(quiz_id, actor=g.api_user)
    counts = quiz_service.live_counts(quiz)
    return jsonify({"id": quiz.id, "title": quiz.title, "join_code": quiz.join_code, "join_url": join_url(quiz),
                    "opens_at": quiz.opens_at.isoformat() if quiz.opens_at else None,
                    "closes_at": quiz.closes_at.isoformat() if quiz.closes_at else None, **counts})


@bp.post("/join/<code>")
@limiter.limit(Config.JOIN_LIMIT, key_func=_join_key)
@limiter.limit(Config.JOIN_LIMIT_PER_ADDRESS, key_func=client_ip)
def join(code: str):
    """{"name", "phone", "unit"} → the answer sheet (201 new, 200 resumed)."""
    body = json_body()
    quiz = quiz_service.quiz_by_code(code)
    now = utcnow()
    result = attempt_service.join(quiz, name=str(body.get("name") or ""), phone=str(body.get("phone") or ""),
                                  unit_path=str(body["unit"]) if body.get("unit") else None, now=now)
    db.session.commit()
    return jsonify(attempt_service.join_payload(result.attempt)), (200 if result.resumed else 201)


@bp.get("/attempts/<int:attempt_id>")
def attempt_state(attempt_id: int):
    attempt = attempt_service.get_attempt(attempt_id, attempt_token_from_request())
    now = utcnow()
    if attempt.status == "open" and attempt.deadline is not None and now > attempt.deadline:
        attempt_service.grade_attempt(attempt, at=attempt.deadline, auto=True)
        db.session.commit()
    body = attempt_service.join_payload(attempt)
    body["status"] = attempt.status
    if attempt.status == "submitted":
        body["result"] = attempt_service.result_payload(attempt, now=now)
    return jsonify(body)


@bp.put("/attempts/<int:attempt_id>/answers/<int:question_id>")
def save_answer(attempt_id: int, question_id: int):
    """{"response": …} → saved; 409 after the deadline (nothing changed).

    Clean saves are usually served by the WSGI fast lane (quiz/fastlane.py) before reaching this
    view; this is the reference path for everything else."""
    check_sheet_limit(current_app.config["ANSWER_LIMIT"], attempt_id)
    body = json_body()
    if "response" not in body:
        raise Invalid(_("Send {\"response\": …}."))
    token = attempt_token_from_request()
    if not request.environ.get(FAST_LANE_TRIED):
        fast = hotpath.fast_save(db.engine, current_app.config["SECRET_KEY"], attempt_id, question_id,
                                 body["response"], token, now=utcnow())
        if fast is not None:
            return jsonify(fast)
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


@bp.get("/quizzes/<int:quiz_id>/leaderboard")
def quiz_leaderboard(quiz_id: int):
    """Public ranking: rank, name, unit, score, time used (never phone numbers)."""
    from quiz.models import Quiz

    quiz = db.session.get(Quiz, quiz_id)
    if quiz is None or quiz.is_practice:
        raise QuizError(_("Quiz %(id)s has no leaderboard.", id=quiz_id), status_code=404)
    limit = query_int("limit", 100, minimum=1, maximum=1000, strict=True)
    offset = query_int("offset", 0, minimum=0, maximum=MAX_DB_INT, strict=True)
    entries = leaderboard(quiz, now=utcnow(), limit=limit, offset=offset, public=True)
    db.session.commit()  # attempts graded at their deadline
    return jsonify({"quiz": {"id": quiz.id, "title": quiz.title},
                    "entries": [{k: e[k] for k in ("rank", "name", "unit", "score", "time_used_seconds")}
                                for e in entries]})


@bp.get("/ping")
def ping():
    """Hello-world endpoint (the load benchmark's baseline)."""
    return jsonify({"ok": True})
