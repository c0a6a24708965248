"""Round types of live contests: a registry, one class per type (docs/rules.md "Live contests").

A round type owns its rules: its settings (validated, with defaults), whose turn a question is,
who may answer or buzz, what a judging or a buzz before the start earns, and how answers given on
phones are scored. Everything here is a pure function of its arguments (settings, the question's
small `state` dict, a clock passed in): the service (quiz/services/live.py) reads and writes the
database and calls these rules, so adding a round type touches one file here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from flask_babel import gettext as _

from quiz.errors import Invalid
from quiz.inputs import parse_bool
from quiz.questions.base import fold


@dataclass
class Score:
    """One score event a rule produces: entrant, kind (LiveScore.kind), points, reason."""

    entrant: int
    kind: str
    points: float
    reason: str = ""


@dataclass
class Outcome:
    """What a judging leads to: score events, the question's new state, and whether the question
    is over (`done`; `round_over` also ends the rest of the round, as a decided 加赛 does)."""

    scores: list[Score] = field(default_factory=list)
    state: dict = field(default_factory=dict)
    done: bool = True
    round_over: bool = False


@dataclass(frozen=True)
class PhoneAnswer:
    """An answer given on a phone: its player and entrant, the share of the points its grading
    gave (0..1), and the seconds from the start of answering to the save (server time)."""

    player: int
    entrant: int
    fraction: float
    seconds: float


class RoundType:
    key: ClassVar[str]
    label: ClassVar[Any]
    aliases: ClassVar[tuple[str, ...]] = ()
    buzzer: ClassVar[bool] = False   # entrants buzz for the right to answer
    wager: ClassVar[bool] = False    # the entrant whose turn it is stakes a value before the question shows
    DEFAULTS: ClassVar[dict] = {"points": 10.0, "time_seconds": 30}

    # ---- settings
    def parse_settings(self, raw: dict | None) -> dict:
        """The settings with defaults, validated; Invalid names the setting."""
        raw = dict(raw or {})
        settings = dict(self.DEFAULTS)
        for name, default in self.DEFAULTS.items():
            if name in raw and raw[name] not in (None, ""):
                settings[name] = self._coerce(name, raw.pop(name), default)
            raw.pop(name, None)
        if raw:
            raise Invalid(_("Round setting “%(name)s” is not known for %(type)s.", name=sorted(raw)[0],
                            type=self.label))
        self.check(settings)
        return settings

    def _coerce(self, name: str, value, default):
        try:
            if isinstance(default, bool):
                return parse_bool(value, name)
            if isinstance(default, list):
                values = value if isinstance(value, list) else str(value).replace("，", ",").replace("/", ",").split(",")
                out = [float(fold(v)) for v in values if str(v).strip()]
                if not out or any(v != v or v <= 0 or v > 10_000 for v in out):
                    raise ValueError
                return out
            if isinstance(default, str):
                return str(value)
            number = float(value) if isinstance(default, float) else int(value)
            if number != number or number < 0 or number > (3600 if name.endswith("seconds") else 10_000):
                raise ValueError
            return number
        except (TypeError, ValueError):
            raise Invalid(_("Round setting “%(name)s”: “%(value)s” is not allowed.", name=name, value=str(value)[:30]))

    def check(self, settings: dict) -> None:
        """Checks across settings (override)."""

    # ---- who answers
    def phone_answers(self, settings: dict) -> bool:
        """Are this round's questions answered on phones (scored when the question closes)?"""
        return False

    def takes_turns(self, settings: dict) -> bool:
        """Does each question belong to one entrant, in turn (state["turn"])?"""
        return False

    def turn_order(self, settings: dict, entrants: list[int], scores: dict[int, float]) -> list[int]:
        """The order entrants take their turns in (entrants come in their set-up order)."""
        return list(entrants)

    def may_answer(self, settings: dict, state: dict, entrant: int) -> bool:
        """May this entrant buzz or answer now (its turn; not locked out, not eliminated)?"""
        if state.get("turn") is not None and entrant != state["turn"]:
            return False
        if state.get("eligible") is not None and entrant not in state["eligible"]:
            return False
        return entrant not in state.get("locked", []) and entrant not in state.get("out", [])

    # ---- on stage
    def early_buzz(self, settings: dict, state: dict, entrant: int) -> Outcome:
        """A buzz before the start: nothing happens unless the type says so."""
        return Outcome(state=state, done=False)

    def judge(self, settings: dict, state: dict, entrant: int, right: bool, *, points: float,
              wager: float | None = None) -> Outcome:
        """The host judged an answer given on stage."""
        raise NotImplementedError

    # ---- on phones
    def score_answers(self, settings: dict, answers: list[PhoneAnswer], *, points: float,
                      streaks: dict[int, int]) -> list[tuple[PhoneAnswer, list[tuple[str, float]]]]:
        """Points of each phone answer as (kind, points) pairs; `streaks` maps a player to the
        number of questions in a row they got fully right before this one (updated here)."""
        return [(a, [("answer", round(points * a.fraction, 2))]) for a in answers]


ROUND_TYPES: dict[str, RoundType] = {}
_ALIASES: dict[str, str] = {}


def register(cls: type[RoundType]) -> type[RoundType]:
    ROUND_TYPES[cls.key] = cls()
    for name in (cls.key, *cls.aliases):
        _ALIASES[fold(name).lower()] = cls.key
    return cls


def round_type_from_label(label: Any) -> str | None:
    return _ALIASES.get(fold(label).lower())


def get_round_type(key: str) -> RoundType:
    return ROUND_TYPES[key]
