"""Guards that keep malformed input from ever reaching the database or the code as a 500.

One place for the rules every request shares (registered by ``init_app`` in create_app):

- ids: ``<int:…>`` URL parts are bounded to the database's integer range (a larger id is a 404,
  not a DataError); ids from query strings, forms and JSON go through :func:`parse_id`.
- text: NUL bytes (PostgreSQL cannot store them) and lone surrogates (not valid Unicode, cannot
  be encoded as UTF-8) are refused in the URL, the query string, form fields, file names and
  JSON bodies, with a message naming the field.
- JSON: bodies are parsed with a nesting limit (``MAX_JSON_DEPTH``) and finite numbers only
  (NaN, Infinity and 1e999 are refused naming the field); :func:`json_body` is how a view reads
  a JSON object.
- numbers in query strings (pages, limits, offsets) go through :func:`query_int`.
"""
from __future__ import annotations

import json
import math
import re

import orjson
from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from quiz.errors import Invalid, QuizError

MAX_DB_INT = 2**31 - 1  # INTEGER primary keys on PostgreSQL (and what every id here fits in)
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


# ---------------------------------------------------------------------------------------- ids
class IdConverter(IntegerConverter):
    """``<int:…>`` limited to 0…MAX_DB_INT: a larger number matches no route (404)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_DB_INT,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def parse_id(value) -> int | None:
    """A database id from a form, query string or JSON value: ASCII digits (or an int) in
    1…MAX_DB_INT, else None. "²".isdigit() is True in Python, but it is no id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 10:
            return None
        number = int(text)
    else:
        return None
    return number if 1 <= number <= MAX_DB_INT else None


