"""The unit tree: import from a spreadsheet (单位 path, 应参人数), create, rename, edit headcount."""
from __future__ import annotations

import re
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update, func

from quiz import events
from quiz.errors import Conflict, Forbidden, Invalid, NotFound
from quiz.extensions import db
from quiz.models import Bank, Participant, Unit, User
from quiz.models.units import PATH_SEPARATOR
from quiz.services import scope
from quiz.services.rows import RowReport, import_rows, parse_number
from quiz.services.tables import normalise_header

UNIT_ALIASES = {normalise_header(n): f for f, names in {
    "path": ("单位", "单位名称", "单位路径", "所在单位", "unit", "path"),
    "headcount": ("应参人数", "应参加人数", "应参与人数", "应参赛人数", "人数", "headcount"),
}.items() for n in names}

MAX_NAME = 100
SEPARATORS = "/／\\>＞"
_SPLIT = re.compile(rf"\s*[{re.escape(SEPARATORS)}]\s*")


def split_path(raw: str) -> list[str]:
    """'乔司街道 / 三角村社区' → ['乔司街道', '三角村社区'] (also ／, \\ and > as separators)."""
    text = " ".join(str(raw or "").split())
    parts = [p.strip() for p in _SPLIT.split(text.strip())]
    if not text or any(not p for p in parts):
        raise Invalid(_("unit path “%(path)s” is not valid (use names separated by /)", path=raw))
    for part in parts:
        if len(part) > MAX_NAME:
            raise Invalid(_("unit name “%(name)s” is too long", name=part[:20] + "…"))
    return parts


def parse_headcount(raw: str) -> int | None:
    """应参人数: empty (None) or a whole number from 0 to 10,000,000; Invalid otherwise."""
    return parse_number(raw, low=0, high=10_000_000, whole=True,
                        not_a_number=_l("headcount “%(value)s” is not a whole number"),
                        out_of_range=_l("headcount “%(value)s” must be a whole number from 0 to 10,000,000"))


def canonical_path(raw: str) -> str:
    """A unit path as typed → as stored ('乔司街道 / 三角村社区' → '乔司街道/三角村社区')."""
    return PATH_SEPARATOR.join(split_path(raw))


def find_unit(path: str) -> Unit | None:
    return db.session.execute(select(Unit).where(Unit.path == canonical_path(path))).scalar_one_or_none()


def get_unit(path: str) -> Unit:
    """The unit at `path`, or NotFound naming it."""
    unit = find_unit(path)
    if unit is None:
        raise NotFound(_("Unit “%(path)s” does not exist.", path=path))
    return unit


def ensure_path(parts: list[str], *, actor: User | None, now: datetime,
                headcount: int | None = None, cache: dict[str, Unit] | None = None
                ) -> tuple[Unit, str]:
    """Create the missing units along `parts`; set the headcount of the last one.

    Returns (unit, status) with status created / updated / unchanged. Organisers may only
    create or change units strictly inside their subtree (or their own unit's headcount).
    """
    cache = cache if cache is not None else {}
    parent: Unit | None = None
    status = "unchanged"
    for depth in range(1, len(parts) + 1):
        path = PATH_SEPARATOR.join(parts[:depth])
        unit = cache.get(path)
        if unit is None:
            unit = db.session.execute(select(Unit).where(Unit.path == path)).scalar_one_or_none()
        last = depth == len(parts)
        if unit is None:
            probe = Unit(name=parts[depth - 1], path=path)
            if not scope.can_manage_unit(actor, probe) or (
                actor is not None and not actor.is_admin and probe.path == actor.unit.path
            ):
                raise Forbidden(_("Unit “%(path)s” is outside your scope.", path=path))
            unit = Unit(name=parts[depth - 1], path=path, parent=parent,
                        headcount=(headcount or 0) if last else 0, created_at=now, updated_at=now)
            db.session.add(unit)
            if last:
                status = "created"
        elif last and headcount is not None and unit.headcount != headcount:
            scope.require_unit(actor, unit)
            unit.headcount = headcount
            unit.updated_at = now
            status = "updated"
        cache[path] = unit
        parent = unit
    db.session.flush()
    return parent, status


