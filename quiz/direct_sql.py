"""Core statements run straight on the DBAPI cursor (PostgreSQL), for the few statements that run on
every join when a crowd arrives.

A Core statement executed through SQLAlchemy's Connection costs about 0.1 ms of CPU on top of
psycopg's own work (execution context, result metadata, psycopg's column descriptions that the
result object reads): a join's three statements spent more CPU there than in psycopg
(docs/benchmarks.md "Joining"). `execute` keeps the statement a Core construct, written once in
the rules module, and the transaction the caller's: the statement is compiled once per dialect
(with SQLAlchemy's own bind and result processors for its columns' types, looked up through the
types' public API), then run on the same DBAPI connection, inside the caller's transaction, with
psycopg preparing it after a few uses. On other dialects, and for statements that cannot be
compiled to a fixed string (expanding IN, positional parameters), it is plain `conn.execute`.

The engine's `before_cursor_execute` listeners still see every statement (the tests and the
benchmarks count statements with them).
"""
from __future__ import annotations

from collections import namedtuple
from contextlib import contextmanager

_compiled: dict[tuple[int, str], tuple[object, "_Compiled | None"]] = {}


class _Compiled:
    """One statement compiled for one dialect: its SQL, the default values of its parameters (the
    literals it binds), the bind processors of its parameters' types, and the row type and result
    processors of its columns (the types' dialect implementations, as SQLAlchemy uses them)."""

    __slots__ = ("sql", "defaults", "binds", "row", "types", "results")

    def __init__(self, statement, dialect):
        compiled = statement.compile(dialect=dialect)
        if compiled.positiontup or "POSTCOMPILE" in compiled.string:
            raise ValueError("not a fixed, named-parameter statement")
        self.sql = compiled.string
        self.defaults = dict(compiled.params)
        self.binds = tuple((key, processor) for key, bind in compiled.binds.items()
                           if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None)
        columns = list(getattr(statement, "selected_columns", ()))
        self.row = namedtuple("Row", [column.key for column in columns], rename=True) if columns else None
        self.types = [column.type.dialect_impl(dialect) for column in columns]
        self.results = None  # known at the first run: some processors depend on the column's DBAPI type

    def result_processors(self, dialect, description) -> tuple:
        if self.results is None:
            self.results = tuple(
                (index, processor) for index, (type_, column) in enumerate(zip(self.types, description))
                if (processor := type_.result_processor(dialect, column.type_code)) is not None)
        return self.results


def _lookup(statement, dialect) -> _Compiled | None:
    """The statement compiled for this dialect, or None when it cannot be run directly. Cached by
    the statement's identity (the rules modules keep their statements for the process's life; the
    cache keeps each statement alive, so an id() is never reused for another)."""
    key = (id(statement), dialect.name)
    hit = _compiled.get(key)
    if hit is None:
        try:
            compiled = _Compiled(statement, dialect)
        except (ValueError, AttributeError, NotImplementedError):
            compiled = None
        hit = _compiled.setdefault(key, (statement, compiled))  # atomic: one entry per key
    return hit[1]


class Rows:
    """The rows of a directly executed statement, read as a Core result is read by the callers:
    first(), one(), scalar(), scalars(), all(); rows are named tuples (row.name)."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list):
        self._rows = rows

    def all(self) -> list:
        return self._rows

    def first(self):
        return self._rows[0] if self._rows else None

    def one(self):
        if len(self._rows) != 1:
            from sqlalchemy.exc import MultipleResultsFound, NoResultFound

            raise (NoResultFound if not self._rows else MultipleResultsFound)(
                f"{len(self._rows)} rows where exactly one was required")
        return self._rows[0]

    def scalar(self):
        return self._rows[0][0] if self._rows else None

    def scalars(self) -> list:
        return [row[0] for row in self._rows]


SERVED = "quiz.direct_sql.served"  # Connection.info key: rows read ahead (`served`)


def execute(conn, statement, params: dict):
    """`conn.execute(statement, params)`, run on the DBAPI cursor on PostgreSQL (module docstring).
    Returns a Result, or Rows with the same reading methods; inside `served`, the rows read ahead
    for this statement and these parameters (once)."""
    ahead = conn.info.get(SERVED)
    if ahead:
        waiting = ahead.get(id(statement))
        if waiting:
            for index, (read_with, rows) in enumerate(waiting):
                if read_with == params:
                    del waiting[index]
                    return rows
    dialect = conn.dialect
    if dialect.name != "postgresql":
        return conn.execute(statement, params)
    compiled = _lookup(statement, dialect)
    if compiled is None:
        return conn.execute(statement, params)
    if not conn.in_transaction():
        conn.begin()  # as Connection.execute autobegins: the caller's commit() then commits this
    values = {**compiled.defaults, **params}
    for key, processor in compiled.binds:
        values[key] = processor(values[key])
    dbapi = conn.connection.dbapi_connection
    with dbapi.cursor() as cursor:
        if conn.dispatch.before_cursor_execute:
            conn.dispatch.before_cursor_execute(conn, cursor, compiled.sql, values, None, False)
        try:
            cursor.execute(compiled.sql, values)
        except dialect.loaded_dbapi.OperationalError:
            conn.invalidate()  # as SQLAlchemy does with a lost connection: not returned to the pool
            raise
        if compiled.row is None:  # no columns (an UPDATE): nothing to read
            return Rows([])
        raw = cursor.fetchall()
        results = compiled.results if compiled.results is not None else \
            compiled.result_processors(dialect, cursor.description)
    row = compiled.row
    if results:
        out = []
        for values_ in raw:
            values_ = list(values_)
            for index, processor in results:
                values_[index] = processor(values_[index])
            out.append(row._make(values_))
        return Rows(out)
    return Rows([row._make(values_) for values_ in raw])


@contextmanager
def served(conn, reads: list[tuple[object, dict, list]]):
    """Inside the block, `execute` returns these rows for (statement, parameters, rows) when the same
    statement is executed with the same parameters (each once; what is not asked for is dropped at
    the block's end). The rows were read by the caller, earlier in the same transaction: the join
    lane reads a batch's lookups in one statement (services/joins.py `lookups_read_ahead`)."""
    ahead: dict[int, list[tuple[dict, Rows]]] = {}  # by the statement's id: (parameters, rows)
    for statement, params, rows in reads:
        ahead.setdefault(id(statement), []).append((params, Rows(list(rows))))
    conn.info[SERVED] = ahead
    try:
        yield
    finally:
        conn.info.pop(SERVED, None)
