"""Round types of live contests: importing this package registers 必答, 抢答, 风险题, 共答 and 加赛."""
from quiz.rounds.base import (  # noqa: F401
    ROUND_TYPES,
    Outcome,
    PhoneAnswer,
    RoundType,
    Score,
    get_round_type,
    register,
    round_type_from_label,
)
from quiz.rounds import required, buzzer, wager, everyone, tiebreak  # noqa: F401,E402  (registration order)
