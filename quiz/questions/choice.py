"""单选 and 多选: options A–H, answers as letters in any of the forms organisers write."""
from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from quiz.questions.base import AnswerError, QuestionType, fold, register

LETTERS = "ABCDEFGH"
_SEPARATORS = re.compile(r"[\s,;、/]+")


def letters_from(raw: Any) -> str:
    """Letters of a choice answer: `AC`, `A、C`, `c,a`, `ＡＣ`, ["A","C"] → 'AC' (sorted, unique).

    Raises AnswerError when something other than letters and separators is present.
    """
    if isinstance(raw, (list, tuple)):
        raw = ",".join(str(x) for x in raw)
    text = _SEPARATORS.sub("", fold(raw).upper())
    if not text:
        raise AnswerError(_("the answer is empty"))
    if not re.fullmatch(r"[A-Z]+", text):
        raise AnswerError(_("answer “%(answer)s” is not option letters", answer=fold(raw)))
    return "".join(sorted(set(text)))


class _ChoiceType(QuestionType):
    uses_options = True
    min_options = 2
    single = True
    widget = "one"
    shuffles_options = True

    def to_bank(self, canonical: str, order: list[int] | None) -> str:
        """Letters as shown → the bank's letters (sorted); `order` lists the bank's option indexes
        in the order shown."""
        if not order:
            return canonical
        return "".join(sorted(LETTERS[order[LETTERS.index(c)]] for c in canonical))

    def to_shown(self, stored: str, order: list[int] | None) -> str:
        """The bank's letters → the letters this participant saw (sorted)."""
        if not order:
            return stored
        return "".join(sorted(LETTERS[order.index(LETTERS.index(c))] for c in stored))

    def wrong_choice(self, stored: str) -> str | None:
        return stored

    def parse_answer(self, raw: str, options: list[str], stem: str) -> str:
        if len(options) < self.min_options:
            raise AnswerError(_("a choice question needs at least two options"))
        try:
            letters = letters_from(raw)
        except AnswerError:
            # Some banks give the option text instead of its letter.
            matches = [LETTERS[i] for i, o in enumerate(options) if fold(o) == fold(raw)]
            if self.single and len(matches) == 1:
                return matches[0]
            raise
        for letter in letters:
            index = LETTERS.find(letter)
            if index < 0 or index >= len(options):
                raise AnswerError(_("answer %(letter)s is not among the options", letter=letter))
        if self.single and len(letters) != 1:
            raise AnswerError(
                _("a single-choice question needs exactly one answer letter (got “%(answer)s”)",
                  answer=letters)
            )
        return letters

    def normalise_response(self, response: Any, options_count: int) -> str:
        letters = letters_from(response)
        if any(LETTERS.find(c) < 0 or LETTERS.find(c) >= options_count for c in letters):
            raise AnswerError(_("response “%(answer)s” is not among the options", answer=letters))
        if self.single and len(letters) != 1:
            raise AnswerError(_("choose exactly one option"))
        return letters


@register
class SingleChoice(_ChoiceType):
    """单选: exactly one letter; full points if right, else 0."""

    key = "single"
    label = _l("Single choice")
    canonical_name = "单选"
    aliases = ("单选题", "单项选择题", "单项选择", "单选择题", "single", "single choice")

    def grade(self, answer: str, response: str | None, policy: str = "none") -> float:
        return 1.0 if response == answer else 0.0


@register
class MultipleChoice(_ChoiceType):
    """多选: full points only for the exact set; with policy `half`, a strict subset with no
    wrong letter earns half, any wrong letter earns 0."""

    key = "multi"
    widget = "many"
    uses_partial_policy = True
    label = _l("Multiple choice")
    canonical_name = "多选"
    aliases = ("多选题", "多项选择题", "多项选择", "不定项选择题", "不定项选择", "不定项",
               "multiple", "multi", "multiple choice")
    single = False

    def grade(self, answer: str, response: str | None, policy: str = "none") -> float:
        if not response:
            return 0.0
        if response == answer:
            return 1.0
        if policy == "half" and set(response) < set(answer):
            return 0.5
        return 0.0
