"""Question-bank import rules (docs/rules.md "Question banks"), called as a service."""
import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from quiz.extensions import db
from quiz.models import Bank, ImportLog, Question
from quiz.services.banks import export_bank
from quiz.services.importer import import_bank_file
from tests.conftest import HEADER, csv_bytes

GOOD = [
    HEADER,
    ["单选", "新时代“枫桥经验”发源于哪个省？", "江苏", "浙江", "福建", "广东", "B", "诸暨枫桥镇", "2", "容易", "枫桥经验"],
    ["多选题", "“五治融合”包括：", "政治", "自治", "法治", "财治", "A、B、C", "", "", "中等", "五治融合;党建引领"],
    ["判断", "共建共治共享是社会治理格局。", "", "", "", "", "√", "", "", "", ""],
    ["填空题", "小事不出____，大事不出____。", "", "", "", "", "村|镇;乡镇", "", "", "3", "枫桥经验"],
]


def run(data, name="测试题库", filename="bank.csv", **kwargs):
    from tests.conftest import FIXED_NOW

    report = import_bank_file(name, data, filename, actor=None, now=FIXED_NOW, **kwargs)
    if report.written:
        db.session.commit()
    else:
        db.session.rollback()
    return report


def questions(name="测试题库"):
    return db.session.execute(
        select(Question).join(Bank).where(Bank.name == name).order_by(Question.id)).scalars().all()


def test_imports_all_four_types(ctx):
    report = run(csv_bytes(GOOD))
    assert report.as_dict() == {"bank": "测试题库", "created": 4, "updated": 0, "unchanged": 0,
                                "duplicates": 0, "rejected": []}
    qs = questions()
    assert [q.type for q in qs] == ["single", "multi", "judge", "blank"]
    assert [q.answer for q in qs] == ["B", "ABC", "正确", "村|镇;乡镇"]
    assert qs[0].options == ["江苏", "浙江", "福建", "广东"]
    assert qs[0].points == 2 and qs[0].difficulty == 1 and qs[0].tags == ["枫桥经验"]
    assert qs[1].tags == ["五治融合", "党建引领"]
    assert qs[2].options == [] and qs[3].difficulty == 3
    log = db.session.execute(select(ImportLog)).scalar_one()
    assert (log.created, log.filename) == (4, "bank.csv")


