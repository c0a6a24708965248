"""pictures (看图题): a table of images stored by the SHA-256 of their bytes, and question.picture
pointing at one

Revision ID: 0012_pictures
Revises: 0011_live

The images live in the database (not in a files directory) so that every app server sees the same
picture without shared storage; quiz/services/pictures.py checks, stores and serves them.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012_pictures"
down_revision = "0011_live"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "picture",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=20), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("content_type IN ('image/png', 'image/jpeg', 'image/webp', 'image/gif')",
                           name=op.f("ck_picture_content_type")),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_picture")),
    )
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.add_column(sa.Column("picture", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_question_picture"), ["picture"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_question_picture_picture"), "picture", ["picture"], ["sha256"],
                                    ondelete="RESTRICT")


def downgrade():
    with op.batch_alter_table("question", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_question_picture_picture"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_question_picture"))
        batch_op.drop_column("picture")
    op.drop_table("picture")
