"""Bounded work for uploaded spreadsheets (quiz/services/tables.py, UPLOAD_MAX_* settings).

The hostile files are the ones of issue 8, built by bench/bench_uploads.py (the benchmark
prints how fast each is rejected); here each must be rejected with a message naming the limit,
through read_table() and through the upload routes (never a 500), while a valid 20,000-row
bank still imports. Messages are checked for the limit's figure, not for wording."""
from __future__ import annotations

import io
import os
import zipfile

import pytest
from sqlalchemy import func, select

from bench import bench_uploads as hostile
from quiz.extensions import db
from quiz.models import Bank, Participant, Question
from quiz.services.importer import import_bank_file
from quiz.services.people import import_roster
from quiz.services.tables import FileRejected, UploadLimits, read_table
from quiz.services.units import import_units
from tests.conftest import FIXED_NOW

ONE_CELL = hostile.sheet(b'<row r="1"><c r="A1"><v>1</v></c></row>')

# (builder, filename, the figure the message must contain, the row it is reported against)
HOSTILE = {
    "dimension A1:XFD1048576, one cell in the last row": (hostile.dimension_bomb, "x.xlsx", "120,000", 1048576),
    "2M shared strings in 84 KB": (hostile.shared_strings_bomb, "x.xlsx", "100", 1),
    "2M distinct shared strings": (hostile.shared_strings_distinct, "x.xlsx", "500,000", 1),
    "400k rows": (hostile.many_rows, "x.xlsx", "120,000", 120001),
    "500k styles": (hostile.styles_bomb, "x.xlsx", "100", 1),
    "500k distinct styles": (hostile.styles_distinct, "x.xlsx", "20,000", 1),
    "a cell in column XFD": (hostile.wide_row, "x.xlsx", "256", 1),
    "CSV of 400k rows": (hostile.csv_many_rows, "x.csv", "120,000", 120001),
    "CSV of 20 MB of commas": (hostile.csv_commas, "x.csv", "1,000,000", 1),
}


@pytest.fixture(scope="module")
def hostile_files():
    """Each hostile file, built once for the module."""
    return {name: build() for name, (build, *_rest) in HOSTILE.items()}


def rejection(data: bytes, filename: str, **limits) -> FileRejected:
    with pytest.raises(FileRejected) as caught:
        read_table(data, filename, limits=UploadLimits.current().replace(**limits) if limits else None)
    return caught.value


# ---------------------------------------------------------------- the cases of issue 8

@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_is_rejected_naming_the_limit(ctx, hostile_files, case):
    _build, filename, figure, row = HOSTILE[case]
    problem = rejection(hostile_files[case], filename)
    assert figure in problem.message
    assert problem.row == row


@pytest.mark.parametrize("case", ["dimension A1:XFD1048576, one cell in the last row", "2M shared strings in 84 KB",
                                  "400k rows", "500k distinct styles", "CSV of 400k rows"])
def test_api_rejects_hostile_files_with_422(client, token_for, hostile_files, case):
    _build, filename, figure, row = HOSTILE[case]
    response = client.post("/api/v1/banks/import", headers={"Authorization": f"Bearer {token_for('admin')}"},
                           data={"file": (io.BytesIO(hostile_files[case]), filename), "bank": "题库"},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.json["created"] == 0
    [problem] = response.json["rejected"]
    assert figure in problem["message"] and problem["row"] == row


def test_web_upload_shows_the_limit_instead_of_failing(client, auth, app, hostile_files):
    auth.login()
    response = client.post("/banks/upload", data={"file": (io.BytesIO(hostile_files["400k rows"]), "x.xlsx"),
                                                  "bank": "题库", "unit": ""},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert "120,000" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Bank.id))) == 0


def test_cli_import_reports_the_limit(runner, tmp_path, hostile_files):
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(hostile_files["dimension A1:XFD1048576, one cell in the last row"])
    result = runner.invoke(args=["bank", "import", str(path), "--bank", "题库", "--json"])
    assert result.exit_code == 1
    assert "120,000" in result.output


def test_roster_and_units_uploads_are_protected(ctx, tree, hostile_files):
    bomb = hostile_files["dimension A1:XFD1048576, one cell in the last row"]
    report = import_roster(bomb, "roster.xlsx", actor=None, now=FIXED_NOW)
    assert not report.written and "120,000" in report.rejected[0].message
    report = import_units(hostile_files["CSV of 400k rows"], "units.csv", actor=None, now=FIXED_NOW)
    assert not report.written and "120,000" in report.rejected[0].message
    assert db.session.scalar(select(func.count(Participant.id))) == 0


def test_roster_web_upload_is_protected(client, auth, app, hostile_files):
    auth.login()
    response = client.post("/people/import", data={"file": (io.BytesIO(hostile_files["2M distinct shared strings"]),
                                                            "roster.xlsx")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200
    assert "500,000" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Participant.id))) == 0


