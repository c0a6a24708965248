"""Creating and running quizzes: validation of the settings, join codes, closing early and
extending time."""
from __future__ import annotations

import random
import re
import secrets
from datetime import datetime, timedelta, timezone
from typing import Callable

from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from quiz import events
from quiz.errors import Invalid, NotFound
from quiz.extensions import db
from quiz.inputs import finite_number, parse_bool, parse_id
from quiz.localtime import local_tz
from quiz.models import Attempt, Bank, Quiz, Unit, User
from quiz.models.base import utcnow
from quiz.models.quizzes import ATTEMPT_POLICIES, IDENTITY_CHECKS, MODES, MULTI_PARTIAL, SHOW_ANSWERS
from quiz.services import scope
from quiz.services.papers import plan_paper
from quiz.services.units import find_unit

JOIN_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
MAX_DURATION = 24 * 3600
YEARS = (2000, 2100)  # dates outside are refused (far dates overflow the time zone conversion)
_WHOLE = re.compile(r"[+-]?[0-9]+")


def _int(value, field: str, *, minimum: int, maximum: int, default: int | None = None,
         required: bool = False) -> int | None:
    """A whole number in [minimum, maximum]: an int, an integral finite float or ASCII digits
    ("²".isdigit() is True in Python, but it is no number here); never a bool. Empty gives
    `default`, or 422 when `required`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid(_("%(field)s: required, a whole number from %(min)d to %(max)d.",
                            field=field, min=minimum, max=maximum))
        return default
    if isinstance(value, float) and value.is_integer():  # False for NaN and ±Infinity
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        text = value.strip()
        number = int(text) if len(text) <= 19 else (minimum - 1 if text.startswith("-") else maximum + 1)
    else:
        raise Invalid(_("%(field)s must be a whole number.", field=field))
    if not minimum <= number <= maximum:
        raise Invalid(_("%(field)s must be between %(min)d and %(max)d.", field=field, min=minimum, max=maximum))
    return number


def _score(value, field: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = finite_number(value, field)
    if number < 0:
        raise Invalid(_("%(field)s cannot be negative.", field=field))
    return number


def parse_time(value, field: str) -> datetime | None:
    """ISO 8601 (2026-11-30T09:00, with or without zone; no zone means the configured local time,
    BABEL_DEFAULT_TIMEZONE: Beijing time by default) → UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(_("%(field)s “%(value)s” is not a date and time such as 2026-11-30T09:00.",
                            field=field, value=value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local_tz())
    if not YEARS[0] <= moment.year <= YEARS[1]:  # also keeps the time zone conversion from overflowing
        raise Invalid(_("%(field)s “%(value)s” is outside the years %(first)d–%(last)d.",
                        field=field, value=value, first=YEARS[0], last=YEARS[1]))
    return moment.astimezone(timezone.utc)


def _choice(value, field: str, allowed: tuple[str, ...], default: str) -> str:
    if value in (None, ""):
        return default
    if value not in allowed:
        raise Invalid(_("%(field)s must be one of %(values)s.", field=field, values=", ".join(allowed)))
    return value


def resolve_banks(values, actor: User | None) -> list[Bank]:
    """The banks named (ids or names) in a set-up, each usable by the actor (422 / 403 otherwise)."""
    if not isinstance(values, list) or not values:
        raise Invalid(_("banks: choose at least one question bank."))
    banks = []
    for value in values:
        bank_id = parse_id(value)
        if bank_id is not None:
            bank = db.session.get(Bank, bank_id)
        elif isinstance(value, str):
            bank = db.session.execute(select(Bank).where(Bank.name == value)).scalar_one_or_none()
        else:
            bank = None
        if bank is None:
            raise Invalid(_("banks: question bank “%(name)s” does not exist.", name=value))
        scope.require_bank_use(actor, bank)
        if bank not in banks:
            banks.append(bank)
    return banks


def _audience(payload: dict, actor: User | None) -> tuple[list[Unit], bool]:
    audience = payload.get("audience") or {}
    if isinstance(audience, list):
        audience = {"units": audience}
    if not isinstance(audience, dict):
        raise Invalid(_("audience must be an object such as {\"units\": [\"乔司街道\"], \"roster_only\": false}."))
    paths = audience.get("units", payload.get("units")) or []
    roster_only = parse_bool(audience.get("roster_only", payload.get("roster_only")), "roster_only")
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise Invalid(_("audience: units must be a list of unit paths such as [\"乔司街道\"]."))
    units = []
    for path in paths:
        unit = find_unit(path)
        if unit is None:
            raise Invalid(_("audience: unit “%(path)s” does not exist.", path=path))
        scope.require_unit(actor, unit)
        if unit not in units:  # a unit named twice is one audience entry
            units.append(unit)
    if not units and actor is not None and not actor.is_admin:
        units = [actor.unit]  # an organiser's quiz is for their subtree unless narrowed
    return units, roster_only


def _identity_check(payload: dict, roster_only: bool) -> str:
    """identity_check (none | roster | code); roster_only true is the older spelling of roster."""
    check = _choice(payload.get("identity_check"), "identity_check", IDENTITY_CHECKS,
                    "roster" if roster_only else "none")
    if roster_only and check == "none":
        raise Invalid(_("identity_check “none” contradicts roster_only: a roster-only quiz checks the roster."))
    return check


def new_join_code(rng: random.Random | None = None) -> str:
    """An unused 6-character join code (no look-alike characters)."""
    choose = (rng or secrets.SystemRandom()).choice
    for _attempt in range(50):
        code = "".join(choose(JOIN_ALPHABET) for _ in range(6))
        if not db.session.execute(select(Quiz.id).where(Quiz.join_code == code)).first():
            return code
    raise RuntimeError("could not find a free join code")


def create_quiz(payload: dict, *, actor: User | None, now: datetime, rng: random.Random | None = None) -> Quiz:
    """Validate the settings (docs/rules.md "Papers") and create the quiz.

    Raises Invalid naming the field, or Forbidden for banks/units outside the actor's scope.
    Rules the chosen banks cannot fill are refused. The paper (统一试卷 drawn once or
    hand-picked, or 随机组卷 with balanced rules) is made by papers.plan_paper; `rng` draws it.
    """
    if not isinstance(payload, dict):
        raise Invalid(_("Send the quiz settings as a JSON object."))
    scope.require_manager(actor)
    title = str(payload.get("title") or "").strip()
    if not title or len(title) > 200:
        raise Invalid(_("title: required, at most 200 characters."))
    mode = _choice(payload.get("mode"), "mode", MODES, "exam")
    banks = resolve_banks(payload.get("banks"), actor)
    plan = plan_paper(payload, banks, actor=actor, rng=rng)
    duration = _int(payload.get("duration_seconds"), "duration_seconds", minimum=10, maximum=MAX_DURATION)
    if mode == "exam" and duration is None:
        raise Invalid(_("duration_seconds: required for a timed quiz."))
    opens_at = parse_time(payload.get("opens_at"), "opens_at")
    closes_at = parse_time(payload.get("closes_at"), "closes_at")
    if opens_at and closes_at and closes_at <= opens_at:
        raise Invalid(_("closes_at must be later than opens_at."))
    units, roster_only = _audience(payload, actor)
    identity_check = _identity_check(payload, roster_only)
    policy = payload.get("attempt_policy", payload.get("counts"))
    default_attempts = 0 if mode == "practice" else 1
    pass_score = _score(payload.get("pass_score"), "pass_score")
    excellent_score = _score(payload.get("excellent_score"), "excellent_score")
    max_score = plan.max_score
    for name, value in (("pass_score", pass_score), ("excellent_score", excellent_score)):
        if value is not None and value > max_score:
            raise Invalid(_("%(field)s (%(value)g) is above the paper's full marks (%(max)g).",
                            field=name, value=value, max=max_score))
    owner = actor.unit if actor is not None and not actor.is_admin else None
    if payload.get("unit"):
        owner = find_unit(str(payload["unit"]))
        if owner is None:
            raise Invalid(_("unit: “%(path)s” does not exist.", path=payload["unit"]))
        scope.require_unit(actor, owner)
    quiz = Quiz(
        title=title,
        description=str(payload.get("description") or "")[:5000],
        mode=mode,
        join_code=new_join_code(),
        unit=owner,
        created_by_id=actor.id if actor is not None else None,
        rules=plan.rules,
        paper_mode=plan.mode,
        paper=plan.paper,
        duration_seconds=duration if mode == "exam" else duration,
        opens_at=opens_at,
        closes_at=closes_at,
        roster_only=identity_check != "none",
        access_code_required=identity_check == "code",
        attempts_allowed=_int(payload.get("attempts_allowed"), "attempts_allowed", minimum=0, maximum=1000,
                              default=default_attempts),
        attempt_policy=_choice(policy, "attempt_policy", ATTEMPT_POLICIES, "best"),
        shuffle_questions=parse_bool(payload.get("shuffle_questions", True), "shuffle_questions"),
        shuffle_options=parse_bool(payload.get("shuffle_options", False), "shuffle_options"),
        multi_partial=_choice(payload.get("multi_partial"), "multi_partial", MULTI_PARTIAL, "none"),
        pass_score=pass_score,
        excellent_score=excellent_score,
        show_answers=_choice(payload.get("show_answers"), "show_answers", SHOW_ANSWERS, "after_submit"),
        min_seconds=_int(payload.get("min_seconds"), "min_seconds", minimum=0, maximum=MAX_DURATION),
        max_score=max_score,
        created_at=now,
        updated_at=now,
    )
    quiz.banks = banks
    quiz.audience_units = units
    db.session.add(quiz)
    db.session.flush()
    return quiz


def get_quiz(quiz_id: int, *, actor: User | None, access: str = scope.MANAGE) -> Quiz:
    """A quiz the actor may manage (default) or, with access="view", view (scope.quiz_access)."""
    quiz = db.session.get(Quiz, quiz_id)
    if quiz is None:
        raise NotFound(_("Quiz %(id)s does not exist.", id=quiz_id))
    scope.require_quiz(actor, quiz, access)
    return quiz



def normalise_join_code(code: str | None) -> str:
    """A join code as typed (any case, spaces around) → as stored."""
    return (code or "").strip().upper()


def unknown_join_code(code: str | None) -> NotFound:
    return NotFound(_("No quiz has the join code “%(code)s”.", code=code))


def quiz_by_code(code: str) -> Quiz:
    """The quiz people join with this code (never the hidden quiz behind a live contest: its phones
    join the contest, whose code is another)."""
    quiz = db.session.execute(select(Quiz).where(Quiz.join_code == normalise_join_code(code),
                                                 Quiz.mode != "live")).scalar_one_or_none()
    if quiz is None:
        raise unknown_join_code(code)
    return quiz


def close_quiz(quiz: Quiz, *, actor: User | None, now: datetime | None = None,
               clock: Callable[[], datetime] | None = None) -> int:
    """Close now (立即结束): no new attempts; open attempts end at the cut and are graded with what
    was saved. Returns the number of attempts graded.

    A clean cut, in two steps that each commit:
    1. the quiz row and its open sheets are locked (saves and joins in flight finish first, later
       ones wait), the cut is taken (`now`, or `clock()` read once the locks are held, so that every
       save already stored was made before it), the closing time and every open sheet's deadline
       become the cut; committed at once, after which every save made later is refused (409);
    2. each open sheet is graded in its own short transaction (attempts.close_overdue), never one
       long transaction over every sheet.
    """
    from quiz.services.attempts import close_overdue, lock_quiz

    scope.require_quiz(actor, quiz)
    lock_quiz(quiz, exclusive=True)
    db.session.execute(select(Attempt.id).where(Attempt.quiz_id == quiz.id, Attempt.status == "open")
                       .order_by(Attempt.id).with_for_update())
    cut = now if now is not None else (clock or utcnow)()
    if quiz.closes_at is None or quiz.closes_at > cut:
        quiz.closes_at = cut
    db.session.execute(update(Attempt).where(
        Attempt.quiz_id == quiz.id, Attempt.status == "open",
        or_(Attempt.deadline.is_(None), Attempt.deadline > cut)).values(deadline=cut))
    events.quiz_event(quiz.id, "closed", closes_at=quiz.closes_at)
    db.session.commit()
    return close_overdue(quiz, now=cut + timedelta(microseconds=1))


def extend_quiz(quiz: Quiz, minutes: int, *, actor: User | None, now: datetime) -> None:
    """Give everyone `minutes` more: the closing time and every open attempt's deadline move."""
    from quiz.services.attempts import lock_quiz

    scope.require_quiz(actor, quiz)
    minutes = _int(minutes, "minutes", minimum=1, maximum=24 * 60, required=True)
    lock_quiz(quiz, exclusive=True)
    delta = timedelta(minutes=minutes)
    if quiz.closes_at is not None:
        quiz.closes_at = max(quiz.closes_at, now) + delta
    for attempt in db.session.execute(select(Attempt).where(Attempt.quiz_id == quiz.id,
                                                            Attempt.status == "open")).scalars():
        if attempt.deadline is not None and attempt.deadline > now:
            attempt.deadline = attempt.deadline + delta
    db.session.flush()
    events.quiz_event(quiz.id, "extended", closes_at=quiz.closes_at, minutes=minutes)


def set_freeze(quiz: Quiz, at: datetime | None, *, actor: User | None, now: datetime) -> None:
    """Freeze the public leaderboard at `at` (now if None); organisers still see live results."""
    scope.require_quiz(actor, quiz)
    quiz.freeze_at = at or now
    db.session.flush()
    events.quiz_event(quiz.id, "freeze", freeze_at=quiz.freeze_at)


def reveal(quiz: Quiz, *, actor: User | None) -> None:
    """Lift the freeze: the public leaderboard shows the live results again."""
    scope.require_quiz(actor, quiz)
    quiz.freeze_at = None
    db.session.flush()
    events.quiz_event(quiz.id, "freeze", freeze_at=None)


def live_counts(quiz: Quiz, *, root: Unit | None = None) -> dict:
    """joined (distinct participants), in progress, submitted (attempts); with `root`, only people
    of that unit's subtree."""
    condition = [Attempt.quiz_id == quiz.id]
    if root is not None:
        from quiz.models import Participant

        condition.append(Attempt.participant_id.in_(
            select(Participant.id).join(Unit, Unit.id == Participant.unit_id).where(scope.subtree_condition(root))))
    rows = dict(db.session.execute(
        select(Attempt.status, func.count()).where(*condition).group_by(Attempt.status)).all())
    joined = db.session.scalar(select(func.count(func.distinct(Attempt.participant_id))).where(*condition))
    return {"joined": joined or 0, "in_progress": rows.get("open", 0), "submitted": rows.get("submitted", 0)}