def query_int(name: str, default: int, *, minimum: int, maximum: int, strict: bool = False) -> int:
    """An integer query argument clamped to [minimum, maximum]; `default` when missing or (unless
    `strict`, which answers 422 naming the argument) not a whole number."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    sign, digits = (raw[0], raw[1:]) if raw[0] in "+-" else ("", raw)
    if not (digits.isascii() and digits.isdigit()):
        if strict:
            raise Invalid(_("%(field)s must be a whole number.", field=name))
        return default
    if len(digits) > 18:  # beyond any range used here: clamp without converting
        return minimum if sign == "-" else maximum
    number = -int(digits) if sign == "-" else int(digits)
    return max(minimum, min(number, maximum))


def page_arg() -> int:
    """The ?page= of a paged list: 1 when missing or not a number, at most MAX_DB_INT (so the
    OFFSET always fits the database's integers)."""
    return query_int("page", 1, minimum=1, maximum=MAX_DB_INT)


def finite_number(value, field: str) -> float:
    """A finite float from a form or JSON value, else 422 naming the field."""
    if isinstance(value, bool):
        raise Invalid(_("%(field)s must be a number.", field=field))
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise Invalid(_("%(field)s must be a number.", field=field))
    if not math.isfinite(number):
        raise Invalid(_("Field “%(field)s” must be a finite number (not NaN, Infinity or beyond ±1.8e308).",
                        field=field))
    return number


TRUE_WORDS = ("1", "true", "yes", "on", "y")
FALSE_WORDS = ("0", "false", "no", "off", "n")


def parse_bool(value, field: str, default: bool = False) -> bool:
    """A yes/no from JSON (true/false) or a form ("1", "yes", "on", …); empty is `default`,
    anything else a 422 naming the field."""
    if isinstance(value, bool):
        return value
    if value is None or value == "":
        return default
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise Invalid(_("%(field)s must be true or false.", field=field))


# --------------------------------------------------------------------------------------- text
class BadInput(ValueError):
    """Input that no field may hold. A ValueError, so ``request.get_json(silent=True)`` and the
    fast lane treat it as unparseable; ``message`` (translated) names the field."""

    def __init__(self, kind: str, field: str, detail: str = "", limit: int = 0) -> None:
        super().__init__(f"{kind} in {field!r}")
        self.kind, self.field, self.detail, self.limit = kind, field, detail, limit

    @property
    def message(self) -> str:
        field = self.field or _("request body")
        if self.kind == "nul":
            return _("Field “%(field)s” contains a NUL character (\\x00), which cannot be stored.", field=field)
        if self.kind == "surrogate":
            return _("Field “%(field)s” contains an unpaired surrogate (%(code)s), which is not valid Unicode text.",
                     field=field, code=self.detail)
        if self.kind == "number":
            return _("Field “%(field)s” must be a finite number (not NaN, Infinity or beyond ±1.8e308).",
                     field=field)
        return _("The JSON body is nested too deeply (more than %(max)d levels) at “%(field)s”.",
                 field=field, max=self.limit)


def _display(name) -> str:
    """A field name fit for a message: bad characters shown as escapes."""
    return _BAD_TEXT.sub(lambda m: f"\\u{ord(m.group()):04x}", str(name))


def has_bad_text(value: str) -> bool:
    """True when `value` has a NUL byte or a lone surrogate (no field can store either)."""
    return _BAD_TEXT.search(value) is not None


def check_text(value: str | None, field: str | None) -> None:
    """BadInput when `value` has a NUL byte or a lone surrogate (a multipart part may come without
    a name: None)."""
    if not value:
        return
    found = _BAD_TEXT.search(value)
    if found is None:
        return
    char = found.group()
    if char == "\x00":
        raise BadInput("nul", _display(field or ""))
    raise BadInput("surrogate", _display(field or ""), detail=f"\\u{ord(char):04x}")


def check_request() -> None:
    """before_request: refuse NUL bytes and lone surrogates in the path, the query string, form
    fields and file names (400 naming the field)."""
    try:
        for name, value in (request.view_args or {}).items():
            if isinstance(value, str):
                check_text(value, name)
        sources = [request.args] if request.query_string else []
        if request.mimetype in _FORM_TYPES:  # only these bodies are parsed into request.form
            sources.append(request.form)
            for name, upload in request.files.items(multi=True):
                check_text(name, name)
                check_text(upload.filename or "", name)
        for source in sources:
            for name, values in source.lists():
                check_text(name, name)
                for value in values:
                    check_text(value, name)
    except BadInput as exc:
        raise QuizError(exc.message, status_code=400)


# --------------------------------------------------------------------------------------- JSON
def loads(data, *, max_depth: int, **kwargs):
    """json.loads, then every string (keys too) free of NUL/lone surrogates, every number finite
    and nesting at most `max_depth` deep; BadInput (a ValueError) naming the field otherwise."""
    try:
        value = json.loads(data, **kwargs)
    except RecursionError:
        raise BadInput("depth", "", limit=max_depth)
    problem = _first_problem(value, max_depth)
    if problem is not None:
        kind, path, detail = problem
        raise BadInput(kind, _path_text(path), detail=detail, limit=max_depth)
    return value


def _first_problem(value, max_depth: int):
    """(kind, path, detail) of the first bad node, or None. Iterative: no recursion limit."""
    stack = [(value, 0, ())]
    while stack:
        node, depth, path = stack.pop()
        kind = type(node)
        if kind is str:
            found = _BAD_TEXT.search(node)
            if found:
                char = found.group()
                return ("nul", path, "") if char == "\x00" else ("surrogate", path, f"\\u{ord(char):04x}")
        elif kind is float:
            if not math.isfinite(node):
                return "number", path, ""
        elif kind is dict or kind is list:
            if depth >= max_depth:
                return "depth", path, ""
            items = node.items() if kind is dict else enumerate(node)
            for key, child in items:
                if kind is dict:
                    found = _BAD_TEXT.search(key)
                    if found:
                        char = found.group()
                        return (("nul", path + (key,), "") if char == "\x00"
                                else ("surrogate", path + (key,), f"\\u{ord(char):04x}"))
                if type(child) in (str, float, dict, list):
                    stack.append((child, depth + 1, path + (key,)))
    return None


def _path_text(path: tuple) -> str:
    """("rules", 0, "tags", 1) → rules[0].tags[1]."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + _display(part)
    return text


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with :func:`loads` as the parser (request.get_json and the fast lane),
    and compact output (every response, jsonify and the lanes in front of Flask alike) written by
    orjson: the same JSON as Flask's (keys sorted, Flask's own forms for dates, decimals and
    dataclasses through its ``default``), with text as UTF-8 rather than \\u escapes, in a tenth
    of the time (a join's 20-question payload was 8 % of its CPU)."""

    _COMPACT = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                | orjson.OPT_PASSTHROUGH_DATACLASS)

    def loads(self, s, **kwargs):
        return loads(s, max_depth=self._app.config["MAX_JSON_DEPTH"], **kwargs)

    def dumps(self, obj, **kwargs) -> str:
        if kwargs == {"separators": (",", ":")}:  # what jsonify and the lanes ask for outside debug mode
            return self.compact_bytes(obj).decode()
        return super().dumps(obj, **kwargs)

    def compact_bytes(self, obj, *, strict: bool = False) -> bytes:
        """dumps(obj, separators=(",", ":")) as UTF-8 bytes, without the round trip through str
        (a join's payload is kilobytes of Chinese text: decoding and encoding it again cost 3 % of
        the join's CPU). `strict`: raise TypeError for what orjson does not write, instead of
        writing it Flask's way (for values holding orjson's own fragments, which only it writes)."""
        try:
            return orjson.dumps(obj, default=self.default, option=self._COMPACT)
        except TypeError:  # what orjson does not write (an integer beyond 64 bits): Flask's way
            if strict:
                raise
            return super().dumps(obj, separators=(",", ":")).encode()


def json_body() -> dict:
    """The request's JSON object, or 413/422 with a message (naming the field when one is bad)."""
    limit = current_app.config["MAX_JSON_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    data = request.get_data(cache=True)
    if len(data) > limit:
        raise RequestEntityTooLarge()
    body = request.get_json(silent=True)
    if body is None and request.is_json and data:
        try:
            current_app.json.loads(data)  # only to say what is wrong with it
        except BadInput as exc:
            raise Invalid(exc.message)
        except ValueError:
            pass
    if not isinstance(body, dict):
        raise Invalid(_("Send a JSON object (Content-Type: application/json)."))
    return body


def init_app(app: Flask) -> None:
    """Register the guards: bounded <int:…>, the JSON provider and the request text check.
    Call before the blueprints are registered (their rules compile with the converter)."""
    app.url_map.converters["int"] = IdConverter
    app.json = GuardedJSONProvider(app)
    app.before_request(check_request)
