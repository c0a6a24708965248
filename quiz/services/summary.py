"""A quiz's rules in plain words (规则说明), for the organiser's quiz page and the participant's
join page: questions per type × points, total, time limit, opening times, attempts and which
counts, shuffling, 多选 partial credit, pass/excellent marks, when answers are shown, ranking."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import ngettext

from quiz.models import Quiz
from quiz.questions import QUESTION_TYPES, get_type


def _n(value: float) -> str:
    return f"{value:g}"


def _duration(seconds: int) -> str:
    minutes, rest = divmod(int(seconds), 60)
    if rest and minutes:
        return _("%(minutes)d min %(seconds)d s", minutes=minutes, seconds=rest)
    if rest:
        return _("%(seconds)d s", seconds=rest)
    return _("%(minutes)d min", minutes=minutes)


def _time(value) -> str:
    return format_datetime(value, "yyyy-MM-dd HH:mm")


@dataclass
class RulesSummary:
    """`paper`: one line per rule (单选题 20 道，每道 2 分); the rest are sentences in order."""

    paper: list[str] = field(default_factory=list)
    total: str = ""
    lines: list[str] = field(default_factory=list)

    def as_text(self) -> str:
        """One paragraph (the join page's share description)."""
        return " ".join([self.total, *self.lines[:2]]).strip()


def rules_summary(quiz: Quiz) -> RulesSummary:
    """The quiz's rules as short sentences in the current language."""
    out = RulesSummary()
    rules = [r for r in (quiz.rules or []) if int(r.get("count") or 0) > 0]
    for rule in rules:
        kind = QUESTION_TYPES.get(rule["type"])
        label = str(kind.label) if kind else rule["type"]
        line = ngettext("%(type)s: %(num)d question × %(points)s points",
                        "%(type)s: %(num)d questions × %(points)s points each", int(rule["count"]),
                        type=label, points=_n(float(rule["points"])))
        if rule.get("tags"):
            line += _(" (topics: %(tags)s)", tags="、".join(rule["tags"]))
        out.paper.append(line)
    count = sum(int(r["count"]) for r in rules)
    out.total = ngettext("%(num)d question, full marks %(score)s.", "%(num)d questions, full marks %(score)s.",
                         count, score=_n(quiz.max_score or 0))

    lines = out.lines
    if quiz.is_practice:
        lines.append(_("Practice: no time limit; each answer is marked at once, with the explanation; "
                       "not ranked."))
    elif quiz.duration_seconds:
        lines.append(_("Time limit: %(time)s, counted by the server from the moment you start; when time is up "
                       "the sheet is submitted with the answers saved.", time=_duration(quiz.duration_seconds)))
    if quiz.opens_at and quiz.closes_at:
        lines.append(_("Open from %(start)s to %(end)s.", start=_time(quiz.opens_at), end=_time(quiz.closes_at)))
    elif quiz.opens_at:
        lines.append(_("Opens at %(start)s.", start=_time(quiz.opens_at)))
    elif quiz.closes_at:
        lines.append(_("Closes at %(end)s.", end=_time(quiz.closes_at)))

    if not quiz.attempts_allowed:
        lines.append(_("Unlimited attempts; the best one counts.") if quiz.attempt_policy == "best"
                     else _("Unlimited attempts; the latest one counts."))
    elif quiz.attempts_allowed == 1:
        lines.append(_("One attempt per person."))
    else:
        lines.append(_("Up to %(num)d attempts per person; the best one counts.", num=quiz.attempts_allowed)
                     if quiz.attempt_policy == "best" else
                     _("Up to %(num)d attempts per person; the latest one counts.", num=quiz.attempts_allowed))
    if quiz.roster_only:
        lines.append(_("Only people on the organiser's roster can take part."))

    if quiz.shuffle_questions and quiz.shuffle_options:
        lines.append(_("Questions and options are in a different order for each person."))
    elif quiz.shuffle_questions:
        lines.append(_("Questions are in a different order for each person."))
    elif quiz.shuffle_options:
        lines.append(_("Options are in a different order for each person."))

    if any(get_type(r["type"]).uses_partial_policy for r in rules):
        lines.append(_("Multiple choice: all the right options and no wrong one for full points; some right "
                       "options and no wrong one earn half the points; any wrong option earns nothing.")
                     if quiz.multi_partial == "half" else
                     _("Multiple choice: points only for exactly the right options."))
    if quiz.pass_score is not None and quiz.excellent_score is not None:
        lines.append(_("Pass mark %(pass)s, excellent mark %(excellent)s.", **{
            "pass": _n(quiz.pass_score), "excellent": _n(quiz.excellent_score)}))
    elif quiz.pass_score is not None:
        lines.append(_("Pass mark %(pass)s.", **{"pass": _n(quiz.pass_score)}))
    elif quiz.excellent_score is not None:
        lines.append(_("Excellent mark %(excellent)s.", excellent=_n(quiz.excellent_score)))

    if quiz.is_practice or quiz.show_answers == "after_submit":
        lines.append(_("The right answers and explanations are shown after you submit."))
    elif quiz.show_answers == "after_close":
        lines.append(_("The right answers and explanations are shown after the quiz closes."))
    else:
        lines.append(_("The right answers are not shown."))
    if not quiz.is_practice:
        lines.append(_("Ranking: higher score first; on equal scores, less time used first."))
    return out
