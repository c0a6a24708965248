"""Quizzes, attempts, grading and ranking as services (docs/rules.md "Scoring", "Ranking")."""
import random

import pytest
from sqlalchemy import func, select

from quiz.errors import Conflict, Forbidden, Invalid, NotFound
from quiz.extensions import db
from quiz.models import Answer, Attempt, Participant, Question
from quiz.services import attempts as svc
from quiz.services.people import save_participant
from quiz.services.quizzes import close_quiz, create_quiz, extend_quiz, live_counts
from quiz.services.ranking import leaderboard, rank_of
from quiz.services.units import find_unit
from tests.quizdata import later, make_bank, make_quiz, right_response


def join(quiz, now, phone="13800138000", name="张三", unit="乔司街道/三角村社区", **kw):
    result = svc.join(quiz, name=name, phone=phone, unit_path=unit, now=now, **kw)
    db.session.commit()
    return result


def answer_all(attempt, now, right=True, skip=()):
    questions = svc.questions_by_id([e["q"] for e in attempt.paper])
    for entry in attempt.paper:
        q = questions[entry["q"]]
        if q.type in skip:
            continue
        response = right_response(q, entry)
        if not right:
            response = {"single": "D" if response != "D" else "A", "multi": "B", "judge": "错误" if response == "正确" else "正确",
                        "blank": ["x", "y"]}[q.type]
        svc.save_answer(attempt, q.id, response, now=now)
    db.session.commit()


def test_create_quiz_validates_and_refuses_unfillable_rules(ctx, tree, now):
    make_bank()
    with pytest.raises(Invalid, match="单选|Single"):
        create_quiz({"title": "x", "banks": ["题库"], "rules": [{"type": "单选", "count": 20, "points": 2}],
                     "duration_seconds": 60}, actor=None, now=now)
    with pytest.raises(Invalid, match="6"):
        create_quiz({"title": "x", "banks": ["题库"], "rules": [{"type": "单选", "count": 7, "points": 2}],
                     "duration_seconds": 60}, actor=None, now=now)
    with pytest.raises(Invalid):
        create_quiz({"title": "x", "banks": ["题库"], "rules": [{"type": "论述", "count": 1, "points": 2}],
                     "duration_seconds": 60}, actor=None, now=now)
    with pytest.raises(Invalid, match="duration"):
        create_quiz({"title": "x", "banks": ["题库"], "rules": [{"type": "单选", "count": 1, "points": 2}]},
                    actor=None, now=now)
    with pytest.raises(Invalid):
        create_quiz({"title": "x", "banks": ["不存在"], "rules": [{"type": "单选", "count": 1, "points": 2}],
                     "duration_seconds": 60}, actor=None, now=now)
    with pytest.raises(Invalid):  # tags narrow the pool: only 3 单选 tagged 枫桥经验
        create_quiz({"title": "x", "banks": ["题库"], "duration_seconds": 60,
                     "rules": [{"type": "单选", "count": 4, "points": 2, "tags": ["枫桥经验"]}]}, actor=None, now=now)
    quiz = create_quiz({"title": "x", "banks": ["题库"], "duration_seconds": 60, "pass_score": 4,
                        "rules": [{"type": "单选题", "count": 3, "points": 2, "tags": ["枫桥经验"]}]}, actor=None, now=now)
    assert quiz.max_score == 6 and len(quiz.join_code) == 6 and quiz.attempts_allowed == 1
    with pytest.raises(Invalid, match="pass_score"):
        create_quiz({"title": "x", "banks": ["题库"], "duration_seconds": 60, "pass_score": 40,
                     "rules": [{"type": "单选", "count": 1, "points": 2}]}, actor=None, now=now)


