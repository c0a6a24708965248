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
    banks = db.session.execute(scope.usable_banks(user)).scalars().all()
    return jsonify({"banks": [{"id": b.id, "name": b.name, "unit": b.unit.path if b.unit else None,
                               "shared": b.shared, "editable": scope.can_manage_bank(user, b),
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

from quiz.config import Config  # noqa: E402
from quiz.extensions import check_sheet_limit, client_ip, limiter  # noqa: E402
from quiz.fastlane import FAST_LANE_TRIED, token_from_environ  # noqa: E402
from quiz.inputs import MAX_DB_INT, json_body, query_int  # noqa: E402
from quiz.services import attempts as attempt_service  # noqa: E402
from quiz.services import guards  # noqa: E402
from quiz.services import hotpath  # noqa: E402
from quiz.services import papers as paper_service  # noqa: E402
from quiz.services import quizzes as quiz_service  # noqa: E402
from quiz.services.ranking import leaderboard, public_cutoff  # noqa: E402
from quiz.urls import join_url  # noqa: E402


def attempt_token_from_request() -> str | None:
    return token_from_environ(request.environ)


def _join_key() -> str:
    body = request.get_json(silent=True) or {}
    phone = body.get("phone") if isinstance(body, dict) else None
    return f"join:{client_ip()}:{str(phone)[:32]}"


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
    quiz = quiz_service.get_quiz(quiz_id, actor=g.api_user, access=scope.VIEW)
    counts = quiz_service.live_counts(quiz, root=scope.people_root(g.api_user))
    return jsonify({"id": quiz.id, "title": quiz.title, "join_code": quiz.join_code, "join_url": join_url(quiz),
                    "opens_at": quiz.opens_at.isoformat() if quiz.opens_at else None,
                    "closes_at": quiz.closes_at.isoformat() if quiz.closes_at else None,
                    "paper_mode": quiz.paper_mode, "identity_check": quiz.identity_check,
                    "access": scope.quiz_access(g.api_user, quiz), **counts})


@bp.get("/quizzes/<int:quiz_id>/paper")
@token_required
def quiz_paper(quiz_id: int):
    """The paper: mode, rules (with difficulty mixes), the fixed paper's questions, locked or not."""
    quiz = quiz_service.get_quiz(quiz_id, actor=g.api_user)
    return jsonify(paper_service.paper_json(quiz))


@bp.put("/quizzes/<int:quiz_id>/paper")
@token_required
def edit_quiz_paper(quiz_id: int):
    """{"questions": [{"id": 12, "points": 2}, …]} replaces the fixed paper, {"redraw": true} draws
    it again from the rules; 409 once anybody has joined."""
    body = json_body()
    quiz = quiz_service.get_quiz(quiz_id, actor=g.api_user)
    if body.get("redraw") is True:
        paper_service.redraw_fixed_paper(quiz, actor=g.api_user, now=utcnow())
    elif "questions" in body:
        paper_service.set_fixed_paper(quiz, body["questions"], actor=g.api_user, now=utcnow())
    else:
        raise Invalid(_("Send {\"questions\": [{\"id\": 12, \"points\": 2}, …]} or {\"redraw\": true}."))
    db.session.commit()
    return jsonify(paper_service.paper_json(quiz))


@bp.post("/join/<code>")
@limiter.limit(Config.JOIN_LIMIT, key_func=_join_key)
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


@bp.get("/attempts/<int:attempt_id>/clock")
def attempt_clock(attempt_id: int):
    """{"status", "reason", "deadline", "server_time"}: polled by the sheet every few seconds.
    Reads never write: a sheet past its deadline reads as closed without being graded here."""
    return jsonify(attempt_service.sheet_clock(attempt_id, attempt_token_from_request(), now=utcnow()))


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
    now = utcnow()
    entries = leaderboard(quiz, now=now, limit=limit, offset=offset, public=True)
    frozen_at = public_cutoff(quiz, now)
    db.session.commit()  # attempts graded at their deadline
    return jsonify({"quiz": {"id": quiz.id, "title": quiz.title},
                    "entries": [{k: e[k] for k in ("rank", "name", "unit", "score", "time_used_seconds")}
                                for e in entries],
                    "frozen_at": frozen_at.isoformat() if frozen_at else None})


@bp.post("/quizzes/<int:quiz_id>/sheets/<int:attempt_id>/<any(exclude, restore):action>")
@token_required
def exclude_sheet(quiz_id: int, attempt_id: int, action: str):
    """{"reason": "…"} → {"attempt_id", "excluded"}: take a sheet out of rankings, or count it again."""
    from quiz.models import Attempt
    from quiz.services.exclusions import exclude_sheet as exclude, restore_sheet as restore

    quiz = quiz_service.get_quiz(quiz_id, actor=g.api_user)
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.quiz_id != quiz.id:
        raise QuizError(_("Answer sheet %(id)s is not part of this quiz.", id=attempt_id), status_code=404)
    (exclude if action == "exclude" else restore)(attempt, reason=str(json_body().get("reason") or ""),
                                                 actor=g.api_user, now=utcnow())
    db.session.commit()
    return jsonify({"attempt_id": attempt.id, "excluded": attempt.excluded})


@bp.get("/ping")
def ping():
    """Hello-world endpoint (the load benchmark's baseline)."""
    return jsonify({"ok": True})
