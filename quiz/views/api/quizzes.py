"""API: quizzes for organisers (create, status, paper, excluding sheets)."""
from __future__ import annotations

from flask import g, jsonify
from flask_babel import gettext as _

from quiz.errors import Invalid, QuizError
from quiz.extensions import db
from quiz.inputs import json_body
from quiz.models import Attempt
from quiz.models.base import utcnow
from quiz.services import papers as paper_service
from quiz.services import quizzes as quiz_service
from quiz.services import scope
from quiz.services.exclusions import exclude_sheet as exclude, restore_sheet as restore
from quiz.urls import join_url
from quiz.views.api.common import bp, token_required


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


@bp.post("/quizzes/<int:quiz_id>/sheets/<int:attempt_id>/<any(exclude, restore):action>")
@token_required
def exclude_sheet(quiz_id: int, attempt_id: int, action: str):
    """{"reason": "…"} → {"attempt_id", "excluded"}: take a sheet out of rankings, or count it again."""
    quiz = quiz_service.get_quiz(quiz_id, actor=g.api_user)
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.quiz_id != quiz.id:
        raise QuizError(_("Answer sheet %(id)s is not part of this quiz.", id=attempt_id), status_code=404)
    (exclude if action == "exclude" else restore)(attempt, reason=str(json_body().get("reason") or ""),
                                                 actor=g.api_user, now=utcnow())
    db.session.commit()
    return jsonify({"attempt_id": attempt.id, "excluded": attempt.excluded})
