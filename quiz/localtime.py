"""The contest's local time zone, from one setting: BABEL_DEFAULT_TIMEZONE (quiz/config.py;
Asia/Shanghai unless instance/config.py or FLASK_BABEL_DEFAULT_TIMEZONE says otherwise).

Every local time the engine reads or writes uses it: times typed without a zone
(quizzes.parse_time), the days and periods of the points board (points.py), dates in exports
(exports.py) and the demo's schedule. Pages show times through Flask-Babel, which reads the same
setting, so what is typed, stored, shown and exported agrees.
"""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from quiz.config import Config


def local_tz() -> ZoneInfo:
    """The configured time zone (the app's BABEL_DEFAULT_TIMEZONE; the default outside an app)."""
    name = current_app.config.get("BABEL_DEFAULT_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or Config.BABEL_DEFAULT_TIMEZONE)  # ZoneInfo caches one object per name
