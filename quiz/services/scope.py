"""Unit scope: admins see everything; an organiser sees and changes only their unit subtree.

Two things reach below or across that line, read-only:
- a bank marked *shared* may be read and drawn from by organisers anywhere below its owner unit
  (by every organiser when administrators own it), never changed by them;
- an organiser may view a quiz whose audience includes their subtree (a street's contest open to
  its villages): its page, boards, reports and exports, restricted to the people of their subtree;
  only the quiz's managers (its unit's organisers and admins) may change it.

Judges (评委) manage nothing: a judge account may score exactly the performances it is assigned
to (arena matches, live-contest rounds judged by a panel) and nothing else; whoever runs the
contest assigns judges. Admins and organisers do not score as judges unless they are assigned.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import exists, false, or_, select
from sqlalchemy.orm import aliased

from quiz.errors import Forbidden
from quiz.models import Bank, Participant, Quiz, Unit, User, quiz_unit
from quiz.models.units import PATH_SEPARATOR

MANAGER_ROLES = ("admin", "organiser")


def is_manager(user: User | None) -> bool:
    return user is None or user.role in MANAGER_ROLES


def unit_filter(user: User | None, column=None):
    """SQL condition restricting Unit rows (or a unit-path column) to the user's subtree.

    Returns None when no restriction applies. Non-managers, and organisers without a unit,
    see nothing.
    """
    if user is None or user.is_admin:
        return None
    if user.role != "organiser" or user.unit is None:
        return Unit.id.is_(None)  # matches nothing
    path = user.unit.path
    column = column if column is not None else Unit.path
    return or_(column == path, column.like(_escape_like(path + PATH_SEPARATOR) + "%", escape="\\"))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def subtree_condition(unit: Unit, table=Unit):
    """SQL condition for `unit` and all its descendants (on `table`, Unit or an alias of it)."""
    return or_(table.path == unit.path,
               table.path.like(_escape_like(unit.path + PATH_SEPARATOR) + "%", escape="\\"))


def can_manage_unit(user: User | None, unit: Unit | None) -> bool:
    if user is None or user.is_admin:
        return True
    if user.role != "organiser" or user.unit is None or unit is None:
        return False
    return unit.is_within(user.unit)


def require_unit(user: User | None, unit: Unit | None) -> None:
    if not can_manage_unit(user, unit):
        raise Forbidden(_("This unit is outside your scope."))


def can_manage_bank(user: User | None, bank: Bank) -> bool:
    if user is None or user.is_admin:
        return True
    return bank.unit is not None and can_manage_unit(user, bank.unit)


def require_bank(user: User | None, bank: Bank) -> None:
    if not can_manage_bank(user, bank):
        raise Forbidden(_("This question bank is outside your scope."))


def ancestor_paths(unit: Unit) -> list[str]:
    """The unit's own path and those of every unit above it."""
    parts = unit.path.split(PATH_SEPARATOR)
    return [PATH_SEPARATOR.join(parts[:i]) for i in range(1, len(parts) + 1)]


def can_use_bank(user: User | None, bank: Bank) -> bool:
    """May read the bank and draw questions from it: its managers, and organisers below the owner
    unit of a shared bank (every organiser for a shared administrators' bank)."""
    if can_manage_bank(user, bank):
        return True
    if not bank.shared or user.role != "organiser" or user.unit is None:
        return False
    return bank.unit is None or user.unit.is_within(bank.unit)


def require_bank_use(user: User | None, bank: Bank) -> None:
    if not can_use_bank(user, bank):
        raise Forbidden(_("This question bank is outside your scope."))


def usable_banks(user: User | None):
    """Select of the banks the user may read and draw from (own subtree's, and shared from above)."""
    if user is None or user.is_admin:
        return select(Bank).order_by(Bank.name)
    if user.role != "organiser" or user.unit is None:
        return select(Bank).where(false())
    own = unit_filter(user)
    shared = Bank.shared.is_(True) & or_(Bank.unit_id.is_(None), Unit.path.in_(ancestor_paths(user.unit)))
    return (select(Bank).outerjoin(Unit, Bank.unit_id == Unit.id)
            .where(or_(own & Bank.unit_id.is_not(None), shared)).order_by(Bank.name))


def require_participant(user: User | None, participant: Participant) -> None:
    if not can_manage_unit(user, participant.unit):
        raise Forbidden(_("This person is outside your scope."))


def require_manager(user: User | None) -> None:
    if not is_manager(user):
        raise Forbidden(_("You do not have permission to do this."))


