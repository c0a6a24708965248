"""Question-type registry: answer normalisation and grading per docs/rules.md "Scoring"."""
import json

import pytest

from quiz.questions import QUESTION_TYPES, AnswerError, get_type, type_from_label

OPTS4 = ["甲", "乙", "丙", "丁"]


@pytest.mark.parametrize("label,key", [
    ("单选", "single"), ("单选题", "single"), ("单项选择题", "single"), ("single", "single"),
    ("多选", "multi"), ("多选题", "multi"), ("多项选择题", "multi"), ("不定项选择题", "multi"),
    ("multiple", "multi"), ("判断", "judge"), ("判断题", "judge"), ("judge", "judge"),
    ("填空", "blank"), ("填空题", "blank"), ("blank", "blank"), (" 单选题 ", "single"), ("SINGLE", "single"),
])
def test_type_aliases(label, key):
    assert type_from_label(label) == key


def test_unknown_type():
    assert type_from_label("论述题") is None


@pytest.mark.parametrize("raw", ["AC", "A、C", "c,a", "ＡＣ", "A，C", "A;C", "a c", "A；C", "CA", "A/C"])
def test_multi_answer_forms(ctx, raw):
    assert get_type("multi").parse_answer(raw, OPTS4, "") == "AC"


def test_multi_single_letter_is_allowed(ctx):
    assert get_type("multi").parse_answer("b", OPTS4, "") == "B"


def test_single_needs_exactly_one_letter(ctx):
    with pytest.raises(AnswerError):
        get_type("single").parse_answer("AB", OPTS4, "")
    assert get_type("single").parse_answer("ｄ", OPTS4, "") == "D"


def test_letter_must_name_an_option(ctx):
    with pytest.raises(AnswerError, match="E"):
        get_type("single").parse_answer("E", OPTS4, "")
    with pytest.raises(AnswerError):
        get_type("multi").parse_answer("AX", OPTS4, "")


def test_single_answer_may_be_the_option_text(ctx):
    assert get_type("single").parse_answer("丙", OPTS4, "") == "C"


def test_choice_needs_two_options(ctx):
    with pytest.raises(AnswerError):
        get_type("single").parse_answer("A", ["only"], "")


@pytest.mark.parametrize("raw,value", [
    ("正确", "正确"), ("对", "正确"), ("√", "正确"), ("是", "正确"), ("T", "正确"), ("true", "正确"),
    ("Y", "正确"), ("1", "正确"), ("ｔｒｕｅ", "正确"), ("TRUE", "正确"), ("1.0", "正确"),
    ("错误", "错误"), ("错", "错误"), ("×", "错误"), ("否", "错误"), ("F", "错误"), ("false", "错误"),
    ("N", "错误"), ("0", "错误"), ("FALSE", "错误"),
])
def test_judge_forms(ctx, raw, value):
    assert get_type("judge").parse_answer(raw, [], "") == value


def test_judge_as_lettered_options(ctx):
    assert get_type("judge").parse_answer("B", ["正确", "错误"], "") == "错误"


def test_judge_rejects_other(ctx):
    with pytest.raises(AnswerError):
        get_type("judge").parse_answer("也许", [], "")


def test_blank_forms(ctx):
    blank = get_type("blank")
    assert blank.parse_answer("共建|共享", [], "____与____") == "共建|共享"
    assert blank.parse_answer("浙江;浙江省", [], "位于____") == "浙江;浙江省"
    assert blank.parse_answer("浙江；浙江省｜杭州", [], "") == "浙江;浙江省|杭州"
    assert blank.parse_answer(" 枫桥 ", [], "“（ ）经验”") == "枫桥"


def test_blank_count_must_match_stem(ctx):
    with pytest.raises(AnswerError, match="2"):
        get_type("blank").parse_answer("共建", [], "____和____")
    with pytest.raises(AnswerError):
        get_type("blank").parse_answer("a||b", [], "")


def test_grading_single_and_judge():
    assert get_type("single").grade("B", "B") == 1
    assert get_type("single").grade("B", "C") == 0
    assert get_type("judge").grade("正确", "正确") == 1
    assert get_type("judge").grade("正确", None) == 0


def test_grading_multi_policies():
    multi = get_type("multi")
    assert multi.grade("ACD", "ACD") == 1
    assert multi.grade("ACD", "AC") == 0
    assert multi.grade("ACD", "AC", "half") == 0.5
    assert multi.grade("ACD", "ACB", "half") == 0  # a wrong letter earns nothing
    assert multi.grade("ACD", "", "half") == 0


def test_grading_blank_split_across_blanks(ctx):
    blank = get_type("blank")
    response = blank.normalise_response(["  共建 ", "ＡＢＣ"], 0)
    assert blank.grade("共建|abc;xyz", response) == 1
    assert blank.grade("共建|共享", json.dumps(["共建", "错"])) == 0.5
    assert blank.grade("浙江;浙江省|x", json.dumps(["浙江省"])) == 0.5


def test_normalise_response(ctx):
    assert get_type("multi").normalise_response(["C", "a"], 4) == "AC"
    assert get_type("judge").normalise_response(False, 0) == "错误"
    with pytest.raises(AnswerError):
        get_type("single").normalise_response("E", 4)


def test_registry_has_four_types():
    assert set(QUESTION_TYPES) == {"single", "multi", "judge", "blank"}
