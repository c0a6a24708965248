"""Paper modes (quiz/services/papers.py): 统一试卷 drawn once or hand-picked, locked after the first
join; 随机组卷 balanced by a stored difficulty mix; rule count 0; fillability per level; item
analysis of a fixed paper; the quiz form, the quiz page, the pick page and the join page."""
import random
import re
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select, text, update

from quiz.errors import Conflict, Forbidden, Invalid
from quiz.extensions import db
from quiz.models import Attempt, Question, Quiz, Unit
from quiz.services import attempts as svc
from quiz.services import papers
from quiz.services.analysis import analyse
from quiz.services.importer import import_bank_file
from quiz.services.quizzes import create_quiz
from tests.conftest import FIXED_NOW, HEADER, csv_bytes
from tests.quizdata import later, right_response
from tests.test_quizzes import answer_all, join

# 单选: 10 容易 (1), 12 中等 (3), 5 困难 (5), 3 without difficulty; the first 8 tagged 枫桥经验
LEVELS_SINGLE = ["容易"] * 10 + ["中等"] * 12 + ["困难"] * 5 + [""] * 3
LEVELS_MULTI = ["容易"] * 4 + ["中等"] * 4 + ["困难"] * 2
LEVELS_JUDGE = [""] * 6 + ["中等"] * 6


def leveled_rows(prefix=""):
    rows = [HEADER]
    for i, level in enumerate(LEVELS_SINGLE):
        rows.append(["单选", f"{prefix}单选{i}", "甲", "乙", "丙", "丁", "ABCD"[i % 4], "", "", level,
                     "枫桥经验" if i < 8 else "五治融合"])
    for i, level in enumerate(LEVELS_MULTI):
        rows.append(["多选", f"{prefix}多选{i}", "甲", "乙", "丙", "丁", "AC", "", "", level, ""])
    for i, level in enumerate(LEVELS_JUDGE):
        rows.append(["判断", f"{prefix}判断{i}", "", "", "", "", "对" if i % 2 else "错", "", "", level, ""])
    return rows


def leveled_bank(name="分级题库", unit=None, prefix=""):
    report = import_bank_file(name, csv_bytes(leveled_rows(prefix)), "b.csv", actor=None, now=FIXED_NOW, unit=unit)
    db.session.commit()
    assert report.created + report.unchanged == len(leveled_rows()) - 1
    return name


RULES = [{"type": "单选", "count": 7, "points": 2}, {"type": "多选", "count": 3, "points": 3},
         {"type": "判断", "count": 4, "points": 1}]


def quiz_with(**overrides):
    payload = {"title": "组卷测试", "banks": [leveled_bank()], "rules": RULES, "duration_seconds": 600}
    payload.update(overrides)
    quiz = create_quiz(payload, actor=None, now=FIXED_NOW)
    db.session.commit()
    return quiz


def ids_of(bank_name, qtype=None):
    stmt = select(Question.id).join(Question.bank).where(Question.bank.has(name=bank_name)).order_by(Question.id)
    if qtype:
        stmt = stmt.where(Question.type == qtype)
    return list(db.session.execute(stmt).scalars())


def difficulty_mix(paper):
    """(type, points, difficulty) → count over a sheet."""
    levels = dict(db.session.execute(select(Question.id, Question.difficulty)).all())
    return Counter((e["t"], e["points"], levels[e["q"]]) for e in paper)


# ---------------------------------------------------------------- 统一试卷
def test_default_mode_is_fixed_and_everyone_gets_the_stored_paper(ctx, tree, now):
    quiz = quiz_with(shuffle_questions=False)
    assert quiz.paper_mode == "fixed"
    assert [e["t"] for e in quiz.paper] == ["single"] * 7 + ["multi"] * 3 + ["judge"] * 4
    assert quiz.max_score == 7 * 2 + 3 * 3 + 4 * 1
    sheets = [join(quiz, now, phone=f"1380000{i:04d}", name=f"人{i}").attempt.paper for i in range(6)]
    stored = [e["q"] for e in quiz.paper]
    for sheet in sheets:  # the pool holds 30 单选, so per-person draws would differ
        assert [e["q"] for e in sheet] == stored and [e["points"] for e in sheet] == [e["points"] for e in quiz.paper]
        assert all(e["order"] is None for e in sheet)


def test_fixed_paper_shuffles_per_person_and_grading_maps_letters_back(ctx, tree, now):
    quiz = quiz_with(shuffle_questions=True, shuffle_options=True)
    stored = sorted(e["q"] for e in quiz.paper)
    orders, sequences = set(), set()
    for i in range(6):
        attempt = join(quiz, now, phone=f"1390000{i:04d}", name=f"人{i}", rng=random.Random(i)).attempt
        assert sorted(e["q"] for e in attempt.paper) == stored
        sequences.add(tuple(e["q"] for e in attempt.paper))
        orders.add(tuple(tuple(e["order"]) for e in attempt.paper if e["order"]))
        answer_all(attempt, later(now, 10))
        svc.submit(attempt, now=later(now, 20))
        db.session.commit()
        assert attempt.score == quiz.max_score
    assert len(sequences) > 1 and len(orders) > 1  # shuffled per person, the same questions


