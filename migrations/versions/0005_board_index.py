"""partial index feeding the top-N leaderboard in rank order

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_attempt_board", "attempt",
                    ["quiz_id", sa.text("score DESC"), "time_used_ms", "submitted_at", "id"],
                    postgresql_where=sa.text("status = 'submitted'"), sqlite_where=sa.text("status = 'submitted'"))


def downgrade():
    op.drop_index("ix_attempt_board", table_name="attempt")