def import_units(data: bytes, filename: str, *, actor: User | None, now: datetime,
                 dry_run: bool = False) -> RowReport:
    """Create or update the unit tree from a CSV/XLSX with 单位 (path) and 应参人数.

    Atomic: one bad row rejects the file and nothing is written (rows.import_rows).
    """
    def parse(number: int, get) -> tuple[str, tuple[list[str], int | None]]:
        parts = split_path(get("path"))
        return PATH_SEPARATOR.join(parts), (parts, parse_headcount(get("headcount")))

    cache: dict[str, Unit] = {}

    def save(item: tuple[list[str], int | None]) -> str:
        parts, headcount = item
        return ensure_path(parts, actor=actor, now=now, headcount=headcount, cache=cache)[1]

    return import_rows(data, filename, aliases=UNIT_ALIASES, required=("path",), labels={"path": "单位"},
                       parse=parse, save=save, dry_run=dry_run,
                       duplicate=lambda path, row: _("unit “%(path)s” already appears in row %(row)d",
                                                     path=path, row=row))


def create_unit(*, parent: Unit | None, name: str, headcount: int, actor: User | None,
                now: datetime) -> Unit:
    """Add a child unit (or a root unit, admins only)."""
    name = " ".join((name or "").split())
    if not name or any(c in SEPARATORS for c in name) or len(name) > MAX_NAME:
        raise Invalid(_("A unit name is required, without / \\ or >, at most %(n)d characters.", n=MAX_NAME))
    if headcount < 0:
        raise Invalid(_("The headcount cannot be negative."))
    if parent is None:
        if actor is not None and not actor.is_admin:
            raise Forbidden(_("Only an administrator can add a top-level unit."))
        path = name
    else:
        scope.require_unit(actor, parent)
        path = parent.path + PATH_SEPARATOR + name
    if db.session.execute(select(Unit.id).where(Unit.path == path)).first():
        raise Conflict(_("Unit “%(path)s” already exists.", path=path))
    unit = Unit(name=name, path=path, parent=parent, headcount=headcount, created_at=now, updated_at=now)
    db.session.add(unit)
    db.session.flush()
    return unit


def edit_unit(unit: Unit, *, name: str, headcount: int, actor: User | None, now: datetime) -> Unit:
    """Rename a unit (its descendants' paths follow) and set its headcount."""
    scope.require_unit(actor, unit)
    name = " ".join((name or "").split())
    if not name or any(c in SEPARATORS for c in name) or len(name) > MAX_NAME:
        raise Invalid(_("A unit name is required, without / \\ or >, at most %(n)d characters.", n=MAX_NAME))
    if headcount < 0:
        raise Invalid(_("The headcount cannot be negative."))
    if name != unit.name:
        if actor is not None and not actor.is_admin and unit.id == actor.unit_id:
            raise Forbidden(_("You cannot rename your own unit; ask an administrator."))
        old = unit.path
        new = (unit.parent.path + PATH_SEPARATOR if unit.parent else "") + name
        if db.session.execute(select(Unit.id).where(Unit.path == new)).first():
            raise Conflict(_("Unit “%(path)s” already exists.", path=new))
        prefix = old + PATH_SEPARATOR
        db.session.execute(
            update(Unit)
            .where(Unit.path.startswith(prefix, autoescape=True))
            .values(path=new + PATH_SEPARATOR + func.substr(Unit.path, len(prefix) + 1))
            .execution_options(synchronize_session=False)
        )
        unit.name = name
        unit.path = new
        events.publish(events.UNITS, "changed", {"unit": unit.id})  # paths of its subtree changed (joins cache them)
    unit.headcount = headcount
    unit.updated_at = now
    db.session.flush()
    db.session.expire_all()
    return unit


def delete_unit(unit: Unit, *, actor: User | None) -> None:
    """Remove an empty unit (no sub-units, people, accounts or banks)."""
    scope.require_unit(actor, unit)
    if actor is not None and not actor.is_admin and unit.id == actor.unit_id:
        raise Forbidden(_("You cannot delete your own unit."))
    in_use = (
        db.session.execute(select(Unit.id).where(Unit.parent_id == unit.id)).first()
        or db.session.execute(select(Participant.id).where(Participant.unit_id == unit.id)).first()
        or db.session.execute(select(User.id).where(User.unit_id == unit.id)).first()
        or db.session.execute(select(Bank.id).where(Bank.unit_id == unit.id)).first()
    )
    if in_use:
        raise Conflict(_("Unit “%(path)s” still has sub-units, people, accounts or banks; it cannot be deleted.",
                         path=unit.path))
    db.session.delete(unit)
    db.session.flush()
