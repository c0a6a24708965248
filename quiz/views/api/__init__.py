"""JSON API (/api/v1), one module per resource: banks, quizzes, sheets, boards; the blueprint,
token authentication and the service endpoints live in common."""
from quiz.views.api import banks, boards, live, quizzes, sheets  # noqa: F401  (register the routes)
from quiz.views.api.common import bp, token_required  # noqa: F401
