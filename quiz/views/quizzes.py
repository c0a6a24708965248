"""Organiser pages for quizzes: create, the quiz page (QR code, live counts, close early, extend,
attempts with tab switches and fast flags)."""
from __future__ import annotations

import io

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from quiz.errors import QuizError
from quiz.extensions import db
from quiz.forms import EmptyForm
from quiz.models import Attempt, Participant, Unit
from quiz.models.base import utcnow
from quiz.questions import LETTERS, QUESTION_TYPES, type_choices
from quiz.services import papers as paper_service
from quiz.services import quizzes as quiz_service
from quiz.services import scope
from quiz.services.ranking import leaderboard
from quiz.services.summary import rules_summary
from quiz.urls import join_url as public_join_url
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


@bp.route("/")
@manager_required
def index():
    quizzes = db.session.execute(scope.visible_quizzes(current_user)).scalars().all()
    root = scope.people_root(current_user)
    counts = {q.id: quiz_service.live_counts(q, root=root) for q in quizzes}
    access = {q.id: scope.quiz_access(current_user, q) for q in quizzes}
    return render_template("quizzes/index.html", quizzes=quizzes, counts=counts, access=access, now=utcnow())


def payload_from_form(form) -> dict:
    """The web form's fields as the same payload the API takes."""
    rules = []
    for qtype, count, points, tags in zip(form.getlist("rule_type"), form.getlist("rule_count"),
                                          form.getlist("rule_points"), form.getlist("rule_tags")):
        # every row is sent, so "Paper rule n" in a message is the form's row n; empty = 0 = off
        rules.append({"type": qtype, "count": count.strip() or "0", "points": points, "tags": tags})
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
        "identity_check": form.get("identity_check") or None,
        "attempts_allowed": form.get("attempts_allowed") or None, "attempt_policy": form.get("attempt_policy"),
        "shuffle_questions": form.get("shuffle_questions") == "y", "shuffle_options": form.get("shuffle_options") == "y",
        "multi_partial": form.get("multi_partial"), "pass_score": form.get("pass_score"),
        "excellent_score": form.get("excellent_score"), "show_answers": form.get("show_answers"),
        "min_seconds": form.get("min_seconds"), "paper_mode": form.get("paper_mode") or "fixed",
    }


@bp.route("/new", methods=["GET", "POST"])
@manager_required
def create():
    form = EmptyForm()
    banks = db.session.execute(scope.usable_banks(current_user)).scalars().all()
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
    quiz = quiz_service.get_quiz(quiz_id, actor=current_user, access=scope.VIEW)
    now = utcnow()
    root = scope.people_root(current_user)
    join_url = public_join_url(quiz)
    stmt = (select(Attempt).where(Attempt.quiz_id == quiz.id).join(Participant)
            .order_by(Attempt.tab_switches.desc(), Attempt.id.desc()).limit(200))
    if root is not None:
        stmt = stmt.join(Unit, Unit.id == Participant.unit_id).where(scope.subtree_condition(root))
    attempts = db.session.execute(stmt).scalars().all()
    top = [] if quiz.is_practice else leaderboard(quiz, now=now, limit=10, unit=root)
    return render_template("quizzes/show.html", quiz=quiz, join_url=join_url, qr=qr_svg(join_url),
                           summary=rules_summary(quiz),
                           counts=quiz_service.live_counts(quiz, root=root), attempts=attempts, top=top,
                           empty_form=EmptyForm(), now=now, types=QUESTION_TYPES, root=root,
                           manage=scope.quiz_access(current_user, quiz) == scope.MANAGE,
                           paper_rows=paper_service.fixed_rows(quiz))


@bp.route("/<int:quiz_id>/counts.json")
@manager_required
def counts(quiz_id: int):
    quiz = quiz_service.get_quiz(quiz_id, actor=current_user, access=scope.VIEW)
    return jsonify(quiz_service.live_counts(quiz, root=scope.people_root(current_user)))


@bp.route("/<int:quiz_id>/close", methods=["POST"])
@manager_required
def close(quiz_id: int):
    quiz = quiz_service.get_quiz(quiz_id, actor=current_user)
    if EmptyForm().validate_on_submit():
        graded = quiz_service.close_quiz(quiz, actor=current_user, clock=utcnow)
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


def _managed_sheet(quiz_id: int, attempt_id: int):
    quiz = quiz_service.get_quiz(quiz_id, actor=current_user)
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.quiz_id != quiz.id:
        raise QuizError(_("Answer sheet %(id)s is not part of this quiz.", id=attempt_id), status_code=404)
    return quiz, attempt


@bp.route("/<int:quiz_id>/sheets/<int:attempt_id>")
@manager_required
def sheet(quiz_id: int, attempt_id: int):
    """One answer sheet for the organiser: figures, flags, exclusion state and its history."""
    from quiz.services.exclusions import history

    quiz, attempt = _managed_sheet(quiz_id, attempt_id)
    records = [r for r in history(quiz) if r.attempt_id == attempt.id]
    return render_template("quizzes/sheet.html", quiz=quiz, attempt=attempt, records=records, form=EmptyForm())


