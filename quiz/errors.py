"""QuizError hierarchy and the HTML/JSON error handlers (messages in the user's language)."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from quiz.extensions import db

log = logging.getLogger(__name__)


class QuizError(Exception):
    """A problem the user can fix; `message` is already translated for them."""

    status_code = 400

    def __init__(self, message: str, *, status_code: int | None = None, payload: dict | None = None):
        super().__init__(message)
        self.message = str(message)
        if status_code is not None:
            self.status_code = status_code
        self.payload = payload or {}


class NotFound(QuizError):
    status_code = 404


class Forbidden(QuizError):
    status_code = 403


class Invalid(QuizError):
    status_code = 422


class Conflict(QuizError):
    status_code = 409


class IdentityMismatch(Forbidden):
    """Join details that do not identify the person: one message whatever did not match."""


class TooManyAttempts(QuizError):
    """Over an abuse limit (wrong join codes, failed log-ins): 429 with Retry-After."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


def wants_json() -> bool:
    """API paths and clients that prefer JSON get JSON errors."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _message(status: int) -> str | None:
    """The translated message for one status (only that one is translated)."""
    factory = _MESSAGES.get(status)
    return factory() if factory else None


_MESSAGES = {
    400: lambda: _("The request could not be understood."),
    401: lambda: _("Please log in first."),
    403: lambda: _("You do not have permission to do this."),
    404: lambda: _("The page or item was not found."),
    405: lambda: _("This method is not allowed here."),
    409: lambda: _("This conflicts with the current state."),
    413: lambda: _("The upload is too large (limit %(size)s).", size=_limit_text()),
    422: lambda: _("The data could not be accepted."),
    429: lambda: _("Too many requests; please wait a moment and try again."),
    500: lambda: _("Something went wrong on our side. Nothing you saved was lost; please try again."),
}


def _limit_text() -> str:
    """The upload limit for people: '20 MB', or '512 KB' below one megabyte."""
    from flask import current_app

    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    return f"{max(1, round(limit / 1024))} KB"


def error_body(status: int, message: str, payload: dict | None = None) -> dict:
    """The JSON body of an error: {"error": message, "status": status, …payload}."""
    body = {"error": message, "status": status}
    body.update(payload or {})
    return body


def _respond(status: int, message: str, payload: dict | None = None):
    if wants_json():
        return jsonify(error_body(status, message, payload)), status
    return render_template("errors/error.html", status=status, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(QuizError)
    def handle_quiz_error(error: QuizError):
        response = app.make_response(_respond(error.status_code, error.message, error.payload))
        if getattr(error, "retry_after", None):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException):
        status = error.code or 500
        message = _message(status) or error.description
        if status == 400 and error.description and "CSRF" in error.description:
            message = _("The form expired or was sent from elsewhere; reload the page and try again.")
        response, status = _respond(status, message)
        response = app.make_response((response, status))
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = str(retry_after)  # 429 tells the phone when to retry
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        db.session.rollback()
        log.exception("Unhandled error on %s %s", request.method, request.path)
        return _respond(500, _message(500))
