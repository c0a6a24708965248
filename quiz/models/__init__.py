"""All models, imported here so that Flask-Migrate sees every table."""
from quiz.models.attempts import Answer, Attempt  # noqa: F401
from quiz.models.banks import Bank, ImportLog, Picture, Question  # noqa: F401
from quiz.models.quizzes import Quiz, quiz_bank, quiz_unit  # noqa: F401
from quiz.models.units import Unit  # noqa: F401
from quiz.models.users import ApiToken, Participant, User  # noqa: F401
from quiz.models.audit import Regrade, SheetExclusion  # noqa: F401,E402
from quiz.models.live import (LiveBuzz, LiveContest, LiveEntrant, LivePlayer, LiveQuestion, LiveRound,  # noqa: F401,E402
                               LiveScore, LiveWager)
