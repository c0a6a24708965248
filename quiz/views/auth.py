"""Log in and out (Flask-Login sessions); the manager-only decorator used by other blueprints."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from quiz.errors import Forbidden
from quiz.extensions import db, login_manager
from quiz.forms import EmptyForm, LoginForm
from quiz.models import User

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


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
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


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.execute(select(User).where(User.username == form.username.data.strip())).scalar_one_or_none()
        if user is None or not user.check_password(form.password.data) or not user.active:
            flash(_("Wrong username or password."), "danger")
        else:
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(request.args.get("next"), url_for("main.index")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    form = EmptyForm()
    if form.validate_on_submit():
        logout_user()
    return redirect(url_for("auth.login"))
