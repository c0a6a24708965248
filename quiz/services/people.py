"""Accounts, API tokens and rosters (参赛名单): creating people and checking phone numbers."""
from __future__ import annotations

import hmac
import random
import re
import secrets
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from quiz.errors import Conflict, Forbidden, Invalid, NotFound
from quiz.extensions import db
from quiz.models import ApiToken, Participant, Unit, User
from quiz.models.units import PATH_SEPARATOR
from quiz.models.users import ROLES, hash_token
from quiz.questions import fold
from quiz.services import scope
from quiz.services.rows import RowReport, import_rows
from quiz.services.tables import normalise_header
from quiz.services.units import split_path

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
USERNAME = re.compile(r"^[A-Za-z0-9_.@\-]{2,64}$")
MIN_PASSWORD = 8

ROSTER_ALIASES = {normalise_header(n): f for f, names in {
    "name": ("姓名", "名字", "参赛者", "参赛人", "name"),
    "phone": ("手机号", "手机号码", "手机", "电话", "联系电话", "联系方式", "phone", "mobile"),
    "unit": ("单位", "所在单位", "单位名称", "单位路径", "unit"),
}.items() for n in names}


def normalise_phone(raw) -> str:
    """A mainland mobile number as 11 digits ('+86 138-0013-8000' → '13800138000').

    Raises Invalid when it is not one.
    """
    text = fold(raw)
    if text.endswith(".0"):
        text = text[:-2]
    digits = re.sub(r"[\s\-()]", "", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _MOBILE.match(digits):
        raise Invalid(_("phone number “%(phone)s” is not a mainland mobile number (11 digits, starting with 1)",
                        phone=text))
    return digits


def normalise_name(raw) -> str:
    name = " ".join(str(raw or "").split())
    if not name:
        raise Invalid(_("the name is empty"))
    if len(name) > 100:
        raise Invalid(_("the name is too long"))
    return name


def create_user(username: str, *, role: str, password: str, unit: Unit | None = None,
                display_name: str = "", actor: User | None = None, now: datetime) -> User:
    """Create an account. Organisers need a unit; organisers may only create judges and
    participants inside their own subtree."""
    username = (username or "").strip()
    if not USERNAME.match(username):
        raise Invalid(_("Username “%(name)s” must be 2–64 letters, digits or _ . @ -", name=username))
    if role not in ROLES:
        raise Invalid(_("Role “%(role)s” is not one of %(roles)s.", role=role, roles=", ".join(ROLES)))
    if len(password or "") < MIN_PASSWORD:
        raise Invalid(_("The password must have at least %(n)d characters.", n=MIN_PASSWORD))
    if role == "organiser" and unit is None:
        raise Invalid(_("An organiser needs a unit (their scope)."))
    if actor is not None and not actor.is_admin:
        if role in ("admin", "organiser"):
            raise Forbidden(_("Only an administrator can create administrators and organisers."))
        if unit is None:
            raise Invalid(_("Choose a unit within your scope."))
        scope.require_unit(actor, unit)
    if db.session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(_("Username “%(name)s” is already taken.", name=username))
    user = User(username=username, role=role, unit=unit, display_name=display_name or username,
                created_at=now)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def find_user(username: str) -> User:
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(_("User “%(name)s” does not exist.", name=username))
    return user


def set_password(user: User, password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise Invalid(_("The password must have at least %(n)d characters.", n=MIN_PASSWORD))
    user.set_password(password)


def create_token(user: User, *, label: str = "", now: datetime) -> str:
    """Issue an API token for `user`; returns the secret (only its hash is stored)."""
    secret = ApiToken.new_secret()
    db.session.add(ApiToken(user=user, token_hash=hash_token(secret), label=label[:100], created_at=now))
    db.session.flush()
    return secret


def user_for_token(secret: str, *, now: datetime, touch: bool = True) -> User | None:
    """The active user a bearer token belongs to, or None. With `touch`, the token's last use is
    recorded (the caller commits); reads pass touch=False, since reads never write."""
    if not secret:
        return None
    token = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(secret), ApiToken.revoked.is_(False))
    ).scalar_one_or_none()
    if token is None or not token.user.active:
        return None
    if touch:
        token.last_used_at = now
    return token.user


def save_participant(*, name: str, phone: str, unit: Unit, actor: User | None, now: datetime,
                     on_roster: bool = True) -> tuple[Participant, str]:
    """Create or update the participant with this phone. Returns (participant, status)."""
    scope.require_unit(actor, unit)
    name = normalise_name(name)
    phone = normalise_phone(phone)
    person = db.session.execute(select(Participant).where(Participant.phone == phone)).scalar_one_or_none()
    if person is None:
        person = Participant(name=name, phone=phone, unit=unit, on_roster=on_roster,
                             created_at=now, updated_at=now)
        db.session.add(person)
        db.session.flush()
        return person, "created"
    scope.require_participant(actor, person)
    if (person.name, person.unit_id, person.on_roster) == (name, unit.id, person.on_roster or on_roster):
        return person, "unchanged"
    person.name, person.unit, person.updated_at = name, unit, now
    person.on_roster = person.on_roster or on_roster
    db.session.flush()
    return person, "updated"


