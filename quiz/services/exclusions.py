"""Excluding answer sheets from rankings (e.g. a sheet flagged 用时过短 after checking it).

Rules:
- Only an organiser who manages the quiz (or an admin) may exclude or restore a sheet, and only a
  submitted sheet, always with a reason.
- An excluded sheet does not count anywhere results are published or compared: leaderboards
  (public, big screen, API), unit reports, points boards, item analysis, posters and `quiz verify`.
  When a person has other submitted sheets, the best (or latest) of those counts instead.
- The person keeps their score; their result shows no rank.
- Every exclusion and restoration is recorded (who, when, why) and never edited; restoring puts
  the sheet back as it was. Excluded sheets are listed to organisers only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from quiz import events
from quiz.errors import Conflict, Invalid
from quiz.extensions import db
from quiz.models import Attempt, Participant, Quiz, SheetExclusion, Unit, User
from quiz.services import scope

MAX_REASON = 1000


def _reason(reason: str | None) -> str:
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise Invalid(_("reason: say why (it is kept in the audit record)."))
    if len(reason) > MAX_REASON:
        raise Invalid(_("reason: at most %(n)d characters.", n=MAX_REASON))
    return reason


def _record(attempt: Attempt, action: str, reason: str, actor: User | None, now: datetime) -> SheetExclusion:
    record = SheetExclusion(attempt_id=attempt.id, quiz_id=attempt.quiz_id, user_id=actor.id if actor else None,
                            action=action, reason=reason, created_at=now)
    db.session.add(record)
    db.session.flush()
    events.quiz_event(attempt.quiz_id, "exclusion", attempt=attempt.id, excluded=action == "exclude")
    return record


def exclude_sheet(attempt: Attempt, *, reason: str, actor: User | None, now: datetime) -> SheetExclusion:
    """Take a submitted sheet out of every ranking, report and poster (reason required)."""
    scope.require_quiz(actor, attempt.quiz)
    reason = _reason(reason)
    if attempt.status != "submitted":
        raise Conflict(_("Only a submitted answer sheet can be excluded."))
    if attempt.excluded:
        raise Conflict(_("This answer sheet is already excluded."))
    attempt.excluded = True
    return _record(attempt, "exclude", reason, actor, now)


def restore_sheet(attempt: Attempt, *, reason: str, actor: User | None, now: datetime) -> SheetExclusion:
    """Count an excluded sheet again (reason required)."""
    scope.require_quiz(actor, attempt.quiz)
    reason = _reason(reason)
    if not attempt.excluded:
        raise Conflict(_("This answer sheet is not excluded."))
    attempt.excluded = False
    return _record(attempt, "restore", reason, actor, now)


@dataclass
class ExcludedSheet:
    attempt: Attempt
    name: str
    unit: str
    reason: str
    by: str
    at: datetime


def excluded_sheets(quiz: Quiz, *, root: Unit | None = None) -> list[ExcludedSheet]:
    """The quiz's currently excluded sheets with the latest reason (for organisers only)."""
    stmt = (select(Attempt, Participant.name, Unit.path)
            .join(Participant, Participant.id == Attempt.participant_id).join(Unit, Unit.id == Participant.unit_id)
            .where(Attempt.quiz_id == quiz.id, Attempt.excluded.is_(True)).order_by(Attempt.id))
    if root is not None:
        stmt = stmt.where(scope.subtree_condition(root))
    rows = db.session.execute(stmt).all()
    latest: dict[int, SheetExclusion] = {}
    if rows:
        for record in db.session.execute(select(SheetExclusion).where(
                SheetExclusion.quiz_id == quiz.id, SheetExclusion.action == "exclude").order_by(SheetExclusion.id)
        ).scalars():
            latest[record.attempt_id] = record
    out = []
    for attempt, name, path in rows:
        record = latest.get(attempt.id)
        out.append(ExcludedSheet(attempt, name, path, record.reason if record else "",
                                 (record.user.display_name or record.user.username) if record and record.user else "",
                                 record.created_at if record else None))
    return out


def history(quiz: Quiz) -> list[SheetExclusion]:
    """Every exclusion and restoration of the quiz's sheets, newest first."""
    return list(db.session.execute(select(SheetExclusion).where(SheetExclusion.quiz_id == quiz.id)
                                   .order_by(SheetExclusion.id.desc())).scalars())
