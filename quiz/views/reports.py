"""Organiser reports: per-unit report with charts and drill-down, item analysis, and downloads
(公示表 XLSX/CSV of the leaderboard and unit report, the answer archive, the item analysis)."""
from __future__ import annotations

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
from quiz.services import exports
from quiz.services import quizzes as quiz_service
from quiz.services.analysis import analyse, practice_from_missed
from quiz.services.charts import bar_chart, histogram
from quiz.services.ranking import counted_attempts, leaderboard
from quiz.services.reports import RANK_BY, unit_report
from quiz.views.auth import manager_required

bp = Blueprint("reports", __name__)

MIMETYPES = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _quiz(quiz_id: int):
    quiz = quiz_service.get_quiz(quiz_id, actor=current_user)
    if quiz.is_practice:
        abort(404)
    return quiz


def _scope_root():
    return None if current_user.is_admin else current_user.unit


def _report_args():
    rank_by = request.args.get("rank_by", "average")
    rank_by = rank_by if rank_by in RANK_BY else "average"
    try:
        weight = min(1.0, max(0.0, float(request.args.get("weight", 0.5))))
    except ValueError:
        weight = 0.5
    return rank_by, weight


@bp.route("/quizzes/<int:quiz_id>/report")
@manager_required
def unit_page(quiz_id: int):
    quiz = _quiz(quiz_id)
    now = utcnow()
    rank_by, weight = _report_args()
    rows = unit_report(quiz, now=now, root=_scope_root(), rank_by=rank_by, participation_weight=weight)
    db.session.commit()
    level = request.args.get("level")
    depths = sorted({r.depth for r in rows})
    depth = int(level) if level in {str(d) for d in depths} else (depths[1] if len(depths) > 1 else 0)
    shown = sorted([r for r in rows if r.depth == depth], key=lambda r: (r.rank or 10 ** 9, r.path))
    counted = counted_attempts(quiz)
    scores = [s for s in db.session.execute(select(counted.c.score)).scalars()]
    charts = {
        "average": bar_chart([r.path for r in shown], [r.average_score for r in shown], maximum=quiz.max_score),
        "participation": bar_chart([r.path for r in shown],
                                   [None if r.participation_rate is None else r.participation_rate * 100 for r in shown],
                                   maximum=100, value_format="{:.1f}%", colour="#1e7e34"),
        "histogram": histogram(scores, quiz.max_score),
    }
    return render_template("reports/units.html", quiz=quiz, rows=rows, shown=shown, depth=depth, depths=depths,
                           rank_by=rank_by, weight=weight, charts=charts, people=len(scores))


@bp.route("/quizzes/<int:quiz_id>/analysis", methods=["GET", "POST"])
@manager_required
def analysis_page(quiz_id: int):
    quiz = _quiz(quiz_id)
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
    result = analyse(quiz, now=utcnow())
    db.session.commit()
    return render_template("reports/analysis.html", quiz=quiz, result=result, missed=result.most_missed(20),
                           form=form)


def _download(data: bytes, filename: str, fmt: str) -> Response:
    response = Response(data, mimetype=MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f"attachment; filename=\"export.{fmt}\"; filename*=UTF-8''{quote(filename)}"
    return response


@bp.route("/quizzes/<int:quiz_id>/export/<kind>.<fmt>")
@manager_required
def download(quiz_id: int, kind: str, fmt: str):
    """kind: leaderboard | units | answers | analysis; fmt: xlsx | csv."""
    quiz = _quiz(quiz_id)
    if fmt not in MIMETYPES or kind not in exports.EXPORT_KINDS:
        abort(404)
    now = utcnow()
    organiser = current_user.unit.path if current_user.unit else None
    rank_by, weight = _report_args()
    sheet, header, rows = exports.export_table(kind, quiz, now=now, root=_scope_root(), rank_by=rank_by,
                                               participation_weight=weight)
    db.session.commit()
    title = exports.title_line(quiz, now=now, organiser=organiser)
    data = exports.to_csv(header, rows) if fmt == "csv" else exports.to_xlsx(title, header, rows, sheet=sheet)
    return _download(data, f"{quiz.title}-{sheet}.{fmt}", fmt)


POSTER_TYPES = {"png": "image/png", "pdf": "application/pdf"}


@bp.route("/quizzes/<int:quiz_id>/poster/<kind>.<fmt>")
@manager_required
def poster(quiz_id: int, kind: str, fmt: str):
    """kind: honour (光荣榜 top N, ?top=10) | units (unit ranking); fmt: png | pdf."""
    from quiz.services import posters

    quiz = _quiz(quiz_id)
    if fmt not in POSTER_TYPES or kind not in ("honour", "units"):
        abort(404)
    now = utcnow()
    organiser = current_user.unit.path if current_user.unit else None
    top = query_int("top", 10, minimum=1, maximum=300)
    if kind == "honour":
        entries = [e for e in leaderboard(quiz, now=now, limit=top * 2, public=True) if e["rank"] <= top]
        data = posters.honour_poster(quiz, entries, fmt=fmt, now=now, organiser=organiser, top=top)
        name = _("Honour roll")
    else:
        rank_by, weight = _report_args()
        rows = unit_report(quiz, now=now, root=_scope_root(), rank_by=rank_by, participation_weight=weight)
        data = posters.unit_poster(quiz, rows, fmt=fmt, now=now, organiser=organiser)
        name = _("Unit ranking")
    db.session.commit()
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
    db.session.commit()
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
