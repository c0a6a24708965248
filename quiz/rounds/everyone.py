"""共答题: everyone answers on phones; each answer earns its share of the points (as the question
type grades it), with `speed` scoring points × (1 − t/T ÷ 2) as Kahoot does (t: seconds from the
start to the save, T: the time allowed), and a `streak_bonus` for each question in a row answered
fully right (from the second one on, at most five times the bonus)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from quiz.rounds.base import PhoneAnswer, RoundType, register

STREAK_CAP = 5


@register
class Everyone(RoundType):
    key = "all"
    label = _l("Everyone answers (共答)")
    aliases = ("共答", "共答题", "all", "everyone")
    DEFAULTS = {"points": 10.0, "time_seconds": 20, "speed": False, "streak_bonus": 0.0}

    def phone_answers(self, settings: dict) -> bool:
        return True

    def score_answers(self, settings, answers, *, points, streaks):
        out = []
        limit = max(1, settings["time_seconds"])
        for a in answers:
            earned = points * a.fraction
            if settings["speed"] and a.fraction > 0:
                t = min(max(a.seconds, 0.0), limit)
                earned *= 1 - t / limit / 2
            parts = [("answer", round(earned, 2))]
            streak = streaks.get(a.player, 0) + 1 if a.fraction == 1 else 0
            streaks[a.player] = streak
            if settings["streak_bonus"] > 0 and streak >= 2:
                parts.append(("streak", round(settings["streak_bonus"] * min(streak - 1, STREAK_CAP), 2)))
            out.append((a, parts))
        return out


def no_answer(player: int, entrant: int) -> PhoneAnswer:
    """A player who did not answer: nothing earned, and the streak is broken."""
    return PhoneAnswer(player, entrant, 0.0, 0.0)
