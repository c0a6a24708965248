"""Abuse limits: guessing join codes, join details and passwords.

Only failures are counted, in Flask-Limiter's storage (RATELIMIT_STORAGE_URI: shared between
worker processes and hosts with Redis), with the limits named in quiz/config.py:

- JOIN_GUESS_LIMIT, per client address: unknown join codes and join details that do not match
  (name and phone, or the personal access code). Over the limit, every join-code lookup from the
  address is refused until the window ends, otherwise a right guess would still be recognised.
  200 colleagues behind one office NAT typing the right code never count at all.
- JOIN_MISMATCH_LIMIT_PER_PHONE, per phone number (known or not, so it reveals nothing): wrong
  names or access codes for one phone, from any address.
- LOGIN_FAILURE_LIMIT, per user name (existing or not, so the lockout reveals nothing): a
  lockout until the window ends, with a message saying when to retry. A successful log-in clears
  only this account's own count.
- LOGIN_FAILURE_LIMIT_PER_ADDRESS, per client address: many accounts tried from one address.

A storage outage lets requests through (logged), like the answer-sheet limit: an unreachable
rate-limit store must not stop a contest.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

from flask import current_app
from flask_babel import gettext as _

from quiz.errors import IdentityMismatch, Invalid, NotFound, TooManyAttempts
from quiz.extensions import _parsed, limiter

log = logging.getLogger(__name__)
T = TypeVar("T")


# ---------------------------------------------------------------- counting failures
def _limit(setting: str):
    return _parsed(current_app.config[setting])


def wait_seconds(setting: str, *key: str) -> int:
    """Seconds until the failures counted under `key` fall below the limit; 0 when not over it."""
    return _wait(setting, key, count=False)


def _wait(setting: str, key: tuple[str, ...], *, count: bool) -> int:
    """Test (or, with `count`, hit) the limit `setting` under `key`: the seconds to wait when over
    it, else 0 (also when the limit store is down: let people in)."""
    if not limiter.enabled:
        return 0
    item = _limit(setting)
    try:
        if (limiter.limiter.hit if count else limiter.limiter.test)(item, setting, *key):
            return 0
        reset = limiter.limiter.get_window_stats(item, setting, *key).reset_time
    except Exception:  # noqa: BLE001 - the limit store is down: let people in
        log.warning("rate-limit storage unavailable; %s not %s", setting, "counted" if count else "checked",
                    exc_info=True)
        return 0
    return max(1, math.ceil(reset - time.time()))


def count_failure(setting: str, *key: str) -> None:
    """Count one failure under `key`."""
    if not limiter.enabled:
        return
    try:
        limiter.limiter.hit(_limit(setting), setting, *key)
    except Exception:  # noqa: BLE001
        log.warning("rate-limit storage unavailable; %s not counted", setting, exc_info=True)


def clear_failures(setting: str, *key: str) -> None:
    if not limiter.enabled:
        return
    try:
        limiter.limiter.clear(_limit(setting), setting, *key)
    except Exception:  # noqa: BLE001
        log.warning("rate-limit storage unavailable; %s not cleared", setting, exc_info=True)


def hit_limit(setting: str, *key: str) -> int:
    """Count one request under `key` against the limit `setting`; the seconds to wait when that
    went over it, else 0 (also when the limit store is down: let people in)."""
    return _wait(setting, key, count=True)


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


# ---------------------------------------------------------------- joining
def _check_address(address: str) -> None:
    wait = wait_seconds("JOIN_GUESS_LIMIT", address)
    if wait:
        raise TooManyAttempts(_("Too many wrong join codes or join details were sent from your network. "
                                "Please try again in %(minutes)d minutes.", minutes=_minutes(wait)),
                              retry_after=wait)


def quiz_for_code(code: str, *, address: str):
    """The quiz with this join code; unknown codes count against the address (then 429 for all)."""
    from quiz.services.quizzes import quiz_by_code

    return _by_code(quiz_by_code, code, address)


def code_target(code: str, *, address: str):
    """What a code typed on the code page (/j) opens: the quiz with this join code, else the live
    contest with it (its phones' page); unknown codes count as quiz codes do."""
    from quiz.services.live import contest_by_code
    from quiz.services.quizzes import quiz_by_code

    def find(value: str):
        try:
            return quiz_by_code(value)
        except NotFound as unknown:
            try:
                return contest_by_code(value)
            except NotFound:
                raise unknown from None

    return _by_code(find, code, address)


def live_for_code(code: str, *, address: str):
    """The live contest with this code, guarded like quiz codes (the same guessing limit)."""
    from quiz.services.live import contest_by_code

    return _by_code(contest_by_code, code, address)


def guarded_lookup(find: Callable[[str], T], code: str, *, address: str) -> T:
    """`find(code)` guarded like quiz codes (services/joins.py finds the quiz a join locks)."""
    return _by_code(find, code, address)


def _by_code(find: Callable[[str], T], code: str, address: str) -> T:
    _check_address(address)
    try:
        return find(code)
    except NotFound:
        count_failure("JOIN_GUESS_LIMIT", address)
        raise


def guarded_join(phone: str, *, address: str, join: Callable[[], T], address_checked: bool = False) -> T:
    """Run `join` (attempts.join), counting details that do not match against the address and
    the phone number, and refusing further tries over either limit. `address_checked`: the
    caller has just checked the address (guarded_lookup of the quiz, which counted nothing)."""
    from quiz.services.joins import normalise_phone  # cached

    if not address_checked:
        _check_address(address)
    try:
        key = normalise_phone(phone)
    except Invalid:
        key = None  # join() names the bad phone number
    if key is not None:
        wait = wait_seconds("JOIN_MISMATCH_LIMIT_PER_PHONE", key)
        if wait:
            raise TooManyAttempts(_("Too many wrong names or access codes were tried with this phone number. "
                                    "Please try again in %(minutes)d minutes or contact the organiser.",
                                    minutes=_minutes(wait)), retry_after=wait)
    try:
        return join()
    except IdentityMismatch:
        count_failure("JOIN_GUESS_LIMIT", address)
        if key is not None:
            count_failure("JOIN_MISMATCH_LIMIT_PER_PHONE", key)
        raise


# ---------------------------------------------------------------- logging in
def _account_key(username: str) -> str:
    return (username or "").strip().casefold()[:64]


def check_login_allowed(username: str, *, address: str) -> None:
    """Raise TooManyAttempts while the user name is locked or the address has failed too often.
    The same for user names that do not exist."""
    wait = wait_seconds("LOGIN_FAILURE_LIMIT", _account_key(username))
    if wait:
        raise TooManyAttempts(_("Too many failed log-ins for this user name. For safety, logging in is paused: "
                                "please try again in %(minutes)d minutes.", minutes=_minutes(wait)),
                              retry_after=wait)
    wait = wait_seconds("LOGIN_FAILURE_LIMIT_PER_ADDRESS", address)
    if wait:
        raise TooManyAttempts(_("Too many failed log-ins from your network. Please try again in %(minutes)d minutes.",
                                minutes=_minutes(wait)), retry_after=wait)


def login_failed(username: str, *, address: str) -> None:
    count_failure("LOGIN_FAILURE_LIMIT", _account_key(username))
    count_failure("LOGIN_FAILURE_LIMIT_PER_ADDRESS", address)


def login_succeeded(username: str) -> None:
    """Clear this account's own failures (never the address's: others share it)."""
    clear_failures("LOGIN_FAILURE_LIMIT", _account_key(username))
