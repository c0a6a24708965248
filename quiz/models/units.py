"""Units: the organisation tree (街道 → 村/社区, 机关各办) with headcounts (应参人数)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, CheckConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from quiz.extensions import db
from quiz.models.base import UTCDateTime, utcnow

PATH_SEPARATOR = "/"


def path_within(path: str, other: str) -> bool:
    """True when the unit at `path` is the one at `other` or one of its descendants."""
    return path == other or path.startswith(other + PATH_SEPARATOR)


class Unit(db.Model):
    """A node of the unit tree; `path` is the full name path, e.g. 乔司街道/三角村社区."""

    __tablename__ = "unit"
    __table_args__ = (CheckConstraint("headcount >= 0", name="headcount_nonnegative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(1000), unique=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), index=True
    )
    headcount: Mapped[int] = mapped_column(Integer, default=0)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent", order_by="Unit.path")

    @property
    def depth(self) -> int:
        return self.path.count(PATH_SEPARATOR)

    def is_within(self, other: Unit) -> bool:
        """True when this unit is `other` or one of its descendants."""
        return path_within(self.path, other.path)

    def __repr__(self) -> str:
        return f"<Unit {self.path}>"
