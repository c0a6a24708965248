"""Unit scope: admins see everything; an organiser sees and changes only their unit subtree."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import or_, select

from quiz.errors import Forbidden
from quiz.models import Bank, Participant, Unit, User
from quiz.models.units import PATH_SEPARATOR

MANAGER_ROLES = ("admin", "organiser")


def is_manager(user: User | None) -> bool:
    return user is None or user.role in MANAGER_ROLES


def root_unit(user: User | None) -> Unit | None:
    """The top of the user's scope; None means everything (admin or a CLI caller)."""
    if user is None or user.is_admin:
        return None
    return user.unit


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


def subtree_condition(unit: Unit):
    """SQL condition for `unit` and all its descendants."""
    return or_(Unit.path == unit.path,
               Unit.path.like(_escape_like(unit.path + PATH_SEPARATOR) + "%", escape="\\"))


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
