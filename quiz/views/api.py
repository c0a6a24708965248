"""JSON API (/api/v1), authenticated by `Authorization: Bearer TOKEN`, never by cookie."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _

from quiz.errors import Forbidden, Invalid, QuizError
from quiz.extensions import csrf, db
from quiz.models.base import utcnow
from quiz.services import scope
from quiz.services.banks import bank_counts
from quiz.services.importer import import_bank_file
from quiz.services.people import user_for_token
from quiz.services.units import get_unit

bp = Blueprint("api", __name__)
csrf.exempt(bp)

TRUE_VALUES = {"1", "true", "yes", "on", "y"}


def token_required(view):
    """401 without a valid bearer token; the user is in g.api_user."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _sep, secret = header.partition(" ")
        user = user_for_token(secret.strip(), now=utcnow()) if scheme.lower() == "bearer" else None
        if user is None:
            raise QuizError(_("A valid API token is required (Authorization: Bearer TOKEN)."), status_code=401)
        g.api_user = user
        return view(*args, **kwargs)

    return wrapped


def _flag(name: str) -> bool:
    return str(request.form.get(name, "")).strip().lower() in TRUE_VALUES


@bp.post("/banks/import")
@token_required
def import_bank():
    """Multipart `file`, `bank`, optional `skip_invalid`, `dry_run`, `unit` (path for a new bank).

    200 with the import JSON when imported (or a dry run that would import); 422 when rejected.
    """
    user = g.api_user
    scope.require_manager(user)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Invalid(_("Send the spreadsheet as the multipart field “file”."))
    bank = (request.form.get("bank") or "").strip()
    if not bank:
        raise Invalid(_("The field “bank” (bank name) is required."))
    unit = get_unit(request.form["unit"]) if request.form.get("unit") else None
    report = import_bank_file(bank, upload.read(), upload.filename, actor=user, now=utcnow(),
                              skip_invalid=_flag("skip_invalid"), dry_run=_flag("dry_run"), unit=unit)
    if report.written:
        db.session.commit()
    else:
        db.session.rollback()
    return jsonify(report.as_dict()), (200 if report.accepted else 422)


@bp.get("/banks")
@token_required
def list_banks():
    user = g.api_user
    scope.require_manager(user)
    banks = db.session.execute(scope.visible_banks(user)).scalars().all()
    return jsonify({"banks": [{"id": b.id, "name": b.name, "unit": b.unit.path if b.unit else None,
                               "questions": bank_counts(b)} for b in banks]})


@bp.get("/me")
@token_required
def me():
    user = g.api_user
    return jsonify({"username": user.username, "role": user.role, "unit": user.unit.path if user.unit else None})


@bp.errorhandler(Forbidden)
def forbidden(error: Forbidden):
    return jsonify({"error": error.message, "status": 403}), 403
