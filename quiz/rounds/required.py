"""必答题: each entrant in turn answers on stage and the host judges (or everyone answers on
phones at once); right earns the points, wrong costs nothing."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from quiz.errors import Invalid
from quiz.rounds.base import Outcome, RoundType, Score, register


@register
class Required(RoundType):
    key = "required"
    label = _l("Required answer (必答)")
    aliases = ("必答", "必答题", "required")
    DEFAULTS = {"points": 10.0, "time_seconds": 30, "answer_by": "stage"}

    def check(self, settings: dict) -> None:
        if settings["answer_by"] not in ("stage", "phones"):
            raise Invalid(_("Round setting “answer_by” must be stage or phones."))

    def takes_turns(self, settings: dict) -> bool:
        return settings["answer_by"] == "stage"

    def phone_answers(self, settings: dict) -> bool:
        return settings["answer_by"] == "phones"

    def judge(self, settings, state, entrant, right, *, points, wager=None) -> Outcome:
        scores = [Score(entrant, "answer", points, _("Right"))] if right else []
        return Outcome(scores=scores, state=state, done=True)
