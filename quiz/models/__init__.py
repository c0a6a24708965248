"""All models, imported here so that Flask-Migrate sees every table."""
from quiz.models.banks import Bank, ImportLog, Question  # noqa: F401
from quiz.models.units import Unit  # noqa: F401
from quiz.models.users import ApiToken, Participant, User  # noqa: F401
