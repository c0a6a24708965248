"""Base class and registry for question types, plus the text folding they share."""
from __future__ import annotations

import re
import unicodedata
from typing import Any, ClassVar

from flask_babel import lazy_gettext as _l

_WS = re.compile(r"\s+")


def fold(text: Any) -> str:
    """NFKC-fold (full-width → ASCII, Ａ→A, ，→,), collapse white space, strip."""
    if text is None:
        return ""
    return _WS.sub(" ", unicodedata.normalize("NFKC", str(text))).strip()


DIFFICULTY_LABELS = {1: _l("easy"), 2: _l("fairly easy"), 3: _l("medium"), 4: _l("fairly hard"),
                     5: _l("hard")}


class AnswerError(ValueError):
    """An answer cell (or a participant's response) that cannot be understood."""


class QuestionType:
    """One question type: owns answer parsing, option rules, grading and rendering hints.

    Subclasses register themselves in QUESTION_TYPES under `key` (adding a type touches one
    file). `parse_answer` turns an organiser's answer cell into the canonical string stored in
    the bank; `normalise_response` turns a participant's response into the same canonical form;
    `grade` returns the fraction (0..1) of the points earned.
    """

    key: ClassVar[str]
    label: ClassVar[Any]  # lazy translated display name, e.g. 单选
    canonical_name: ClassVar[str]  # the name written in the template's 题型 column
    aliases: ClassVar[tuple[str, ...]] = ()
    uses_options: ClassVar[bool] = False
    min_options: ClassVar[int] = 0
    # How answer sheets show it (static/sheet.js, the result and wrong-answer pages): "one" (pick one
    # option), "many" (pick several), "truefalse", "blanks" (one text box per blank).
    widget: ClassVar[str] = "blanks"
    shuffles_options: ClassVar[bool] = False  # option order may be shuffled per person
    uses_partial_policy: ClassVar[bool] = False  # the quiz's 多选 partial-credit policy applies

    # ---- a sheet's shown letters ↔ the bank's letters (identity unless options are shuffled)
    def to_bank(self, canonical: str, order: list[int] | None) -> str:
        """A canonical response in the letters the participant saw → the bank's letters."""
        return canonical

    def to_shown(self, stored: str, order: list[int] | None) -> str:
        """A stored (bank-letter) response or answer → the letters this participant saw."""
        return stored

    def for_client(self, stored: str, order: list[int] | None) -> Any:
        """A stored response as the client sends it (its shown letters, a list of blanks …)."""
        return self.to_shown(stored, order)

    def shown_answer(self, answer: str, order: list[int] | None) -> Any:
        """The right answer as this participant should see it."""
        return self.to_shown(answer, order)

    def blank_count(self, answer: str) -> int:
        """How many text boxes the sheet shows (0 for types without blanks)."""
        return 0

    def export_text(self, stored: str) -> str:
        """A stored response (or the canonical answer) as text in the bank's own form, for exports."""
        return stored

    def wrong_choice(self, stored: str) -> str | None:
        """A wrong response worth counting as "most-chosen wrong option" (choice types), else None."""
        return None

    @staticmethod
    def is_empty(response: Any) -> bool:
        """Nothing answered: saving it clears the question's answer."""
        return response is None or response == "" or response == [] or (
            isinstance(response, list) and all(isinstance(x, str) and not x.strip() for x in response))

    def clean_options(self, options: list[str]) -> list[str]:
        """The options kept for this type (choice types keep them, others drop them)."""
        return list(options) if self.uses_options else []

    def parse_answer(self, raw: str, options: list[str], stem: str) -> str:
        raise NotImplementedError

    def normalise_response(self, response: Any, options_count: int) -> str:
        raise NotImplementedError

    def grade(self, answer: str, response: str | None, policy: str = "none") -> float:
        raise NotImplementedError

    def display_answer(self, answer: str, options: list[str]) -> str:
        return answer


QUESTION_TYPES: dict[str, QuestionType] = {}
_ALIASES: dict[str, str] = {}


def register(cls: type[QuestionType]) -> type[QuestionType]:
    """Class decorator adding a question type to the registry and its names to the aliases."""
    instance = cls()
    QUESTION_TYPES[cls.key] = instance
    for name in (cls.key, cls.canonical_name, *cls.aliases):
        _ALIASES[fold(name).lower().replace(" ", "")] = cls.key
    return cls


def type_from_label(label: Any) -> str | None:
    """The registry key for a 题型 cell (单选, 单项选择题, single …), or None if unknown."""
    return _ALIASES.get(fold(label).lower().replace(" ", ""))


def get_type(key: str) -> QuestionType:
    return QUESTION_TYPES[key]


def type_choices() -> list[tuple[str, Any]]:
    """(key, label) pairs in display order, for forms and filters."""
    return [(k, t.label) for k, t in QUESTION_TYPES.items()]


__all__ = ["AnswerError", "QuestionType", "QUESTION_TYPES", "register", "type_from_label",
           "get_type", "fold", "type_choices", "_l"]
