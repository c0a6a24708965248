"""sheets excluded from rankings by an organiser, with an audit log

Revision ID: 0006_exclusion
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

revision = "0006_exclusion"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.add_column(sa.Column("excluded", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "sheet_exclusion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("quiz_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("action IN ('exclude', 'restore')", name=op.f("ck_sheet_exclusion_action")),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempt.id"], name=op.f("fk_sheet_exclusion_attempt_id_attempt"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["quiz_id"], ["quiz.id"], name=op.f("fk_sheet_exclusion_quiz_id_quiz"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name=op.f("fk_sheet_exclusion_user_id_user"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sheet_exclusion")),
    )
    with op.batch_alter_table("sheet_exclusion", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sheet_exclusion_attempt_id"), ["attempt_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sheet_exclusion_quiz_id"), ["quiz_id"], unique=False)


def downgrade():
    with op.batch_alter_table("sheet_exclusion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sheet_exclusion_quiz_id"))
        batch_op.drop_index(batch_op.f("ix_sheet_exclusion_attempt_id"))
    op.drop_table("sheet_exclusion")
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_column("excluded")