def test_join_draws_a_paper_and_resumes(ctx, tree, now):
    quiz = make_quiz()
    first = join(quiz, now)
    assert not first.resumed and first.attempt.question_count == 5
    assert first.attempt.deadline == later(now, 600)
    svc.save_answer(first.attempt, first.attempt.paper[0]["q"], "A", now=later(now, 5))
    db.session.commit()
    again = join(quiz, later(now, 30))
    assert again.resumed and again.attempt.id == first.attempt.id
    assert list(svc.saved_answers(again.attempt).values()) == ["A"]
    assert svc.attempt_token(again.attempt) == svc.attempt_token(first.attempt)
    with pytest.raises(Forbidden):  # someone else's name with this phone
        join(quiz, later(now, 31), name="李四")


def test_attempts_allowed(ctx, tree, now):
    quiz = make_quiz(attempts_allowed=2, attempt_policy="latest")
    a1 = join(quiz, now).attempt
    svc.submit(a1, now=later(now, 10))
    a2 = join(quiz, later(now, 20)).attempt
    assert a2.id != a1.id and a2.number == 2
    svc.submit(a2, now=later(now, 30))
    db.session.commit()
    with pytest.raises(Conflict):
        join(quiz, later(now, 40))


def test_roster_only(ctx, tree, now):
    quiz = make_quiz(audience={"units": ["乔司街道"], "roster_only": True})
    with pytest.raises(Forbidden, match="名单|roster"):
        join(quiz, now)
    save_participant(name="张三", phone="13800138000", unit=find_unit("乔司街道/永丰村"), actor=None, now=now)
    save_participant(name="王五", phone="13900139000", unit=find_unit("伦教街道/常教社区"), actor=None, now=now)
    db.session.commit()
    assert join(quiz, now, unit=None).attempt.participant.unit.path == "乔司街道/永丰村"
    with pytest.raises(Forbidden):  # on a roster, but outside the audience
        join(quiz, now, phone="13900139000", name="王五", unit=None)


def test_audience_units(ctx, tree, now):
    quiz = make_quiz(audience={"units": ["伦教街道"]})
    with pytest.raises(Forbidden):
        join(quiz, now, unit="乔司街道/三角村社区")
    assert join(quiz, now, unit="伦教街道/常教社区").attempt


def test_opening_and_closing_times(ctx, tree, now):
    quiz = make_quiz(opens_at=later(now, 3600).isoformat(), closes_at=later(now, 7200).isoformat())
    with pytest.raises(Conflict):
        join(quiz, now)
    attempt = join(quiz, later(now, 7000)).attempt
    assert attempt.deadline == quiz.closes_at  # the closing time cuts the duration short
    with pytest.raises(Conflict):
        join(quiz, later(now, 7300), phone="13900139000", name="李四")


def test_grading_all_right_and_rank(ctx, tree, now):
    quiz = make_quiz(pass_score=8)
    attempt = join(quiz, now).attempt
    answer_all(attempt, later(now, 10))
    svc.submit(attempt, now=later(now, 60))
    db.session.commit()
    result = svc.result_payload(attempt, now=later(now, 61))
    assert result == {"score": 10, "max_score": 10, "correct_count": 5, "question_count": 5,
                      "time_used_seconds": 60.0, "passed": True, "level": "pass", "rank": 1}
    again = svc.submit(attempt, now=later(now, 500))
    assert again.time_used_ms == 60000  # submitting again changes nothing


def test_shuffled_options_are_mapped_back(ctx, tree, now):
    quiz = make_quiz(shuffle_options=True, shuffle_questions=True)
    attempt = svc.join(quiz, name="张三", phone="13800138000", unit_path="乔司街道/三角村社区", now=now,
                       rng=random.Random(7)).attempt
    db.session.commit()
    orders = [e["order"] for e in attempt.paper if e["order"]]
    assert orders and any(o != sorted(o) for o in orders)
    answer_all(attempt, later(now, 5))
    stored = {a.question_id: a.response for a in db.session.execute(select(Answer)).scalars()}
    questions = svc.questions_by_id(list(stored))
    for qid, response in stored.items():  # stored in the bank's letters
        assert response == questions[qid].answer or questions[qid].type == "blank"
    svc.submit(attempt, now=later(now, 10))
    assert attempt.score == attempt.max_score


