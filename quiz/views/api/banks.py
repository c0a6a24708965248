"""API: question banks (import, list)."""
from __future__ import annotations

from flask import g, jsonify, request
from flask_babel import gettext as _

from quiz.errors import Invalid
from quiz.extensions import db
from quiz.models.base import utcnow
from quiz.services import scope
from quiz.services.banks import bank_counts
from quiz.services.importer import import_bank_file
from quiz.services.units import get_unit
from quiz.views.api.common import _flag, bp, token_required


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
    banks = db.session.execute(scope.usable_banks(user)).scalars().all()
    return jsonify({"banks": [{"id": b.id, "name": b.name, "unit": b.unit.path if b.unit else None,
                               "shared": b.shared, "editable": scope.can_manage_bank(user, b),
                               "questions": bank_counts(b)} for b in banks]})
