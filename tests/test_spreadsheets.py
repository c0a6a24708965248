"""The one CSV/XLSX writer (quiz/services/spreadsheets.py): the bank template keeps its own
layout (header row only, fixed widths, frozen first row, wrapped text), published tables keep
theirs (title row, A4), and the four `quiz export` tables are one command implementation whose
files equal the report page's downloads."""
import csv
import io

import pytest
from openpyxl import load_workbook

from quiz.extensions import db
from quiz.models import Bank
from quiz.services import spreadsheets
from quiz.services.banks import TEMPLATE_HEADER, blank_template, export_bank
from tests.quizdata import make_bank, make_quiz
from tests.test_reports import _sit


def test_bank_template_layout_header_widths_frozen_row_wrapped_text(ctx):
    bank = db.session.execute(db.select(Bank).where(Bank.name == make_bank(name="题库:[一]/二"))).scalar_one()
    ws = load_workbook(io.BytesIO(export_bank(bank, "xlsx"))).active
    assert ws.title == "题库__一__二"  # characters Excel refuses in a sheet name are replaced
    assert [c.value for c in ws[1]] == TEMPLATE_HEADER  # the header is row 1: no title row
    assert not ws.merged_cells.ranges and ws.freeze_panes == "A2"
    assert all(c.font.bold and c.fill.fgColor.rgb.endswith("DDEBF7") for c in ws[1])
    widths = {letter: ws.column_dimensions[letter].width for letter in "ABCDEFGHIJKLMNO"}
    assert widths == {"A": 8, "B": 60, **{c: 18 for c in "CDEFGHIJ"}, "K": 10, "L": 40, "M": 8, "N": 8, "O": 20}
    body = [c for row in ws.iter_rows(min_row=2) for c in row]
    assert len(body) == 16 * len(TEMPLATE_HEADER)
    assert all(c.alignment.wrap_text and c.alignment.vertical == "top" for c in body)
    assert all(c.border.left.style is None for c in body)  # no table borders in the template
    assert ws.page_setup.paperSize is None  # no print set-up either
    template = load_workbook(io.BytesIO(blank_template("xlsx"))).active
    assert template.title == "模板" and [c.value for c in template[1]] == TEMPLATE_HEADER
    assert template.freeze_panes == "A2" and template.column_dimensions["B"].width == 60


def test_published_layout_and_sheet_names_excel_accepts():
    data = spreadsheets.to_xlsx("标题", ["名次", "单位"], [[1, "乔司街道/三角村社区"]], sheet="单位/排名:2026?")
    ws = load_workbook(io.BytesIO(data)).active
    assert ws.title == "单位_排名_2026_"
    assert ws["A1"].value == "标题" and [str(r) for r in ws.merged_cells.ranges] == ["A1:B1"]
    assert [c.value for c in ws[2]] == ["名次", "单位"] and ws.freeze_panes == "A3"
    assert ws.print_title_rows == "$2:$2" and str(ws.page_setup.paperSize) == "9"


def test_write_table_formats():
    rows = [[1, "=x"]]
    assert spreadsheets.write_table("csv", ["a", "b"], rows, sheet="s") == spreadsheets.to_csv(["a", "b"], rows)
    ws = load_workbook(io.BytesIO(spreadsheets.write_table("xlsx", ["a", "b"], rows, sheet="s", title="T"))).active
    assert ws["A1"].value == "T" and ws["B3"].value == "=x" and ws["B3"].data_type == "s"
    with pytest.raises(ValueError):
        spreadsheets.write_table("ods", ["a"], rows, sheet="s")


EXPORT_OPTIONS = {
    "leaderboard": {"quiz_id", "output", "organiser"},
    "units": {"quiz_id", "output", "organiser", "rank_by", "level"},
    "answers": {"quiz_id", "output"},
    "analysis": {"quiz_id", "output"},
}


def test_export_commands_keep_their_names_and_options(app):
    commands = app.cli.commands["export"].commands
    for kind, options in EXPORT_OPTIONS.items():
        assert {p.name for p in commands[kind].params} == options, kind
    units = {p.name: p for p in commands["units"].params}
    assert units["rank_by"].default == "average" and list(units["rank_by"].type.choices) == [
        "average", "participation", "mix"]


def test_every_export_command_writes_what_the_report_page_downloads(app, client, auth, tree, now, runner, tmp_path):
    auth.login()
    with app.app_context():
        quiz = make_quiz(title="应知应会知识竞赛")
        _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")
        _sit(quiz, now, "13800000002", "李四", "伦教街道/常教社区", right=False)
        quiz_id = quiz.id
    for kind in EXPORT_OPTIONS:
        out = tmp_path / f"{kind}.csv"
        result = runner.invoke(args=["export", kind, str(quiz_id), "-o", str(out)])
        assert result.exit_code == 0, result.output
        page = client.get(f"/quizzes/{quiz_id}/export/{kind}.csv")
        assert page.status_code == 200
        assert out.read_bytes() == page.data, kind
        rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
        assert len(rows) > 1, kind
    result = runner.invoke(args=["export", "answers", str(quiz_id), "-o", str(tmp_path / "x.txt")])
    assert result.exit_code == 2 and ".csv" in result.output
    result = runner.invoke(args=["export", "analysis", "9999", "-o", str(tmp_path / "x.csv")])
    assert result.exit_code == 1