def visible_units(user: User | None):
    """Select of the units the user may see, ordered by path."""
    stmt = select(Unit).order_by(Unit.path)
    condition = unit_filter(user)
    return stmt if condition is None else stmt.where(condition)


def visible_banks(user: User | None):
    """Select of the banks the user may see (organisers: banks owned by their subtree)."""
    stmt = select(Bank).order_by(Bank.name)
    condition = unit_filter(user)
    if condition is None:
        return stmt
    return stmt.join(Unit, Bank.unit_id == Unit.id).where(condition)


# ---------------------------------------------------------------- quizzes
MANAGE, VIEW = "manage", "view"


def quiz_access(user: User | None, quiz: Quiz) -> str | None:
    """"manage" (admins, organisers of the quiz's unit subtree), "view" (organisers whose subtree
    meets the quiz's audience: an audience unit above, at or below their unit, or no audience
    limit) or None."""
    if user is None or user.is_admin:
        return MANAGE
    if user.role != "organiser" or user.unit is None:
        return None
    if quiz.unit is not None and quiz.unit.is_within(user.unit):
        return MANAGE
    if not quiz.audience_units or any(user.unit.is_within(u) or u.is_within(user.unit)
                                      for u in quiz.audience_units):
        return VIEW
    return None


def require_quiz(user: User | None, quiz: Quiz, access: str = MANAGE) -> None:
    """Forbidden unless the user may `access` ("manage" or "view") the quiz."""
    granted = quiz_access(user, quiz)
    if granted is None or (access == MANAGE and granted != MANAGE):
        raise Forbidden(_("This quiz is outside your scope.") if granted is None
                        else _("You may view this quiz but not change it; its organisers manage it."))


def live_access(user: User | None, contest) -> str | None:
    """A live contest: "manage" (host it: admins, organisers of its unit's subtree — the organisers
    of its hidden quiz), "view" (organisers whose subtree holds one of its entrants' units: they
    see it listed with its public big screen, never the host's state), or None."""
    if user is None or user.is_admin:
        return MANAGE
    if user.role != "organiser" or user.unit is None:
        return None
    if contest.unit is not None and contest.unit.is_within(user.unit):
        return MANAGE
    if any(e.unit is not None and e.unit.is_within(user.unit) for e in contest.entrants):
        return VIEW
    return None


def require_live(user: User | None, contest, access: str = MANAGE) -> None:
    """Forbidden unless the user may `access` the live contest (live_access)."""
    granted = live_access(user, contest)
    if granted is None or (access == MANAGE and granted != MANAGE):
        raise Forbidden(_("This live contest is outside your scope.") if granted is None
                        else _("You may see this live contest but not host it; its organisers do."))


def people_root(user: User | None) -> Unit | None:
    """The unit whose subtree limits the people an organiser sees in boards, reports and exports
    (None: everyone)."""
    return None if user is None or user.is_admin else user.unit


def visible_quizzes(user: User | None):
    """Select of the quizzes the user may view (managed ones and those whose audience meets their
    subtree), newest first; not the hidden quizzes of live contests (listed as live contests)."""
    stmt = select(Quiz).where(Quiz.mode != "live").order_by(Quiz.id.desc())
    if user is None or user.is_admin:
        return stmt
    if user.role != "organiser" or user.unit is None:
        return stmt.where(false())
    owner, audience = aliased(Unit), aliased(Unit)
    managed = exists(select(owner.id).where(owner.id == Quiz.unit_id, subtree_condition(user.unit, owner)))
    no_limit = ~exists(select(quiz_unit.c.unit_id).where(quiz_unit.c.quiz_id == Quiz.id))
    meets = exists(select(quiz_unit.c.unit_id).join(audience, audience.id == quiz_unit.c.unit_id).where(
        quiz_unit.c.quiz_id == Quiz.id,
        or_(audience.path.in_(ancestor_paths(user.unit)), subtree_condition(user.unit, audience))))
    return stmt.where(or_(managed, no_limit, meets))


# ---------------------------------------------------------------- judges
def can_judge(user: User | None, assigned_judge_ids) -> bool:
    """May `user` enter scores for a performance whose assigned judges are `assigned_judge_ids`
    (user ids)? Only an active account on that list, whatever its role."""
    return user is not None and user.is_active and user.id in set(assigned_judge_ids or ())


def require_judge(user: User | None, assigned_judge_ids) -> None:
    if not can_judge(user, assigned_judge_ids):
        raise Forbidden(_("Only the judges assigned to this performance may score it."))
