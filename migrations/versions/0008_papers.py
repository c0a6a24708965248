"""paper modes: 统一试卷 (a fixed paper stored on the quiz) or 随机组卷 (balanced draws)

Existing quizzes keep what they did before: a draw per person, so they become "random"
(their rules have no stored difficulty mix, so their draws stay unbalanced as before).
New quizzes default to "fixed".

Revision ID: 0008_papers
Revises: 0007_sharing
"""
from alembic import op
import sqlalchemy as sa

revision = "0008_papers"
down_revision = "0007_sharing"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("quiz", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paper_mode", sa.String(length=10), nullable=False, server_default="fixed"))
        batch_op.add_column(sa.Column("paper", sa.JSON(), nullable=True))
    op.execute("UPDATE quiz SET paper_mode = 'random'")  # quizzes made before this revision drew per person


def downgrade():
    with op.batch_alter_table("quiz", schema=None) as batch_op:
        batch_op.drop_column("paper")
        batch_op.drop_column("paper_mode")
