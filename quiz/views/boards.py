"""Leaderboards: the public board (search, unit filter, paging; frozen when the organiser froze
it), the big-screen view for the stage, and the organiser's live board with freeze/reveal."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from quiz.errors import QuizError
from quiz.extensions import db
from quiz.forms import EmptyForm
from quiz.inputs import page_arg, query_int
from quiz.models import Quiz, Unit
from quiz.models.base import utcnow
from quiz.services import quizzes as quiz_service
from quiz.services.quizzes import parse_time
from quiz.services.ranking import leaderboard, leaderboard_size, public_cutoff
from quiz.services.units import find_unit
from quiz.views.auth import manager_required

bp = Blueprint("boards", __name__)
PER_PAGE = 50


def _ranked_quiz(quiz_id: int) -> Quiz:
    quiz = db.session.get(Quiz, quiz_id)
    if quiz is None or quiz.is_practice:
        abort(404)
    return quiz


def _board(quiz: Quiz, *, public: bool, root: Unit | None = None):
    """The board's page of entries; `root` limits it to one unit subtree (an organiser's people)."""
    now = utcnow()
    search = request.args.get("q", "").strip()[:50]
    unit = find_unit(request.args["unit"]) if request.args.get("unit") else None
    if root is not None and (unit is None or not unit.is_within(root)):
        unit = root
    page = page_arg()
    entries = leaderboard(quiz, now=now, limit=PER_PAGE, offset=(page - 1) * PER_PAGE, search=search, unit=unit,
                          public=public)
    total = leaderboard_size(quiz, now=now, search=search, unit=unit, public=public)
    db.session.commit()  # attempts graded at their deadline
    return dict(quiz=quiz, entries=entries, total=total, page=page, pages=max(1, -(-total // PER_PAGE)),
                q=search, unit=unit.path if unit else "",
                unit_options=[p for p in _unit_options(quiz) if root is None or p == root.path
                              or p.startswith(root.path + "/")],
                frozen_at=public_cutoff(quiz, now) if public else None)


def _unit_options(quiz: Quiz) -> list[str]:
    from sqlalchemy import select
    from quiz.models import Attempt, Participant

    stmt = (select(Unit.path).join(Participant, Participant.unit_id == Unit.id)
            .join(Attempt, Attempt.participant_id == Participant.id)
            .where(Attempt.quiz_id == quiz.id).distinct())
    paths = set()
    for path in db.session.execute(stmt).scalars():
        parts = path.split("/")
        paths.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(paths)


@bp.route("/board/<int:quiz_id>")
def public_board(quiz_id: int):
    """The public leaderboard (names and units, never phone numbers)."""
    return render_template("boards/board.html", public=True, **_board(_ranked_quiz(quiz_id), public=True))


@bp.route("/board/<int:quiz_id>/screen")
def big_screen(quiz_id: int):
    """Big-screen view (?top=20&scroll=1&refresh=5): large type, a fixed header, the top N
    entries, smooth scrolling when they do not fit; static/screen.js updates the rows in place
    from the public leaderboard API every `refresh` seconds (no page reload)."""
    quiz = _ranked_quiz(quiz_id)
    top = query_int("top", 10, minimum=3, maximum=SCREEN_MAX_TOP)
    refresh = query_int("refresh", 5, minimum=3, maximum=600)
    now = utcnow()
    entries = leaderboard(quiz, now=now, limit=top, public=True)
    db.session.commit()  # attempts graded at their deadline
    return render_template("boards/screen.html", quiz=quiz, entries=entries, top=top, refresh=refresh,
                           scroll=request.args.get("scroll") == "1", frozen_at=public_cutoff(quiz, now))


SCREEN_MAX_TOP = 500


@bp.route("/quizzes/<int:quiz_id>/leaderboard")
@manager_required
def organiser_board(quiz_id: int):
    """Live results for organisers (never frozen), with freeze and reveal; organisers who only view
    the quiz see their subtree's people (with their overall ranks)."""
    from quiz.services import scope
    from quiz.services.exclusions import excluded_sheets

    quiz = quiz_service.get_quiz(quiz_id, actor=current_user, access=scope.VIEW)
    if quiz.is_practice:
        abort(404)
    root = scope.people_root(current_user)
    return render_template("boards/board.html", public=False, empty_form=EmptyForm(),
                           manage=scope.quiz_access(current_user, quiz) == scope.MANAGE,
                           excluded=excluded_sheets(quiz, root=root), **_board(quiz, public=False, root=root))


@bp.route("/quizzes/<int:quiz_id>/freeze", methods=["POST"])
@manager_required
def freeze(quiz_id: int):
    quiz = quiz_service.get_quiz(quiz_id, actor=current_user)
    if EmptyForm().validate_on_submit():
        try:
            if request.form.get("reveal") == "1":
                quiz_service.reveal(quiz, actor=current_user)
                flash(_("The public leaderboard shows live results again."), "success")
            else:
                at = parse_time(request.form.get("at") or None, _("Freeze time"))
                quiz_service.set_freeze(quiz, at, actor=current_user, now=utcnow())
                flash(_("The public leaderboard is frozen."), "success")
        except QuizError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            return redirect(url_for("boards.organiser_board", quiz_id=quiz.id))
        db.session.commit()
    return redirect(url_for("boards.organiser_board", quiz_id=quiz.id))