def test_fixed_paper_option_count_follows_an_edited_question(ctx, tree, now):
    from quiz.services.banks import edit_question

    quiz = quiz_with(shuffle_options=True, rules=[{"type": "单选", "count": 2, "points": 2}])
    first = db.session.get(Question, quiz.paper[0]["q"])
    edit_question(first, stem=first.stem, options=["甲", "乙", "丙", "丁", "戊"], answer=first.answer,
                  explanation="", points="", difficulty="", tags="", actor=None, now=now)
    db.session.commit()
    entry = next(e for e in join(quiz, now).attempt.paper if e["q"] == first.id)
    assert entry["n"] == 5 and sorted(entry["order"]) == [0, 1, 2, 3, 4]


def test_hand_picked_paper_keeps_order_and_points(ctx, tree, now):
    bank = leveled_bank()
    singles, judges = ids_of(bank, "single"), ids_of(bank, "judge")
    quiz = create_quiz({"title": "手工组卷", "banks": [bank], "duration_seconds": 600, "shuffle_questions": False,
                        "questions": [{"id": judges[3], "points": 1.5}, singles[5], {"id": singles[0], "points": 4}],
                        "rules": [{"type": "单选", "points": 2}]}, actor=None, now=now)
    db.session.commit()
    assert [(e["q"], e["points"]) for e in quiz.paper] == [(judges[3], 1.5), (singles[5], 2.0), (singles[0], 4.0)]
    assert quiz.max_score == 7.5
    assert quiz.rules == [{"type": "judge", "count": 1, "points": 1.5, "tags": [], "difficulty": []},
                          {"type": "single", "count": 1, "points": 2.0, "tags": [], "difficulty": []},
                          {"type": "single", "count": 1, "points": 4.0, "tags": [], "difficulty": []}]
    sheet = join(quiz, now).attempt.paper
    assert [e["q"] for e in sheet] == [judges[3], singles[5], singles[0]]


def test_hand_picked_ids_are_checked(ctx, tree, now):
    bank = leveled_bank()
    other = leveled_bank("另一个题库", prefix="另")
    single = ids_of(bank, "single")[0]
    db.session.execute(update(Question).where(Question.id == ids_of(bank, "single")[1]).values(retired=True))
    db.session.commit()
    base = {"title": "x", "banks": [bank], "duration_seconds": 600}

    def refused(questions, error=Invalid, **extra):
        with pytest.raises(error) as info:
            create_quiz({**base, "questions": questions, **extra}, actor=None, now=now)
        db.session.rollback()
        return info.value.message

    assert "“abc”不是有效的题目编号" in refused(["abc"])
    assert "99999999999999999999" in refused([{"id": "99999999999999999999", "points": 1}])
    assert "第1项" in refused([True]) and "第2项“-4”" in refused([{"id": single, "points": 1}, -4])
    assert "题目987654不存在" in refused([{"id": single, "points": 1}, 987654])
    assert "已停用" in refused([ids_of(bank, "single")[1]])
    assert f"题目{single}重复" in refused([{"id": single, "points": 1}, {"id": single}])
    assert "“另一个题库”，不是本竞赛所选的题库" in refused([ids_of(other, "single")[0]])
    assert "没有分值" in refused([single])  # no points given, no rule for 单选, no 分值 in the bank
    assert "分值应大于0" in refused([{"id": single, "points": "NaN"}])
    assert "paper_mode fixed" in refused([{"id": single, "points": 1}], paper_mode="random")
    assert db.session.execute(select(Quiz)).first() is None


def test_hand_picked_ids_outside_the_organisers_scope_are_forbidden(ctx, tree, now, users):
    from quiz.services.people import find_user

    qiaosi = find_user("qiaosi")
    mine = leveled_bank("乔司题库", unit=db.session.get(Unit, tree["乔司街道"]))
    theirs = leveled_bank("伦教题库", unit=db.session.get(Unit, tree["伦教街道"]), prefix="伦教")
    with pytest.raises(Forbidden) as info:
        create_quiz({"title": "x", "banks": [mine], "duration_seconds": 600,
                     "questions": [{"id": ids_of(theirs, "single")[0], "points": 2}]}, actor=qiaosi, now=now)
    assert str(ids_of(theirs, "single")[0]) in info.value.message
    db.session.rollback()
    quiz = create_quiz({"title": "x", "banks": [mine], "duration_seconds": 600,
                        "questions": [{"id": ids_of(mine, "single")[0], "points": 2}]}, actor=qiaosi, now=now)
    with pytest.raises(Forbidden):
        papers.set_fixed_paper(quiz, [{"id": ids_of(theirs, "judge")[0], "points": 1}], actor=qiaosi, now=now)
    db.session.rollback()
    lunjiao = find_user("lunjiao")
    with pytest.raises(Forbidden):  # not their quiz
        papers.redraw_fixed_paper(quiz, actor=lunjiao, now=now)


