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
    assert runner.invoke(args=["export", "units", str(quiz.id), "-o", str(out_csv)]).exit_code == 0
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
