"""公示表 exports: XLSX readable by openpyxl with the expected rows, CSV with BOM and escaping."""
import csv
import io

from openpyxl import load_workbook

from quiz.extensions import db
from quiz.services import exports
from quiz.services.ranking import leaderboard
from tests.quizdata import later, make_quiz
from tests.test_reports import _sit


def test_csv_escapes_formulas_and_has_bom():
    data = exports.to_csv(["名次", "姓名"], [[1, "=cmd|' /C calc'!A0"], [2, "+1"], [3, "-x"], [4, "@x"],
                                           [5, "\tx"], [6, "正常"]])
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r[1] for r in rows[1:]] == ["'=cmd|' /C calc'!A0", "'+1", "'-x", "'@x", "'\tx", "正常"]


def test_leaderboard_xlsx_and_cli(app, ctx, tree, now, runner, tmp_path):
    quiz = make_quiz(title="应知应会知识竞赛", pass_score=6)
    _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")
    _sit(quiz, now, "13800000002", "=李四", "乔司街道/永丰村", right=False)
    entries = leaderboard(quiz, now=later(now, 100))
    header, rows = exports.leaderboard_table(quiz, entries)
    data = exports.to_xlsx(exports.title_line(quiz, now=now, organiser="乔司街道党工委"), header, rows, sheet="排行榜")
    ws = load_workbook(io.BytesIO(data)).active
    assert "应知应会知识竞赛" in ws["A1"].value and "乔司街道党工委" in ws["A1"].value
    assert [c.value for c in ws[2]] == header
    assert [c.value for c in ws[3]][:4] == [1, "张三", "乔司街道/三角村社区", 10]
    assert ws["B4"].value == "=李四" and ws["B4"].data_type == "s"  # text, not a formula
    assert ws.freeze_panes == "A3" and str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4 == "9"  # A4
    assert ws.column_dimensions["C"].width >= 20  # wide enough for 乔司街道/三角村社区
    out = tmp_path / "榜.xlsx"
    result = runner.invoke(args=["export", "leaderboard", str(quiz.id), "-o", str(out), "--organiser", "党工委"])
    assert result.exit_code == 0, result.output
    assert load_workbook(out).active.max_row == 4
    out_csv = tmp_path / "units.csv"
    assert runner.invoke(args=["export", "units", str(quiz.id), "-o", str(out_csv), "--level", "2"]).exit_code == 0
    text = out_csv.read_bytes().decode("utf-8-sig")
    assert "乔司街道/三角村社区" in text and "应参人数" in text.splitlines()[0] and "参与率" in text.splitlines()[0]
    assert runner.invoke(args=["export", "units", str(quiz.id), "-o", str(tmp_path / "x.pdf")]).exit_code != 0
    assert runner.invoke(args=["export", "units", "9999", "-o", str(out_csv)]).exit_code == 1


def test_cli_exports_answers_and_analysis(app, ctx, tree, now, runner, tmp_path):
    quiz = make_quiz()
    _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")
    out = tmp_path / "answers.csv"
    assert runner.invoke(args=["export", "answers", str(quiz.id), "-o", str(out)]).exit_code == 0
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert len(rows) == 1 + 5 and rows[1][0] == "张三" and rows[1][1] == "13800000001"
    out = tmp_path / "analysis.xlsx"
    assert runner.invoke(args=["export", "analysis", str(quiz.id), "-o", str(out)]).exit_code == 0
    assert load_workbook(out).active.max_row == 2 + 5


def _formula_free(data: bytes) -> list[str]:
    """The sheet XML of an XLSX has no formula element; returns the texts of its cells."""
    import html
    import re
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
        shared = z.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in z.namelist() else ""
    assert "<f>" not in xml and "<f " not in xml
    return [html.unescape(t) for t in re.findall(r"<t[^>]*>([^<]*)</t>", xml + shared)]


def _formula_quiz(now):
    """A quiz whose title, a unit, a person and a question stem start with '='."""
    from quiz.models import Question
    from quiz.services.units import ensure_path

    ensure_path(["=A1+1社区"], actor=None, now=now, headcount=3)
    db.session.commit()
    quiz = make_quiz(title="=1+1 竞赛", pass_score=6)
    _sit(quiz, now, "13800000001", "=SUM(A1)", "=A1+1社区")
    _sit(quiz, now, "13800000002", "李四", "乔司街道/永丰村", right=False)
    stem_question = db.session.get(Question, quiz_paper_ids(quiz)[0])
    stem_question.stem = "=cmd|' /C calc'!A0"
    db.session.commit()
    return quiz


def quiz_paper_ids(quiz):
    from quiz.models import Attempt

    attempt = db.session.execute(db.select(Attempt).where(Attempt.quiz_id == quiz.id)).scalars().first()
    return [e["q"] for e in attempt.paper]


