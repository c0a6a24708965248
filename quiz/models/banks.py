"""Question banks (题库), their questions and the log of imports into them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, Boolean, Column, Float, ForeignKey, Integer, LargeBinary, String, Table, Text,
                        UniqueConstraint, false, insert, select)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from quiz.extensions import db
from quiz.models.base import UTCDateTime, utcnow
from quiz.models.checks import one_of
from quiz.models.units import Unit

TAG_SEPARATOR = ";"
# The picture formats a question may show, by content type (quiz/services/pictures.py checks the bytes).
PICTURE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")

# The question types (quiz/questions/) as rows that question.type refers to, so the database refuses
# a type nobody registered. Not a CHECK constraint: a new type must not need a migration; its row
# is added by `quiz init-db` (sync_question_types). Reference data: tests never empty it.
question_type = Table(
    "question_type", db.metadata,
    Column("name", String(10), primary_key=True),
    info={"reference_data": True},
)


def sync_question_types() -> list[str]:
    """Add the rows of registered question types the table lacks (rows are never removed: old
    questions may use a type no longer registered) and return their names. `quiz init-db` calls
    it after the migrations; the caller commits."""
    from quiz.questions import QUESTION_TYPES

    present = set(db.session.execute(select(question_type.c.name)).scalars())
    missing = [name for name in QUESTION_TYPES if name not in present]
    if missing:
        db.session.execute(insert(question_type), [{"name": name} for name in missing])
    return missing


class Bank(db.Model):
    """A named question bank owned by a unit (None: only admins manage it)."""

    __tablename__ = "bank"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="RESTRICT"), index=True)
    # Shared down the tree: organisers below the owner unit (every organiser for an administrators'
    # bank) may read it and draw questions from it, but not change it.
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    unit: Mapped[Unit | None] = relationship()

    def __repr__(self) -> str:
        return f"<Bank {self.name}>"


class Question(db.Model):
    """One question. `answer` is canonical (see quiz.questions); `fingerprint` identifies it
    within its bank (type + normalised stem + options), which makes re-import idempotent."""

    __tablename__ = "question"
    __table_args__ = (UniqueConstraint("bank_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("bank.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(10), ForeignKey("question_type.name", ondelete="RESTRICT"), index=True)
    stem: Mapped[str] = mapped_column(Text)
    options: Mapped[list] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    explanation: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[float | None] = mapped_column(Float)
    difficulty: Mapped[int | None] = mapped_column(Integer)
    # Stored as ";tag1;tag2;" so that one LIKE finds a whole tag on any database.
    tags_text: Mapped[str] = mapped_column(String(1000), default="")
    fingerprint: Mapped[str] = mapped_column(String(40))
    # The question's picture (看图题), by the SHA-256 of its stored bytes; part of its identity
    # (importer.fingerprint): the same stem and options with another picture is another question.
    picture: Mapped[str | None] = mapped_column(String(64), ForeignKey("picture.sha256", ondelete="RESTRICT"),
                                                index=True)
    retired: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    source_row: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    bank: Mapped[Bank] = relationship()

    @property
    def tags(self) -> list[str]:
        return [t for t in self.tags_text.split(TAG_SEPARATOR) if t]

    @tags.setter
    def tags(self, values: list[str]) -> None:
        self.tags_text = encode_tags(values)


def encode_tags(values: list[str]) -> str:
    """';a;b;' form of a tag list (empty string for no tags)."""
    values = [v for v in values if v]
    return TAG_SEPARATOR + TAG_SEPARATOR.join(values) + TAG_SEPARATOR if values else ""


class Picture(db.Model):
    """An image a question shows (PNG, JPEG, WebP or GIF), stored in the database by the SHA-256 of
    its bytes so that every app server sees it and identical files are stored once. Immutable:
    a question that gets another picture points at another row (quiz/services/pictures.py)."""

    __tablename__ = "picture"
    __table_args__ = (one_of("content_type", PICTURE_TYPES),)

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(20))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Picture {self.sha256[:12]} {self.content_type} {self.width}x{self.height}>"


class ImportLog(db.Model):
    """Who imported which file into which bank, and what came of it."""

    __tablename__ = "import_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("bank.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255), default="")
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    bank: Mapped[Bank] = relationship()
