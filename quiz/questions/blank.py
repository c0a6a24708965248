"""填空: blanks separated by `|`, alternatives inside one blank by `;`; canonical `a;b|c`."""
from __future__ import annotations

import json
import re
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from quiz.questions.base import AnswerError, QuestionType, fold, register

# Two or more underscores (ASCII or full-width), or an empty pair of brackets.
BLANK_MARK = re.compile(r"[_＿]{2,}|[（(][\s\u3000]*[)）]")


def count_blanks(stem: str) -> int:
    """How many blanks the stem marks (0 when it marks none)."""
    return len(BLANK_MARK.findall(stem or ""))


def split_blanks(answer: str) -> list[list[str]]:
    """Canonical answer → one list of accepted alternatives per blank."""
    return [[alt for alt in blank.split(";")] for blank in answer.split("|")]


def _fold_response(text: Any) -> str:
    return fold(text).lower()


@register
class Blank(QuestionType):
    """填空: points split evenly across blanks; a blank is right when the trimmed, width-folded,
    case-folded response equals one of its alternatives."""

    key = "blank"
    label = _l("Fill in the blank")
    canonical_name = "填空"
    aliases = ("填空题", "blank", "fill", "fill in the blank", "completion")

    def parse_answer(self, raw: str, options: list[str], stem: str) -> str:
        text = str(raw if raw is not None else "").replace("｜", "|").replace("；", ";")
        if not text.strip():
            raise AnswerError(_("the answer is empty"))
        blanks = []
        for number, blank in enumerate(text.split("|"), start=1):
            alternatives = [a.strip() for a in blank.split(";") if a.strip()]
            if not alternatives:
                raise AnswerError(_("blank %(number)d has no answer", number=number))
            blanks.append(";".join(alternatives))
        marked = count_blanks(stem)
        if marked and marked != len(blanks):
            raise AnswerError(
                _("the stem marks %(marked)d blanks but the answer gives %(given)d",
                  marked=marked, given=len(blanks))
            )
        return "|".join(blanks)

    def normalise_response(self, response: Any, options_count: int) -> str:
        if isinstance(response, str):
            try:
                decoded = json.loads(response)
            except ValueError:
                decoded = [response]
            response = decoded if isinstance(decoded, list) else [response]
        if not isinstance(response, (list, tuple)) or not all(
            isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in response
        ):
            raise AnswerError(_("a fill-in answer is a list of strings"))
        return json.dumps([str(x).strip() for x in response], ensure_ascii=False)

    def grade(self, answer: str, response: str | None, policy: str = "none") -> float:
        blanks = split_blanks(answer)
        if not response:
            return 0.0
        try:
            given = json.loads(response)
        except ValueError:
            return 0.0
        right = 0
        for index, alternatives in enumerate(blanks):
            if index < len(given):
                value = _fold_response(given[index])
                if value and value in {_fold_response(a) for a in alternatives}:
                    right += 1
        return right / len(blanks)

    def display_answer(self, answer: str, options: list[str]) -> str:
        return " | ".join(" / ".join(b) for b in split_blanks(answer))

    def for_client(self, stored: str, order: list[int] | None) -> list[str]:
        return json.loads(stored)

    def shown_answer(self, answer: str, order: list[int] | None) -> list[list[str]]:
        return split_blanks(answer)

    def blank_count(self, answer: str) -> int:
        return len(split_blanks(answer))

    def export_text(self, stored: str) -> str:
        """A stored response (a JSON list) as 共建|共享; the canonical answer stays as it is."""
        try:
            given = json.loads(stored)
        except ValueError:
            return stored
        return "|".join(str(x) for x in given) if isinstance(given, list) else stored
