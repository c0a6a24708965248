"""Attempts (one participant's paper and its timing) and their saved answers."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, false, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from quiz.extensions import db
from quiz.models.base import UTCDateTime, utcnow
from quiz.models.checks import one_of
from quiz.models.quizzes import Quiz
from quiz.models.users import Participant

STATUSES = ("open", "submitted")


class Attempt(db.Model):
    """One sitting of a quiz by one participant.

    `open_slot` equals participant_id while the attempt is open and NULL once it is finished,
    so the unique (quiz_id, open_slot) constraint lets the database guarantee at most one open
    attempt per participant and quiz (NULLs never collide).
    `paper` lists the drawn questions in the order shown: {"q": question id, "points": p,
    "order": [original option indexes in shown order] or null}.
    """

    __tablename__ = "attempt"
    __table_args__ = (
        UniqueConstraint("quiz_id", "participant_id", "number"),
        UniqueConstraint("quiz_id", "open_slot"),
        Index("ix_attempt_ranking", "quiz_id", "status", "score", "time_used_ms"),
        one_of("status", STATUSES),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    quiz_id: Mapped[int] = mapped_column(ForeignKey("quiz.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer, default=1)
    nonce: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | submitted
    open_slot: Mapped[int | None] = mapped_column(Integer)
    paper: Mapped[list] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auto_submitted: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[float | None] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float, default=0)
    correct_count: Mapped[int | None] = mapped_column(Integer)
    question_count: Mapped[int] = mapped_column(Integer, default=0)
    time_used_ms: Mapped[int | None] = mapped_column(Integer)
    tab_switches: Mapped[int] = mapped_column(Integer, default=0)
    flagged_fast: Mapped[bool] = mapped_column(Boolean, default=False)
    # Excluded from rankings, reports and posters by an organiser (audited in SheetExclusion).
    excluded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    quiz: Mapped[Quiz] = relationship()
    participant: Mapped[Participant] = relationship()

    @property
    def time_used_seconds(self) -> float | None:
        return None if self.time_used_ms is None else self.time_used_ms / 1000

    @property
    def is_open(self) -> bool:
        return self.status == "open"


# Feeds the top-N leaderboard in rank order (ranking.top_entries). Declared on the columns
# (score.desc(), not text("score DESC")) so that `quiz db check` can compare it with the database
# on SQLite too: SQLite does not report a column's sort order, and a text() element would be an
# expression index that only matches on PostgreSQL. The DDL is the same either way (0005).
Index("ix_attempt_board", Attempt.quiz_id, Attempt.score.desc(), Attempt.time_used_ms, Attempt.submitted_at,
      Attempt.id, postgresql_where=text("status = 'submitted'"), sqlite_where=text("status = 'submitted'"))


class Answer(db.Model):
    """The latest response to one question of an attempt, in the bank's own option letters."""

    __tablename__ = "answer"
    __table_args__ = (UniqueConstraint("attempt_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="RESTRICT"), index=True)
    response: Mapped[str] = mapped_column(Text)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    earned: Mapped[float | None] = mapped_column(Float)
    correct: Mapped[bool | None] = mapped_column(Boolean)
