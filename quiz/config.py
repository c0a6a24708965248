"""Configuration defaults. No secrets here: they come from instance/config.py or the environment."""
from __future__ import annotations

from datetime import timedelta


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
    # Bounds on the work one uploaded spreadsheet (bank, units, roster) may cause, checked
    # before and while it is parsed (quiz/services/tables.py; docs/formats.md "Limits").
    # Sized so that a 20,000-question bank and a 100,000-person roster import with room to spare.
    UPLOAD_MAX_ROWS = 120_000                # rows incl. header, title and blank rows
    UPLOAD_MAX_COLUMNS = 256                 # the bank template has 15, a roster 3
    UPLOAD_MAX_CELLS = 1_000_000             # XLSX: every stored cell, formatted empty ones too
    UPLOAD_MAX_CELL_CHARS = 32_767           # Excel's own limit for one cell
    UPLOAD_MAX_ROW_CHARS = 1_000_000         # one CSV row's text (the longest bank row is ~25,000)
    UPLOAD_MAX_SHARED_STRINGS = 500_000      # XLSX shared-string table
    UPLOAD_MAX_STYLES = 20_000               # XLSX cell formats, fonts, fills, borders, number formats
    UPLOAD_MAX_SHEETS = 100
    UPLOAD_MAX_XML_ELEMENTS = 100_000        # any other XLSX part openpyxl parses (workbook, rels …)
    UPLOAD_MAX_ZIP_MEMBERS = 1_000           # a real workbook has 10–50
    UPLOAD_MAX_PART_BYTES = 100 * 1024 * 1024         # one unpacked XLSX member
    UPLOAD_MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024  # all unpacked XLSX members
    UPLOAD_MAX_COMPRESSION_RATIO = 100       # members over 1 MB; real sheets compress 5–20 to 1
    UPLOAD_MAX_SECONDS = 30                  # wall time for reading one file (a busy server is slow)

    # Pictures of questions (看图题; quiz/services/pictures.py, docs/formats.md "Pictures"): checked by
    # their content (PNG, JPEG, WebP, GIF), stored in the database, served by signed URLs.
    PICTURE_MAX_BYTES = 8 * 1024 * 1024      # one picture file as uploaded (a phone photo is 2–6 MB)
    PICTURE_MAX_PIXELS = 25_000_000          # width × height, read before decoding (a 12 MP photo fits)
    PICTURE_MAX_SIDE = 1600                  # a still picture wider or taller is scaled down; 0 = keep as is
    PICTURE_CACHE_BYTES = 32 * 1024 * 1024   # per process: bytes of served pictures kept in memory

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = {"zh_CN": "中文", "en": "English"}

    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Secure cookies: None = automatic (Secure when the request came over HTTPS, directly or through
    # the proxy's X-Forwarded-Proto with PROXY_FIX_X_FOR set), True = always, False = never.
    SESSION_COOKIE_SECURE: bool | None = None
    REMEMBER_COOKIE_SECURE: bool | None = None
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = timedelta(days=7)  # "Remember me" (Flask-Login's default is a year)
    # Security headers on every response (quiz/security.py). The policy allows no inline scripts;
    # FRAME_ANCESTORS ("'none'", "'self'" or origins) also sets X-Frame-Options (DENY/SAMEORIGIN).
    SECURITY_HEADERS = True
    CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
                               "object-src 'none'; base-uri 'self'; form-action 'self'")
    FRAME_ANCESTORS = "'none'"
    REFERRER_POLICY = "same-origin"

    ITEMS_PER_PAGE = 50

    # Rate limits (Flask-Limiter's storage). Per person or per answer sheet, not per IP, so a
    # thousand people behind one office NAT are not throttled together. Quiz joins and answer saves
    # read them per app (services/joins.py count_join_request, extensions.hit_sheet_limit); the live
    # contests' join reads the two JOIN limits when its views are defined (edit them here for it).
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    JOIN_LIMIT = "20/minute"          # per client address + phone number
    JOIN_LIMIT_PER_ADDRESS = "5000/minute"
    ANSWER_LIMIT = "600/minute"       # per answer sheet (answer saves and tab-switch events)
    # Abuse limits (quiz/services/guards.py), counted only on failures and read per request:
    # wrong join codes and wrong join details (name/phone/access code) per client address; wrong
    # details per phone number; failed log-ins per user name (lockout) and per client address.
    JOIN_GUESS_LIMIT = "100 per 10 minutes"
    JOIN_MISMATCH_LIMIT_PER_PHONE = "10 per 15 minutes"
    LOGIN_FAILURE_LIMIT = "10 per 15 minutes"
    LOGIN_FAILURE_LIMIT_PER_ADDRESS = "100 per 15 minutes"
    # Events (quiz/events.py; docs/deployment.md "Events and caches"): with REDIS_URL every process
    # and host hears every change (board snapshots, bank pools and sheet caches are invalidated
    # through them); without it events stay in the process. EVENTS_PREFIX separates installations
    # sharing one Redis (default: quiz-events:<database number>:).
    REDIS_URL: str | None = None
    EVENTS_BACKEND = "auto"          # auto (redis when REDIS_URL is set) | redis | memory
    EVENTS_PREFIX: str | None = None
    EVENTS_HISTORY = 1000            # events kept per channel for replay (SSE Last-Event-ID)
    EVENTS_HISTORY_SECONDS = 86_400
    # Public boards are served from a per-quiz snapshot per process (quiz/services/ranking.py):
    # kept current by events; re-validated with one query after BOARD_MAX_AGE seconds while events
    # of other processes do not arrive; rebuilt after BOARD_REFRESH seconds anyway (renames).
    BOARD_MAX_AGE = 1.0
    BOARD_REFRESH = 60.0
    BOARD_SNAPSHOTS = 8              # quizzes whose snapshot a process keeps
    BOARD_LANE = True                # serve rendered board responses in a WSGI lane (quiz/board_lane.py)
    # Serve clean answer saves in a WSGI lane in front of Flask (quiz/answer_lane.py); False: through Flask.
    ANSWER_FAST_LANE = True
    # The answer lane's own autocommit pool on PostgreSQL, per process (services/answers.py); with
    # the app's pool (SQLALCHEMY_ENGINE_OPTIONS) it counts against PostgreSQL's max_connections.
    ANSWER_ENGINE_OPTIONS: dict = {"pool_size": 10, "max_overflow": 40}
    # Live contests (docs/rules.md "Live contests"): a buzz's arrival is corrected by half the
    # phone's measured round trip, at most this many milliseconds (so a slow link cannot be faked).
    LIVE_BUZZ_CORRECTION_CAP_MS = 300
    # Live contests' push (quiz/live_push.py): a process builds a contest's state at most once per
    # LIVE_PUSH_MIN_INTERVAL seconds; changes in between (a storm of joins or buzzes) share the next.
    LIVE_PUSH_MIN_INTERVAL = 0.2
    # From a host's command arriving in a process until its streams have written the new state (at
    # most this many seconds), the process runs no garbage collection (quiz/live_push.py); 0: off.
    LIVE_PUSH_GC_HOLD = 1.0
    # Phones' calls to a live contest (join, state, ping, buzz, stake, opening a stream) use at most
    # LIVE_PHONE_SLOTS pooled connections of a process at once (default: the pool's size plus its
    # overflow, less LIVE_HOST_RESERVE kept for the host's commands); one that waits longer than
    # LIVE_PHONE_SLOT_WAIT seconds for a slot gets 503 with Retry-After (quiz/slots.py).
    LIVE_PHONE_SLOTS: int | None = None
    LIVE_HOST_RESERVE = 3
    LIVE_PHONE_SLOT_WAIT = 10.0
    # Serve API joins without cookies in a WSGI lane in front of Flask (quiz/join_lane.py); False: through Flask.
    JOIN_LANE = True
    # The lane's joins that arrive together are committed together (one transaction); False: each alone.
    JOIN_GROUP_COMMIT = True
    # Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto/-Host (0 = none).
    PROXY_FIX_X_FOR = 0
    # Largest JSON body accepted by the participant API.
    MAX_JSON_BYTES = 64 * 1024
    # Deepest nesting of objects/arrays accepted in a JSON body (quiz/inputs.py); deeper is a 422.
    MAX_JSON_DEPTH = 20
    # Posters: a font family (fontconfig name, e.g. "Source Han Sans SC") or a font file put before
    # the font stack of templates/posters/poster.css; None = that stack (Noto Sans CJK SC first).
    POSTER_FONT: str | None = None
    # Longest accepted question stem, in characters.
    MAX_STEM_LENGTH = 5000
    # The address phones use to reach this site (scheme, host, port and any path prefix, e.g.
    # http://192.168.1.20:5000 or https://quiz.example.cn): join links, QR codes and share images
    # are built from it (quiz/urls.py). None = the host of the request that shows them.
    PUBLIC_BASE_URL: str | None = None
