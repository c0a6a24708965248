"""Audit records: regrades after an answer-key correction and sheets excluded from rankings (who,
when, why, what changed)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from quiz.extensions import db
from quiz.models.base import UTCDateTime, utcnow
from quiz.models.users import User


class Regrade(db.Model):
    """One applied regrade of a quiz. `changes` keeps every before/after value so it can be undone:
    [{"attempt": id, "name", "score": [before, after], "correct": [before, after],
      "rank": [before, after], "answers": [[answer id, earned before, correct before,
      earned after, correct after], …]}]."""

    __tablename__ = "regrade"

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quiz.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    changes: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    undo_reason: Mapped[str | None] = mapped_column(String(1000))

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    undone_by: Mapped[User | None] = relationship(foreign_keys=[undone_by_id])


class SheetExclusion(db.Model):
    """One exclusion of an answer sheet from rankings, reports and posters, or its restoration.
    The sheet's current state is Attempt.excluded; these rows are the history (never edited)."""

    __tablename__ = "sheet_exclusion"
    __table_args__ = (CheckConstraint("action IN ('exclude', 'restore')", name="action"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quiz.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()