def test_multi_half_policy_and_blank_split(ctx, tree, now):
    quiz = make_quiz(multi_partial="half", rules=[{"type": "多选", "count": 1, "points": 4},
                                                  {"type": "填空", "count": 1, "points": 2}])
    attempt = join(quiz, now).attempt
    for entry in attempt.paper:
        q = db.session.get(Question, entry["q"])
        svc.save_answer(attempt, q.id, "A" if q.type == "multi" else ["共同建设", "错"], now=now)
    svc.submit(attempt, now=later(now, 5))
    assert attempt.score == 3  # half of 4 for a strict subset + 1 of 2 blanks
    assert attempt.correct_count == 0


def test_answers_after_deadline_are_refused_and_graded_at_deadline(ctx, tree, now):
    quiz = make_quiz(duration_seconds=60)
    attempt = join(quiz, now).attempt
    first = attempt.paper[0]["q"]
    svc.save_answer(attempt, first, right_response(db.session.get(Question, first), attempt.paper[0]), now=later(now, 59))
    db.session.commit()
    with pytest.raises(Conflict):
        svc.save_answer(attempt, attempt.paper[1]["q"], "A", now=later(now, 61))
    db.session.commit()
    assert attempt.status == "submitted" and attempt.auto_submitted
    assert attempt.time_used_ms == 60000 and attempt.score == 2
    assert db.session.scalar(select(func.count(Answer.id))) == 1


def test_overdue_attempts_are_graded_by_close_overdue_not_by_reads(ctx, tree, now):
    """Reads never write: the board leaves a sheet past its deadline out (as every report does)
    until a write path or `quiz close-overdue` grades it at its deadline."""
    quiz = make_quiz(duration_seconds=60)
    a = join(quiz, now).attempt
    answer_all(a, later(now, 30))
    db.session.commit()
    assert leaderboard(quiz, now=later(now, 3600)) == []
    assert not db.session.dirty and db.session.get(Attempt, a.id).status == "open"  # the read wrote nothing
    assert svc.close_overdue(quiz, now=later(now, 3600)) == 1
    entries = leaderboard(quiz, now=later(now, 3600))
    assert [(e["rank"], e["name"], e["score"], e["time_used_seconds"]) for e in entries] == [(1, "张三", 10, 60.0)]


def test_ranking_ties_share_a_rank_and_skip(ctx, tree, now):
    quiz = make_quiz()
    people = [("甲", "13800000001", 10, 50), ("乙", "13800000002", 10, 60), ("丙", "13800000003", 10, 60),
              ("丁", "13800000004", 10, 70), ("戊", "13800000005", 0, 10)]
    for name, phone, _score, seconds in people:
        attempt = join(quiz, now, phone=phone, name=name).attempt
        if _score:
            answer_all(attempt, later(now, 1))
        svc.submit(attempt, now=later(now, seconds))
    db.session.commit()
    entries = leaderboard(quiz, now=later(now, 100))
    assert [(e["name"], e["rank"]) for e in entries] == [("甲", 1), ("乙", 2), ("丙", 2), ("丁", 4), ("戊", 5)]
    assert "phone" not in entries[0]
    dave = db.session.execute(select(Attempt).join(Participant).where(Participant.name == "丁")).scalar_one()
    assert rank_of(dave, now=later(now, 100)) == 4


def test_time_breaks_ties_then_submission_time(ctx, tree, now):
    quiz = make_quiz()
    a = join(quiz, now, phone="13800000001", name="甲").attempt
    b = join(quiz, later(now, 5), phone="13800000002", name="乙").attempt
    svc.submit(a, now=later(now, 30))      # 30 s, submitted at +30
    svc.submit(b, now=later(now, 35))      # 30 s, submitted at +35
    db.session.commit()
    assert [e["rank"] for e in leaderboard(quiz, now=later(now, 40))] == [1, 2]


