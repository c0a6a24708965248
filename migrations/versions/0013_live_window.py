"""live contests: the answer window in one row (live_contest.window_question_id, window_until)

Revision ID: 0013_live_window
Revises: 0012_pictures

Until now a live contest kept the window of the phone question that runs in every player's answer
sheet (its deadline), so `start` and `close` rewrote every sheet. The window is now the contest
row's: the answer-save rule (quiz/services/answers.py) reads it. Data: the open sheets of live
contests lose their deadline, and a contest whose sheets are writable now gets that window (the
question that runs, until the sheets' deadline).
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0013_live_window"
down_revision = "0012_pictures"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("live_contest", schema=None) as batch_op:
        batch_op.add_column(sa.Column("window_question_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("window_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_live_contest_quiz_id"), ["quiz_id"])

    bind = op.get_bind()
    now = datetime.now(timezone.utc)
    contests = bind.execute(sa.text(
        "SELECT c.id, c.quiz_id, q.question_id, q.status, q.started_at FROM live_contest c "
        "JOIN live_question q ON q.id = c.current_id WHERE c.paused_at IS NULL")).all()
    for contest_id, quiz_id, question_id, status, started_at in contests:
        if status != "open" or started_at is None or quiz_id is None:
            continue
        until = bind.execute(sa.text("SELECT max(deadline) FROM attempt WHERE quiz_id = :quiz AND status = 'open'"),
                             {"quiz": quiz_id}).scalar()
        if isinstance(until, str):
            until = datetime.fromisoformat(until)
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=timezone.utc)
        if until is not None and until > now:
            bind.execute(sa.text("UPDATE live_contest SET window_question_id = :question, window_until = :until "
                                 "WHERE id = :id"), {"question": question_id, "until": until, "id": contest_id})
    bind.execute(sa.text("UPDATE attempt SET deadline = NULL WHERE status = 'open' AND quiz_id IN "
                         "(SELECT id FROM quiz WHERE mode = 'live')"))


def downgrade():
    bind = op.get_bind()
    # back to a deadline on every open live sheet: the window's end, or a moment past
    bind.execute(sa.text(
        "UPDATE attempt SET deadline = COALESCE((SELECT c.window_until FROM live_contest c "
        "WHERE c.quiz_id = attempt.quiz_id), (SELECT c.created_at FROM live_contest c "
        "WHERE c.quiz_id = attempt.quiz_id)) WHERE status = 'open' AND quiz_id IN "
        "(SELECT id FROM quiz WHERE mode = 'live')"))
    with op.batch_alter_table("live_contest", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_live_contest_quiz_id"), type_="unique")
        batch_op.drop_column("window_until")
        batch_op.drop_column("window_question_id")