# ---------------------------------------------------------------- real files still import

def test_valid_20000_row_bank_imports(ctx):
    rows = hostile.bank_rows(20_000)
    report = import_bank_file("两万题", hostile.to_xlsx(rows), "bank.xlsx", actor=None, now=FIXED_NOW)
    assert report.rejected == [] and report.written
    db.session.commit()
    assert report.created == 20_000
    assert db.session.scalar(select(func.count(Question.id))) == 20_000


def test_declared_dimension_is_ignored(ctx):
    """A1:XFD1048576 declared, three real rows: read as three short rows (no padding)."""
    rows = b"".join(hostile.inline_row(i, ["题干", "答案"] if i == 1 else [f"题{i}", "对"]) for i in (1, 2, 3))
    table = read_table(hostile.xlsx_package(hostile.sheet(rows, dimension="A1:XFD1048576")), "x.xlsx")
    assert table.rows == [(1, ["题干", "答案"]), (2, ["题2", "对"]), (3, ["题3", "对"])]


def test_trailing_empty_cells_do_not_count_as_columns(ctx):
    data = ("题干,答案" + "," * 1000 + "\r\n题,对" + "," * 1000 + "\r\n").encode()
    table = read_table(data, "x.csv")
    assert table.rows == [(1, ["题干", "答案"]), (2, ["题", "对"])]


# ---------------------------------------------------------------- each limit, with small settings

def csv_rows(count: int, width: int = 2) -> bytes:
    return "".join(",".join(f"r{i}c{j}" for j in range(width)) + "\n" for i in range(1, count + 1)).encode()


def test_rows_limit_counts_spreadsheet_rows(ctx):
    assert len(read_table(csv_rows(5), "x.csv", limits=UploadLimits.current().replace(rows=5)).rows) == 5
    problem = rejection(csv_rows(6), "x.csv", rows=5)
    assert "5" in problem.message and problem.row == 6
    rows = b"".join(hostile.inline_row(i, ["x"]) for i in (1, 9))
    problem = rejection(hostile.xlsx_package(hostile.sheet(rows)), "x.xlsx", rows=5)
    assert problem.row == 9  # the row number counts, not how many rows the file stores


def test_columns_limit(ctx):
    assert read_table(csv_rows(2, width=4), "x.csv", limits=UploadLimits.current().replace(columns=4))
    problem = rejection(csv_rows(2, width=5), "x.csv", columns=4)
    assert problem.row == 1 and "E" in problem.message and "4" in problem.message
    xlsx = hostile.xlsx_package(hostile.sheet(hostile.inline_row(1, ["a", "b", "c", "d", "e"])))
    assert rejection(xlsx, "x.xlsx", columns=4).row == 1


def test_columns_limit_outside_any_row(ctx):
    data = hostile.xlsx_package(hostile.sheet(b'<c r="XFD1"><v>1</v></c><row r="0"><c r="A0"><v>1</v></c></row>'))
    problem = rejection(data, "x.xlsx")
    assert problem.row == 1 and "256" in problem.message


def test_cells_limit(ctx):
    problem = rejection(csv_rows(3, width=4), "x.csv", cells=10)
    assert "10" in problem.message and problem.row == 3
    xlsx = hostile.xlsx_package(hostile.sheet(b"".join(hostile.inline_row(i, ["a"] * 4) for i in (1, 2, 3))))
    assert rejection(xlsx, "x.xlsx", cells=10).row == 3


def test_cell_and_row_length_limits(ctx):
    data = ("题干,答案\r\n" + "长" * 101 + ",对\r\n").encode()
    problem = rejection(data, "x.csv", cell_chars=100)
    assert problem.row == 2 and "100" in problem.message
    problem = rejection(("题干,答案\r\n" + "x," * 600 + "\r\n").encode(), "x.csv", row_chars=1000, columns=2000)
    assert problem.row == 2 and "1,000" in problem.message
    # beyond the csv module's own field limit (131,072 characters)
    problem = rejection(("题干,答案\r\n\"" + "x" * 200_000 + "\",对\r\n").encode(), "x.csv")
    assert problem.row == 2 and "32,767" in problem.message


def test_shared_strings_styles_sheets_and_elements_limits(ctx):
    data = hostile.xlsx_package(ONE_CELL, shared_strings=hostile.shared_strings_xml(11, distinct=True))
    assert "10" in rejection(data, "x.xlsx", shared_strings=10).message
    assert read_table(data, "x.xlsx", limits=UploadLimits.current().replace(shared_strings=11))
    data = hostile.xlsx_package(ONE_CELL, styles=hostile.styles_xml(30))
    assert "20" in rejection(data, "x.xlsx", styles=20).message
    sheets = "".join(f'<sheet name="S{i}" sheetId="{i}" r:id="rId1"/>' for i in range(1, 5))
    workbook = (f'<workbook {hostile.MAIN_NS} {hostile.REL_NS}><sheets>{sheets}</sheets></workbook>')
    data = hostile.xlsx_package(ONE_CELL, workbook_xml=workbook)
    assert "3" in rejection(data, "x.xlsx", sheets=3).message
    names = "".join(f'<definedName name="n{i}">Sheet1!$A$1</definedName>' for i in range(200))
    workbook = (f'<workbook {hostile.MAIN_NS} {hostile.REL_NS}><sheets><sheet name="Sheet1" sheetId="1" '
                f'r:id="rId1"/></sheets><definedNames>{names}</definedNames></workbook>')
    data = hostile.xlsx_package(ONE_CELL, workbook_xml=workbook)
    assert "xl/workbook.xml" in rejection(data, "x.xlsx", xml_elements=100).message


