"""抢答题: buzzing opens on the host's start; the first buzz (by corrected time) answers while the
others are locked out; right earns the points, wrong costs `deduct` and locks the entrant out,
and the question re-opens to the others (`reopen`). A buzz before the start is early: it costs
`early_penalty` and, with `early_lockout`, the right to buzz on that question."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from quiz.rounds.base import Outcome, RoundType, Score, register


@register
class Buzzer(RoundType):
    key = "buzzer"
    label = _l("Buzzer (抢答)")
    aliases = ("抢答", "抢答题", "buzzer")
    buzzer = True
    DEFAULTS = {"points": 10.0, "time_seconds": 20, "deduct": 10.0, "early_penalty": 10.0,
                "early_lockout": True, "reopen": True}

    def early_buzz(self, settings, state, entrant) -> Outcome:
        state = dict(state)
        scores = []
        if settings["early_penalty"] > 0:
            scores.append(Score(entrant, "early", -settings["early_penalty"], _("Early buzz")))
        if settings["early_lockout"]:
            state["locked"] = sorted(set(state.get("locked", [])) | {entrant})
        return Outcome(scores=scores, state=state, done=False)

    def judge(self, settings, state, entrant, right, *, points, wager=None) -> Outcome:
        state = dict(state)
        if right:
            return Outcome(scores=[Score(entrant, "answer", points, _("Right"))], state=state, done=True)
        scores = [Score(entrant, "answer", -settings["deduct"], _("Wrong"))] if settings["deduct"] > 0 else []
        state["locked"] = sorted(set(state.get("locked", [])) | {entrant})
        return Outcome(scores=scores, state=state, done=not settings["reopen"])
