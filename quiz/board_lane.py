"""The board lane: public board reads (the leaderboard JSON, the public board page, the big
screen) whose response is already rendered are answered in front of Flask, from the very bytes
the Flask views stored in the quiz's board snapshot (quiz/views/boards.py `rendered`).

It is a thinner transport over the same snapshot, never a second copy of the board: it renders
nothing and reads no database. It answers only a GET of one of the three paths, without a session
or remember-me cookie (whose language may come from the session or the account), whose snapshot
can be served without asking the database (ranking.peek_snapshot) and whose response for this
language and query string is already stored. Everything else, e.g. the first request after the
board changed, goes to Flask, which renders and stores the response.

It also answers `GET /live/clock` (the server's time, services/live.py `server_clock`, which the
Flask view returns too): live contests' phones ping it every few seconds to measure their round
trip and clock offset, so thousands of phones should not each cost a trip through Flask.
"""
from __future__ import annotations

import re
from urllib.parse import parse_qsl

from quiz.answer_lane import json_bytes
from quiz.models.base import utcnow
from quiz.services.ranking import peek_snapshot

_PATH = re.compile(r"^/(?:api/v1/quizzes/(\d{1,10})/leaderboard|board/(\d{1,10})(/screen)?)$")


class BoardLane:
    """WSGI middleware in front of the Flask app (create_app installs it)."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.board_lane = bool(app.config.get("BOARD_LANE", True))
        self.languages = app.config["LANGUAGES"]
        self.default_locale = app.config["BABEL_DEFAULT_LOCALE"]
        self.cookies = (app.config.get("SESSION_COOKIE_NAME", "session") + "=",
                        app.config.get("REMEMBER_COOKIE_NAME", "remember_token") + "=")

    def __getattr__(self, name):
        """Transparent: the wrapped app's attributes stay reachable."""
        return getattr(self.wsgi_app, name)

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/live/clock" and environ.get("REQUEST_METHOD") == "GET":
            from quiz.services.live import server_clock

            body = json_bytes(self.app, server_clock(utcnow()))
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                      ("Cache-Control", "no-store")])
            return [body]
        if self.board_lane and environ.get("REQUEST_METHOD") == "GET":
            hit = self.stored(environ)
            if hit is not None:
                content_type, body = hit
                start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
                return [body]
        return self.wsgi_app(environ, start_response)

    def stored(self, environ) -> tuple[str, bytes] | None:
        """The stored (content type, body) for this request, or None (Flask answers it)."""
        match = _PATH.match(environ.get("PATH_INFO", ""))
        if match is None:
            return None
        if has_session_cookie(environ, self.cookies):
            return None
        snapshot = peek_snapshot(self.app, int(match.group(1) or match.group(2)))
        if snapshot is None:
            return None
        kind = "json" if match.group(1) else ("screen" if match.group(3) else "page")
        query = environ.get("QUERY_STRING", "")
        return snapshot.get_rendered(snapshot.rendered_key(utcnow(), kind, self.locale(query, environ), query))

    def locale(self, query: str, environ) -> str:
        return cookieless_locale(query, environ, self.languages, self.default_locale)


def cookieless_locale(query: str, environ, languages, default: str) -> str:
    """quiz.locale_key for a request without a session or account: ?lang=, X-Language, default."""
    if "lang=" in query:
        for name, value in parse_qsl(query):
            if name == "lang":  # the first one, as request.args.get("lang")
                if value in languages:
                    return value
                break
    header = environ.get("HTTP_X_LANGUAGE")
    return header if header in languages else default


def has_session_cookie(environ, names: tuple[str, ...]) -> bool:
    """A session or remember-me cookie (`names`: "session=", "remember_token="): the language or
    the account may come from it, so only Flask answers."""
    cookie = environ.get("HTTP_COOKIE", "")
    return bool(cookie) and any(name in cookie for name in names)
