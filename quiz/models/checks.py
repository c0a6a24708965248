"""CHECK constraints that keep status and mode columns to their allowed values, and the part of
`quiz db check` that compares those values with the database.

A column such as quiz.mode is declared with `one_of("mode", MODES)`: the constraint is named by
the naming convention (quiz/extensions.py, here ck_quiz_mode) and lists the values of the tuple
the services validate against. Migrations spell the same constraint out literally
(migrations/versions/0010_checks.py).

`quiz db check` (Flask-Migrate's `flask db check`, Alembic autogenerate) compares CHECK
constraints by name through Alembic's opt-in plugin alembic.ext.checkconstraint_byname, which
sees a constraint added or removed but not a changed one. The plugin here, "quiz.check_values",
adds that: a constraint whose quoted values or numbers differ between the model and the database
(a value added to MODES without a migration) is reported as changed. migrations/env.py enables
both plugins.

Question types are not a CHECK constraint: a new type (quiz/questions/) must not need a
migration, so question.type is a foreign key to the question_type table, whose rows
`quiz init-db` keeps equal to the registry (models/banks.py, sync_question_types).
"""
from __future__ import annotations

import logging
import re

from sqlalchemy import CheckConstraint

PLUGIN = "quiz.check_values"
_STRING = re.compile(r"'((?:[^']|'')*)'")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")

log = logging.getLogger(__name__)


def one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    """CHECK (column IN ('a', 'b', …)), named ck_<table>_<column>."""
    listed = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


def check_values(sqltext: str) -> tuple[list[str], list[float]]:
    """The quoted values and the numbers of a CHECK constraint's text, sorted: the same for the
    model's text and for what SQLite or PostgreSQL report back (PostgreSQL rewrites
    `mode IN ('exam', 'practice')` as `mode::text = ANY (ARRAY['exam'::character varying, …])`)."""
    strings = sorted(s.replace("''", "'") for s in _STRING.findall(sqltext))
    numbers = sorted(float(n) for n in _NUMBER.findall(_STRING.sub("", sqltext)))
    return strings, numbers


def _compare_values(autogen_context, modify_table_ops, schema, tname, conn_table, metadata_table):
    """Alembic table comparator: a named CHECK constraint in both the model and the database whose
    values differ is reported as dropped and added again."""
    from alembic.operations import ops
    from alembic.util import PriorityDispatchResult

    if conn_table is None or metadata_table is None:
        return PriorityDispatchResult.CONTINUE
    reflected = {ck["name"]: ck["sqltext"]
                 for ck in autogen_context.inspector.get_check_constraints(tname, schema=schema) if ck.get("name")}
    for constraint in sorted(metadata_table.constraints, key=lambda c: str(c.name)):
        if not isinstance(constraint, CheckConstraint) or str(constraint.name) not in reflected:
            continue
        name = str(constraint.name)
        model, database = check_values(str(constraint.sqltext)), check_values(reflected[name])
        if model != database:
            log.info("Detected changed values of check constraint %r on table %r: %s to %s",
                     name, tname, database, model)
            modify_table_ops.ops.append(ops.DropConstraintOp.from_constraint(
                CheckConstraint(reflected[name], name=name, table=conn_table)))
            modify_table_ops.ops.append(ops.AddConstraintOp.from_constraint(constraint))
    return PriorityDispatchResult.CONTINUE


def register_alembic_plugin() -> None:
    """Make the "quiz.check_values" plugin known to Alembic (once per process; migrations/env.py)."""
    from alembic.runtime.plugins import Plugin

    try:
        plugin = Plugin(PLUGIN)
    except ValueError:  # already registered in this process
        return
    plugin.add_autogenerate_comparator(_compare_values, "table", "check_values")
