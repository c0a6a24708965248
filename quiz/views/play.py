"""Participant pages (mobile-first): join by code/QR, the answer sheet, the result, 错题本.

The participant's identity is the answer sheet's token, kept in their session after joining;
the sheet page talks to the JSON API (/api/v1/attempts/…) with it.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from quiz.errors import QuizError, TooManyAttempts
from quiz.extensions import client_ip, db, limiter
from quiz.inputs import json_body
from quiz.models import Attempt, Participant, Quiz, Unit
from quiz.models.base import utcnow
from quiz.services import attempts as attempt_service
from quiz.services import guards
from quiz.services.scope import subtree_condition
from quiz.services.summary import rules_summary
from quiz.urls import join_url, static_url

bp = Blueprint("play", __name__)


class JoinForm(FlaskForm):
    name = StringField(validators=[DataRequired(), Length(max=100)])
    phone = StringField(validators=[DataRequired(), Length(max=30)])
    unit = StringField(validators=[Length(max=1000)])
    access_code = StringField(validators=[Length(max=32)])  # quizzes with identity_check "code"


class CodeForm(FlaskForm):
    code = StringField(validators=[DataRequired(), Length(max=16)])


def _remember(attempt: Attempt) -> None:
    sheets = dict(session.get("sheets", {}))
    sheets[str(attempt.id)] = attempt_service.attempt_token(attempt)
    session["sheets"] = dict(list(sheets.items())[-20:])
    session["participant_id"] = attempt.participant_id
    session.permanent = True


def _sheet(attempt_id: int) -> Attempt:
    token = session.get("sheets", {}).get(str(attempt_id)) or request.args.get("token")
    return attempt_service.get_attempt(attempt_id, token)


def audience_units(quiz) -> list[str]:
    """Unit paths a participant may pick (the quiz's audience subtrees, or every unit)."""
    stmt = select(Unit.path).order_by(Unit.path)
    if quiz.audience_units:
        from sqlalchemy import or_
        stmt = stmt.where(or_(*[subtree_condition(u) for u in quiz.audience_units]))
    return list(db.session.execute(stmt).scalars())


@bp.route("/j", methods=["GET", "POST"])
def enter_code():
    form = CodeForm()
    if form.validate_on_submit():
        return redirect(url_for("play.join", code=form.code.data.strip().upper()))
    return render_template("play/code.html", form=form)


@bp.route("/j/<code>", methods=["GET", "POST"])
@limiter.limit("60/minute", key_func=lambda: f"joinpage:{request.remote_addr}:{request.form.get('phone', '')}",
               methods=["POST"])
def join(code: str):
    quiz = guards.code_target(code, address=client_ip())
    if not isinstance(quiz, Quiz):  # a live contest's code: its phones' page
        return redirect(url_for("live.join", code=quiz.join_code))
    form = JoinForm()
    now = utcnow()
    user = current_user._get_current_object() if current_user.is_authenticated else None
    linked = _me() if user is not None else None
    if request.method == "GET" and linked is not None:  # a logged-in participant: details filled in
        form.name.data, form.phone.data, form.unit.data = linked.name, linked.phone, linked.unit.path
    retry_after = None
    if form.validate_on_submit():
        try:
            result = guards.guarded_join(form.phone.data, address=client_ip(), join=lambda: attempt_service.join(
                quiz, name=form.name.data, phone=form.phone.data, unit_path=form.unit.data or None, user=user,
                now=now, access_code=form.access_code.data or None))
        except QuizError as exc:
            db.session.rollback()
            flash(exc.message, "danger")
            if isinstance(exc, TooManyAttempts):
                retry_after = exc.retry_after
        else:
            db.session.commit()
            _remember(result.attempt)
            if result.resumed:
                flash(_("Welcome back: your saved answers are restored."), "success")
            unit = result.attempt.participant.unit.path
            if not quiz.roster_only and form.unit.data and form.unit.data.strip() != unit:
                flash(_("You are registered under “%(unit)s”, so your answers count for that unit. If this is "
                        "wrong, please ask the organiser to change it.", unit=unit), "warning")
            return redirect(url_for("play.sheet", attempt_id=result.attempt.id))
    status = "open"
    if quiz.opens_at is not None and now < quiz.opens_at:
        status = "not_open"
    elif not quiz.is_open(now):
        status = "closed"
    page = render_template("play/join.html", quiz=quiz, form=form, units=audience_units(quiz), status=status,
                           summary=rules_summary(quiz), share_url=join_url(quiz),
                           share_image=static_url("icon-512.png"),
                           my_sheets=_my_sheets(quiz) if status != "open" else [])
    if retry_after is not None:  # over a join limit: the message is on the page, the status says so too
        return page, 429, {"Retry-After": str(retry_after)}
    return page


def _my_sheets(quiz) -> list[Attempt]:
    """This browser's answer sheets for the quiz (the session keeps the sheets it joined), newest
    first: a closed or not-yet-open join page links to them."""
    ids = [int(i) for i in session.get("sheets", {}) if str(i).isdigit()]
    if not ids:
        return []
    return list(db.session.execute(select(Attempt).where(Attempt.id.in_(ids), Attempt.quiz_id == quiz.id)
                                   .order_by(Attempt.id.desc())).scalars())


@bp.route("/a/<int:attempt_id>")
def sheet(attempt_id: int):
    attempt = _sheet(attempt_id)
    attempt_service.require_whole_sheet(attempt)
    now = utcnow()
    if attempt.status != "open" or attempt_service.is_overdue(attempt, now):
        return redirect(url_for("play.result", attempt_id=attempt.id))
    payload = attempt_service.join_payload(attempt)
    return render_template("play/sheet.html", attempt=attempt, quiz=attempt.quiz, payload=payload,
                           server_now=now.isoformat())


@bp.route("/a/<int:attempt_id>/result")
def result(attempt_id: int):
    attempt = _sheet(attempt_id)
    now = utcnow()
    if attempt.status == "open":
        if attempt_service.is_overdue(attempt, now):  # graded by the next write path or the timer
            return render_template("play/pending.html", attempt=attempt, quiz=attempt.quiz)
        return redirect(url_for("play.sheet", attempt_id=attempt.id))
    summary = attempt_service.result_payload(attempt, now=now)
    review = attempt_service.review_payload(attempt, now=now)
    return render_template("play/result.html", attempt=attempt, quiz=attempt.quiz, summary=summary,
                           review=review, reveal=attempt_service.answers_visible(attempt.quiz, now),
                           level_label=attempt_service.result_label(summary["level"]))


def _me() -> Participant | None:
    pid = session.get("participant_id")
    if pid:
        return db.session.get(Participant, pid)
    if current_user.is_authenticated:
        return db.session.execute(select(Participant).where(Participant.user_id == current_user.id)).scalar_one_or_none()
    return None


@bp.route("/me/wrong")
def wrong_book():
    person = _me()
    items = attempt_service.wrong_questions(person, now=utcnow()) if person else []
    return render_template("play/wrong.html", person=person, items=items)


@bp.post("/me/wrong/<int:question_id>/check")
def check_wrong(question_id: int):
    person = _me()
    if person is None:
        raise QuizError(_("Join a quiz first."), status_code=401)
    body = json_body()
    return attempt_service.check_practice(person, question_id, body.get("response"), now=utcnow())