def test_fixed_paper_can_be_redrawn_and_edited_until_the_first_join(ctx, tree, now):
    quiz = quiz_with(shuffle_questions=False)
    bank_singles = ids_of("分级题库", "single")
    drawn = [papers.redraw_fixed_paper(quiz, actor=None, now=now, rng=random.Random(s)) for s in range(5)]
    db.session.commit()
    assert len({tuple(e["q"] for e in paper) for paper in drawn}) > 1  # a new draw each time
    assert quiz.rules == [papers.Rule("single", 7, 2.0, [], []).as_dict(), papers.Rule("multi", 3, 3.0, [], []).as_dict(),
                          papers.Rule("judge", 4, 1.0, [], []).as_dict()]
    papers.set_fixed_paper(quiz, [{"id": bank_singles[0], "points": 5}, {"id": bank_singles[1]}], actor=None, now=now)
    db.session.commit()
    assert [(e["q"], e["points"]) for e in quiz.paper] == [(bank_singles[0], 5.0), (bank_singles[1], 2.0)]
    assert quiz.max_score == 7
    papers.add_to_paper(quiz, str(bank_singles[2]), "", actor=None, now=now)
    with pytest.raises(Invalid, match="已在试卷中"):
        papers.add_to_paper(quiz, bank_singles[2], 1, actor=None, now=now)
    db.session.commit()
    assert [e["q"] for e in join(quiz, now).attempt.paper] == bank_singles[:3]
    before = list(quiz.paper)
    with pytest.raises(Conflict, match="试卷已锁定：已有1份答卷"):
        papers.set_fixed_paper(quiz, [{"id": bank_singles[4], "points": 2}], actor=None, now=now)
    with pytest.raises(Conflict):
        papers.redraw_fixed_paper(quiz, actor=None, now=now)
    db.session.rollback()
    assert db.session.get(Quiz, quiz.id).paper == before


def test_an_edit_below_the_pass_mark_is_refused(ctx, tree, now):
    quiz = quiz_with(pass_score=20)
    with pytest.raises(Invalid, match="低于及格分（20分）"):
        papers.set_fixed_paper(quiz, [{"id": ids_of("分级题库", "single")[0], "points": 2}], actor=None, now=now)


# ---------------------------------------------------------------- 随机组卷
def test_largest_remainder_split():
    # 7 over 10/12/5/3: shares 2.33, 2.8, 1.17, 0.7 → 2, 2, 1, 0 and the two biggest remainders
    assert papers.largest_remainder(7, {1: 10, 3: 12, 5: 5, None: 3}) == [(1, 2), (3, 3), (5, 1), (None, 1)]
    assert papers.largest_remainder(30, {1: 10, 3: 12, 5: 5, None: 3}) == [(1, 10), (3, 12), (5, 5), (None, 3)]
    assert papers.largest_remainder(1, {1: 2, 3: 2}) == [(1, 1)]  # a tie goes to the easier level
    assert papers.largest_remainder(2, {1: 1, 3: 0, None: 9}) == [(None, 2)]


def test_random_mode_fixes_a_balanced_mix_and_every_draw_follows_it(ctx, tree, now):
    quiz = quiz_with(paper_mode="random", shuffle_options=True)
    assert quiz.paper_mode == "random" and quiz.paper is None
    mixes = [r["mix"] for r in quiz.rules]
    assert mixes[0] == [{"difficulty": 1, "count": 2}, {"difficulty": 3, "count": 3},
                        {"difficulty": 5, "count": 1}, {"difficulty": None, "count": 1}]
    assert mixes[1] == [{"difficulty": 1, "count": 1}, {"difficulty": 3, "count": 1}, {"difficulty": 5, "count": 1}]
    assert mixes[2] == [{"difficulty": 3, "count": 2}, {"difficulty": None, "count": 2}]
    pool = papers.load_pool([b.id for b in quiz.banks])
    rng = random.Random(2026)
    expected = Counter({("single", 2.0, 1): 2, ("single", 2.0, 3): 3, ("single", 2.0, 5): 1, ("single", 2.0, None): 1,
                        ("multi", 3.0, 1): 1, ("multi", 3.0, 3): 1, ("multi", 3.0, 5): 1,
                        ("judge", 1.0, 3): 2, ("judge", 1.0, None): 2})
    seen = set()
    for _ in range(300):
        paper = papers.draw_paper(quiz, pool, rng)
        assert difficulty_mix(paper) == expected
        assert len({e["q"] for e in paper}) == len(paper) == 14
        seen.add(frozenset(e["q"] for e in paper))
    assert len(seen) > 250  # still a different paper per person
    sheets = [join(quiz, now, phone=f"1370000{i:04d}", name=f"人{i}").attempt for i in range(4)]
    assert all(difficulty_mix(a.paper) == expected and a.max_score == quiz.max_score == 27 for a in sheets)


