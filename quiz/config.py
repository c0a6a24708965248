"""Configuration defaults. No secrets here: they come from instance/config.py or the environment."""
from __future__ import annotations


class Config:
    """Defaults, overridden in order by instance/config.py, the environment and test_config."""

    SECRET_KEY = "dev-only-change-me"
    SQLALCHEMY_DATABASE_URI: str | None = None  # filled from DATABASE_URL or the instance SQLite file
    # No pre-ping (it costs a round trip per request); connections are recycled every 30 min.
    # pool_size covers a gthread worker's threads (8 in docs/deployment.md): a smaller pool closes
    # and reopens database connections all the time under load.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_recycle": 1800, "pool_size": 10, "max_overflow": 20}
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # Uploads: the request body limit; bigger uploads get a 413 with a size message.
    MAX_CONTENT_LENGTH = 20 * 1024 * 1024
    # Where uploaded files wait between preview and confirmation.
    UPLOAD_FOLDER: str | None = None

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = {"zh_CN": "中文", "en": "English"}

    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"

    ITEMS_PER_PAGE = 50

    # Rate limits (Flask-Limiter). Per person or per answer sheet, not per IP, so a thousand
    # people behind one office NAT are not throttled together. The two JOIN limits are read when
    # the views are defined (edit them here, not in instance/config.py); ANSWER_LIMIT is per app.
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    JOIN_LIMIT = "20/minute"          # per client address + phone number
    JOIN_LIMIT_PER_ADDRESS = "5000/minute"
    ANSWER_LIMIT = "600/minute"       # per answer sheet (answer saves and tab-switch events)
    # Serve clean answer saves in a WSGI fast lane in front of Flask (quiz/fastlane.py).
    ANSWER_FAST_LANE = True
    # Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto/-Host (0 = none).
    PROXY_FIX_X_FOR = 0
    # Largest JSON body accepted by the participant API.
    MAX_JSON_BYTES = 64 * 1024
    # Deepest nesting of objects/arrays accepted in a JSON body (quiz/inputs.py); deeper is a 422.
    MAX_JSON_DEPTH = 20
    # Font for posters (a file with Chinese glyphs); None = Noto Sans CJK from fonts-noto-cjk.
    POSTER_FONT: str | None = None
    # Longest accepted question stem, in characters.
    MAX_STEM_LENGTH = 5000
