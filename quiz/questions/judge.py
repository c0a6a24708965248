"""判断: true/false in the many spellings organisers use; canonical 正确 / 错误."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from quiz.questions.base import AnswerError, QuestionType, fold, register

TRUE, FALSE = "正确", "错误"
_TRUE_WORDS = {"正确", "对", "√", "✓", "✔", "是", "t", "true", "y", "yes", "1", "对的", "正"}
_FALSE_WORDS = {"错误", "错", "×", "✗", "✘", "x", "否", "f", "false", "n", "no", "0", "错的",
                "不正确", "误"}


def judge_value(raw: Any) -> str | None:
    """正确 / 错误 for a recognised spelling, else None."""
    if isinstance(raw, bool):
        return TRUE if raw else FALSE
    text = fold(raw).lower().replace(" ", "")
    if text.endswith(".0"):  # spreadsheet numbers: 1.0 / 0.0
        text = text[:-2]
    if text in _TRUE_WORDS:
        return TRUE
    if text in _FALSE_WORDS:
        return FALSE
    return None


@register
class Judge(QuestionType):
    """判断: full points if right, else 0."""

    key = "judge"
    widget = "truefalse"
    label = _l("True/false")
    canonical_name = "判断"
    aliases = ("判断题", "是非题", "对错题", "judge", "true/false", "truefalse", "tf")

    def parse_answer(self, raw: str, options: list[str], stem: str) -> str:
        value = judge_value(raw)
        if value is None and options:
            # Banks that write 判断 as a two-option choice: A 正确 / B 错误, answer A.
            letter = fold(raw).upper()
            if len(letter) == 1 and "A" <= letter <= "H":
                index = ord(letter) - ord("A")
                if index < len(options):
                    value = judge_value(options[index])
        if value is None:
            raise AnswerError(
                _("true/false answer “%(answer)s” is not recognised (use 正确 or 错误)",
                  answer=fold(raw))
            )
        return value

    def normalise_response(self, response: Any, options_count: int) -> str:
        value = judge_value(response)
        if value is None:
            raise AnswerError(_("answer true or false"))
        return value

    def grade(self, answer: str, response: str | None, policy: str = "none") -> float:
        return 1.0 if response == answer else 0.0
