"""Flask extensions, created unbound and initialised in create_app."""
from __future__ import annotations

import copy
import logging
import threading
import time
from functools import lru_cache

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from limits.storage import MemoryStorage
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


def client_ip() -> str:
    """The client's address (behind a proxy, configure ProxyFix so this is the real one)."""
    return get_remote_address() or request.remote_addr or "unknown"


class SweptMemoryStorage(MemoryStorage):
    """The limits library's in-process storage (``memory://``), sweeping expired keys at most once
    a second instead of 10 ms after any hit.

    MemoryStorage starts a sweep of every key it holds 10 ms after a hit whenever none is pending.
    A join counts a key per person and an answer save one per sheet, so under a crowd each worker
    walked tens of thousands of keys about a hundred times a second: a fifth of a join's CPU under
    load (docs/benchmarks.md "Joining"). A key read after it expired is dropped when it is read
    (``get``), and a moving window counts only its entries inside the window, so the sweep only
    frees memory: once a second is plenty. Registered under the ``memory`` scheme (the limits
    library's way to add a storage), so ``memory://`` gets it; ``tests/test_safety.py`` checks that
    the library still schedules its sweeps through the method replaced here."""

    STORAGE_SCHEME = ["memory"]
    SWEEP_SECONDS = 1.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # what MemoryStorage's hits call (limits 3–5)
        if not self.timer.is_alive():
            self.timer = threading.Timer(self.SWEEP_SECONDS, self._MemoryStorage__expire_events)
            self.timer.daemon = True  # never keeps a finished process (a CLI command, a test run) alive
            self.timer.start()


# Limits are declared per endpoint with static strings from quiz/config.py (see views/api/sheets.py),
# parsed once. Storage from RATELIMIT_STORAGE_URI (memory:// by default, SweptMemoryStorage above;
# redis://… to share counts between worker processes).
class AppLimiter(Limiter):
    """Flask-Limiter's Limiter, configured afresh from each app it is given.

    Flask-Limiter keeps what the first app's config set on the extension object (``enabled``,
    the default and application-wide limits, the strategy and other "set once" options), so a
    second app built in the same process (the test suite builds hundreds, one after another)
    was rate limited by an earlier app's ``RATELIMIT_DEFAULT`` or left unlimited by its
    ``RATELIMIT_ENABLED = False``. ``init_app`` first puts those settings back as constructed;
    limits declared in code with ``@limiter.limit`` stay: they belong to the code, not to an app.
    """

    _APP_SETTINGS = ("enabled", "_default_limits_per_method", "_default_limits_exempt_when",
                     "_default_limits_deduct_when", "_default_limits_cost", "_application_limits_per_method",
                     "_application_limits_exempt_when", "_application_limits_deduct_when",
                     "_application_limits_cost", "_headers_enabled", "_header_mapping", "_retry_after",
                     "_strategy", "_storage_options", "_swallow_errors", "_fail_on_first_breach", "_on_breach",
                     "_on_meta_breach", "_key_prefix", "_request_identifier", "_meta_limits")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # (names of Flask-Limiter 3.x; one it no longer has is simply not restored)
        self._constructed = {name: copy.copy(getattr(self, name)) for name in self._APP_SETTINGS
                             if hasattr(self, name)}
        self._constructed_limits = (list(getattr(self.limit_manager, "_default_limits", [])),
                                    list(getattr(self.limit_manager, "_application_limits", [])))

    def init_app(self, app) -> None:
        for name, value in self._constructed.items():
            setattr(self, name, copy.copy(value))
        defaults, application = self._constructed_limits
        self.limit_manager.set_default_limits(list(defaults))
        self.limit_manager.set_application_limits(list(application))
        super().init_app(app)


limiter = AppLimiter(key_func=client_ip, default_limits=[])


SHEET_LIMIT_COUNTED = "quiz.sheet_limit_counted"  # environ flag: the fast lane already counted this request


def hit_sheet_limit(limit: str, attempt_id: int) -> bool:
    """Count one request against an answer sheet's limit; False when it is over the limit.

    Uses Flask-Limiter's own strategy and storage (RATELIMIT_STORAGE_URI; shared between
    workers with Redis) without its per-request decorator bookkeeping, which cost more CPU than
    the rest of an answer save. A storage outage lets the request through (logged): an
    unreachable rate-limit store must not lose participants' answers. Needs no app context."""
    if not limiter.enabled:
        return True
    try:
        return limiter.limiter.hit(_parsed(limit), "attempt", str(attempt_id))
    except Exception:  # noqa: BLE001 - the limit store is down: answers still count
        logging.getLogger(__name__).warning("rate-limit storage unavailable; %s not counted", limit,
                                            exc_info=True)
        return True


def check_sheet_limit(limit: str, attempt_id: int) -> None:
    """hit_sheet_limit for a view: 429 with Retry-After when over the limit (a request the WSGI
    fast lane already counted is not counted twice)."""
    if request.environ.pop(SHEET_LIMIT_COUNTED, None) == attempt_id:
        return
    if not hit_sheet_limit(limit, attempt_id):
        from werkzeug.exceptions import TooManyRequests

        reset = limiter.limiter.get_window_stats(_parsed(limit), "attempt", str(attempt_id)).reset_time
        raise TooManyRequests(retry_after=max(1, int(reset - time.time()) + 1))


@lru_cache(maxsize=32)
def _parsed(limit: str):
    from limits import parse

    return parse(limit)