def test_best_attempt_counts(ctx, tree, now):
    quiz = make_quiz(attempts_allowed=3, attempt_policy="best")
    first = join(quiz, now).attempt
    answer_all(first, later(now, 1))
    svc.submit(first, now=later(now, 10))
    second = join(quiz, later(now, 20)).attempt
    svc.submit(second, now=later(now, 30))
    db.session.commit()
    entries = leaderboard(quiz, now=later(now, 40))
    assert len(entries) == 1 and entries[0]["score"] == 10


def test_close_early_and_extend(ctx, tree, now):
    quiz = make_quiz(duration_seconds=600)
    a = join(quiz, now).attempt
    b = join(quiz, now, phone="13900139000", name="李四").attempt
    extend_quiz(quiz, 10, actor=None, now=later(now, 60))
    assert a.deadline == later(now, 1200)
    graded = close_quiz(quiz, actor=None, now=later(now, 120))
    db.session.commit()
    assert graded == 2 and a.status == b.status == "submitted" and a.time_used_ms == 120000
    with pytest.raises(Conflict):
        join(quiz, later(now, 130), phone="13700137000", name="王五")
    assert live_counts(quiz) == {"joined": 2, "in_progress": 0, "submitted": 2}


def test_tab_switches_and_fast_flag(ctx, tree, now):
    quiz = make_quiz(min_seconds=30)
    attempt = join(quiz, now).attempt
    assert svc.record_event(attempt, "hidden", now=now) == 1
    assert svc.record_event(attempt, "hidden", now=now) == 2
    with pytest.raises(Invalid):
        svc.record_event(attempt, "nonsense", now=now)
    answer_all(attempt, later(now, 1))
    svc.submit(attempt, now=later(now, 20))
    assert attempt.flagged_fast and attempt.score == 10  # flagged, score unchanged


def test_practice_mode_gives_instant_feedback(ctx, tree, now):
    quiz = make_quiz(mode="practice", duration_seconds=None)
    attempt = join(quiz, now).attempt
    assert attempt.deadline is None and quiz.attempts_allowed == 0
    entry = attempt.paper[0]
    q = db.session.get(Question, entry["q"])
    feedback = svc.save_answer(attempt, q.id, right_response(q, entry), now=now)
    assert feedback["correct"] is True and "explanation" in feedback
    svc.submit(attempt, now=later(now, 5))
    assert join(quiz, later(now, 10)).attempt.number == 2
    assert svc.result_payload(attempt, now=later(now, 10))["rank"] is None


def test_bad_responses(ctx, tree, now):
    quiz = make_quiz()
    attempt = join(quiz, now).attempt
    types = {e["q"]: db.session.get(Question, e["q"]).type for e in attempt.paper}
    single = next(q for q, t in types.items() if t == "single")
    with pytest.raises(Invalid):
        svc.save_answer(attempt, single, "Z", now=now)
    with pytest.raises(Invalid):
        svc.save_answer(attempt, single, {"a": 1}, now=now)
    with pytest.raises(NotFound):
        svc.save_answer(attempt, 999999, "A", now=now)
    blank = next(q for q, t in types.items() if t == "blank")
    with pytest.raises(Invalid):
        svc.save_answer(attempt, blank, [{"x": 1}], now=now)
    svc.save_answer(attempt, single, "B", now=now)
    svc.save_answer(attempt, single, "C", now=later(now, 1))  # last write wins
    svc.save_answer(attempt, blank, None, now=now)  # clearing is fine
    assert db.session.execute(select(Answer.response).where(Answer.question_id == single)).scalar_one() == "C"


