"""Quizzes (timed online contests and practice sets), their banks and audience units."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Integer, String, Table, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from quiz.extensions import db
from quiz.models.banks import Bank
from quiz.models.base import UTCDateTime, utcnow
from quiz.models.checks import one_of
from quiz.models.units import Unit

quiz_bank = Table(
    "quiz_bank", db.metadata,
    Column("quiz_id", ForeignKey("quiz.id", ondelete="CASCADE"), primary_key=True),
    Column("bank_id", ForeignKey("bank.id", ondelete="RESTRICT"), primary_key=True),
)

quiz_unit = Table(
    "quiz_unit", db.metadata,
    Column("quiz_id", ForeignKey("quiz.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("unit.id", ondelete="RESTRICT"), primary_key=True),
)

MODES = ("exam", "practice")  # what organisers create
# "live": the hidden quiz of a live contest, whose sheets carry the answers given on phones
QUIZ_MODES = (*MODES, "live")
SHOW_ANSWERS = ("after_submit", "after_close", "never")
ATTEMPT_POLICIES = ("best", "latest")
MULTI_PARTIAL = ("none", "half")
PAPER_MODES = ("fixed", "random")  # 统一试卷 (one paper for everyone) / 随机组卷 (a balanced draw per person)
# Who may join: anyone in the audience units (name + phone), people on the roster, or people on
# the roster with their personal access code.
IDENTITY_CHECKS = ("none", "roster", "code")


class Quiz(db.Model):
    """A quiz: paper rules drawn from banks, timing, audience and scoring settings."""

    __tablename__ = "quiz"
    __table_args__ = (one_of("mode", QUIZ_MODES), one_of("paper_mode", PAPER_MODES),
                      one_of("attempt_policy", ATTEMPT_POLICIES), one_of("multi_partial", MULTI_PARTIAL),
                      one_of("show_answers", SHOW_ANSWERS))

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    mode: Mapped[str] = mapped_column(String(10), default="exam")
    join_code: Mapped[str] = mapped_column(String(16), unique=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # [{"type": "single", "count": 20, "points": 2.0, "tags": [...], "difficulty": [..]}]
    rules: Mapped[list] = mapped_column(JSON, default=list)
    # Paper mode (quiz.services.papers): "fixed" = 统一试卷, the paper below is copied at every join;
    # "random" = 随机组卷, a draw per person (rules carry their difficulty "mix" when balanced).
    paper_mode: Mapped[str] = mapped_column(String(10), default="fixed", server_default="fixed")
    # The fixed paper: [{"q": question id, "points": 2.0, "t": "single", "n": 4}] (None when random)
    paper: Mapped[list | None] = mapped_column(JSON)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    roster_only: Mapped[bool] = mapped_column(Boolean, default=False)
    # Personal access codes required (identity_check "code"); implies roster_only.
    access_code_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    attempts_allowed: Mapped[int] = mapped_column(Integer, default=1)  # 0 = unlimited
    attempt_policy: Mapped[str] = mapped_column(String(10), default="best")
    shuffle_questions: Mapped[bool] = mapped_column(Boolean, default=True)
    shuffle_options: Mapped[bool] = mapped_column(Boolean, default=False)
    multi_partial: Mapped[str] = mapped_column(String(10), default="none")
    pass_score: Mapped[float | None] = mapped_column(Float)
    excellent_score: Mapped[float | None] = mapped_column(Float)
    show_answers: Mapped[str] = mapped_column(String(20), default="after_submit")
    min_seconds: Mapped[int | None] = mapped_column(Integer)  # faster attempts are flagged
    max_score: Mapped[float] = mapped_column(Float, default=0)
    # Score freeze: the public leaderboard shows only submissions up to this time until revealed.
    freeze_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    unit: Mapped[Unit | None] = relationship()
    banks: Mapped[list[Bank]] = relationship(secondary=quiz_bank, order_by="Bank.name")
    audience_units: Mapped[list[Unit]] = relationship(secondary=quiz_unit, order_by="Unit.path")

    @property
    def identity_check(self) -> str:
        """Who may join: none, roster or code (IDENTITY_CHECKS)."""
        if self.access_code_required:
            return "code"
        return "roster" if self.roster_only else "none"

    @property
    def is_practice(self) -> bool:
        return self.mode == "practice"

    @property
    def is_live(self) -> bool:
        """The hidden quiz of a live contest (no board, report or list of its own)."""
        return self.mode == "live"

    def is_open(self, now: datetime) -> bool:
        """Accepting new attempts at `now`."""
        if self.opens_at is not None and now < self.opens_at:
            return False
        return self.closes_at is None or now < self.closes_at

    def __repr__(self) -> str:
        return f"<Quiz {self.id} {self.title}>"
