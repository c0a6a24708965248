"""Organiser pages for quizzes: create, the quiz page (QR code, live counts, close early, extend,
attempts with tab switches and fast flags)."""
from __future__ import annotations

import io

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from quiz.errors import QuizError
from quiz.extensions import db
from quiz.forms import EmptyForm
from quiz.models import Attempt, Participant, Quiz, Unit
from quiz.models.base import utcnow
from quiz.questions import QUESTION_TYPES
from quiz.services import attempts as attempt_service
from quiz.services import quizzes as quiz_service
from quiz.services import scope
from quiz.services.ranking import leaderboard
from quiz.views.auth import manager_required
from quiz.views.common import unit_choices

bp = Blueprint("quizzes", __name__)


def qr_svg(text: str) -> str:
    """An inline SVG QR code (for posters and the big screen)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=12, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode("utf-8")


def _visible_quizzes():
    stmt = select(Quiz).order_by(Quiz.id.desc())
    condition = scope.unit_filter(current_user)
    if condition is not None:
        stmt = stmt.join(Unit, Quiz.unit_id == Unit.id).where(condition)
    return stmt


@bp.route("/")
@manager_required
def index():
    quizzes = db.session.execute(_visible_quizzes()).scalars().all()
    counts = {q.id: quiz_service.live_counts(q) for q in quizzes}
    return render_template("quizzes/index.html", quizzes=quizzes, counts=counts, now=utcnow())


def payload_from_form(form) -> dict:
    """The web form's fields as the same payload the API takes."""
    rules = []
    for qtype, count, points, tags in zip(form.getlist("rule_type"), form.getlist("rule_count"),
                                          form.getlist("rule_points"), form.getlist("rule_tags")):
        if not count.strip():
            continue
        rules.append({"type": qtype, "count": count, "points": points, "tags": tags})
    minutes = form.get("duration_minutes", "").strip()
    try:
        duration = int(round(float(minutes) * 60)) if minutes else None
    except (ValueError, OverflowError):  # "abc", "nan"; "inf", "1e999"
        duration = minutes  # the service names the field
    return {
        "title": form.get("title", ""), "description": form.get("description", ""),
        "mode": form.get("mode", "exam"), "banks": form.getlist("banks"), "rules": rules,
        "duration_seconds": duration, "opens_at": form.get("opens_at") or None,
        "closes_at": form.get("closes_at") or None,
        "audience": {"units": [u for u in form.getlist("units") if u], "roster_only": form.get("roster_only") == "y"},
        "attempts_allowed": form.get("attempts_allowed") or None, "attempt_policy": form.get("attempt_policy"),
        "shuffle_questions": form.get("shuffle_questions") == "y", "shuffle_options": form.get("shuffle_options") == "y",
        "multi_partial": form.get("multi_partial"), "pass_score": form.get("pass_score"),
        "excellent_score": form.get("excellent_score"), "show_answers": form.get("show_answers"),
        "min_seconds": form.get("min_seconds"),
    }


@bp.route("/new", methods=["GET", "POST"])
@manager_required
def create():
    form = EmptyForm()
    banks = db.session.execute(scope.visible_banks(current_user)).scalars().all()
    if form.validate_on_submit():
        try:
            quiz = quiz_service.create_quiz(payload_from_form(request.form), actor=current_user, now=utcnow())
        except QuizError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            db.session.commit()
            flash(_("Quiz created. Share the join code %(code)s or the QR code.", code=quiz.join_code), "success")
            return redirect(url_for("quizzes.show", quiz_id=quiz.id))
    return render_template("quizzes/new.html", form=form, banks=banks, units=unit_choices(),
                           types=QUESTION_TYPES, values=request.form)


@bp.route("/<int:quiz_id>")
@manager_required
def show(quiz_id: int):
    quiz = quiz_service.get_quiz(quiz_id, actor=current_user)
    now = utcnow()
    attempt_service.finalise_overdue(quiz, now=now)
    db.session.commit()
    join_url = url_for("play.join", code=quiz.join_code, _external=True)
    attempts = db.session.execute(
        select(Attempt).where(Attempt.quiz_id == quiz.id).join(Participant)
        .order_by(Attempt.tab_switches.desc(), Attempt.id.desc()).limit(200)).scalars().all()
    top = [] if quiz.is_practice else leaderboard(quiz, now=now, limit=10)
    return render_template("quizzes/show.html", quiz=quiz, join_url=join_url, qr=qr_svg(join_url),
                           counts=quiz_service.live_counts(quiz), attempts=attempts, top=top,
                           empty_form=EmptyForm(), now=now, types=QUESTION_TYPES)


@bp.route("/<int:quiz_id>/counts.json")
@manager_required
def counts(quiz_id: int):
    quiz = quiz_service.get_quiz(quiz_id, actor=current_user)
    return jsonify(quiz_service.live_counts(quiz))


@bp.route("/<int:quiz_id>/close", methods=["POST"])
@manager_required
def close(quiz_id: int):
    quiz = quiz_service.get_quiz(quiz_id, actor=current_user)
    if EmptyForm().validate_on_submit():
        graded = quiz_service.close_quiz(quiz, actor=current_user, now=utcnow())
        db.session.commit()
        flash(ngettext("The quiz is closed; %(num)d open answer sheet was submitted.",
                       "The quiz is closed; %(num)d open answer sheets were submitted.", graded), "success")
    return redirect(url_for("quizzes.show", quiz_id=quiz.id))


@bp.route("/<int:quiz_id>/extend", methods=["POST"])
@manager_required
def extend(quiz_id: int):
    quiz = quiz_service.get_quiz(quiz_id, actor=current_user)
    if EmptyForm().validate_on_submit():
        try:
            quiz_service.extend_quiz(quiz, request.form.get("minutes", ""), actor=current_user, now=utcnow())
        except QuizError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            db.session.commit()
            flash(_("Time extended."), "success")
    return redirect(url_for("quizzes.show", quiz_id=quiz.id))
