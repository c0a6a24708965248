"""The join lane: a WSGI transport for API joins, in front of Flask.

When a contest opens, thousands of phones post ``POST /api/v1/join/<code>`` within a minute. The
join itself is a handful of statements (services/joins.py); run through Flask's request machinery
(routing, the session, the locale selector, the limiter's decorator bookkeeping, jsonify) the
framework cost about as much CPU again (docs/benchmarks.md "Joining"). This middleware serves
that request without Flask, with the same service calls as the Flask view
(quiz/views/api/sheets.py `join`): the join limits (`joins.count_join_request`), the guarded
lookup and join (`joins.join_by_code`), the payload (`join_body`), the commit, and the same
JSON, status and error bodies (quiz/errors.py `error_body`).

It serves only a POST to /api/v1/join/<code> without a query string and without a session or
remember-me cookie (the language and the account may come from those), whose body is a JSON
object of known length. Everything else goes to the Flask view, and so does a request whose join
failed unexpectedly (a database error): the view then does not count the join limits again.
Errors the rules raise (an unknown code, details that do not match, a closed quiz, a limit) are
answered here, in the language of ``X-Language`` or the default, as the view answers them.

It sits inside ProxyFix (when PROXY_FIX_X_FOR is set), so the client's address is the real one.
On SQLite the joins take turns at their write transaction (`SQLiteTurns`), rather than retrying in
SQLite's busy handler, which sleeps up to 100 ms between tries; a new sheet's payload is built after
the commit, outside that turn.
Joins that arrive together are committed together (`JoinGroup`, services/batching.py): one
transaction, one commit and one WAL flush for the joins a process has in flight, each answered only
after that commit. ``JOIN_GROUP_COMMIT = False`` commits each join alone.
``JOIN_LANE = False`` turns it off; it stays off when application-wide Flask-Limiter limits are
configured (``RATELIMIT_DEFAULT`` / ``RATELIMIT_APPLICATION``), which only the Flask path checks.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import threading

from flask import g
from werkzeug.http import HTTP_STATUS_CODES

from quiz.answer_lane import json_bytes, json_is_compact, read_body
from quiz.board_lane import cookieless_locale, has_session_cookie
from quiz.models.base import utcnow
from quiz.services.batching import Batcher

log = logging.getLogger(__name__)

JOIN_LIMIT_COUNTED = "quiz.join_limit_counted"  # environ flag: the lane already counted the join limits
_PATH = re.compile(r"/api/v1/join/([A-Za-z0-9]{1,16})")


class SQLiteTurns:
    """SQLite has one writer at a time. Joins take turns here, the threads of a process on a lock
    and the processes on an exclusive flock of a file beside the database, which wakes the next
    one as soon as the last is done, instead of retrying in SQLite's busy handler, which sleeps up to
    100 ms between tries (p99 of seconds when a crowd joins)."""

    def __init__(self, uri: str):
        from sqlalchemy.engine import make_url

        database = make_url(uri).database
        self.path = f"{database}.join-turns" if database and database != ":memory:" else None
        self.lock = threading.Lock()
        self.fd: int | None = None
        self.pid = 0

    def _file(self) -> int | None:
        if self.path is None:
            return None
        if self.fd is None or self.pid != os.getpid():  # not inherited over a fork: one per process
            self.fd, self.pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
        return self.fd

    def __enter__(self):
        self.lock.acquire()
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a read-only directory: the threads of this process still take turns
            log.warning("join turns: cannot lock %s", self.path, exc_info=True)
            self.path = None
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.fd is not None and self.path is not None:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            self.lock.release()


class BatchFailed(Exception):
    """This join ran in a batch that was rolled back (another join of it failed): the Flask view
    joins it again."""


class JoinGroup(Batcher):
    """Joins committed in groups: the joins that arrive while a batch of this process is being
    written run one after another on one connection, in one transaction (one BEGIN and COMMIT, one
    WAL flush, one key-share lock of the quiz row for the lot), each answered only after that
    commit. Each join runs in its own language (its errors are worded in it).

    A join the rules refuse (QuizError, NeedsSession) has usually written nothing (joins.WROTE is
    0): its error is its answer and the batch goes on. A refused join that wrote, or any other
    error (the database's), rolls the whole batch back: that join's own error is its answer, the
    refusals before it stand (they wrote nothing), and every other join of the batch goes to the
    Flask view (BatchFailed), as a join that fails unexpectedly in the lane always has.

    Batches that follow each other while joins keep arriving run on one connection (`kept`),
    returned to the pool when the queue runs empty: no pool checkout, reset and return per batch
    (about 5 % of a join's CPU with small batches)."""

    timeout_message = "join waited too long for its batch"

    def __init__(self, lane: "JoinLane"):
        super().__init__()
        self.lane = lane

    def _write(self, _context, batch) -> None:
        from quiz.errors import QuizError
        from quiz.services import joins

        saved = g.get("locale_override"), g.pop("_flask_babel", None)
        done, current = [], None
        try:
            conn = self.kept
            if conn is None or conn.closed or conn.invalidated:
                self._drop_kept()
                conn = self.kept = self.lane.engine.connect()
            with self.lane.writer:
                try:
                    transaction = conn.begin()
                except Exception:
                    self._drop_kept()  # a connection in a state to forget: the next batch takes another
                    raise
                try:
                    def attempt(item, later):
                        nonlocal current
                        current = item
                        run, g.locale_override, _lookup = item.params
                        g.pop("_flask_babel", None)  # flask_babel's per-context locale and translations
                        conn.info[joins.WROTE] = 0
                        try:
                            results[id(item)] = run(conn, later)
                        except (QuizError, joins.NeedsSession) as error:
                            if conn.info.get(joins.WROTE):
                                raise  # its rows must go: the whole batch is rolled back
                            self.finish(item, error=error)

                    # the batch's lookups in one statement, each join served its own rows; the new
                    # people and their sheets written together after the last join's rules (a join
                    # alone: as the Flask view joins)
                    together = len(batch) > 1
                    later, results = joins.Later() if together else None, {}
                    with joins.lookups_read_ahead(conn, [item.params[2] for item in batch
                                                         if together and item.params[2] is not None]):
                        for item in batch:
                            attempt(item, later)
                    unwritten = {id(sheet) for sheet in later.write(conn)} if later is not None else set()
                    for item in batch:  # a phone written meanwhile: the join runs again, alone
                        if id(item) in results and id(results[id(item)][0]) in unwritten:
                            del results[id(item)]
                            attempt(item, None)
                    done = [(item, results[id(item)]) for item in batch if id(item) in results]
                    current = None
                    transaction.commit()
                except Exception as error:  # noqa: BLE001 - handed to the joins of the batch
                    try:
                        transaction.rollback()
                    finally:
                        self._drop_kept()  # the next batch starts on a fresh connection
                    if current is not None:  # its own error: a refusal stands, anything else goes to Flask
                        self.finish(current, error=error)
                    for item in batch:
                        if not item.done:  # rolled back, or not run yet
                            self.finish(item, error=BatchFailed())
                    return
        finally:
            g.locale_override = saved[0]
            g.pop("_flask_babel", None)
            if saved[1] is not None:
                g._flask_babel = saved[1]
        self.batches += 1
        self.saves += len(batch)
        for item, result in done:
            self.finish(item, result)

    def _drop_kept(self) -> None:
        conn, self.kept = self.kept, None
        if conn is not None:
            self._release(conn)

    def _release(self, conn) -> None:
        try:
            conn.close()  # back to the pool (a broken one is discarded there)
        except Exception:  # noqa: BLE001 - a lost connection: nothing left to return
            log.warning("join group: closing its connection failed", exc_info=True)


def join_body(app, sheet, *, conn=None) -> bytes:
    """The body of a join's answer, as jsonify() sends joins.payload(sheet) (json_bytes): compact
    JSON from the questions' cached encodings (joins.payload_json) unless the app is in debug mode
    or the encoder refused a value; both transports answer with it."""
    from quiz.services import joins

    if json_is_compact(app):
        body = joins.payload_json(sheet, conn=conn)
        if body is not None:
            return body + b"\n"
    return json_bytes(app, joins.payload(sheet, conn=conn))


def _status(code: int) -> str:
    return f"{code} {HTTP_STATUS_CODES.get(code, 'UNKNOWN').upper()}"


class JoinLane:
    """WSGI middleware in front of the Flask app (create_app installs it)."""

    def __init__(self, app, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        config = app.config
        self.enabled = bool(config.get("JOIN_LANE", True)) and not (
            config.get("RATELIMIT_DEFAULT") or config.get("RATELIMIT_APPLICATION"))
        self.max_body = int(config["MAX_JSON_BYTES"])
        self._engine = None
        self.languages = config["LANGUAGES"]
        self.default_locale = config["BABEL_DEFAULT_LOCALE"]
        self.cookies = (config.get("SESSION_COOKIE_NAME", "session") + "=",
                        config.get("REMEMBER_COOKIE_NAME", "remember_token") + "=")
        uri = str(config.get("SQLALCHEMY_DATABASE_URI", ""))
        self.writer = SQLiteTurns(uri) if uri.startswith("sqlite") else contextlib.nullcontext()
        self.group = JoinGroup(self) if config.get("JOIN_GROUP_COMMIT", True) else None

    def __getattr__(self, name):
        """Transparent: the wrapped app's attributes stay reachable."""
        return getattr(self.wsgi_app, name)

    def __call__(self, environ, start_response):
        if self.enabled and environ.get("REQUEST_METHOD") == "POST":
            match = _PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match:
                served = self.serve(environ, match[1])
                if served is not None:
                    status, headers, body = served
                    start_response(status, [("Content-Type", "application/json"),
                                            ("Content-Length", str(len(body))), *headers])
                    return [body]
        return self.wsgi_app(environ, start_response)

    def serve(self, environ, code: str) -> tuple[str, list, bytes] | None:
        """(status, extra headers, body) of this join, or None to let Flask handle the request."""
        if environ.get("QUERY_STRING") or has_session_cookie(environ, self.cookies):
            return None
        content_type = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
        if not (content_type == "application/json" or content_type.endswith("+json")):
            return None  # the view explains what to send
        raw = read_body(environ, self.max_body)
        if raw is None:
            return None
        try:
            body = self.app.json.loads(raw)  # quiz/inputs.py: depth, NUL, surrogates, finite numbers
        except ValueError:
            return None
        if not isinstance(body, dict):
            return None
        from quiz.errors import QuizError, error_body
        from quiz.services import joins

        address = environ.get("REMOTE_ADDR") or "127.0.0.1"  # extensions.client_ip
        with self.app.app_context():
            g.locale_override = cookieless_locale("", environ, self.languages, self.default_locale)
            try:
                joins.count_join_request(body, address=address)
                environ[JOIN_LIMIT_COUNTED] = True

                def run(conn, later=None):
                    sheet = joins.join_by_code(code, body, address=address, now=utcnow(), conn=conn, later=later)
                    return sheet, (join_body(self.app, sheet, conn=conn) if sheet.resumed else None)  # saved answers

                # a connection of its own, not the ORM session: what a join needs is Core statements
                if self.group is not None:
                    lookup = joins.lookup_by_code(code, body)  # read ahead with the batch's others
                    sheet, answer = self.group.submit(None, (run, g.locale_override, lookup))
                else:
                    with self.writer, self.engine.connect() as conn, conn.begin():
                        sheet, answer = run(conn)
                if answer is None:  # a new sheet (nothing saved yet): shown after the commit
                    answer = join_body(self.app, sheet)
            except QuizError as error:
                headers = [("Retry-After", str(error.retry_after))] if getattr(error, "retry_after", None) else []
                return (_status(error.status_code), headers,
                        self.json(error_body(error.status_code, error.message, error.payload)))
            except joins.NeedsSession:
                return None  # an overdue sheet to grade first: the Flask view does it
            except Exception:  # noqa: BLE001 - the Flask view tries again and reports it properly
                log.warning("join lane failed for %s; falling back", code, exc_info=True)
                return None
            return _status(200 if sheet.resumed else 201), [], answer

    @property
    def engine(self):
        if self._engine is None:
            from quiz.extensions import db

            with self.app.app_context():
                self._engine = db.engine
        return self._engine

    def json(self, value) -> bytes:
        return json_bytes(self.app, value)