def test_review_respects_show_answers(ctx, tree, now):
    quiz = make_quiz(show_answers="after_close", closes_at=later(now, 3600).isoformat())
    attempt = join(quiz, now).attempt
    svc.submit(attempt, now=later(now, 10))
    review = svc.review_payload(attempt, now=later(now, 20))
    assert review and "answer" not in review[0] and "explanation" not in review[0]
    review = svc.review_payload(attempt, now=later(now, 3700))
    assert "answer" in review[0]
    never = make_quiz(show_answers="never", banks=["题库"])
    attempt = join(never, now).attempt
    svc.submit(attempt, now=later(now, 10))
    assert "answer" not in svc.review_payload(attempt, now=later(now, 99999))[0]


def test_wrong_book(ctx, tree, now):
    quiz = make_quiz()
    attempt = join(quiz, now).attempt
    answer_all(attempt, later(now, 1), right=False)
    svc.submit(attempt, now=later(now, 10))
    db.session.commit()
    items = svc.wrong_questions(attempt.participant, now=later(now, 20))
    assert len(items) == 5 and all("answer" in i for i in items)
    q = db.session.get(Question, items[0]["id"])
    right = right_response(q, {"order": None})
    assert svc.check_practice(attempt.participant, q.id, right, now=later(now, 30))["correct"] is True
    with pytest.raises(NotFound):
        svc.check_practice(attempt.participant, 999999, "A", now=later(now, 30))


def test_organiser_scope_for_quizzes(ctx, users, now):
    from quiz.services.people import find_user

    make_bank()
    with pytest.raises(Forbidden):  # a bank with no owner unit is admin-only
        create_quiz({"title": "x", "banks": ["题库"], "rules": [{"type": "单选", "count": 1, "points": 2}],
                     "duration_seconds": 60}, actor=find_user("qiaosi"), now=now)
    from quiz.services.importer import import_bank_file
    from tests.quizdata import ROWS
    from tests.conftest import csv_bytes
    import_bank_file("乔司题库", csv_bytes(ROWS), "b.csv", actor=find_user("qiaosi"), now=now)
    quiz = create_quiz({"title": "x", "banks": ["乔司题库"], "rules": [{"type": "单选", "count": 1, "points": 2}],
                        "duration_seconds": 60}, actor=find_user("qiaosi"), now=now)
    assert [u.path for u in quiz.audience_units] == ["乔司街道"] and quiz.unit.path == "乔司街道"
    with pytest.raises(Forbidden):
        create_quiz({"title": "x", "banks": ["乔司题库"], "rules": [{"type": "单选", "count": 1, "points": 2}],
                     "duration_seconds": 60, "audience": {"units": ["伦教街道"]}}, actor=find_user("qiaosi"), now=now)


def test_logged_in_account_is_linked_and_recognised(ctx, users, now):
    from quiz.services.people import find_user

    quiz = make_quiz()
    judge = find_user("judge1")
    first = svc.join(quiz, name="张三", phone="13800138000", unit_path="乔司街道/三角村社区", user=judge, now=now)
    db.session.commit()
    assert first.attempt.participant.user_id == judge.id
    again = svc.join(quiz, user=judge, now=later(now, 5))  # no details needed any more
    assert again.resumed and again.attempt.id == first.attempt.id


def test_wrong_book_includes_unanswered_and_empty_blanks_clear(ctx, tree, now):
    quiz = make_quiz()
    attempt = join(quiz, now).attempt
    answer_all(attempt, later(now, 1), skip=("judge",))  # everything right except the 判断 left blank
    blank = next(e["q"] for e in attempt.paper if db.session.get(Question, e["q"]).type == "blank")
    svc.save_answer(attempt, blank, ["", "  "], now=later(now, 2))  # emptied again: cleared
    svc.submit(attempt, now=later(now, 10))
    db.session.commit()
    items = svc.wrong_questions(attempt.participant, now=later(now, 20))
    assert sorted(i["type"] for i in items) == ["blank", "judge"]
    assert all(i["your_answer"] is None for i in items)
