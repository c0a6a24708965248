"""API: public leaderboards."""
from __future__ import annotations

from flask import jsonify
from flask_babel import gettext as _

from quiz.errors import QuizError
from quiz.extensions import db
from quiz.inputs import MAX_DB_INT, query_int
from quiz.models import Quiz
from quiz.models.base import utcnow
from quiz.services.ranking import leaderboard, public_cutoff
from quiz.views.api.common import bp


@bp.get("/quizzes/<int:quiz_id>/leaderboard")
def quiz_leaderboard(quiz_id: int):
    """Public ranking: rank, name, unit, score, time used (never phone numbers)."""
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
