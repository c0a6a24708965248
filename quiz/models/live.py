"""Live stage contests (现场赛): entrants, rounds, their questions, buzzes, wagers, players and the
append-only score ledger. The contest's whole state lives in these rows (never in a process's
memory), so any worker can serve any request and a worker that dies loses nothing."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from quiz.extensions import db
from quiz.models.banks import Question
from quiz.models.checks import one_of
from quiz.models.base import UTCDateTime, utcnow
from quiz.models.units import Unit
from quiz.models.users import Participant, User

LIVE_MODES = ("teams", "individuals")
LIVE_STATUSES = ("setup", "running", "finished")
# lobby: before the first question; open: a question is shown (buzzers armed, wagers taken);
# started: answering/buzzing runs; answering: an entrant answers on stage after a buzz;
# closed: no more answers; revealed: the right answer is shown; scoreboard / podium: screens.
LIVE_PHASES = ("lobby", "open", "started", "answering", "closed", "revealed", "scoreboard", "podium")
SCORE_KINDS = ("base", "answer", "early", "wager", "speed", "streak", "correction", "undo")


class LiveContest(db.Model):
    """A live contest and where it stands: the current question, its phase and the pause."""

    __tablename__ = "live_contest"
    __table_args__ = (one_of("mode", LIVE_MODES), one_of("status", LIVE_STATUSES), one_of("phase", LIVE_PHASES))

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    mode: Mapped[str] = mapped_column(String(12), default="teams")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    join_code: Mapped[str] = mapped_column(String(16), unique=True)
    # the hidden quiz whose answer sheets carry the answers given on phones (the one save rule)
    quiz_id: Mapped[int | None] = mapped_column(ForeignKey("quiz.id", ondelete="SET NULL"), unique=True)
    # the answer window: the bank question phones may answer now, and until when (None: no question
    # takes answers). One row for the whole contest, read by the answer-save rule (services/answers.py)
    window_question_id: Mapped[int | None] = mapped_column(Integer)
    window_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="setup")
    phase: Mapped[str] = mapped_column(String(12), default="lobby")
    current_id: Mapped[int | None] = mapped_column(ForeignKey("live_question.id", ondelete="SET NULL",
                                                              use_alter=True, name="fk_live_contest_current_id"))
    phase_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sound: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=0)  # bumped on every change of state
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    unit: Mapped[Unit | None] = relationship()
    created_by: Mapped[User | None] = relationship()
    rounds: Mapped[list["LiveRound"]] = relationship(order_by="LiveRound.position", back_populates="contest",
                                                     cascade="all, delete-orphan")
    entrants: Mapped[list["LiveEntrant"]] = relationship(order_by="LiveEntrant.position", back_populates="contest",
                                                         cascade="all, delete-orphan")
    current: Mapped["LiveQuestion | None"] = relationship(foreign_keys=[current_id], post_update=True)


class LiveEntrant(db.Model):
    """A team (usually a unit) or an individual player, with the score it starts from."""

    __tablename__ = "live_entrant"
    __table_args__ = (UniqueConstraint("contest_id", "name"), UniqueConstraint("contest_id", "team_code"))

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("live_contest.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    base_score: Mapped[float] = mapped_column(Float, default=0)
    team_code: Mapped[str | None] = mapped_column(String(16))
    # registered members of a team: [{"name", "phone"}]; a phone joining with one of these phones
    # joins this team without the team code
    members: Mapped[list] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    contest: Mapped[LiveContest] = relationship(back_populates="entrants")
    unit: Mapped[Unit | None] = relationship()


class LivePlayer(db.Model):
    """A person on a phone, in one entrant. The phone number identifies them: joining again from
    another phone keeps their entrant and score. `rtt_ms` is their connection's measured round
    trip (a running median), used to correct buzz times."""

    __tablename__ = "live_player"
    __table_args__ = (UniqueConstraint("contest_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("live_contest.id", ondelete="CASCADE"), index=True)
    entrant_id: Mapped[int] = mapped_column(ForeignKey("live_entrant.id", ondelete="CASCADE"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(32))
    rtt_ms: Mapped[float | None] = mapped_column(Float)
    rtt_samples: Mapped[list] = mapped_column(JSON, default=list)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    entrant: Mapped[LiveEntrant] = relationship()
    participant: Mapped[Participant] = relationship()


class LiveRound(db.Model):
    """One round: its type (quiz/rounds registry) and settings, and its questions in order."""

    __tablename__ = "live_round"

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("live_contest.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    type: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200), default="")
    settings: Mapped[dict] = mapped_column(JSON, default=dict)

    contest: Mapped[LiveContest] = relationship(back_populates="rounds")
    questions: Mapped[list["LiveQuestion"]] = relationship(order_by="LiveQuestion.position", back_populates="round",
                                                           cascade="all, delete-orphan")


class LiveQuestion(db.Model):
    """A bank question placed in a round. `state` holds what the round type tracks while it runs
    (whose turn, who is answering, who is locked out or eliminated)."""

    __tablename__ = "live_question"
    __table_args__ = (one_of("status", ("pending", "open", "closed", "revealed")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("live_contest.id", ondelete="CASCADE"), index=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("live_round.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id", ondelete="RESTRICT"))
    points: Mapped[float] = mapped_column(Float, default=10)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | open | closed | revealed
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[dict] = mapped_column(JSON, default=dict)

    round: Mapped[LiveRound] = relationship(back_populates="questions")
    question: Mapped[Question] = relationship()


class LiveBuzz(db.Model):
    """A buzz: when the server received it, the round trip of the phone that sent it, and the
    corrected time it is ordered by (received minus half the round trip, capped)."""

    __tablename__ = "live_buzz"
    __table_args__ = (UniqueConstraint("live_question_id", "entrant_id", "attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    live_question_id: Mapped[int] = mapped_column(ForeignKey("live_question.id", ondelete="CASCADE"), index=True)
    entrant_id: Mapped[int] = mapped_column(ForeignKey("live_entrant.id", ondelete="CASCADE"))
    player_id: Mapped[int | None] = mapped_column(ForeignKey("live_player.id", ondelete="SET NULL"))
    attempt: Mapped[int] = mapped_column(Integer, default=1)  # a re-opened question may be buzzed again
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rtt_ms: Mapped[float | None] = mapped_column(Float)
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    early: Mapped[bool] = mapped_column(Boolean, default=False)

    entrant: Mapped[LiveEntrant] = relationship()


class LiveWager(db.Model):
    """风险题: the value an entrant stakes on a question before seeing it."""

    __tablename__ = "live_wager"
    __table_args__ = (UniqueConstraint("live_question_id", "entrant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    live_question_id: Mapped[int] = mapped_column(ForeignKey("live_question.id", ondelete="CASCADE"), index=True)
    entrant_id: Mapped[int] = mapped_column(ForeignKey("live_entrant.id", ondelete="CASCADE"))
    value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LiveScore(db.Model):
    """The score ledger: every change of an entrant's score, never edited. A host's correction is
    a new event with a reason; undoing a judging adds events that cancel the judging's events
    (`undoes`), all in one `action` so they can be undone together."""

    __tablename__ = "live_score"
    __table_args__ = (one_of("kind", SCORE_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("live_contest.id", ondelete="CASCADE"), index=True)
    entrant_id: Mapped[int] = mapped_column(ForeignKey("live_entrant.id", ondelete="CASCADE"), index=True)
    live_question_id: Mapped[int | None] = mapped_column(ForeignKey("live_question.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(12))
    points: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(String(32), index=True)  # events made by one host action
    undoes: Mapped[int | None] = mapped_column(ForeignKey("live_score.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entrant: Mapped[LiveEntrant] = relationship()
    user: Mapped[User | None] = relationship()