def test_balanced_mix_leaves_room_for_later_overlapping_rules(ctx, tree, now):
    # rule 1 takes 枫桥经验 单选 (ids 0–7: 8 of level 容易); rule 2 any 单选: 容易 is reduced by 4
    quiz = quiz_with(paper_mode="random", rules=[{"type": "单选", "count": 4, "points": 2, "tags": "枫桥经验"},
                                                 {"type": "单选", "count": 26, "points": 1}])
    assert quiz.rules[0]["mix"] == [{"difficulty": 1, "count": 4}]
    assert quiz.rules[1]["mix"] == [{"difficulty": 1, "count": 6}, {"difficulty": 3, "count": 12},
                                    {"difficulty": 5, "count": 5}, {"difficulty": None, "count": 3}]
    pool = papers.load_pool([b.id for b in quiz.banks])
    for seed in range(50):
        assert len(papers.draw_paper(quiz, pool, random.Random(seed))) == 30


def test_explicit_mix_and_fillability_per_level(ctx, tree, now):
    quiz = quiz_with(paper_mode="random", rules=[{"type": "单选", "count": 6, "points": 2,
                                                  "mix": {"容易": 2, "困难": 4}}])
    assert quiz.rules[0]["mix"] == [{"difficulty": 1, "count": 2}, {"difficulty": 5, "count": 4}]
    with pytest.raises(Invalid) as info:
        quiz_with(paper_mode="random", rules=[{"type": "单选", "count": 8, "points": 2, "mix": {"中等": 2, "困难": 6}}])
    assert info.value.message.startswith("第1条组卷规则") and "“困难”的题目6道" in info.value.message
    assert "只能确保提供5道" in info.value.message
    db.session.rollback()
    with pytest.raises(Invalid, match="配比合计3题"):
        quiz_with(paper_mode="random", rules=[{"type": "单选", "count": 4, "points": 2, "mix": {"中等": 2, "无": 1}}])
    db.session.rollback()
    with pytest.raises(Invalid, match="“中等”在配比中出现了两次"):
        quiz_with(paper_mode="random", rules=[{"type": "单选", "count": 4, "points": 2, "mix": {"中等": 2, "3": 2}}])
    db.session.rollback()
    # the same check for a stored mix against a pool that lost questions
    rules = papers.rules_from_quiz(quiz)
    pool = papers.load_pool([b.id for b in quiz.banks])
    gone = {q.id for q in pool if q.type == "single" and q.difficulty == 5}
    pool = [q for q in pool if q.id not in sorted(gone)[:3]]  # 3 of the 5 困难 单选 retired since
    with pytest.raises(Invalid) as info:
        papers.check_fillable(rules, pool)
    assert "“困难”的题目4道" in info.value.message and "提供2道" in info.value.message


def test_overlapping_rules_are_checked_against_any_draw(ctx, tree, now):
    # 30 单选, rule 1 takes 8 of the 8 tagged ones at most; rule 2 asks 23 of the 30: at most 22 are sure
    with pytest.raises(Invalid) as info:
        quiz_with(rules=[{"type": "单选", "count": 8, "points": 2, "tags": ["枫桥经验"]},
                         {"type": "单选", "count": 23, "points": 1}])
    assert info.value.message.startswith("第2条组卷规则") and "只剩22道" in info.value.message


def test_rules_with_count_zero_are_ignored(ctx, tree, now):
    quiz = quiz_with(rules=[{"type": "单选", "count": 2, "points": 2}, {"type": "填空", "count": 0, "points": ""},
                            {"type": "论述", "count": "0"}])
    assert [r["type"] for r in quiz.rules] == ["single"] and quiz.max_score == 4
    for rules in ([{"type": "单选", "count": 0, "points": 2}], [{"type": "单选", "count": "0", "points": 2}] * 3):
        with pytest.raises(Invalid, match="至少设置一条题量大于0的规则"):
            quiz_with(rules=rules)
        db.session.rollback()
    with pytest.raises(Invalid, match="0 表示不启用"):
        quiz_with(rules=[{"type": "单选", "count": -1, "points": 2}])


def test_existing_quizzes_without_a_mix_still_draw(ctx, tree, now):
    quiz = quiz_with(paper_mode="随机组卷")
    quiz.rules = [{k: v for k, v in r.items() if k != "mix"} for r in quiz.rules]
    db.session.commit()
    paper = join(quiz, now).attempt.paper
    assert Counter(e["t"] for e in paper) == {"single": 7, "multi": 3, "judge": 4}


def test_paper_mode_is_validated(ctx, tree, now):
    with pytest.raises(Invalid, match="paper_mode"):
        quiz_with(paper_mode="mixed")
    db.session.rollback()
    assert quiz_with(paper_mode="统一试卷").paper_mode == "fixed"


