"""加赛: sudden death among tied entrants (`state["eligible"]`): they buzz; the first right answer
wins the 加赛 (and `points`, which breaks the tie), the first wrong answer is out; the last one
left wins."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from quiz.rounds.base import Outcome, RoundType, Score, register


@register
class Tiebreak(RoundType):
    key = "tiebreak"
    label = _l("Sudden death (加赛)")
    aliases = ("加赛", "加赛题", "tiebreak", "sudden death")
    buzzer = True
    DEFAULTS = {"points": 1.0, "time_seconds": 20}

    def judge(self, settings, state, entrant, right, *, points, wager=None) -> Outcome:
        state = dict(state)
        if right:
            return Outcome(scores=[Score(entrant, "answer", points, _("Won the sudden death"))], state=state,
                           done=True, round_over=True)
        state["out"] = sorted(set(state.get("out", [])) | {entrant})
        left = [e for e in state.get("eligible", []) if e not in state["out"]]
        if len(left) == 1:
            return Outcome(scores=[Score(left[0], "answer", points, _("Won the sudden death: the others are out"))],
                           state=state, done=True, round_over=True)
        return Outcome(state=state, done=not left)
