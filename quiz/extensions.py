"""Flask extensions, created unbound and initialised in create_app."""
from __future__ import annotations

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


# Limits are declared per endpoint with static strings from quiz/config.py (see views/api.py),
# parsed once. Storage from RATELIMIT_STORAGE_URI (memory:// by default; redis://… to share
# counts between worker processes).
limiter = Limiter(key_func=client_ip, default_limits=[])
