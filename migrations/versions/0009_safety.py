"""per-quiz identity check (personal access codes)

Revision ID: 0009_safety
Revises: 0008_papers
"""
from alembic import op
import sqlalchemy as sa

revision = "0009_safety"
down_revision = "0008_papers"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("quiz", schema=None) as batch_op:
        batch_op.add_column(sa.Column("access_code_required", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("access_code", sa.String(length=12), nullable=True))


def downgrade():
    with op.batch_alter_table("participant", schema=None) as batch_op:
        batch_op.drop_column("access_code")
    with op.batch_alter_table("quiz", schema=None) as batch_op:
        batch_op.drop_column("access_code_required")
