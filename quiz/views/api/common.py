"""JSON API (/api/v1): the blueprint, token authentication and the service endpoints.

Organisers' calls are authenticated by `Authorization: Bearer TOKEN` (never by cookie);
participants' sheet calls by the sheet token (quiz/views/api/sheets.py)."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _

from quiz.errors import Forbidden, QuizError
from quiz.extensions import csrf
from quiz.models.base import utcnow
from quiz.services.people import user_for_token

bp = Blueprint("api", __name__)
csrf.exempt(bp)

TRUE_VALUES = {"1", "true", "yes", "on", "y"}


def token_required(view):
    """401 without a valid bearer token; the user is in g.api_user."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _sep, secret = header.partition(" ")
        user = user_for_token(secret.strip(), now=utcnow(), touch=request.method not in ("GET", "HEAD")
                              ) if scheme.lower() == "bearer" else None
        if user is None:
            raise QuizError(_("A valid API token is required (Authorization: Bearer TOKEN)."), status_code=401)
        g.api_user = user
        return view(*args, **kwargs)

    return wrapped


def _flag(name: str) -> bool:
    return str(request.form.get(name, "")).strip().lower() in TRUE_VALUES


@bp.errorhandler(Forbidden)
def forbidden(error: Forbidden):
    return jsonify({"error": error.message, "status": 403}), 403


@bp.get("/me")
@token_required
def me():
    user = g.api_user
    return jsonify({"username": user.username, "role": user.role, "unit": user.unit.path if user.unit else None})


@bp.get("/ping")
def ping():
    """Hello-world endpoint (the load benchmark's baseline)."""
    return jsonify({"ok": True})
