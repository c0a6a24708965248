"""API: public leaderboards, served from the quiz's board snapshot (quiz/services/ranking.py):
rendered once per change of the board, no database query in between."""
from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from quiz.errors import QuizError
from quiz.inputs import MAX_DB_INT, query_int
from quiz.models.base import utcnow
from quiz.services.ranking import board_snapshot
from quiz.views.api.common import bp
from quiz.views.boards import rendered


@bp.get("/quizzes/<int:quiz_id>/leaderboard")
def quiz_leaderboard(quiz_id: int):
    """Public ranking: rank, name, unit, score, time used (never phone numbers)."""
    snapshot = board_snapshot(quiz_id)
    if snapshot is None:
        raise QuizError(_("Quiz %(id)s has no leaderboard.", id=quiz_id), status_code=404)
    limit = query_int("limit", 100, minimum=1, maximum=1000, strict=True)
    offset = query_int("offset", 0, minimum=0, maximum=MAX_DB_INT, strict=True)

    def render() -> str:
        now = utcnow()
        entries, _total = snapshot.entries(now, offset=offset, limit=limit)
        frozen_at = snapshot.frozen_at(now)
        return current_app.json.dumps({
            "quiz": {"id": snapshot.quiz_id, "title": snapshot.title},
            "entries": [{k: e[k] for k in ("rank", "name", "unit", "score", "time_used_seconds")} for e in entries],
            "frozen_at": frozen_at.isoformat() if frozen_at else None}) + "\n"

    return rendered(snapshot, "json", render, "application/json")
