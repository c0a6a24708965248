"""Log in and out (Flask-Login sessions); the manager-only decorator used by other blueprints."""
from __future__ import annotations

import secrets
from functools import lru_cache, wraps
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from quiz.errors import Forbidden, TooManyAttempts
from quiz.extensions import client_ip, db, login_manager
from quiz.forms import EmptyForm, LoginForm
from quiz.models import User
from quiz.services import guards

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


@login_manager.unauthorized_handler
def unauthorized():
    from quiz.errors import wants_json

    if wants_json():
        from quiz.errors import QuizError
        raise QuizError(_("Please log in first."), status_code=401)
    flash(_("Please log in first."), "warning")
    return redirect(url_for("auth.login", next=request.full_path))


def manager_required(view):
    """Logged in as admin or organiser; others get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if current_user.role not in ("admin", "organiser"):
            raise Forbidden(_("You do not have permission to do this."))
        return view(*args, **kwargs)

    return wrapped


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative redirects."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return default
    return target


@lru_cache(maxsize=1)
def _unusable_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def _spend_password_check(password: str) -> None:
    """Check a password against a throw-away hash, so an unknown user name takes as long as a known one."""
    check_password_hash(_unusable_hash(), password)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        username, address = form.username.data.strip(), client_ip()
        try:  # failed log-ins lock the user name for a while, and slow down one address (services/guards.py)
            guards.check_login_allowed(username, address=address)
        except TooManyAttempts as exc:
            flash(exc.message, "danger")
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(exc.retry_after)}
        user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            _spend_password_check(form.password.data)  # as slow as a real check: timing shows nothing
        if user is None or not user.check_password(form.password.data) or not user.active:
            guards.login_failed(username, address=address)
            flash(_("Wrong username or password."), "danger")
        else:
            guards.login_succeeded(username)
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next"), url_for("main.index")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    form = EmptyForm()
    if form.validate_on_submit():
        logout_user()
    return redirect(url_for("auth.login"))
