"""Question types registry: importing this package registers 单选, 多选, 判断 and 填空."""
from quiz.questions.base import (  # noqa: F401
    QUESTION_TYPES,
    AnswerError,
    QuestionType,
    fold,
    get_type,
    type_choices,
    type_from_label,
)
from quiz.questions import choice, judge, blank  # noqa: F401,E402  (registration order)
from quiz.questions.choice import LETTERS  # noqa: F401,E402
