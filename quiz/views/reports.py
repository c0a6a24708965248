"""Organiser reports: per-unit report with charts and drill-down, item analysis, and downloads
(公示表 XLSX/CSV of the leaderboard and unit report, the answer archive, the item analysis)."""
from __future__ import annotations

import unicodedata
from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from quiz.errors import Invalid, QuizError
from quiz.extensions import db
from quiz.forms import EmptyForm
from quiz.inputs import finite_number, parse_id, query_int
from quiz.models import Unit
from quiz.models.base import utcnow
from quiz.services import exports, scope
from quiz.services import quizzes as quiz_service
from quiz.services.analysis import analyse, practice_from_missed
from quiz.services.charts import score_histogram, unit_bars
from quiz.services.ranking import counted_attempts, leaderboard
from quiz.services.reports import RANK_BY, level_rows, levels, relative_names, unit_report
from quiz.views.auth import manager_required

bp = Blueprint("reports", __name__)

MIMETYPES = exports.CONTENT_TYPES
ORGANISER_MAX = 100
MISSED_LIMIT = 20  # 易错题 listed (and pre-ticked) on the item analysis page


def _quiz(quiz_id: int, access: str = scope.MANAGE):
    """The ranked quiz, if the user may manage it (default) or view it (reports, downloads)."""
    quiz = quiz_service.get_quiz(quiz_id, actor=current_user, access=access)
    if quiz.is_practice:
        abort(404)
    return quiz


def _scope_root():
    """Figures are limited to the organiser's own subtree (scope.people_root)."""
    return scope.people_root(current_user)


def _report_args():
    rank_by = request.args.get("rank_by", "average")
    rank_by = rank_by if rank_by in RANK_BY else "average"
    try:
        weight = min(1.0, max(0.0, float(request.args.get("weight", 0.5))))
    except ValueError:
        weight = 0.5
    return rank_by, weight


def _level_arg() -> int | None:
    """The level (depth) chosen on the report page; None (the default level) when absent or odd."""
    level = request.args.get("level", "")
    return int(level) if level.isascii() and level.isdigit() and len(level) <= 3 else None


def _organiser_arg() -> str | None:
    """The organiser shown in titles: the report page's field, else the user's unit name."""
    if "organiser" in request.args:
        text = "".join(ch for ch in request.args.get("organiser", "") if unicodedata.category(ch)[0] != "C")
        return text.strip()[:ORGANISER_MAX] or None
    return current_user.unit.name if current_user.unit else None


@bp.route("/quizzes/<int:quiz_id>/report")
@manager_required
def unit_page(quiz_id: int):
    quiz = _quiz(quiz_id, scope.VIEW)
    now = utcnow()
    rank_by, weight = _report_args()
    rows = unit_report(quiz, now=now, root=_scope_root(), rank_by=rank_by, participation_weight=weight)
    level = _level_arg()
    depth, shown = level_rows(rows, level if level in levels(rows) else None)
    names = relative_names([r.path for r in shown])
    counted = counted_attempts(quiz, root=_scope_root())
    scores = [s for s in db.session.execute(select(counted.c.score)).scalars()]
    chart_data = {
        "units": unit_bars(shown, names),
        "histogram": score_histogram(scores, quiz.max_score),
        "full_marks": quiz.max_score,
        "text": {"average": _("Average score"), "participation": _("Participation rate"),
                 "people": _("Number of people"), "score": _("Score"), "empty": _("No results yet."),
                 "not_taken_part": _("Did not take part"), "rank": _("Rank")},
    }
    level_choices = [(d, _("Level %(n)d (%(count)d units)", n=d + 1, count=sum(1 for r in rows if r.depth == d)))
                     for d in levels(rows)]
    return render_template("reports/units.html", quiz=quiz, shown=shown, names=names, depth=depth,
                           level_choices=level_choices, rank_by=rank_by, weight=weight, chart_data=chart_data,
                           people=len(scores), organiser=_organiser_arg() or "")


@bp.route("/quizzes/<int:quiz_id>/analysis", methods=["GET", "POST"])
@manager_required
def analysis_page(quiz_id: int):
    quiz = _quiz(quiz_id, scope.VIEW if request.method == "GET" else scope.MANAGE)
    form = EmptyForm()
    if form.validate_on_submit():
        ids = [i for i in map(parse_id, request.form.getlist("question")) if i is not None]
        try:
            practice = practice_from_missed(quiz, ids, actor=current_user, now=utcnow())
        except QuizError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            db.session.commit()
            flash(_("Practice set created from %(n)d questions.", n=len(ids)), "success")
            return redirect(url_for("quizzes.show", quiz_id=practice.id))
    result = analyse(quiz, now=utcnow(), root=_scope_root())
    return render_template("reports/analysis.html", quiz=quiz, result=result, missed=result.most_missed(MISSED_LIMIT),
                           missed_limit=MISSED_LIMIT, form=form,
                           manage=scope.quiz_access(current_user, quiz) == scope.MANAGE)


