"""Leaderboards: the public board (search, unit filter, paging; frozen when the organiser froze
it) and the big-screen view for the stage, both served from the quiz's board snapshot (rendered
once per change, no database query in between; quiz/board_lane.py serves the same bytes without
Flask), and the organiser's live board with freeze/reveal (from the database)."""
from __future__ import annotations

from typing import Callable

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from quiz import locale_key
from quiz.errors import QuizError
from quiz.extensions import db
from quiz.forms import EmptyForm
from quiz.inputs import page_arg, query_int
from quiz.models import Quiz, Unit
from quiz.models.base import utcnow
from quiz.models.units import PATH_SEPARATOR
from quiz.services import quizzes as quiz_service
from quiz.services.quizzes import parse_time
from quiz.services.ranking import BoardSnapshot, board_snapshot, leaderboard, leaderboard_size
from quiz.services.units import find_unit, split_path
from quiz.views.auth import manager_required

bp = Blueprint("boards", __name__)
PER_PAGE = 50


def _snapshot(quiz_id: int) -> BoardSnapshot:
    """The quiz's public board snapshot (404 for no such quiz or a practice set)."""
    snapshot = board_snapshot(quiz_id)
    if snapshot is None:
        abort(404)
    return snapshot


def _filters() -> tuple[str, str, int]:
    """The board's ?q= (name search), ?unit= (a unit path, normalised) and ?page=."""
    search = request.args.get("q", "").strip()[:50]
    unit = PATH_SEPARATOR.join(split_path(request.args["unit"])) if request.args.get("unit") else ""
    return search, unit, page_arg()


def _board(quiz: Quiz, *, root: Unit | None = None):
    """The organiser's page of entries (live, from the database); `root` limits it to one unit
    subtree (an organiser's people)."""
    now = utcnow()
    search = request.args.get("q", "").strip()[:50]
    unit = find_unit(request.args["unit"]) if request.args.get("unit") else None
    if root is not None and (unit is None or not unit.is_within(root)):
        unit = root
    page = page_arg()
    entries = leaderboard(quiz, now=now, limit=PER_PAGE, offset=(page - 1) * PER_PAGE, search=search, unit=unit)
    total = leaderboard_size(quiz, now=now, search=search, unit=unit)
    return dict(quiz=quiz, entries=entries, total=total, page=page, pages=max(1, -(-total // PER_PAGE)),
                q=search, unit=unit.path if unit else "", lang=None,
                unit_options=[p for p in _unit_options(quiz) if root is None or p == root.path
                              or p.startswith(root.path + "/")],
                frozen_at=None)


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


def rendered(snapshot: BoardSnapshot, kind: str, render: Callable[[], str], content_type: str) -> Response:
    """The response for this board, kind, language and query: rendered once per change of the
    board (BoardSnapshot.rendered), then served from memory, here and by quiz/board_lane.py."""
    key = snapshot.rendered_key(utcnow(), kind, locale_key(), request.query_string.decode("latin-1"))
    hit = snapshot.get_rendered(key)
    if hit is None:
        hit = (content_type, render().encode())
        snapshot.put_rendered(key, hit)
    return Response(hit[1], content_type=hit[0])


@bp.route("/board/<int:quiz_id>")
def public_board(quiz_id: int):
    """The public leaderboard (names and units, never phone numbers), from the board snapshot:
    no database query while the board has not changed."""
    snapshot = _snapshot(quiz_id)
    search, unit, page = _filters()
    lang = request.args.get("lang") if request.args.get("lang") in current_app.config["LANGUAGES"] else None

    def render() -> str:
        now = utcnow()
        entries, total = snapshot.entries(now, offset=(page - 1) * PER_PAGE, limit=PER_PAGE, search=search,
                                          unit=unit or None)
        return render_template("boards/public.html", public=True, quiz=snapshot, entries=entries, total=total,
                               page=page, pages=max(1, -(-total // PER_PAGE)), q=search, unit=unit, lang=lang,
                               unit_options=snapshot.unit_options(now), frozen_at=snapshot.frozen_at(now))

    return rendered(snapshot, "page", render, "text/html; charset=utf-8")


@bp.route("/board/<int:quiz_id>/screen")
def big_screen(quiz_id: int):
    """Big-screen view (?top=20&scroll=1&refresh=5): large type, a fixed header, the top N
    entries, smooth scrolling when they do not fit; static/screen.js updates the rows in place
    from the public leaderboard API every `refresh` seconds (no page reload). From the board
    snapshot, like the public board."""
    snapshot = _snapshot(quiz_id)
    top = query_int("top", 10, minimum=3, maximum=SCREEN_MAX_TOP)
    refresh = query_int("refresh", 5, minimum=3, maximum=600)

    def render() -> str:
        now = utcnow()
        entries, _total = snapshot.entries(now, limit=top)
        return render_template("boards/screen.html", quiz=snapshot, entries=entries, top=top, refresh=refresh,
                               scroll=request.args.get("scroll") == "1", frozen_at=snapshot.frozen_at(now))

    return rendered(snapshot, "screen", render, "text/html; charset=utf-8")


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
                           excluded=excluded_sheets(quiz, root=root), **_board(quiz, root=root))


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
