"""Demo set-up: sample units, roster and banks, plus an admin and an organiser account."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from flask_babel import gettext as _
from sqlalchemy import select

from quiz.extensions import db
from quiz.models import User
from quiz.services.importer import import_bank_file
from quiz.services.people import create_user, import_roster, set_password
from quiz.services.units import get_unit, import_units


@dataclass
class DemoResult:
    lines: list[str] = field(default_factory=list)
    accounts: list[tuple[str, str, str]] = field(default_factory=list)


def load_demo(root: Path, *, now: datetime, password_factory: Callable[[], str]) -> DemoResult:
    """Load samples/ units and roster and every bank in question_banks/ (idempotent), and
    (re)set passwords of the demo accounts `admin` and `organiser`."""
    result = DemoResult()
    units_file = root / "samples" / "units.csv"
    report = import_units(units_file.read_bytes(), units_file.name, actor=None, now=now)
    result.lines.append(_("Units: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
                          created=report.created, updated=report.updated, unchanged=report.unchanged))
    roster_file = root / "samples" / "roster.csv"
    roster = import_roster(roster_file.read_bytes(), roster_file.name, actor=None, now=now)
    result.lines.append(_("Roster: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
                          created=roster.created, updated=roster.updated, unchanged=roster.unchanged))
    for path in sorted((root / "question_banks").glob("*")):
        if path.suffix.lower() not in (".csv", ".xlsx"):
            continue
        bank = import_bank_file(path.stem, path.read_bytes(), path.name, actor=None, now=now)
        result.lines.append(_("Bank “%(bank)s”: %(created)d created, %(updated)d updated, %(unchanged)d unchanged, "
                              "%(duplicates)d duplicates merged, %(rejected)d rows rejected",
                              bank=path.stem, created=bank.created, updated=bank.updated,
                              unchanged=bank.unchanged, duplicates=bank.duplicates, rejected=len(bank.rejected)))
    for username, role, unit_path in (("admin", "admin", None), ("organiser", "organiser", "乔司街道")):
        password = password_factory()
        user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            unit = get_unit(unit_path) if unit_path else None
            create_user(username, role=role, password=password, unit=unit, now=now)
        else:
            set_password(user, password)
        result.accounts.append((username, password, role))
    return result