@bp.route("/<int:quiz_id>/sheets/<int:attempt_id>/<any(exclude, restore):action>", methods=["POST"])
@manager_required
def exclude(quiz_id: int, attempt_id: int, action: str):
    """Exclude a sheet from rankings, reports and posters, or restore it (reason required)."""
    from quiz.services.exclusions import exclude_sheet, restore_sheet

    quiz, attempt = _managed_sheet(quiz_id, attempt_id)
    if EmptyForm().validate_on_submit():
        change = exclude_sheet if action == "exclude" else restore_sheet
        try:
            change(attempt, reason=request.form.get("reason", ""), actor=current_user, now=utcnow())
        except QuizError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            db.session.commit()
            flash(_("The answer sheet no longer counts in rankings, reports and posters.") if action == "exclude"
                  else _("The answer sheet counts again."), "success")
    return redirect(url_for("quizzes.sheet", quiz_id=quiz.id, attempt_id=attempt.id))


# ---------------------------------------------------------------- the fixed paper (统一试卷)
PICK_ARGS = ("q", "type", "tag", "page")


def _pick_args() -> dict:
    """The pick page's search arguments, kept across its actions."""
    return {k: v for k, v in request.args.items() if k in PICK_ARGS and v}


def _back_to_pick(quiz_id: int):
    return redirect(url_for("quizzes.paper_page", quiz_id=quiz_id, **_pick_args()))


@bp.route("/<int:quiz_id>/paper")
@manager_required
def paper_page(quiz_id: int):
    """Review and edit the fixed paper: reorder, set points, remove, add from the quiz's banks."""
    quiz = quiz_service.get_quiz(quiz_id, actor=current_user)
    if quiz.paper_mode != "fixed":
        flash(_("This quiz draws a paper per person (随机组卷); there is no fixed paper to edit."), "warning")
        return redirect(url_for("quizzes.show", quiz_id=quiz.id))
    from quiz.services.banks import bank_tags

    q = request.args.get("q", "").strip()[:200]
    qtype = request.args.get("type", "")
    qtype = qtype if qtype in QUESTION_TYPES else ""
    tag = request.args.get("tag", "").strip()[:200]
    page = db.paginate(paper_service.candidates(quiz, current_user, q=q, qtype=qtype, tag=tag),
                       per_page=current_app.config["ITEMS_PER_PAGE"], error_out=False)
    rows = paper_service.fixed_rows(quiz)
    tags = sorted({t for bank in paper_service.pickable_banks(quiz, current_user) for t in bank_tags(bank)})
    return render_template("quizzes/paper.html", quiz=quiz, rows=rows, page=page, q=q, qtype=qtype, tag=tag,
                           tags=tags, on_paper={r.question.id: r.number for r in rows},
                           started=paper_service.sheets_started(quiz), types=QUESTION_TYPES,
                           type_choices=type_choices(), letters=LETTERS, form=EmptyForm(),
                           default_points=paper_service.default_points, args=_pick_args())


def _paper_action(quiz_id: int, action) -> object:
    """Run one edit of the fixed paper (a service call), commit, flash, back to the pick page."""
    quiz = quiz_service.get_quiz(quiz_id, actor=current_user)
    if EmptyForm().validate_on_submit():
        try:
            message = action(quiz)
        except QuizError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
        else:
            db.session.commit()
            flash(message, "success")
    return _back_to_pick(quiz.id)


@bp.route("/<int:quiz_id>/paper", methods=["POST"])
@manager_required
def paper_save(quiz_id: int):
    """Save the paper form: points and order as shown, with one row moved or removed."""
    def save(quiz):
        items = [{"id": qid, "points": points} for qid, points in
                 zip(request.form.getlist("qid"), request.form.getlist("points"))]
        paper_service.set_fixed_paper(quiz, paper_service.rearranged(
            items, up=request.form.get("up"), down=request.form.get("down"), remove=request.form.get("remove")),
            actor=current_user, now=utcnow())
        return _("Paper saved.")
    return _paper_action(quiz_id, save)


@bp.route("/<int:quiz_id>/paper/add", methods=["POST"])
@manager_required
def paper_add(quiz_id: int):
    def add(quiz):
        paper_service.add_to_paper(quiz, request.form.get("question_id", ""), request.form.get("points", ""),
                                   actor=current_user, now=utcnow())
        return _("Question added to the paper.")
    return _paper_action(quiz_id, add)


@bp.route("/<int:quiz_id>/paper/redraw", methods=["POST"])
@manager_required
def paper_redraw(quiz_id: int):
    def redraw(quiz):
        paper_service.redraw_fixed_paper(quiz, actor=current_user, now=utcnow())
        return _("A new paper was drawn from the rules.")
    return _paper_action(quiz_id, redraw)
