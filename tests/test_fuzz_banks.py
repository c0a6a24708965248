"""Bad bank files never give a 500: cell parsers that crashed (difficulty “高” hit
`int.is_integer`, which Python 3.11 lacks), and a Hypothesis fuzz test over generated CSV and
XLSX bank files (odd cells, encodings, delimiters, damaged zips) and bank ZIPs with pictures (a
图片 column naming good, broken, missing and oddly named files) through import_bank_file() and,
for a few examples, through the API and web upload routes.

The fuzz runs derandomized (the same examples on every run, so CI is stable) with a bounded
number of examples; it writes for real (not a dry run) so that anything the database refuses
(an over-long value, a NUL) would surface too, and rolls back after each example."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import func, select

from quiz.extensions import db
from quiz.models import Bank, Picture, Question
from quiz.services.importer import import_bank_file, parse_difficulty, parse_points
from quiz.questions import AnswerError
from tests.conftest import FIXED_NOW, HEADER, csv_bytes

FUZZ = settings(derandomize=True, database=None, deadline=None, print_blob=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])


def bank_with(**cells) -> list[list[str]]:
    """A header and one 单选 row, with the given columns (by header name) changed."""
    row = dict(zip(HEADER, ["单选", "枫桥经验发源于哪个省？", "江苏", "浙江", "福建", "广东", "B", "", "", "", ""]))
    row.update(cells)
    return [HEADER, [row[h] for h in HEADER]]


# ---------------------------------------------------------------- the cell parsers

@pytest.mark.parametrize("value", ["高", "低", "nan", "NaN", "inf", "-Infinity", "1e999", "0", "6", "2.5",
                                   "1_0", "0x3", "٣", "三", "½", "--1", "", "中等"])
def test_difficulty_cells_never_crash(app, value):
    with app.app_context():
        try:
            result = parse_difficulty(value)
        except AnswerError as exc:
            assert str(exc)
        else:
            assert result is None or 1 <= result <= 5


@pytest.mark.parametrize("value,expected", [("3", 3), ("３", 3), ("²", 2), ("5.0", 5), ("困难", 5), ("", None)])
def test_difficulty_numbers_and_words(app, value, expected):
    with app.app_context():
        assert parse_difficulty(value) == expected


@pytest.mark.parametrize("value", ["1e999", "-1e999", "nan", "inf", "Infinity", "0", "-2", "1001", "1_0",
                                   "0x10", "½", "1/2", "两分", "1e-400"])
def test_odd_points_are_row_problems(app, value):
    with app.app_context(), pytest.raises(AnswerError):
        parse_points(value)


@pytest.mark.parametrize("value,expected", [("2", 2.0), ("1.5", 1.5), (".5", 0.5), ("1e2", 100.0), ("²", 2.0),
                                            ("１０", 10.0), ("", None)])
def test_points_that_are_numbers(app, value, expected):
    with app.app_context():
        assert parse_points(value) == expected


def test_difficulty_word_reported_by_the_service(ctx):
    report = import_bank_file("题库", csv_bytes(bank_with(难度="高")), "b.csv", actor=None, now=FIXED_NOW)
    assert not report.accepted and not report.file_error
    [problem] = report.rejected
    assert problem.row == 2 and "高" in problem.message
    report = import_bank_file("题库", csv_bytes(bank_with(难度="高")), "b.csv", actor=None, now=FIXED_NOW,
                              skip_invalid=True)
    assert report.rejected[0].row == 2 and report.items == [] and not report.accepted


def test_difficulty_word_through_the_api(client, token_for):
    response = client.post("/api/v1/banks/import", headers={"Authorization": f"Bearer {token_for('admin')}"},
                           data={"file": (io.BytesIO(csv_bytes(bank_with(难度="高"))), "b.csv"), "bank": "题库"},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.json["rejected"][0]["row"] == 2 and "高" in response.json["rejected"][0]["message"]


def test_difficulty_word_through_the_web_upload_and_confirm(client, auth, app):
    from tests.test_views_banks import confirm, preview_rows

    auth.login()
    rows = bank_with(难度="高") + [["判断", "共建共治共享是社会治理格局。", "", "", "", "", "对", "", "", "", ""]]
    response = client.post("/banks/upload", data={"file": (io.BytesIO(csv_bytes(rows)), "b.csv"), "bank": "题库",
                                                  "unit": ""}, content_type="multipart/form-data")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert ("rejected", 2) in [(status, row) for status, row, _body in preview_rows(page)]
    response = confirm(client, page, skip_invalid="y")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count(Question.id))) == 1


def test_difficulty_word_through_the_cli(runner, tmp_path):
    path = tmp_path / "b.csv"
    path.write_bytes(csv_bytes(bank_with(难度="高")))
    result = runner.invoke(args=["bank", "import", str(path), "--bank", "题库", "--json"])
    assert result.exit_code == 1
    rejected = json.loads(result.output[result.output.index("{"):])["rejected"]
    assert rejected[0]["row"] == 2 and "高" in rejected[0]["message"]


def test_too_many_tags_is_a_row_problem(ctx):
    """tags_text is VARCHAR(1000): PostgreSQL refused the insert (a 500) for many long tags."""
    tags = ";".join(f"知识点{i:02d}" * 4 for i in range(60))
    report = import_bank_file("题库", csv_bytes(bank_with(知识点=tags)), "b.csv", actor=None, now=FIXED_NOW)
    assert [p.row for p in report.rejected] == [2]
    report = import_bank_file("题库", csv_bytes(bank_with(知识点=tags[:300])), "b.csv", actor=None, now=FIXED_NOW)
    assert report.written
    db.session.commit()
    assert db.session.scalar(select(func.count(Question.id))) == 1


# ---------------------------------------------------------------- strategies

HEADER_NAMES = {
    "type": ["题型", "题目类型", "type", "类型", "题型*"], "stem": ["题干", "题目", "stem", "问题", "题干（必填）"],
    "answer": ["答案", "正确答案", "answer", "Ａｎｓｗｅｒ"], "explanation": ["解析", "explanation"],
    "points": ["分值", "points", "分数"], "difficulty": ["难度", "difficulty", "难易程度"],
    "tags": ["知识点", "tags", "标签"], "picture": ["图片", "image", "配图"],
    **{f"option{i}": [f"选项{letter}", letter, f"option{letter}"] for i, letter in enumerate("ABCDEFGH")},
}
TYPE_WORDS = ["单选", "多选", "判断", "填空", "单选题", "不定项选择题", "判断题", "论述", "single", "", "单 选"]
ANSWER_WORDS = ["A", "b", "AC", "A、C", "c,a", "ＡＣ", "Z", "正确", "错误", "√", "×", "T", "0", "1",
                "共建|共享", "浙江;浙江省", "|", ";", "A|B", "", "AAAA", "H"]
NUMBER_WORDS = ["1", "2", "0", "-1", "1.5", "1e999", "nan", "inf", "²", "½", "容易", "中等", "高", "1_0",
                "1000", "1001", "٣", "0x1", "", "  3  ", "10" * 40]
ODD_TEXT = ["", " ", "\n", "____", "（ ）", "'=1+1", "=HYPERLINK(\"x\")", "-5", "@x", "\u3000", "\ufeff",
            "\u202e", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "﷽", "\x01\x02", "a\x0bb", "\r", "\"", "\"\"", ",", "\t", "A.甲", "Ｄ. 丁"]

cell_text = st.one_of(
    st.sampled_from(TYPE_WORDS + ANSWER_WORDS + NUMBER_WORDS + ODD_TEXT),
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
    st.builds(lambda s, n: s * n, st.sampled_from(["长", "x,", "____"]), st.integers(1, 3000)),
)


short_text = st.one_of(st.sampled_from(["浙江", "江苏", "自治", "法治", "德治", "共建", "A.甲", "Ｄ. 丁", "正确", "错误"]),
                     st.text(min_size=1, max_size=8))


@st.composite
def plausible_row(draw) -> dict[str, str]:
    """field → cell of a row that could well be right: a type, a stem, options, an answer."""
    kind = draw(st.sampled_from(["单选", "多选", "判断", "填空", "单选题", "多项选择题", "判断题", "填空题", ""]))
    choice = kind.startswith(("单", "多"))
    options = [draw(short_text) for _ in range(draw(st.integers(2, 8)) if choice else draw(st.sampled_from([0, 0, 2])))]
    letters = "ABCDEFGH"[:max(len(options), 1)]
    if choice:
        answer = draw(st.one_of(st.sampled_from(letters), st.text(alphabet=letters + "、, ；", min_size=1, max_size=6)))
    elif kind.startswith("判断"):
        answer = draw(st.sampled_from(["正确", "错误", "对", "错", "√", "×", "T", "F", "1", "0", "是", "A"]))
    else:
        answer = "|".join(draw(st.lists(short_text.map(lambda t: t.replace("|", "")), min_size=1, max_size=3)))
    row = {"type": kind, "stem": draw(short_text) + draw(st.sampled_from(["", "____", "（ ）", "____与____"])),
           "answer": answer, "explanation": draw(st.sampled_from(["", "解析", "依据《条例》第三条。"])),
           "points": draw(st.sampled_from(NUMBER_WORDS)), "difficulty": draw(st.sampled_from(NUMBER_WORDS)),
           "tags": draw(st.sampled_from(["", "枫桥经验", "五治融合;党建引领", "a、b，c"])),
           "picture": draw(st.sampled_from(PICTURE_CELLS))}
    row.update({f"option{i}": text for i, text in enumerate(options)})
    return row


@st.composite
def bank_tables(draw) -> list[list[str]]:
    """A header (canonical, aliases, shuffled, sometimes a title row above, a required column
    missing or a column repeated) and rows of plausible cells, a fifth of them replaced by
    odd ones."""
    fields = draw(st.lists(st.sampled_from(list(HEADER_NAMES)), max_size=14, unique=True))
    if draw(st.integers(0, 9)):
        fields = ["stem", "answer", *[f for f in fields if f not in ("stem", "answer")]]
    fields = draw(st.permutations(fields))
    header = [draw(st.sampled_from(HEADER_NAMES[f])) for f in fields]
    if header and draw(st.integers(0, 14)) == 0:
        header.append(header[0])
    rows = []
    for _ in range(draw(st.integers(0, 8))):
        values = draw(plausible_row())
        row = [values.get(f, "") if draw(st.integers(0, 4)) else draw(cell_text) for f in fields]
        rows.append(row[:draw(st.integers(0, len(row)))] if draw(st.integers(0, 9)) == 0 else row)
    title = [["2026年应知应会题库"]] if draw(st.integers(0, 4)) == 0 else []
    return title + [header] + rows


def _picture(fmt: str, color: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), color).save(buffer, fmt)
    return buffer.getvalue()


# Files a bank ZIP may hold (by name), and what 图片 cells may say.
PICTURE_FILES = {"a.png": _picture("PNG", "red"), "images/b.jpg": _picture("JPEG", "blue"),
                 "c.gif": _picture("GIF", "green"), "images/d.webp": _picture("WEBP", "white"),
                 "图片/红.png": _picture("PNG", "yellow"), "junk.png": b"not a picture at all",
                 "half.png": _picture("PNG", "red")[:40], "images/e.svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                 "__MACOSX/._a.png": b"\x00\x05"}
UNSAFE_FILES = {"../up.png": _picture("PNG", "red"), "/abs.png": b"x", "C:\\win.png": b"x"}
GOOD_PICTURE_CELLS = ["a.png", "images/b.jpg", "b.jpg", "C.GIF", "images\\d.webp", "图片/红.png", "红.png", " a.png "]
BAD_PICTURE_CELLS = ["junk.png", "half.png", "images/e.svg", "missing.png", "../up.png", "/a.png", "images/", "._a.png"]
PICTURE_CELLS = ["", "", *GOOD_PICTURE_CELLS, *BAD_PICTURE_CELLS]
picture_cell = st.one_of(st.just(""), st.sampled_from(GOOD_PICTURE_CELLS), st.sampled_from(GOOD_PICTURE_CELLS),
                         st.sampled_from(BAD_PICTURE_CELLS), cell_text)


def encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-8-sig":
        return text.encode("utf-8-sig")
    if encoding == "utf-16":
        return text.encode("utf-16")
    return text.encode(encoding, errors="replace")


@st.composite
def csv_files(draw) -> bytes:
    table = draw(bank_tables())
    delimiter = draw(st.sampled_from([",", ",", ",", "\t", ";"]))
    terminator = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    buffer = io.StringIO()
    if draw(st.booleans()):
        csv.writer(buffer, delimiter=delimiter, lineterminator=terminator,
                   quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))).writerows(table)
        text = buffer.getvalue()
    else:  # written by hand, unquoted: delimiters and newlines inside cells break the rows
        text = terminator.join(delimiter.join(row) for row in table)
    data = encode(text, draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16", "utf-8", "big5"])))
    return draw(mutated(data))


def mutated(data: bytes):
    """The bytes as they are, or damaged: truncated, bytes overwritten, a run inserted."""
    def damage(value, choice, position, junk):
        if not value or choice == 0:
            return value
        at = position % (len(value) + 1)
        if choice == 1:
            return value[:at]
        if choice == 2:
            return value[:at] + junk + value[at + len(junk):]
        return value[:at] + junk + value[at:]
    return st.builds(damage, st.just(data), st.sampled_from([0] * 7 + [1, 2, 3]), st.integers(0, 2**20),
                     st.binary(min_size=1, max_size=16))


SPREADSHEET_VALUES = st.one_of(
    cell_text, st.none(), st.booleans(), st.integers(-10**15, 10**15),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([1.0, 2.0, 0.5, 3.0, 1e300, -0.0]),
    st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2100, 1, 1)), st.dates(
        min_value=dt.date(1900, 3, 1), max_value=dt.date(2100, 1, 1)),
)


def xlsx_bytes(rows: list[list], title: str = "Sheet") -> bytes:
    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = title
    for row in rows:
        worksheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xml_safe(value):
    """openpyxl refuses control characters in strings; drop them (XLSX cannot hold them)."""
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def rezip(data: bytes, change) -> bytes:
    """The zip with `change(name, content)` applied to each member (None drops the member)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = change(item.filename, source.read(item.filename))
            if content is not None:
                target.writestr(item.filename, content)
    return buffer.getvalue()


