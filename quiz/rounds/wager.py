"""风险题: in turn (the highest score first), an entrant stakes one of `values` before its question
is shown; right wins the stake, wrong loses it."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from quiz.rounds.base import Outcome, RoundType, Score, register


@register
class Wager(RoundType):
    key = "wager"
    label = _l("Risk question (风险题)")
    aliases = ("风险", "风险题", "wager", "risk")
    wager = True
    DEFAULTS = {"values": [10.0, 20.0, 30.0], "time_seconds": 30}

    def takes_turns(self, settings: dict) -> bool:
        return True

    def turn_order(self, settings, entrants, scores) -> list[int]:
        """The highest score picks first; equal scores keep the set-up order."""
        return sorted(entrants, key=lambda e: -scores.get(e, 0))

    def judge(self, settings, state, entrant, right, *, points, wager=None) -> Outcome:
        stake = wager if wager is not None else min(settings["values"])
        return Outcome(scores=[Score(entrant, "wager", stake if right else -stake,
                                     _("Right") if right else _("Wrong"))], state=state, done=True)
