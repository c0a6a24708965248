"""The answer lane: a WSGI transport for answer saves, in front of Flask.

During a contest almost every request is ``PUT /api/v1/attempts/<id>/answers/<qid>``: a phone
saving the answer just chosen. Run through Flask, Flask-Limiter and the JSON helpers, the
framework's bookkeeping cost more CPU than the save itself (docs/benchmarks.md). This middleware
sits in front of the Flask app and serves exactly one case without it: a well-formed JSON save
with a valid sheet token, within the sheet's rate limit, that quiz.services.answers.fast_save
stores by the same rules as every other save (services/answers.py owns them). It answers with
the same JSON the Flask view returns.

Anything else (another path or method, a body that is missing, too large, not JSON or not an
object, a practice sheet, a wrong token, a question not on the sheet, clearing an answer, a
sheet past its deadline or submitted, the limit exceeded, a database error) falls through to the
Flask view untouched, which applies the same rules in the request's transaction and gives the
localized message (tests compare the two transports).

It is turned off with ``ANSWER_FAST_LANE = False`` (every save then goes through Flask), and stays off when application-wide
Flask-Limiter limits are configured (``RATELIMIT_DEFAULT`` / ``RATELIMIT_APPLICATION``), which
only the Flask path checks.
"""
from __future__ import annotations

import io
import logging
import re

from quiz.extensions import SHEET_LIMIT_COUNTED, hit_sheet_limit
from quiz.models.base import utcnow
from quiz.services import answers

log = logging.getLogger(__name__)

# Ids of up to 9 digits: always within the database's integer range (quiz/inputs.py); longer ones
# fall through to Flask, whose bounded <int:…> converter answers 404 for ids beyond it.
_ANSWER_PATH = re.compile(r"/api/v1/attempts/([0-9]{1,9})/answers/([0-9]{1,9})")


class AnswerLane:
    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        config = app.config
        self.enabled = bool(config.get("ANSWER_FAST_LANE", True)) and not (
            config.get("RATELIMIT_DEFAULT") or config.get("RATELIMIT_APPLICATION"))
        self.max_body = int(config["MAX_JSON_BYTES"])
        self.limit = config["ANSWER_LIMIT"]
        self.secret_key = config["SECRET_KEY"]
        answers.configure_pool(config.get("ANSWER_ENGINE_OPTIONS"))
        self._engine = None

    def __call__(self, environ, start_response):
        if self.enabled and environ.get("REQUEST_METHOD") == "PUT":
            match = _ANSWER_PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match:
                body = self._serve(environ, int(match[1]), int(match[2]))
                if body is not None:
                    start_response("200 OK", [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(body)))])
                    return [body]
        return self.wsgi_app(environ, start_response)

    @property
    def engine(self):
        if self._engine is None:
            from quiz.extensions import db

            with self.app.app_context():
                self._engine = db.engine
        return self._engine

    def _serve(self, environ, attempt_id: int, question_id: int) -> bytes | None:
        """The response body of a clean save, or None to let Flask handle the request."""
        raw = read_body(environ, self.max_body)
        if raw is None:
            return None
        content_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        if not (content_type == "application/json" or content_type.endswith("+json")):
            return None  # the view explains what to send
        try:
            payload = self.app.json.loads(raw)  # quiz/inputs.py: depth, NUL, surrogates, finite numbers
        except ValueError:
            return None
        if not isinstance(payload, dict) or "response" not in payload:
            return None
        token = token_from_environ(environ)
        if not token:
            return None
        if not hit_sheet_limit(self.limit, attempt_id):
            return None  # the view counts again and answers 429 with Retry-After
        environ[SHEET_LIMIT_COUNTED] = attempt_id
        try:
            result = answers.fast_save(self.engine, self.secret_key, attempt_id, question_id,
                                       payload["response"], token, now=utcnow())
        except Exception:  # noqa: BLE001 - the Flask path retries and reports it properly
            log.warning("answer fast lane failed for sheet %s; falling back", attempt_id, exc_info=True)
            return None
        if result is None:
            return None
        return json_bytes(self.app, result)


def json_is_compact(app) -> bool:
    """Does jsonify() write compact JSON (not in debug mode, or as the provider is told)?"""
    compact = app.json.compact
    return not app.debug if compact is None else bool(compact)


def json_bytes(app, value) -> bytes:
    """The bytes jsonify() sends for `value` (compact unless the app is in debug mode): what every
    lane in front of Flask answers with, so its responses match the Flask views'."""
    if not json_is_compact(app):
        return app.json.dumps(value, indent=2).encode() + b"\n"
    return app.json.compact_bytes(value) + b"\n"  # quiz/inputs.py GuardedJSONProvider


def read_body(environ, limit: int) -> bytes | None:
    """Read a body of known length up to `limit` and put it back for the Flask app; None when the
    length is unknown or too large (Flask reads and judges it then)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if length <= 0 or length > limit:
        return None
    raw = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    return raw if len(raw) == length else None


def token_from_environ(environ) -> str | None:
    """The sheet token: `Authorization: Bearer …`, else the `X-Attempt-Token` header."""
    scheme, _sep, secret = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer" and secret:
        return secret.strip()
    return environ.get("HTTP_X_ATTEMPT_TOKEN")