ZIP_CHANGES = {
    "none": lambda name, content: content,
    "drop the sheet": lambda name, content: None if name.startswith("xl/worksheets/") else content,
    "drop the workbook": lambda name, content: None if name == "xl/workbook.xml" else content,
    "drop the content types": lambda name, content: None if name == "[Content_Types].xml" else content,
    "garbage sheet": lambda name, content: b"\x00\xff garbage" if name.startswith("xl/worksheets/") else content,
    "garbage styles": lambda name, content: b"<styleSheet" if name == "xl/styles.xml" else content,
    "huge dimension": lambda name, content: content.replace(b'<dimension ref="', b'<dimension ref="A1:XFD1048576 ')
    if name.startswith("xl/worksheets/") else content,
    "row far down": lambda name, content: content.replace(b"</sheetData>", b'<row r="999999"><c r="A999999" '
                                                          b't="inlineStr"><is><t>x</t></is></c></row></sheetData>')
    if name.startswith("xl/worksheets/") else content,
    "cell far right": lambda name, content: content.replace(b"</row>", b'<c r="ZZ1"><v>1</v></c></row>', 1)
    if name.startswith("xl/worksheets/") else content,
    "shared string index out of range": lambda name, content: content.replace(b"<v>0</v>", b"<v>99999</v>")
    if name.startswith("xl/worksheets/") else content,
    "cell outside any row": lambda name, content: content.replace(b"<sheetData>", b'<sheetData><c r="XFD1">'
                                                                  b"<v>1</v></c>", 1)
    if name.startswith("xl/worksheets/") else content,
    "rows numbered 0 and -1": lambda name, content: content.replace(b'<row r="1"', b'<row r="0"', 1)
    .replace(b'<row r="2"', b'<row r="-1"', 1) if name.startswith("xl/worksheets/") else content,
    "doctype": lambda name, content: content.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY e "e">]>', 1)
    if name.startswith("xl/worksheets/") else content,
}