def test_zip_limits(ctx):
    data = hostile.xlsx_package(ONE_CELL, extra={f"custom/{i}.bin": b"x" for i in range(20)})
    assert "20" in rejection(data, "x.xlsx", zip_members=20).message
    assert read_table(data, "x.xlsx", limits=UploadLimits.current().replace(zip_members=30))
    # 1.2 MB that compresses about 2:1, and 1.2 MB that compresses about 1000:1
    noise = hostile.xlsx_package(ONE_CELL, extra={"custom/noise.txt": os.urandom(600_000).hex().encode()})
    assert read_table(noise, "x.xlsx")
    problem = rejection(noise, "x.xlsx", part_bytes=2**20)
    assert "custom/noise.txt" in problem.message and "1 MB" in problem.message
    assert "1 MB" in rejection(noise, "x.xlsx", uncompressed_bytes=2**20).message
    bomb = hostile.xlsx_package(ONE_CELL, extra={"custom/bomb.xml": b"<a/>" * 300_000})
    problem = rejection(bomb, "x.xlsx")
    assert "custom/bomb.xml" in problem.message and "100" in problem.message


def test_time_budget(ctx):
    assert "1e-06" in rejection(csv_rows(300), "x.csv", seconds=0.000001).message
    assert "1e-06" in rejection(hostile.xlsx_package(ONE_CELL), "x.xlsx", seconds=0.000001).message


# ---------------------------------------------------------------- odd workbooks

def damaged_message() -> str:
    return rejection(b"PK\x03\x04garbage", "x.xlsx").message


def test_workbook_without_a_worksheet_gets_its_own_message(ctx):
    problem = rejection(hostile.xlsx_package(None), "x.xlsx")
    assert problem.row == 1 and problem.message != damaged_message()


def test_workbook_without_a_worksheet_through_the_api(client, token_for):
    response = client.post("/api/v1/banks/import", headers={"Authorization": f"Bearer {token_for('admin')}"},
                           data={"file": (io.BytesIO(hostile.xlsx_package(None)), "x.xlsx"), "bank": "题库"},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and response.json["rejected"][0]["row"] == 1


def test_doctype_is_refused(ctx):
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
              b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
              b'<row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>')
    assert rejection(hostile.xlsx_package(laughs), "x.xlsx").message == damaged_message()


def test_a_sheet_listed_twice_is_refused(ctx):
    """openpyxl would open (and, without a <dimension>, fully parse) the same part per entry."""
    sheets = "".join(f'<sheet name="S{i}" sheetId="{i}" r:id="rId1"/>' for i in range(1, 4))
    workbook = f'<workbook {hostile.MAIN_NS} {hostile.REL_NS}><sheets>{sheets}</sheets></workbook>'
    assert rejection(hostile.xlsx_package(ONE_CELL, workbook_xml=workbook), "x.xlsx").message == damaged_message()


def test_parts_must_be_what_the_package_says(ctx):
    """A sheet pointing at the shared strings, or styles that are really a sheet, would be read
    by openpyxl without the limits the scan applied to what they really are."""
    sheets = '<sheet name="S1" sheetId="1" r:id="rId2"/>'
    workbook = f'<workbook {hostile.MAIN_NS} {hostile.REL_NS}><sheets>{sheets}</sheets></workbook>'
    data = hostile.xlsx_package(ONE_CELL, shared_strings=hostile.shared_strings_xml(3), workbook_xml=workbook)
    assert rejection(data, "x.xlsx").message == damaged_message()
    data = hostile.xlsx_package(ONE_CELL, styles=ONE_CELL)
    assert rejection(data, "x.xlsx").message == damaged_message()


def test_chart_sheet_is_refused(ctx):
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(hostile.xlsx_package(ONE_CELL)), "r") as source, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/_rels/workbook.xml.rels":
                content = content.replace(b"</Relationships>", (
                    f'<Relationship Id="rId9" Type="{hostile.RT}/chartsheet" '
                    'Target="chartsheets/sheet1.xml"/></Relationships>').encode())
            target.writestr(item, content)
    problem = rejection(buffer.getvalue(), "x.xlsx")
    assert problem.row == 1 and problem.message != damaged_message()
