"""Response hardening and a deployment check, installed by create_app:

- security headers on every response, HTML and JSON, the answer-save fast lane and static files
  included (a WSGI middleware outside everything else): Content-Security-Policy with
  frame-ancestors, X-Frame-Options, X-Content-Type-Options, Referrer-Policy;
- the Secure flag of the session and remember-me cookies when SESSION_COOKIE_SECURE /
  REMEMBER_COOKIE_SECURE are None ("automatic"): set when the request came over HTTPS, directly or
  through the reverse proxy's X-Forwarded-Proto (PROXY_FIX_X_FOR), so a plain-HTTP demo still logs
  in;
- a warning at start when several worker processes count rate limits in memory://.
"""
from __future__ import annotations

import logging
import os
import re
import sys

from flask import Flask

log = logging.getLogger(__name__)

_SECURE = re.compile(r";\s*secure\s*(;|$)", re.IGNORECASE)


def security_headers(config) -> list[tuple[str, str]]:
    """The headers every response carries, from the app's config (empty when switched off)."""
    if not config.get("SECURITY_HEADERS", True):
        return []
    ancestors = (config.get("FRAME_ANCESTORS") or "'none'").strip()
    policy = (config.get("CONTENT_SECURITY_POLICY") or "").strip().rstrip(";")
    policy = f"{policy}; frame-ancestors {ancestors}" if policy else f"frame-ancestors {ancestors}"
    headers = [("Content-Security-Policy", policy), ("X-Content-Type-Options", "nosniff"),
               ("Referrer-Policy", config.get("REFERRER_POLICY") or "same-origin")]
    frame_option = {"'none'": "DENY", "'self'": "SAMEORIGIN"}.get(ancestors)
    if frame_option:  # other values (listed origins) rely on frame-ancestors alone
        headers.append(("X-Frame-Options", frame_option))
    return headers


class SecurityMiddleware:
    """Adds the security headers (unless a view set its own) and the automatic Secure flag."""

    def __init__(self, app: Flask, wsgi_app):
        self.wsgi_app = wsgi_app
        self.headers = security_headers(app.config)
        self.auto_secure = {name for name, setting in (
            (app.config.get("SESSION_COOKIE_NAME", "session"), "SESSION_COOKIE_SECURE"),
            (app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), "REMEMBER_COOKIE_SECURE"),
        ) if app.config.get(setting) is None}

    def __getattr__(self, name):
        """Transparent: the wrapped app's attributes (e.g. the fast lane's `enabled`) stay reachable."""
        return getattr(self.wsgi_app, name)

    def __call__(self, environ, start_response):
        def start(status, response_headers, exc_info=None):
            present = {name.lower() for name, _value in response_headers}
            out = []
            # read at response time: ProxyFix (inside) has applied X-Forwarded-Proto by now
            https = environ.get("wsgi.url_scheme") == "https"
            for name, value in response_headers:
                if https and name.lower() == "set-cookie" and value.split("=", 1)[0].strip() in self.auto_secure \
                        and not _SECURE.search(value):
                    value += "; Secure"
                out.append((name, value))
            out.extend((name, value) for name, value in self.headers if name.lower() not in present)
            return start_response(status, out, exc_info) if exc_info else start_response(status, out)

        return self.wsgi_app(environ, start)


# ---------------------------------------------------------------- rate-limit storage check
def server_workers() -> int | None:
    """How many worker processes the WSGI server runs, or None when not under gunicorn/uWSGI.

    gunicorn sets SERVER_SOFTWARE in its master before loading the app (in the master with
    --preload, else in every worker); the app is loaded from gunicorn's Application.wsgi(), whose
    `cfg.workers` is the -w / --workers / WEB_CONCURRENCY / config-file value."""
    if os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn"):
        frame = sys._getframe(1)
        while frame is not None:
            owner = frame.f_locals.get("self")
            if type(owner).__module__.startswith("gunicorn.") and hasattr(getattr(owner, "cfg", None), "workers"):
                return int(owner.cfg.workers)
            frame = frame.f_back
        return int(os.environ.get("WEB_CONCURRENCY") or 1)
    if "uwsgi" in sys.modules:
        return int(getattr(sys.modules["uwsgi"], "numproc", 1) or 1)
    return None


def warn_about_rate_limit_storage(app: Flask, workers: int | None = None) -> bool:
    """Log a warning when several worker processes count rate limits in memory:// (each counts on
    its own, so limits are that many times looser and lockouts depend on the worker). Logged once
    per process that loads the app, with its pid. Returns whether it warned."""
    storage = str(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if not storage.startswith("memory://") or not app.config.get("RATELIMIT_ENABLED", True):
        return False
    workers = server_workers() if workers is None else workers
    if not workers or workers < 2:
        return False
    log.warning("Rate limits are counted in memory:// by each of %d worker processes (this is pid %d): "
                "join, log-in and answer-sheet limits are %d times looser and log-in lockouts depend on "
                "the worker. Set RATELIMIT_STORAGE_URI=redis://… to share them (docs/deployment.md).",
                workers, os.getpid(), workers)
    return True


def init_security(app: Flask) -> None:
    """Wrap the WSGI app (call last in create_app, outside the fast lane and ProxyFix) and check
    the rate-limit storage."""
    app.wsgi_app = SecurityMiddleware(app, app.wsgi_app)
    warn_about_rate_limit_storage(app)