@st.composite
def xlsx_files(draw) -> bytes:
    table = draw(bank_tables())
    rows = [[xml_safe(draw(SPREADSHEET_VALUES)) if draw(st.integers(0, 3)) == 0 else xml_safe(cell) for cell in row]
            for row in table]
    data = xlsx_bytes(rows, title=draw(st.sampled_from(["Sheet", "题库", "Sheet1"])))
    change = draw(st.sampled_from(sorted(ZIP_CHANGES))) if draw(st.integers(0, 2)) == 0 else "none"
    data = rezip(data, ZIP_CHANGES[change])
    return draw(mutated(data))


def _rare(draw, one_in: int) -> bool:
    """True about once in `one_in` draws (Hypothesis favours the ends of a range: 7 is in the middle)."""
    return draw(st.integers(0, one_in - 1)) == min(7, one_in // 2)


@st.composite
def zip_banks(draw) -> bytes:
    """A bank ZIP: a CSV or XLSX sheet with a 图片 column, mostly good rows naming good and bad
    pictures, some generated ones (sometimes the sheet in a folder, rarely two sheets or none), and
    a selection of PICTURE_FILES (rarely an unsafe name too); sometimes damaged as a whole."""
    header = [*HEADER, draw(st.sampled_from(HEADER_NAMES["picture"]))]
    rows = []
    for i in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            rows.append(["单选", f"图中是哪一种？{i}", "甲", "乙", "丙", "", "A", "", "", "", "", draw(picture_cell)])
        else:
            values = draw(plausible_row())
            rows.append([values.get(f, "") for f in ("type", "stem", "option0", "option1", "option2", "option3",
                                                     "answer", "explanation", "points", "difficulty", "tags",
                                                     "picture")])
    table = [header, *rows]
    if draw(st.booleans()):
        sheet, name = csv_bytes(table), "题库.csv"
    else:
        sheet, name = xlsx_bytes([[xml_safe(c) for c in row] for row in table]), "题库.xlsx"
    sheets = [name]
    if _rare(draw, 5):
        sheets = draw(st.sampled_from([["题库/" + name], [], [name, "另一个.csv"]]))
    files = [f for f in sorted(PICTURE_FILES) if not _rare(draw, 4)]
    if _rare(draw, 20):
        files.append(draw(st.sampled_from(sorted(UNSAFE_FILES))))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", draw(st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]))) as archive:
        for sheet_name in sheets:
            archive.writestr(sheet_name, sheet)
        for file in files:
            archive.writestr(file, PICTURE_FILES.get(file) or UNSAFE_FILES[file])
    return draw(mutated(buffer.getvalue()))


def check_report(report) -> None:
    """A report is either accepted or says why not, each problem with a row and a message."""
    assert report.accepted or report.rejected
    for problem in report.rejected:
        assert problem.row >= 1 and problem.message.strip()
    if report.file_error:
        assert len(report.rejected) == 1 and not report.written


def import_for_real(data: bytes, filename: str) -> None:
    try:
        report = import_bank_file("模糊测试", data, filename, actor=None, now=FIXED_NOW, skip_invalid=True)
        check_report(report)
        if report.written:
            db.session.flush()
    finally:
        db.session.rollback()


# ---------------------------------------------------------------- the fuzz tests

@settings(FUZZ, max_examples=250)
@given(data=csv_files(), filename=st.sampled_from(["bank.csv", "bank.txt", "bank.CSV"]))
def test_fuzz_csv_banks(ctx, data, filename):
    import_for_real(data, filename)


@settings(FUZZ, max_examples=80)
@given(data=xlsx_files())
def test_fuzz_xlsx_banks(ctx, data):
    import_for_real(data, "bank.xlsx")


@settings(FUZZ, max_examples=80)
@given(data=zip_banks())
def test_fuzz_zip_banks_with_pictures(ctx, data):
    import_for_real(data, "bank.zip")


@settings(FUZZ, max_examples=8)
@given(data=st.one_of(csv_files().map(lambda d: (d, "b.csv")), xlsx_files().map(lambda d: (d, "b.xlsx")),
                      zip_banks().map(lambda d: (d, "b.zip"))))
def test_fuzz_api_and_web_upload_never_5xx(app, client, auth, token_for, data):
    content, filename = data
    token = token_for("admin")
    response = client.post("/api/v1/banks/import", headers={"Authorization": f"Bearer {token}"},
                           data={"file": (io.BytesIO(content), filename), "bank": "模糊测试"},
                           content_type="multipart/form-data")
    assert response.status_code in (200, 422), response.get_data(as_text=True)[:500]
    auth.login()
    response = client.post("/banks/upload", data={"file": (io.BytesIO(content), filename), "bank": "模糊测试2",
                                                  "unit": ""}, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    with app.app_context():
        db.session.execute(Question.__table__.delete())
        db.session.execute(Picture.__table__.delete())
        db.session.execute(Bank.__table__.delete().where(Bank.name.in_(["模糊测试", "模糊测试2"])))
        db.session.commit()