def test_gbk_file_with_full_width_answers(ctx):
    rows = [
        ["题目类型", "题目内容", "A", "B", "C", "D", "正确答案", "答案解析"],
        ["多选题", "共同缔造的“五共”包括哪些？", "决策共谋", "发展共建", "建设共管", "独断专行", "ＡＢＣ", "五共"],
        ["单项选择题", "“枫桥经验”形成于哪个年代？", "20世纪50年代", "20世纪60年代", "20世纪70年代", "21世纪", "ｂ", ""],
        ["判断题", "网格员可以随意公开居民信息。", "", "", "", "", "×", ""],
        ["填空题", "坚持和发展新时代“（　）经验”。", "", "", "", "", "枫桥；枫桥经验", ""],
    ]
    data = csv_bytes(rows, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    report = run(data)
    assert report.rejected == [] and report.created == 4
    assert [q.answer for q in questions()] == ["ABC", "B", "错误", "枫桥;枫桥经验"]


def test_gb18030_and_utf8_without_bom(ctx):
    rows = [HEADER, ["判断", "𠀀字（扩展B）也能读取。", "", "", "", "", "对", "", "", "", ""]]
    assert run(csv_bytes(rows, encoding="gb18030"), name="a").created == 1
    assert run(csv_bytes(rows, encoding="utf-8"), name="b").created == 1


def test_every_kind_of_bad_row_is_named_and_nothing_is_written(ctx):
    rows = [
        HEADER,                                                                    # row 1
        ["单选", "好题", "甲", "乙", "丙", "丁", "A", "", "", "", ""],              # 2 fine
        ["单选", "答案越界", "甲", "乙", "丙", "丁", "E", "", "", "", ""],          # 3
        ["单选", "单选多答", "甲", "乙", "丙", "丁", "AB", "", "", "", ""],         # 4
        ["论述", "未知题型", "", "", "", "", "x", "", "", "", ""],                  # 5
        ["判断", "", "", "", "", "", "对", "", "", "", ""],                        # 6 empty stem
        ["判断", "判断答案无法识别", "", "", "", "", "也许", "", "", "", ""],        # 7
        ["多选", "空答案", "甲", "乙", "", "", "", "", "", "", ""],                 # 8
        ["填空", "两个空____和____", "", "", "", "", "一个", "", "", "", ""],       # 9
        ["单选", "选项中间有空", "甲", "", "丙", "", "A", "", "", "", ""],          # 10
        ["单选", "只有一个选项", "甲", "", "", "", "A", "", "", "", ""],            # 11
        ["判断", "分值不是数字", "", "", "", "", "对", "", "两分", "", ""],         # 12
        ["判断", "难度越界", "", "", "", "", "对", "", "", "9", ""],               # 13
        ["多选", "答案不是字母", "甲", "乙", "丙", "", "A和B", "", "", "", ""],     # 14
        ["单选", "好题", "甲", "乙", "丙", "丁", "B", "", "", "", ""],              # 15 same as 2, other answer
        ["单选", "好题", "甲", "乙", "丙", "丁", "A", "", "", "", ""],              # 16 exact repeat of 2
    ]
    report = run(csv_bytes(rows))
    got = {p.row: p.message for p in report.rejected}
    assert sorted(got) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    assert "E" in got[3] and "选项" in got[3]
    assert "论述" in got[5]
    assert "也许" in got[7]
    assert "2" in got[9] and "1" in got[9]
    assert "两分" in got[12]
    assert "第2行" in got[15] or "2" in got[15]
    assert not report.accepted and not report.written
    assert db.session.scalar(select(func.count(Question.id))) == 0
    assert db.session.scalar(select(func.count(Bank.id))) == 0


def test_row_messages_are_chinese(ctx):
    rows = [HEADER, ["单选", "答案越界", "甲", "乙", "丙", "丁", "E", "", "", "", ""]]
    report = run(csv_bytes(rows))
    assert report.rejected[0].message == "答案E不在选项中"


def test_skip_invalid_imports_the_rest(ctx):
    rows = [HEADER,
            ["单选", "好题一", "甲", "乙", "丙", "丁", "A", "", "", "", ""],
            ["单选", "坏题", "甲", "乙", "丙", "丁", "Z", "", "", "", ""],
            ["判断", "好题二", "", "", "", "", "错", "", "", "", ""]]
    report = run(csv_bytes(rows), skip_invalid=True)
    assert report.accepted and report.written
    assert (report.created, [p.row for p in report.rejected]) == (2, [3])
    assert [q.stem for q in questions()] == ["好题一", "好题二"]


def test_exact_repeats_are_merged_after_folding(ctx):
    rows = [HEADER,
            ["单选", "共建共治共享", "甲", "乙", "丙", "丁", "A", "", "", "", ""],
            ["单选题", " 共建共治共享 ", "甲 ", "乙", "丙", "丁", "ａ", "", "", "", ""],
            ["单选", "共建共治共享", "甲", "乙", "丙", "戊", "A", "", "", "", ""]]
    report = run(csv_bytes(rows))
    assert (report.created, report.duplicates) == (2, 1)


def test_reimport_is_idempotent_and_reports_updates(ctx):
    assert run(csv_bytes(GOOD)).created == 4
    again = run(csv_bytes(GOOD))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    changed = [list(r) for r in GOOD]
    changed[1][6] = "C"          # answer changed
    changed[3][7] = "新的解析"    # explanation added
    report = run(csv_bytes(changed))
    assert (report.created, report.updated, report.unchanged) == (0, 2, 2)
    qs = questions()
    assert qs[0].answer == "C" and qs[2].explanation == "新的解析"
    assert len(qs) == 4


def test_dry_run_reports_without_writing(ctx):
    report = run(csv_bytes(GOOD), dry_run=True)
    assert report.created == 4 and not report.written
    assert db.session.scalar(select(func.count(Bank.id))) == 0
    run(csv_bytes(GOOD))
    again = run(csv_bytes(GOOD), dry_run=True)
    assert (again.created, again.unchanged) == (0, 4)


def _xlsx(rows, title_row=None, blank_rows_after=None):
    wb = Workbook()
    ws = wb.active
    if title_row:
        ws.append([title_row])
    for i, row in enumerate(rows):
        ws.append(row)
        if blank_rows_after is not None and i == blank_rows_after:
            ws.append([])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_title_row_blank_rows_and_numbers(ctx):
    rows = [HEADER,
            ["单选", "题一", "甲", "乙", "丙", "丁", "A", "", 2, 3, "x"],
            ["判断", "题二", None, None, None, None, True, None, None, None, None],
            ["填空", "成立于____年", None, None, None, None, 1921, None, 1.5, None, None],
            ["单选", "坏题", "甲", "乙", "丙", "丁", "Z", "", None, None, None]]
    report = run(_xlsx(rows, title_row="2026年应知应会题库", blank_rows_after=1), filename="b.xlsx")
    # title row 1, header row 2, 题一 row 3, blank row 4, 题二 row 5, 题三 row 6, 坏题 row 7
    assert [p.row for p in report.rejected] == [7]
    assert report.as_dict()["created"] == 0 and not report.written
    report = run(_xlsx(rows[:-1], title_row="标题"), filename="b.xlsx")
    assert report.created == 3
    qs = questions()
    assert qs[0].points == 2 and qs[0].difficulty == 3
    assert qs[1].answer == "正确"
    assert qs[2].answer == "1921" and qs[2].points == 1.5


def test_type_inferred_when_no_type_column(ctx):
    rows = [["题干", "A", "B", "C", "答案"],
            ["单选推断", "甲", "乙", "丙", "B"],
            ["多选推断", "甲", "乙", "丙", "AC"],
            ["判断推断", "", "", "", "错"],
            ["填空推断____", "", "", "", "答案"]]
    report = run(csv_bytes(rows))
    assert report.rejected == []
    assert [q.type for q in questions()] == ["single", "multi", "judge", "blank"]


def test_option_letters_repeated_in_cells_are_stripped(ctx):
    rows = [HEADER, ["单选", "题", "A.甲", "B、乙", "C：丙", "Ｄ. 丁", "D", "", "", "", ""]]
    run(csv_bytes(rows))
    assert questions()[0].options == ["甲", "乙", "丙", "丁"]


@pytest.mark.parametrize("data,filename,needle", [
    (b"", "a.csv", "空"),
    (b"   \r\n", "a.csv", "空"),
    (b"hello", "a.pdf", ".pdf"),
    (bytes(range(256)) * 40, "a.csv", "CSV"),
    (b"PK\x03\x04garbage", "a.xlsx", "XLSX"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "a.xls", "xls"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "a.xlsx", "xlsx"),
    ("名字,电话\n张三,1\n".encode(), "a.csv", "题干"),
    ("题干,选项A\n题,甲\n".encode(), "a.csv", "答案"),
    ("题干,答案\n".encode(), "a.csv", "题"),
])
def test_file_level_problems(ctx, data, filename, needle):
    report = run(data, filename=filename)
    assert not report.accepted and report.file_error
    assert len(report.rejected) == 1 and report.rejected[0].row >= 1
    assert needle.lower() in report.rejected[0].message.lower()
    assert db.session.scalar(select(func.count(Bank.id))) == 0


def test_formula_looking_cells_are_plain_text_and_round_trip(ctx):
    rows = [HEADER,
            ["判断", "=1+1 是公式吗", "", "", "", "", "错", "", "", "", ""],
            ["单选", "-5 的绝对值是", "+5", "-5", "@5", "5", "D", "=HYPERLINK(\"x\")", "", "", ""]]
    run(csv_bytes(rows))
    qs = questions()
    assert qs[0].stem == "=1+1 是公式吗"
    assert qs[1].options == ["+5", "-5", "@5", "5"]
    exported = export_bank(db.session.execute(select(Bank)).scalar_one(), "csv")
    assert "'=1+1 是公式吗" in exported.decode("utf-8-sig")
    report = run(exported, name="副本")
    assert report.created == 2 and report.rejected == []
    assert [q.stem for q in questions("副本")] == [q.stem for q in qs]
    assert questions("副本")[1].explanation == '=HYPERLINK("x")'


def test_long_stems(ctx):
    rows = [HEADER, ["判断", "长" * 10000, "", "", "", "", "对", "", "", "", ""],
            ["判断", "稍长" * 1000, "", "", "", "", "对", "", "", "", ""]]
    report = run(csv_bytes(rows))
    assert [p.row for p in report.rejected] == [2]
    assert "10000" in report.rejected[0].message
    report = run(csv_bytes(rows), skip_invalid=True)
    assert report.created == 1


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_gives_the_same_questions(ctx, fmt):
    rows = [list(r) for r in GOOD] + [["单选", "含逗号,引号\"与\n换行的题干", "甲,1", "乙", "", "", "a", "解析,含逗号", "", "", ""]]
    run(csv_bytes(rows))
    bank = db.session.execute(select(Bank)).scalar_one()
    data = export_bank(bank, fmt)
    if fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf")
    report = run(data, name="副本", filename=f"out.{fmt}")
    assert report.rejected == [] and report.created == 5

    def key(q):
        return (q.type, q.stem, q.options, q.answer, q.explanation, q.points, q.difficulty, q.tags)
    assert [key(q) for q in questions("副本")] == [key(q) for q in questions()]


def test_tab_separated_utf16_from_excel_unicode_text(ctx):
    text = "\t".join(HEADER) + "\r\n" + "\t".join(["判断", "制表符分隔", "", "", "", "", "对", "", "", "", ""]) + "\r\n"
    report = run(text.encode("utf-16"), filename="bank.txt")
    assert report.created == 1
