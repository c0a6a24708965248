"""Contest engine for theory knowledge contests: the application factory."""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask, g, has_request_context, request, session
from sqlalchemy import event
from sqlalchemy.engine import Engine

from quiz.config import Config

ROOT = Path(__file__).resolve().parent.parent


def normalise_database_url(url: str) -> str:
    """postgres:// and postgresql:// → postgresql+psycopg:// (psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _secret_key(app: Flask) -> str:
    """A per-installation random key kept in instance/ when none is configured."""
    path = Path(app.instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    try:
        path.chmod(0o600)
    except OSError:
        pass
    return key


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: Config defaults → instance/config.py → environment → test_config."""
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_object(Config)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()  # FLASK_SECRET_KEY, FLASK_MAX_CONTENT_LENGTH …
    for name in ("DATABASE_URL", "SECRET_KEY", "RATELIMIT_STORAGE_URI", "PUBLIC_BASE_URL", "REDIS_URL"):
        if os.environ.get(name):
            app.config["SQLALCHEMY_DATABASE_URI" if name == "DATABASE_URL" else name] = os.environ[name]
    if test_config:
        app.config.update(test_config)

    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + str(Path(app.instance_path) / "quiz.sqlite3")
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            k: v for k, v in app.config["SQLALCHEMY_ENGINE_OPTIONS"].items() if k not in ("pool_pre_ping", "pool_recycle")
        }
    from quiz.models.base import json_engine_options

    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**json_engine_options(app.config["SQLALCHEMY_DATABASE_URI"]),
                                               **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    if app.config["SECRET_KEY"] == Config.SECRET_KEY and not app.config.get("TESTING"):
        app.config["SECRET_KEY"] = _secret_key(app)
    if not app.config.get("UPLOAD_FOLDER"):
        app.config["UPLOAD_FOLDER"] = str(Path(app.instance_path) / "uploads")

    # API joins without cookies skip Flask (quiz/join_lane.py); inside ProxyFix: it needs the client's address.
    from quiz.join_lane import JoinLane

    app.wsgi_app = JoinLane(app, app.wsgi_app)
    if app.config.get("PROXY_FIX_X_FOR"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["PROXY_FIX_X_FOR"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from quiz.extensions import babel, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(Path(__file__).parent / "translations"))

    from quiz import events

    events.init_app(app)  # publish after commit; Redis pub/sub across processes when REDIS_URL is set
    from quiz import inputs, models  # noqa: F401  (register tables)
    from quiz.errors import register_error_handlers
    from quiz.views import register_blueprints

    inputs.init_app(app)  # bounded <int:…> ids, guarded JSON, no NUL/surrogates (before the blueprints)
    register_blueprints(app)
    register_error_handlers(app)

    from quiz.cli import register_commands

    register_commands(app)

    @app.context_processor
    def inject_globals():
        from quiz.questions.base import DIFFICULTY_LABELS
        return {"languages": app.config["LANGUAGES"], "current_locale": locale_key(),
                "difficulty_names": DIFFICULTY_LABELS}

    app.jinja_env.globals["page_url"] = _page_url  # a global, so imported macros see it

    @app.template_filter("localtime")
    def localtime(value, fmt: str = "yyyy-MM-dd HH:mm"):
        """A UTC timestamp shown in the configured time zone (Asia/Shanghai)."""
        from flask_babel import format_datetime
        return format_datetime(value, fmt) if value else ""

    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO)
    # Clean answer saves skip Flask (quiz/answer_lane.py); everything else reaches the app as usual.
    from quiz.answer_lane import AnswerLane

    app.wsgi_app = AnswerLane(app, app.wsgi_app)
    # Public board reads whose response is already rendered skip Flask too (quiz/board_lane.py).
    from quiz.board_lane import BoardLane

    app.wsgi_app = BoardLane(app, app.wsgi_app)
    # Outermost: security headers and Secure cookies on every response; the memory:// warning.
    from quiz.security import init_security

    init_security(app)
    return app


def _page_url(number: int) -> str:
    """The current page's URL with ?page=number, keeping the other query arguments."""
    from flask import url_for

    query = {k: v for k, v in request.args.to_dict().items() if not k.startswith("_")}  # not url_for options
    return url_for(request.endpoint, **{**query, **(request.view_args or {}), "page": number})


_LOCALES: dict = {}


def select_locale():
    """The chosen language as a babel Locale (parsed once per language and process)."""
    from babel import Locale

    key = locale_key()
    if key not in _LOCALES:
        _LOCALES[key] = Locale.parse(key)
    return _LOCALES[key]


def locale_key() -> str:
    """The user's saved language, else the session's choice, else zh_CN."""
    from flask import current_app
    from flask_login import current_user

    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    if not has_request_context():
        return getattr(g, "locale_override", None) or default
    languages = current_app.config["LANGUAGES"]
    wanted = request.args.get("lang")
    if wanted in languages:
        return wanted
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    if session.get("lang") in languages:
        return session["lang"]
    header = request.headers.get("X-Language")
    if header in languages:
        return header
    return default


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: WAL journal, foreign keys enforced, wait on locks, case-sensitive LIKE.

    The driver's own transaction handling is switched off (SQLAlchemy's pysqlite recipe) so that
    SAVEPOINTs work and every transaction starts with BEGIN IMMEDIATE (see _sqlite_begin).
    """
    module = type(dbapi_connection).__module__
    if "sqlite" not in module:
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA case_sensitive_like=ON")  # LIKE as on PostgreSQL; searches use ILIKE
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection):
    """SQLite: take the write lock when a transaction starts, so two transactions never both read
    and then deadlock upgrading to write (SQLITE_BUSY without waiting); they queue on
    busy_timeout instead. PostgreSQL is untouched."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