def import_roster(data: bytes, filename: str, *, actor: User | None, now: datetime,
                  skip_invalid: bool = False, dry_run: bool = False) -> RowReport:
    """Create or update participants from a CSV/XLSX with 姓名, 手机号, 单位 (path).

    Units must already exist (and be in the actor's scope). Atomic unless `skip_invalid`
    (rows.import_rows).
    """
    units = {u.path: u for u in db.session.execute(scope.visible_units(actor)).scalars()}

    def parse(number: int, get) -> tuple[str, tuple[str, str, Unit]]:
        name = normalise_name(get("name"))
        phone = normalise_phone(get("phone"))
        path = PATH_SEPARATOR.join(split_path(get("unit")))
        unit = units.get(path)
        if unit is None:
            raise Invalid(_("unit “%(path)s” does not exist or is outside your scope", path=path))
        return phone, (name, phone, unit)

    def save(item: tuple[str, str, Unit]) -> str:
        name, phone, unit = item
        try:
            return save_participant(name=name, phone=phone, unit=unit, actor=actor, now=now)[1]
        except Forbidden:
            raise Forbidden(_("phone %(phone)s belongs to a person outside your scope", phone=phone))

    return import_rows(data, filename, aliases=ROSTER_ALIASES, required=("name", "phone", "unit"),
                       labels={"name": "姓名", "phone": "手机号", "unit": "单位"}, parse=parse, save=save,
                       skip_invalid=skip_invalid, dry_run=dry_run,
                       duplicate=lambda phone, row: _("phone %(phone)s already appears in row %(row)d",
                                                      phone=phone, row=row))


# ---------------------------------------------------------------- personal access codes
ACCESS_CODE_LENGTH = 6


def normalise_access_code(raw) -> str:
    """An access code as typed (any case, full-width forms, spaces or dashes) → 'K7MQ2X'."""
    return re.sub(r"[\s\-]", "", fold(raw or "")).upper()[:32]


def access_code_matches(person: Participant, raw) -> bool:
    """Whether `raw` is this person's current access code (constant-time comparison)."""
    code = normalise_access_code(raw)
    return bool(person.access_code and code) and hmac.compare_digest(person.access_code, code)


def _roster_in(unit: Unit):
    return (select(Participant).join(Unit, Participant.unit_id == Unit.id)
            .where(Participant.on_roster.is_(True), scope.subtree_condition(unit))
            .order_by(Unit.path, Participant.name, Participant.id))


def generate_access_codes(unit: Unit, *, actor: User | None, now: datetime, missing_only: bool = False,
                          rng: random.Random | None = None) -> int:
    """Give every roster person in `unit`'s subtree a new personal access code (6 characters
    without look-alikes); a new code replaces the old one, which stops working. With
    `missing_only`, only people without a code get one. Returns how many codes were made."""
    from quiz.services.quizzes import JOIN_ALPHABET

    scope.require_manager(actor)
    scope.require_unit(actor, unit)
    choose = (rng or secrets.SystemRandom()).choice
    made = 0
    for person in db.session.execute(_roster_in(unit)).scalars():
        if missing_only and person.access_code:
            continue
        person.access_code = "".join(choose(JOIN_ALPHABET) for _ in range(ACCESS_CODE_LENGTH))
        person.updated_at = now
        made += 1
    db.session.flush()
    return made


def access_code_table(unit: Unit, *, actor: User | None) -> tuple[list[str], list[list]]:
    """The list to hand out: 姓名, 单位, 手机号 (masked), 访问码 for the roster people of `unit`'s
    subtree who have a code."""
    scope.require_manager(actor)
    scope.require_unit(actor, unit)
    header = [_("Full name"), _("Unit"), _("Mobile phone"), _("Access code")]
    rows = [[p.name, p.unit.path, p.masked_phone, p.access_code]
            for p in db.session.execute(_roster_in(unit).where(Participant.access_code.is_not(None))).scalars()]
    return header, rows


def missing_access_codes(quiz) -> int:
    """Roster people in the quiz's audience (every unit when it has none) who have no access code."""
    from sqlalchemy import func, or_

    stmt = (select(func.count(Participant.id)).join(Unit, Participant.unit_id == Unit.id)
            .where(Participant.on_roster.is_(True), Participant.access_code.is_(None)))
    if quiz.audience_units:
        stmt = stmt.where(or_(*[scope.subtree_condition(u) for u in quiz.audience_units]))
    return db.session.scalar(stmt) or 0