def test_every_export_writes_formulas_as_text(app, ctx, tree, now, runner, tmp_path):
    """Regression: a title or cell starting with '=' was written as a formula (A1 of every XLSX).
    Every kind, XLSX and CSV, through `quiz export` (the same code as the web download)."""
    quiz = _formula_quiz(now)
    expected = {"leaderboard": "=SUM(A1)", "units": "=A1+1社区", "answers": "=SUM(A1)",
                "analysis": "=cmd|' /C calc'!A0"}
    for kind, body in expected.items():
        extra = ["--level", "1"] if kind == "units" else []
        xlsx, csv_path = tmp_path / f"{kind}.xlsx", tmp_path / f"{kind}.csv"
        for out in (xlsx, csv_path):
            result = runner.invoke(args=["export", kind, str(quiz.id), "-o", str(out), *extra])
            assert result.exit_code == 0, (kind, result.output)
        texts = _formula_free(xlsx.read_bytes())
        ws = load_workbook(xlsx).active
        assert ws["A1"].value.startswith("=1+1 竞赛") and ws["A1"].data_type == "s", kind
        cells = [c for row in ws.iter_rows() for c in row if c.value == body]
        assert cells and all(c.data_type == "s" for c in cells), kind
        assert body in texts, kind
        rows = list(csv.reader(io.StringIO(csv_path.read_bytes().decode("utf-8-sig"))))
        fields = [f for row in rows for f in row]
        assert "'" + body in fields, kind
        assert not any(f.startswith(("=", "+", "-", "@")) for f in fields), kind


def test_bank_export_writes_formulas_as_text(ctx, now):
    from quiz.models import Bank, Question
    from quiz.services.banks import export_bank
    from tests.quizdata import make_bank

    bank = db.session.execute(db.select(Bank).where(Bank.name == make_bank())).scalar_one()
    question = db.session.execute(db.select(Question).where(Question.bank_id == bank.id)).scalars().first()
    question.stem, question.explanation = "=1+1", "@SUM(A1)"
    db.session.commit()
    data = export_bank(bank, "xlsx")
    assert "=1+1" in _formula_free(data)
    ws = load_workbook(io.BytesIO(data)).active
    cell = next(c for row in ws.iter_rows() for c in row if c.value == "=1+1")
    assert cell.data_type == "s" and ws["A1"].value == "题型"
    fields = [f for row in csv.reader(io.StringIO(export_bank(bank, "csv").decode("utf-8-sig"))) for f in row]
    assert "'=1+1" in fields and "'@SUM(A1)" in fields and "=1+1" not in fields


def test_xlsx_title_row_merged_centred_with_organiser_and_borders(ctx, tree, now):
    quiz = make_quiz(title="应知应会知识竞赛")
    _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")
    header, rows = exports.leaderboard_table(quiz, leaderboard(quiz, now=later(now, 100)))
    title = exports.title_line(quiz, now=now, organiser="乔司街道党工委")
    ws = load_workbook(io.BytesIO(exports.to_xlsx(title, header, rows, sheet="排行榜"))).active
    assert [str(r) for r in ws.merged_cells.ranges] == ["A1:E1"]  # across the 5 columns
    assert ws["A1"].alignment.horizontal == "center" and ws["A1"].font.bold
    assert "应知应会知识竞赛" in ws["A1"].value and "乔司街道党工委" in ws["A1"].value
    assert all(c.border.left.style == "thin" and c.border.bottom.style == "thin" for c in ws[3])  # body
    assert all(c.border.top.style == "thin" for c in ws[2])  # header


def test_unit_export_ranks_one_level_and_marks_units_that_did_not_take_part(app, ctx, tree, now, runner, tmp_path):
    quiz = make_quiz()
    _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")
    _sit(quiz, now, "13800000002", "李四", "伦教街道/常教社区", right=False)
    _sheet, header, rows = exports.export_table("units", quiz, now=later(now, 100), level=1)
    assert [(r[0], r[1]) for r in rows] == [(1, "乔司街道/三角村社区"), (2, "伦教街道/常教社区"), ("未参与", "乔司街道/永丰村")]
    out = tmp_path / "units.csv"
    result = runner.invoke(args=["export", "units", str(quiz.id), "-o", str(out), "--level", "2", "--rank-by",
                                 "participation"])
    assert result.exit_code == 0, result.output
    lines = out.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[-1].startswith("未参与,乔司街道/永丰村")
    assert [line.split(",")[1] for line in lines[1:]] == ["伦教街道/常教社区", "乔司街道/三角村社区", "乔司街道/永丰村"]
    result = runner.invoke(args=["export", "units", str(quiz.id), "-o", str(out), "--level", "5"])
    assert result.exit_code == 1 and "5" in result.output
