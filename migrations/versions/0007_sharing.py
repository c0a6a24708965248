"""banks shared down the unit tree

Revision ID: 0007_sharing
Revises: 0006_exclusion
"""
from alembic import op
import sqlalchemy as sa

revision = "0007_sharing"
down_revision = "0006_exclusion"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("bank", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("bank", schema=None) as batch_op:
        batch_op.drop_column("shared")