def test_migration_marks_existing_quizzes_random(tmp_path):
    """0006 keeps what quizzes made before it did: a draw per person."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from quiz import create_app
    from quiz.cli import ROOT

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'm.sqlite3'}",
                      "SECRET_KEY": "test"})
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"), revision="0005")
        db.session.execute(text("INSERT INTO quiz (title, description, mode, join_code, rules, roster_only, "
                                "attempts_allowed, attempt_policy, shuffle_questions, shuffle_options, "
                                "multi_partial, show_answers, max_score, created_at, updated_at) VALUES "
                                "('旧竞赛', '', 'exam', 'OLD234', '[]', 0, 1, 'best', 1, 0, 'none', "
                                "'after_submit', 0, '2026-01-01', '2026-01-01')"))
        db.session.commit()
        upgrade(directory=str(ROOT / "migrations"))
        assert db.session.execute(text("SELECT paper_mode, paper FROM quiz")).one() == ("random", None)
        db.session.remove()
        db.engine.dispose()


# ---------------------------------------------------------------- joins and edits at the same moment
def _postgresql_only():
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's (SQLite serialises writers)")


def _in_thread(app, work, *, lock_timeout="10s"):
    """Run work() in its own app context (own session and connection); returns (thread, result)."""
    result = {}

    def run():
        with app.app_context():
            try:
                db.session.execute(text(f"SET lock_timeout = '{lock_timeout}'"))
                result["value"] = work()
                db.session.commit()
            except Exception as exc:  # noqa: BLE001 - handed back to the test
                db.session.rollback()
                result["error"] = exc
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_two_joins_do_not_wait_for_each_other(app, tree):
    with app.app_context():
        _postgresql_only()
        quiz_id = quiz_with().id
    with app.app_context():  # a join in flight: its sheet inserted, not committed
        svc.join(db.session.get(Quiz, quiz_id), name="甲", phone="13800000001", unit_path="乔司街道/永丰村", now=FIXED_NOW)
        thread, result = _in_thread(app, lambda: svc.join(
            db.session.get(Quiz, quiz_id), name="乙", phone="13800000002", unit_path="乔司街道/永丰村",
            now=FIXED_NOW).attempt.id, lock_timeout="3s")
        thread.join(15)
        db.session.commit()
    assert "error" not in result and result["value"]


def test_an_edit_waits_for_a_join_in_flight_and_then_finds_the_paper_locked(app, tree):
    with app.app_context():
        _postgresql_only()
        quiz = quiz_with()
        quiz_id, other = quiz.id, next(i for i in ids_of("分级题库", "single") if i not in {e["q"] for e in quiz.paper})
    with app.app_context():
        svc.join(db.session.get(Quiz, quiz_id), name="甲", phone="13800000001", unit_path="乔司街道/永丰村", now=FIXED_NOW)
        thread, result = _in_thread(app, lambda: papers.set_fixed_paper(
            db.session.get(Quiz, quiz_id), [{"id": other, "points": 2}], actor=None, now=FIXED_NOW))
        thread.join(1.0)
        assert thread.is_alive()  # waiting for the join's lock
        db.session.commit()
        thread.join(15)
    assert isinstance(result.get("error"), Conflict) and "试卷已锁定" in result["error"].message


def test_a_join_waits_for_an_edit_in_flight_and_copies_the_new_paper(app, tree):
    with app.app_context():
        _postgresql_only()
        quiz = quiz_with(shuffle_questions=False)
        quiz_id, old = quiz.id, [e["q"] for e in quiz.paper]
        new = [i for i in ids_of("分级题库", "single") if i not in old][:3]
    with app.app_context():
        papers.set_fixed_paper(db.session.get(Quiz, quiz_id), [{"id": i, "points": 2} for i in new], actor=None,
                               now=FIXED_NOW)
        thread, result = _in_thread(app, lambda: [e["q"] for e in svc.join(
            db.session.get(Quiz, quiz_id), name="甲", phone="13800000001", unit_path="乔司街道/永丰村",
            now=FIXED_NOW).attempt.paper])
        thread.join(1.0)
        assert thread.is_alive()  # waiting for the edit
        db.session.commit()
        thread.join(15)
    assert "error" not in result and result["value"] == new


# ---------------------------------------------------------------- item analysis
def test_cronbach_alpha_is_computed_for_a_fixed_paper(ctx, tree, now):
    quiz = quiz_with(rules=[{"type": "单选", "count": 5, "points": 1}], shuffle_questions=True)
    assert len(ids_of("分级题库", "single")) == 30  # per-person draws of 5 from 30 would rarely share items
    for i in range(8):
        attempt = join(quiz, now, phone=f"1360000{i:04d}", name=f"人{i}").attempt
        for entry in attempt.paper:
            q = db.session.get(Question, entry["q"])
            rank = sorted(e["q"] for e in quiz.paper).index(q.id)
            right = right_response(q, entry)
            svc.save_answer(attempt, q.id, right if rank < i else ("A" if right != "A" else "B"), now=later(now, 1))
        svc.submit(attempt, now=later(now, 30 + i))
        db.session.commit()
    result = analyse(quiz, now=later(now, 100))
    assert result.attempts == 8 and result.alpha_items == 5
    assert result.alpha is not None and result.alpha > 0.8  # a Guttman pattern is highly consistent


# ---------------------------------------------------------------- API
def test_api_creates_and_edits_a_hand_picked_paper(client, app, token_for, tree):
    headers = {"Authorization": f"Bearer {token_for('admin')}"}
    with app.app_context():
        bank = leveled_bank()
        singles = ids_of(bank, "single")
    body = {"title": "接口组卷", "banks": [bank], "duration_seconds": 600,
            "questions": [singles[2], singles[1]], "rules": [{"type": "单选", "count": 20, "points": 3}]}
    created = client.post("/api/v1/quizzes", json=body, headers=headers)
    assert created.status_code == 201, created.json
    quiz_id = created.json["id"]
    paper = client.get(f"/api/v1/quizzes/{quiz_id}/paper", headers=headers).json
    assert paper["paper_mode"] == "fixed" and paper["locked"] is False and paper["max_score"] == 6
    assert [(q["id"], q["points"]) for q in paper["questions"]] == [(singles[2], 3), (singles[1], 3)]
    assert client.get(f"/api/v1/quizzes/{quiz_id}", headers=headers).json["paper_mode"] == "fixed"
    edited = client.put(f"/api/v1/quizzes/{quiz_id}/paper", json={"questions": [{"id": singles[0], "points": 4}]},
                        headers=headers)
    assert edited.status_code == 200 and [q["id"] for q in edited.json["questions"]] == [singles[0]]
    bad = client.put(f"/api/v1/quizzes/{quiz_id}/paper", json={"questions": [{"id": 2**40, "points": 4}]},
                     headers=headers)
    assert bad.status_code == 422 and str(2**40) in bad.json["error"]
    assert client.put(f"/api/v1/quizzes/{quiz_id}/paper", json={}, headers=headers).status_code == 422
    with app.app_context():
        code = db.session.get(Quiz, quiz_id).join_code
    joined = client.post(f"/api/v1/join/{code}", json={"name": "张三", "phone": "13800138000",
                                                       "unit": "乔司街道/三角村社区"})
    assert joined.status_code == 201 and [q["id"] for q in joined.json["questions"]] == [singles[0]]
    locked = client.put(f"/api/v1/quizzes/{quiz_id}/paper", json={"redraw": True}, headers=headers)
    assert locked.status_code == 409 and "试卷已锁定" in locked.json["error"]
    assert client.get(f"/api/v1/quizzes/{quiz_id}/paper", headers=headers).json["locked"] is True


def test_api_refuses_ids_outside_the_callers_scope(client, app, token_for, tree):
    with app.app_context():
        mine = leveled_bank("乔司题库", unit=db.session.get(Unit, tree["乔司街道"]))
        theirs = leveled_bank("伦教题库", unit=db.session.get(Unit, tree["伦教街道"]), prefix="伦教")
        foreign = ids_of(theirs, "single")[0]
    headers = {"Authorization": f"Bearer {token_for('qiaosi')}"}
    response = client.post("/api/v1/quizzes", headers=headers, json={
        "title": "越权", "banks": [mine], "duration_seconds": 600, "questions": [{"id": foreign, "points": 2}]})
    assert response.status_code == 403 and str(foreign) in response.json["error"]
    with app.app_context():
        assert db.session.execute(select(Quiz)).first() is None


# ---------------------------------------------------------------- pages
def _form(bank_id, **overrides):
    form = {"title": "网页组卷", "mode": "exam", "duration_minutes": "15", "banks": [str(bank_id)],
            "rule_type": ["single", "multi", "judge", "blank"], "rule_count": ["3", "0", "2", ""],
            "rule_points": ["2", "", "1", ""], "rule_tags": ["", "", "", ""], "attempts_allowed": "1",
            "attempt_policy": "best", "multi_partial": "none", "show_answers": "after_submit",
            "shuffle_questions": "y"}
    form.update(overrides)
    return form


def _bank_id(app, name="分级题库"):
    with app.app_context():
        leveled_bank(name)
        return db.session.execute(select(Question.bank_id).where(Question.bank.has(name=name)).limit(1)).scalar()


def test_quiz_form_offers_both_modes_defaulting_to_fixed(client, auth, app):
    bank_id = _bank_id(app)
    auth.login()
    html = client.get("/quizzes/new").get_data(as_text=True)
    fixed = re.search(r'<input type="radio" name="paper_mode" value="fixed"[^>]*>', html).group(0)
    random_ = re.search(r'<input type="radio" name="paper_mode" value="random"[^>]*>', html).group(0)
    assert "checked" in fixed and "checked" not in random_
    assert "统一试卷" in html and "随机组卷" in html and "题量（0 = 不启用）" in html
    response = client.post("/quizzes/new", data=_form(bank_id))  # rows with count 0 / empty are off
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    response = client.post("/quizzes/new", data=_form(bank_id, paper_mode="random", title="随机"))
    assert response.status_code == 302
    with app.app_context():
        fixed_quiz, random_quiz = db.session.execute(select(Quiz).order_by(Quiz.id)).scalars().all()
        assert fixed_quiz.paper_mode == "fixed" and len(fixed_quiz.paper) == 5
        assert [r["type"] for r in fixed_quiz.rules] == ["single", "judge"]
        assert random_quiz.paper_mode == "random" and all(r["mix"] for r in random_quiz.rules)
    page = client.post("/quizzes/new", data=_form(bank_id, rule_count=["0", "0", "", ""]))
    assert page.status_code == 200 and "至少设置一条题量大于0的规则" in page.get_data(as_text=True)
    page = client.post("/quizzes/new", data=_form(bank_id, rule_count=["3", "0", "50", ""]))
    assert page.status_code == 200 and "第3条组卷规则需要50道判断题" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(select(func.count(Quiz.id))).scalar() == 2


def test_quiz_page_shows_the_mode_and_the_fixed_paper(client, auth, app):
    bank_id = _bank_id(app)
    auth.login()
    location = client.post("/quizzes/new", data=_form(bank_id, shuffle_options="y")).headers["Location"]
    html = client.get(location).get_data(as_text=True)
    start = html.index('<section class="card" id="paper">')
    section = html[start:html.index("</section>", start)]
    assert "统一试卷 · 题目乱序 · 选项乱序" in section
    with app.app_context():
        quiz = db.session.execute(select(Quiz)).scalar_one()
        stems = [db.session.get(Question, e["q"]).stem for e in quiz.paper]
        code, quiz_id = quiz.join_code, quiz.id
    assert all(stem in section for stem in stems)
    assert f"/quizzes/{quiz_id}/paper" in section
    join_page = client.get(f"/j/{code}").get_data(as_text=True)
    assert "统一试卷 · 题目乱序 · 选项乱序" in join_page
    random_location = client.post("/quizzes/new", data=_form(bank_id, paper_mode="random", title="随机")).headers["Location"]
    html = client.get(random_location).get_data(as_text=True)
    assert "随机组卷（难度均衡）" in html and "容易 1 · 中等 1 · 困难 1" in html  # 单选 3 over 10/12/5/3


def test_pick_page_filters_adds_reorders_and_removes(client, auth, app):
    bank_id = _bank_id(app)
    auth.login()
    location = client.post("/quizzes/new", data=_form(bank_id, shuffle_questions="")).headers["Location"]
    quiz_id = int(location.rstrip("/").split("/")[-1])
    url = f"/quizzes/{quiz_id}/paper"
    page = client.get(url, query_string={"type": "single", "tag": "枫桥经验"}).get_data(as_text=True)
    listed = set(re.findall(r'<li class="question" id="q(\d+)"', page))
    with app.app_context():
        tagged = {str(q.id) for q in db.session.execute(select(Question).where(
            Question.type == "single", Question.tags_text.contains(";枫桥经验;"))).scalars()}
        paper = [e["q"] for e in db.session.get(Quiz, quiz_id).paper]
        extra = next(i for i in ids_of("分级题库", "multi") if i not in paper)
    assert listed == tagged
    response = client.post(f"{url}/add", data={"question_id": str(extra), "points": "3.5"})
    assert response.status_code == 302
    with app.app_context():
        entries = db.session.get(Quiz, quiz_id).paper
        assert [e["q"] for e in entries] == paper + [extra] and entries[-1]["points"] == 3.5
    # move the last row up, change the first row's points, then remove the first row
    qids = [str(q) for q in paper + [extra]]
    points = ["4"] + ["2"] * 2 + ["1"] * 2 + ["3.5"]
    client.post(url, data={"qid": qids, "points": points, "up": str(len(qids) - 1)})
    with app.app_context():
        entries = db.session.get(Quiz, quiz_id).paper
        assert [e["q"] for e in entries] == paper[:4] + [extra, paper[4]] and entries[0]["points"] == 4
        assert db.session.get(Quiz, quiz_id).max_score == 4 + 2 + 2 + 1 + 3.5 + 1
    client.post(url, data={"qid": [str(e["q"]) for e in entries], "points": [str(e["points"]) for e in entries],
                           "remove": "0"})
    with app.app_context():
        assert [e["q"] for e in db.session.get(Quiz, quiz_id).paper] == paper[1:4] + [extra, paper[4]]
    page = client.post(f"{url}/add", data={"question_id": "abc"}, follow_redirects=True).get_data(as_text=True)
    assert "abc" in page
    assert client.post(f"{url}/redraw").status_code == 302
    with app.app_context():
        assert len(db.session.get(Quiz, quiz_id).paper) == 5  # drawn again from the rules (3 单选 + 2 判断)


def test_pick_page_refuses_foreign_ids_and_locks_after_the_first_join(client, auth, app, tree):
    with app.app_context():
        mine = leveled_bank("乔司题库", unit=db.session.get(Unit, tree["乔司街道"]))
        theirs = leveled_bank("伦教题库", unit=db.session.get(Unit, tree["伦教街道"]), prefix="伦教")
        mine_id = db.session.execute(select(Question.bank_id).where(Question.bank.has(name=mine))).first()[0]
        foreign = ids_of(theirs, "single")[0]
    auth.login("qiaosi")
    location = client.post("/quizzes/new", data=_form(mine_id)).headers["Location"]
    quiz_id = int(location.rstrip("/").split("/")[-1])
    with app.app_context():
        before = db.session.get(Quiz, quiz_id).paper
    page = client.post(f"/quizzes/{quiz_id}/paper/add", data={"question_id": str(foreign), "points": "2"},
                       follow_redirects=True).get_data(as_text=True)
    assert f"题目{foreign}所在的题库不在您的管理范围内" in page
    with app.app_context():
        assert db.session.get(Quiz, quiz_id).paper == before
        code = db.session.get(Quiz, quiz_id).join_code
        join(db.session.get(Quiz, quiz_id), FIXED_NOW)
    page = client.get(f"/quizzes/{quiz_id}/paper").get_data(as_text=True)
    assert 'id="paper-locked"' in page and "paper-form" not in page
    page = client.post(f"/quizzes/{quiz_id}/paper/redraw", follow_redirects=True).get_data(as_text=True)
    assert "试卷已锁定" in page
    with app.app_context():
        assert db.session.get(Quiz, quiz_id).paper == before
        assert db.session.scalar(select(Attempt.id).where(Attempt.quiz_id == quiz_id)) is not None
    html = client.get(f"/quizzes/{quiz_id}").get_data(as_text=True)
    assert f"/quizzes/{quiz_id}/paper\"" not in html and code in html
    auth.logout()
    auth.login("lunjiao")
    assert client.get(f"/quizzes/{quiz_id}/paper").status_code == 403


def test_pick_page_of_a_random_quiz_explains_itself(client, auth, app):
    bank_id = _bank_id(app)
    auth.login()
    location = client.post("/quizzes/new", data=_form(bank_id, paper_mode="random")).headers["Location"]
    quiz_id = int(location.rstrip("/").split("/")[-1])
    page = client.get(f"/quizzes/{quiz_id}/paper", follow_redirects=True).get_data(as_text=True)
    assert "随机组卷" in page and "paper-form" not in page


def test_pick_page_lists_only_banks_the_organiser_may_pick_from(client, auth, app, tree):
    with app.app_context():
        mine = leveled_bank("乔司题库", unit=db.session.get(Unit, tree["乔司街道"]))
        admins = leveled_bank("管理员题库", prefix="管")  # no unit: administrators only
        quiz = create_quiz({"title": "混合题库", "banks": [mine, admins], "unit": "乔司街道", "duration_seconds": 600,
                            "rules": [{"type": "单选", "count": 2, "points": 2}]}, actor=None, now=FIXED_NOW)
        db.session.commit()
        quiz_id, own = quiz.id, {str(i) for i in ids_of(mine, "single")}
    auth.login("qiaosi")
    seen = set()
    for number in (1, 2, 3):
        page = client.get(f"/quizzes/{quiz_id}/paper", query_string={"type": "single", "page": number})
        seen |= set(re.findall(r'<li class="question" id="q(\d+)"', page.get_data(as_text=True)))
    assert seen == own


@pytest.mark.parametrize("n", [2, 4, 6, 7])
def test_option_orders_are_uniform(n):
    """papers.option_order: every order of n options about equally often (listed orders up to
    MAX_LISTED_ORDERS, shuffled beyond), each a permutation of 0..n-1."""
    rng = random.Random(20261130)
    draws = 300 * (24 if n <= 4 else 40)
    counts = Counter(tuple(papers.option_order(n, rng)) for _ in range(draws))
    assert all(sorted(order) == list(range(n)) for order in counts)
    first = Counter(order[0] for order in counts.elements())
    expected = draws / n
    assert all(abs(first[i] - expected) < 6 * (expected ** 0.5) for i in range(n)), first  # each option leads as often
    if n <= 4:
        assert len(counts) == (24 if n == 4 else 2)  # every order occurs
        assert max(counts.values()) - min(counts.values()) < 6 * ((draws / len(counts)) ** 0.5)


def test_the_draws_source_is_reseeded_in_a_forked_worker():
    """papers.draws(): a forked worker does not repeat its parent's (and so its siblings') draws."""
    import os

    parent_next = papers.draws().getstate()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether its state differs from the parent's
        os.close(read)
        os.write(write, b"1" if papers.draws().getstate() != parent_next else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"1"
