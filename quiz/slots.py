"""Phone slots: how many of phones' requests to a live contest one process lets use the database
at once (docs/deployment.md "Live contests").

A gevent worker takes thousands of connections, and a burst from phones (500 buzzes in half a
second, a hall rejoining after the Wi-Fi dropped) could otherwise hold every pooled database
connection while more wait in the pool's queue: the host's `close` would wait behind them, and
past the pool's timeout requests fail. Phones' calls (join, state, ping, buzz, stake) therefore
take one of LIVE_PHONE_SLOTS slots first (default: the pool's size plus its overflow, less
LIVE_HOST_RESERVE connections kept free for the host's commands and organisers' pages). A call
that finds no free slot within LIVE_PHONE_SLOT_WAIT seconds is answered 503 with Retry-After
(the phone page's stream reconnects by itself; a refused buzz or join shows the message);
nothing it would have changed is half done. The time a call arrived is
kept (`g.arrived_at`) before it waits: a buzz is timed by it, so waiting for a slot never costs a
phone its place in the race.

Answer saves do not take a slot: the answer lane saves on its own autocommit pool
(services/answers.py), and the push streams hold no connection while they wait.
"""
from __future__ import annotations

import functools
import threading
from contextlib import contextmanager

from flask import current_app, g
from flask_babel import gettext as _

from quiz.errors import QuizError

EXTENSION = "phone_slots"


class Busy(QuizError):
    """No phone slot came free in time: 503 with Retry-After."""

    status_code = 503

    def __init__(self, message: str, *, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = retry_after


def slot_count(config) -> int:
    configured = config.get("LIVE_PHONE_SLOTS")
    if configured:
        return max(1, int(configured))
    options = config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
    pool = int(options.get("pool_size", 5)) + max(0, int(options.get("max_overflow", 10)))
    return max(1, pool - int(config.get("LIVE_HOST_RESERVE", 3)))


def _slots(app) -> threading.BoundedSemaphore:
    """The process's slots (a gevent semaphore once gevent has patched threading)."""
    slots = app.extensions.get(EXTENSION)
    if slots is None:
        slots = app.extensions.setdefault(EXTENSION, threading.BoundedSemaphore(slot_count(app.config)))
    return slots


@contextmanager
def phone_slot():
    """Hold a phone slot for the block (503 when none comes free in time). The request's database
    session is given back before the slot is."""
    from quiz.extensions import db
    from quiz.models.base import utcnow

    g.arrived_at = utcnow()  # a buzz is timed on arrival, not after waiting for a slot
    app = current_app._get_current_object()
    slots = _slots(app)
    if not slots.acquire(timeout=float(app.config.get("LIVE_PHONE_SLOT_WAIT", 10))):
        raise Busy(_("The contest is very busy; please try again in a moment."))
    try:
        yield
    finally:
        db.session.remove()
        slots.release()


def phone_request(view):
    """A view that is a phone's call: it runs in a phone slot."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        with phone_slot():
            return view(*args, **kwargs)
    return wrapper
