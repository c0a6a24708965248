"""allowed values of status, mode and role columns (CHECK constraints); question types as rows

Revision ID: 0010_checks
Revises: 0009_safety

Every value below is what the services accept (quiz/models/*.py declare the same constraints with
quiz.models.checks.one_of). question.type becomes a foreign key to the new question_type table
rather than a CHECK constraint, so that a new question type needs no migration: `quiz init-db`
adds its row (quiz.models.banks.sync_question_types). On SQLite each table is copied (batch
mode; migrations/env.py turns foreign keys off meanwhile and checks them afterwards).
"""
from alembic import op
import sqlalchemy as sa

revision = "0010_checks"
down_revision = "0009_safety"
branch_labels = None
depends_on = None

# table → column → allowed values
CHECKS = {
    "attempt": {"status": ("open", "submitted")},
    "quiz": {
        "mode": ("exam", "practice"),
        "paper_mode": ("fixed", "random"),
        "attempt_policy": ("best", "latest"),
        "multi_partial": ("none", "half"),
        "show_answers": ("after_submit", "after_close", "never"),
    },
    "user": {"role": ("admin", "organiser", "judge", "participant")},
}
# The question types registered when this migration was written; later ones come from `quiz init-db`.
QUESTION_TYPES = ("single", "multi", "judge", "blank")


def _one_of(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _refuse_bad_rows(bind):
    """Name the rows a constraint would refuse (the services never wrote such values, but a
    database edited by hand might hold one), rather than failing with the database's message."""
    for table, columns in CHECKS.items():
        for column, values in columns.items():
            bad = bind.execute(sa.text(
                f'SELECT DISTINCT "{column}" FROM "{table}" WHERE "{column}" IS NULL OR NOT ({_one_of(column, values)})'
            )).scalars().all()
            if bad:
                raise RuntimeError(f"{table}.{column} holds {bad!r}, outside {values!r}: correct these rows first")


def upgrade():
    bind = op.get_bind()
    _refuse_bad_rows(bind)
    question_type = op.create_table(
        "question_type",
        sa.Column("name", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_question_type")),
    )
    used = set(bind.execute(sa.text("SELECT DISTINCT type FROM question")).scalars())
    op.bulk_insert(question_type, [{"name": name} for name in sorted(set(QUESTION_TYPES) | used)])
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f("fk_question_type_question_type"), "question_type", ["type"],
                                    ["name"], ondelete="RESTRICT")

    sqlite = bind.dialect.name == "sqlite"
    if sqlite:  # the copy of the table would lose the index's sort order (SQLite does not report it)
        op.drop_index("ix_attempt_board", table_name="attempt")
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, values in columns.items():
                batch_op.create_check_constraint(op.f(f"ck_{table}_{column}"), _one_of(column, values))
    if sqlite:
        _board_index()


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.drop_index("ix_attempt_board", table_name="attempt")
    for table, columns in reversed(list(CHECKS.items())):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in reversed(list(columns)):
                batch_op.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
    if sqlite:
        _board_index()
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_question_type_question_type"), type_="foreignkey")
    op.drop_table("question_type")


def _board_index():
    """ix_attempt_board as 0005 made it."""
    op.create_index("ix_attempt_board", "attempt",
                    ["quiz_id", sa.text("score DESC"), "time_used_ms", "submitted_at", "id"],
                    postgresql_where=sa.text("status = 'submitted'"), sqlite_where=sa.text("status = 'submitted'"))
