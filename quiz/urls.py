"""Absolute URLs that people open from elsewhere: join links and their QR codes (quiz page, API
`join_url`, posters, the demo), the share image and page address in a join page's Open Graph tags.

With PUBLIC_BASE_URL set (e.g. ``http://192.168.1.20:5000`` or ``https://quiz.example.cn``,
including any path prefix the site is served under) every such URL starts with it, so a QR code
shown on an organiser's laptop at 127.0.0.1, or behind a proxy that hides the public host, still
opens on a participant's phone. Without it the request's own host is used.
"""
from __future__ import annotations

from flask import current_app, has_request_context, url_for


def public_base_url() -> str | None:
    """PUBLIC_BASE_URL without a trailing slash, or None when it is not set."""
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").strip().rstrip("/")
    return base or None


def public_url(endpoint: str, **values) -> str:
    """An absolute URL for `endpoint`, from PUBLIC_BASE_URL when set, else from the request."""
    base = public_base_url()
    if base:
        path = current_app.url_map.bind("localhost").build(endpoint, values)
        return base + path
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    return url_for(endpoint, **values)  # needs SERVER_NAME outside a request


def join_url(quiz) -> str:
    """The quiz's join link (what its QR code encodes)."""
    return public_url("play.join", code=quiz.join_code)


def static_url(filename: str) -> str:
    """An absolute URL of a file in static/ (share images must be absolute)."""
    return public_url("static", filename=filename)
