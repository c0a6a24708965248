"""Shared column types and helpers for models."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import orjson
from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """Timezone-aware current UTC time (the default for every timestamp column)."""
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------- JSON columns
# What JSON columns (a sheet's paper, a quiz's rules …) are written and read with, on both
# databases: orjson, with the standard library's results. Values orjson writes differently are
# handed to json.dumps (which refuses what it always refused: datetimes, sets …); text it will
# not read (NaN) or would read otherwise (a run of 19 digits: an integer beyond 64 bits, which
# orjson reads as a float) to json.loads. One difference is left: NaN and infinities are written
# as null (never stored: every number that comes in is checked finite, quiz/inputs.py). About 7 %
# of a join's CPU was the standard library's encoder and decoder (docs/benchmarks.md "Joining").
_COLUMN_JSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _refuse(value):
    raise TypeError


def json_column_bytes(value) -> bytes:
    """A JSON column's value as UTF-8 JSON text (PostgreSQL: psycopg sends bytes as they are)."""
    try:
        return orjson.dumps(value, default=_refuse, option=_COLUMN_JSON)
    except TypeError:
        return json.dumps(value).encode()


def json_column_text(value) -> str:
    """A JSON column's value as JSON text (SQLite stores it as TEXT)."""
    return json_column_bytes(value).decode()


# 19 ASCII digits in a row may be an integer beyond 64 bits, which orjson reads as a float. Found by
# mapping every digit to "0" and every other byte to " " (bytes.translate) and looking for 19 "0"s:
# a tenth of the time of a regular expression's search, which cost twice the parse itself.
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_RUN = b"0" * 19


def _long_digits(data: bytes) -> bool:
    return _LONG_RUN in data.translate(_DIGITS_AS_ZEROS)


def json_column_value(text):
    """A JSON column's stored text (str, or bytes from psycopg) as a Python value."""
    if isinstance(text, memoryview):
        text = bytes(text)
    if not _long_digits(text.encode() if isinstance(text, str) else text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def json_engine_options(uri: str) -> dict:
    """The engine options that make JSON columns use the functions above."""
    return {"json_serializer": json_column_text if uri.startswith("sqlite") else json_column_bytes,
            "json_deserializer": json_column_value}


class UTCDateTime(TypeDecorator):
    """A DateTime that always comes back timezone-aware UTC, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
