"""Round types' rules, as pure functions (no database, no clock of their own)."""
from __future__ import annotations

import pytest

from quiz.errors import Invalid
from quiz.rounds import ROUND_TYPES, PhoneAnswer, get_round_type, round_type_from_label


def test_registry_and_labels():
    assert list(ROUND_TYPES) == ["required", "buzzer", "wager", "all", "tiebreak"]
    assert [round_type_from_label(x) for x in ("必答题", "抢答", "风险题", "共答", "加赛", "buzzer")] == [
        "required", "buzzer", "wager", "all", "tiebreak", "buzzer"]
    assert round_type_from_label("抢着答") is None


def test_settings_are_validated_with_defaults():
    buzzer = get_round_type("buzzer")
    assert buzzer.parse_settings({}) == {"points": 10.0, "time_seconds": 20, "deduct": 10.0, "early_penalty": 10.0,
                                         "early_lockout": True, "reopen": True}
    assert buzzer.parse_settings({"points": "20", "reopen": "否".replace("否", "no")})["reopen"] is False
    with pytest.raises(Invalid):
        buzzer.parse_settings({"points": -5})
    with pytest.raises(Invalid):
        buzzer.parse_settings({"lives": 3})
    assert get_round_type("wager").parse_settings({"values": "10,20/30"})["values"] == [10.0, 20.0, 30.0]
    with pytest.raises(Invalid):
        get_round_type("required").parse_settings({"answer_by": "carrier pigeon"})


def test_buzzer_right_wrong_lockout_and_reopen():
    kind = get_round_type("buzzer")
    settings = kind.parse_settings({"points": 10, "deduct": 5})
    right = kind.judge(settings, {}, 1, True, points=10)
    assert [(s.entrant, s.kind, s.points) for s in right.scores] == [(1, "answer", 10)] and right.done
    wrong = kind.judge(settings, {}, 1, False, points=10)
    assert [(s.entrant, s.points) for s in wrong.scores] == [(1, -5)]
    assert not wrong.done and wrong.state["locked"] == [1]  # re-opens to the others
    assert not kind.may_answer(settings, wrong.state, 1) and kind.may_answer(settings, wrong.state, 2)
    closed = kind.judge(kind.parse_settings({"reopen": False}), {}, 2, False, points=10)
    assert closed.done
    free = kind.judge(kind.parse_settings({"deduct": 0}), {}, 3, False, points=10)
    assert free.scores == []


def test_early_buzz_penalty_and_lockout():
    kind = get_round_type("buzzer")
    outcome = kind.early_buzz(kind.parse_settings({"early_penalty": 3}), {}, 7)
    assert [(s.entrant, s.kind, s.points) for s in outcome.scores] == [(7, "early", -3)]
    assert outcome.state["locked"] == [7] and not outcome.done
    lenient = kind.early_buzz(kind.parse_settings({"early_penalty": 0, "early_lockout": False}), {}, 7)
    assert lenient.scores == [] and "locked" not in lenient.state


def test_required_in_turn_no_deduction_or_on_phones():
    kind = get_round_type("required")
    stage = kind.parse_settings({})
    assert kind.takes_turns(stage) and not kind.phone_answers(stage)
    assert kind.may_answer(stage, {"turn": 2}, 2) and not kind.may_answer(stage, {"turn": 2}, 3)
    assert kind.judge(stage, {"turn": 2}, 2, False, points=10).scores == []
    phones = kind.parse_settings({"answer_by": "phones"})
    assert kind.phone_answers(phones) and not kind.takes_turns(phones)


def test_wager_order_and_stakes():
    kind = get_round_type("wager")
    settings = kind.parse_settings({})
    assert kind.turn_order(settings, [1, 2, 3, 4], {1: 90, 2: 120, 3: 90, 4: 130}) == [4, 2, 1, 3]
    assert kind.judge(settings, {}, 2, True, points=10, wager=30).scores[0].points == 30
    assert kind.judge(settings, {}, 2, False, points=10, wager=20).scores[0].points == -20


def test_everyone_speed_and_streak():
    kind = get_round_type("all")
    settings = kind.parse_settings({"points": 100, "time_seconds": 20, "speed": True, "streak_bonus": 10})
    streaks = {1: 2}
    answers = [PhoneAnswer(1, 1, 1.0, 0.0), PhoneAnswer(2, 2, 1.0, 10.0), PhoneAnswer(3, 3, 1.0, 25.0),
               PhoneAnswer(4, 4, 0.5, 20.0), PhoneAnswer(5, 5, 0.0, 1.0)]
    scored = {a.player: dict(parts) for a, parts in kind.score_answers(settings, answers, points=100, streaks=streaks)}
    assert scored[1] == {"answer": 100.0, "streak": 20.0}   # instant answer, third right in a row
    assert scored[2] == {"answer": 75.0}                    # 100 × (1 − 10/20 ÷ 2)
    assert scored[3] == {"answer": 50.0}                    # late saves count as t = T
    assert scored[4] == {"answer": 25.0}                    # half credit × (1 − 20/20 ÷ 2)
    assert scored[5] == {"answer": 0.0}
    assert streaks == {1: 3, 2: 1, 3: 1, 4: 0, 5: 0}
    plain = kind.parse_settings({"points": 10})
    assert dict(kind.score_answers(plain, [PhoneAnswer(1, 1, 1.0, 19.0)], points=10, streaks={})[0][1]) == {"answer": 10}


def test_tiebreak_first_right_wins_first_wrong_out():
    kind = get_round_type("tiebreak")
    settings = kind.parse_settings({})
    state = {"eligible": [1, 2, 3]}
    assert not kind.may_answer(settings, state, 4)
    out = kind.judge(settings, state, 1, False, points=1)
    assert out.state["out"] == [1] and not out.done and not kind.may_answer(settings, out.state, 1)
    win = kind.judge(settings, out.state, 2, True, points=1)
    assert win.done and win.round_over and [(s.entrant, s.points) for s in win.scores] == [(2, 1)]
    last = kind.judge(settings, {"eligible": [1, 2], "out": []}, 1, False, points=1)
    assert last.round_over and [(s.entrant, s.points) for s in last.scores] == [(2, 1)]
