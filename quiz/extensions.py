"""Flask extensions, created unbound and initialised in create_app."""
from __future__ import annotations

import logging
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


# Limits are declared per endpoint with static strings from quiz/config.py (see views/api/sheets.py),
# parsed once. Storage from RATELIMIT_STORAGE_URI (memory:// by default; redis://… to share
# counts between worker processes).
limiter = Limiter(key_func=client_ip, default_limits=[])


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