def _download(data: bytes, filename: str, fmt: str) -> Response:
    response = Response(data, content_type=MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f"attachment; filename=\"export.{fmt}\"; filename*=UTF-8''{quote(filename)}"
    return response


@bp.route("/quizzes/<int:quiz_id>/export/<kind>.<fmt>")
@manager_required
def download(quiz_id: int, kind: str, fmt: str):
    """kind: leaderboard | units | answers | analysis; fmt: xlsx | csv (the organiser's people only)."""
    quiz = _quiz(quiz_id, scope.VIEW)
    if fmt not in MIMETYPES or kind not in exports.EXPORT_KINDS:
        abort(404)
    now = utcnow()
    organiser = _organiser_arg()
    rank_by, weight = _report_args()
    sheet, header, rows = exports.export_table(kind, quiz, now=now, root=_scope_root(), rank_by=rank_by,
                                               participation_weight=weight, level=_level_arg())
    title = exports.title_line(quiz, now=now, organiser=organiser)
    data = exports.write_table(fmt, header, rows, title=title, sheet=sheet)
    return _download(data, f"{quiz.title}-{sheet}.{fmt}", fmt)


POSTER_TYPES = {"png": "image/png", "pdf": "application/pdf"}


@bp.route("/quizzes/<int:quiz_id>/poster/<kind>.<fmt>")
@manager_required
def poster(quiz_id: int, kind: str, fmt: str):
    """kind: honour (光荣榜 top N, ?top=10) | units (unit ranking); fmt: png | pdf."""
    from quiz.services import posters

    quiz = _quiz(quiz_id, scope.VIEW)
    if fmt not in POSTER_TYPES or kind not in ("honour", "units"):
        abort(404)
    now = utcnow()
    organiser = _organiser_arg()
    top = query_int("top", 10, minimum=1, maximum=300)
    if kind == "honour":
        # the first `top` of the organiser's people (with ties), showing their overall ranks
        board = leaderboard(quiz, now=now, limit=top * 2, public=True, unit=_scope_root())
        cut = board[top - 1]["rank"] if len(board) >= top else None
        entries = [e for e in board if cut is None or e["rank"] <= cut]
        data = posters.honour_poster(quiz, entries, fmt=fmt, now=now, organiser=organiser, top=top)
        name = _("Honour roll")
    else:
        rank_by, weight = _report_args()
        rows = unit_report(quiz, now=now, root=_scope_root(), rank_by=rank_by, participation_weight=weight)
        data = posters.unit_poster(quiz, rows, fmt=fmt, now=now, organiser=organiser, level=_level_arg())
        name = _("Unit ranking")
    response = Response(data, mimetype=POSTER_TYPES[fmt])
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"poster.{fmt}\"; filename*=UTF-8''{quote(f'{quiz.title}-{name}.{fmt}')}")
    return response


@bp.route("/quizzes/<int:quiz_id>/regrade", methods=["GET", "POST"])
@manager_required
def regrade_page(quiz_id: int):
    """Preview the effect of the bank's current answer key, apply it with a reason, or undo."""
    from quiz.models import Regrade
    from quiz.services import regrade

    quiz = _quiz(quiz_id)
    form = EmptyForm()
    now = utcnow()
    if form.validate_on_submit():
        try:
            if request.form.get("undo"):
                record_id = parse_id(request.form["undo"])
                record = db.session.get(Regrade, record_id) if record_id else None
                if record is None or record.quiz_id != quiz.id:
                    abort(404)
                regrade.undo(record, actor=current_user, reason=request.form.get("reason", ""), now=now)
                flash(_("The regrade was undone; the earlier scores are back."), "success")
            else:
                record = regrade.apply(quiz, actor=current_user, reason=request.form.get("reason", ""), now=now)
                flash(_("%(n)d answer sheets were regraded.", n=len(record.changes)), "success")
        except QuizError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            db.session.commit()
            return redirect(url_for("reports.regrade_page", quiz_id=quiz.id))
    changes = regrade.preview(quiz, now=now)
    history = db.session.execute(select(Regrade).where(Regrade.quiz_id == quiz.id).order_by(Regrade.id.desc())).scalars().all()
    return render_template("reports/regrade.html", quiz=quiz, changes=changes, history=history, form=form)


@bp.route("/points")
@manager_required
def points_page():
    """积分榜 and 光荣榜 across the quizzes in scope, for a period and a points rule."""
    from quiz.models import Quiz
    from quiz.services.points import PERIODS, PointsRule, honour_roll, period_bounds, person_points, unit_points
    from quiz.services.quizzes import parse_time
    from quiz.services.scope import unit_filter

    now = utcnow()
    args = request.args
    period = args.get("period", "month")
    try:
        if period == "custom":
            start = parse_time(args.get("start"), _("Start"))
            end = parse_time(args.get("end"), _("End"))
            if start is None or end is None:
                raise Invalid(_("Give both the start and the end of a custom period."))
        else:
            start, end = period_bounds(period if period in PERIODS else "month", now)

        def number(name, default=0.0):
            return finite_number(args.get(name) or default, name)
        cap = args.get("daily_cap")
        rule = PointsRule(mode=args.get("mode", "score"), participate=number("participate", 1),
                          passed=number("passed", 2), full_marks=number("full_marks", 3),
                          daily_cap=number("daily_cap") if cap else None)
        stmt = select(Quiz).where(Quiz.mode == "exam")
        condition = unit_filter(current_user)
        if condition is not None:
            stmt = stmt.join(Unit, Quiz.unit_id == Unit.id).where(condition)
        quizzes = db.session.execute(stmt).scalars().all()
        people = person_points(quizzes, rule, start=start, end=end)
        roll = honour_roll(quizzes, rule, start=start, end=end, top=10)
    except QuizError as exc:
        flash(exc.message, "danger")
        people, roll, start, end, rule = [], {"full_marks": [], "top": []}, None, None, PointsRule()
    return render_template("reports/points.html", people=people[:200], units=unit_points(people), roll=roll,
                           period=period, start=start, end=end, rule=rule, args=args, periods=PERIODS)
