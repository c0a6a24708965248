"""Benchmark: how long reading (or rejecting) hostile spreadsheets takes, and how much memory.

Usage:  python bench/bench_uploads.py [--only NAME ...] [--repeat 1]

Builds each hostile upload of issue 8 (an XLSX declaring A1:XFD1048576 with one cell in the
last row, 2 million shared strings in 84 KB, 400,000 rows in 2 MB, 500,000 cell styles, and
their low-compression and CSV variants) plus a valid 20,000-row bank as XLSX and CSV and a
100,000-person roster, then calls quiz.services.tables.read_table() on each in a fresh child
process (forked, so one case's memory does not hide the next) and prints the wall time, the
growth of the peak resident set size, the peak of Python allocations (tracemalloc, a second
run) and the outcome. The limits are the defaults of quiz/config.py.

The builders are imported by tests/test_upload_limits.py, so the tests and this script use
the same files.
"""
from __future__ import annotations

import argparse
import csv
import io
import multiprocessing
import random
import resource
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MAIN_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
REL_NS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


# ---------------------------------------------------------------- building XLSX by hand

def xlsx_package(sheet_xml: bytes | None, *, shared_strings: bytes | None = None,
                 styles: bytes | None = None, extra: dict[str, bytes] | None = None,
                 workbook_xml: str | None = None, level: int = 9) -> bytes:
    """A minimal valid XLSX around the given parts (as Excel lays them out).

    `sheet_xml=None` leaves the workbook without any worksheet."""
    overrides = [f'<Override PartName="/xl/workbook.xml" ContentType="{CT}.sheet.main+xml"/>']
    rels = []
    sheets = ""
    if sheet_xml is not None:
        overrides.append(f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{CT}.worksheet+xml"/>')
        rels.append(f'<Relationship Id="rId1" Type="{RT}/worksheet" Target="worksheets/sheet1.xml"/>')
        sheets = '<sheet name="Sheet1" sheetId="1" r:id="rId1"/>'
    if shared_strings is not None:
        overrides.append(f'<Override PartName="/xl/sharedStrings.xml" ContentType="{CT}.sharedStrings+xml"/>')
        rels.append(f'<Relationship Id="rId2" Type="{RT}/sharedStrings" Target="sharedStrings.xml"/>')
    if styles is not None:
        overrides.append(f'<Override PartName="/xl/styles.xml" ContentType="{CT}.styles+xml"/>')
        rels.append(f'<Relationship Id="rId3" Type="{RT}/styles" Target="styles.xml"/>')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>' + "".join(overrides) + "</Types>"))
        archive.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{RT}/officeDocument" Target="xl/workbook.xml"/></Relationships>'))
        archive.writestr("xl/workbook.xml", workbook_xml or (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook {MAIN_NS} {REL_NS}><sheets>{sheets}</sheets>'
            '</workbook>'))
        archive.writestr("xl/_rels/workbook.xml.rels", (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            + "".join(rels) + "</Relationships>"))
        if sheet_xml is not None:
            archive.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        if shared_strings is not None:
            archive.writestr("xl/sharedStrings.xml", shared_strings)
        if styles is not None:
            archive.writestr("xl/styles.xml", styles)
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def sheet(rows_xml: bytes, dimension: str = "A1") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><worksheet {MAIN_NS}><dimension ref="{dimension}"/>'
            "<sheetData>").encode() + rows_xml + b"</sheetData></worksheet>"


def inline_row(number: int, values: list[str]) -> bytes:
    """One <row> of inline-string cells, A, B, C …"""
    from openpyxl.utils.cell import get_column_letter
    from xml.sax.saxutils import escape

    cells = "".join(f'<c r="{get_column_letter(i)}{number}" t="inlineStr"><is><t>{escape(v)}</t></is></c>'
                    for i, v in enumerate(values, start=1) if v)
    return f'<row r="{number}">{cells}</row>'.encode()


def styles_xml(count: int, distinct: bool = False) -> bytes:
    """A stylesheet with `count` cell formats (cellXfs). `distinct` varies them, which is what
    a bloated real workbook looks like and compresses far less than identical records."""
    if distinct:
        xfs = b"".join(b'<xf numFmtId="%d" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="%d"/>'
                       % (i, i % 2) for i in range(count))
    else:
        xfs = b'<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>' * count
    return (f'<?xml version="1.0" encoding="UTF-8"?><styleSheet {MAIN_NS}>'
            '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
            '<borders count="1"><border/></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            f'<cellXfs count="{count}">').encode() + xfs + b"</cellXfs></styleSheet>"


def shared_strings_xml(count: int, distinct: bool = False) -> bytes:
    if distinct:
        body = b"".join(b"<si><t>%d</t></si>" % i for i in range(count))
    else:
        body = b"<si><t>a</t></si>" * count
    return f'<?xml version="1.0" encoding="UTF-8"?><sst {MAIN_NS} count="{count}" uniqueCount="{count}">'.encode() \
        + body + b"</sst>"


# ---------------------------------------------------------------- the hostile files of issue 8

def dimension_bomb() -> bytes:
    """1.5 KB: declares A1:XFD1048576 and has one cell, in the last row (was: 38 s, +3 GB)."""
    return xlsx_package(sheet(b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>',
                              dimension="A1:XFD1048576"))


def shared_strings_bomb(count: int = 2_000_000) -> bytes:
    """2 million shared strings in 84 KB (was: 37 s)."""
    return xlsx_package(sheet(b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>'),
                        shared_strings=shared_strings_xml(count))


def shared_strings_distinct(count: int = 2_000_000) -> bytes:
    """2 million different shared strings: compresses only ~6:1, so the count limit stops it."""
    return xlsx_package(sheet(b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>'),
                        shared_strings=shared_strings_xml(count, distinct=True), level=1)


def many_rows(count: int = 400_000) -> bytes:
    """400,000 rows of one number each, 2 MB (was: 40 s)."""
    rows = b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (i, i, i) for i in range(1, count + 1))
    return xlsx_package(sheet(rows, dimension=f"A1:A{count}"))


def styles_bomb(count: int = 500_000) -> bytes:
    """500,000 identical cell styles (was: 15 s, +330 MB): stopped by the compression ratio."""
    return xlsx_package(sheet(b'<row r="1"><c r="A1"><v>1</v></c></row>'), styles=styles_xml(count))


def styles_distinct(count: int = 500_000) -> bytes:
    """500,000 different cell styles: stopped by the style count."""
    return xlsx_package(sheet(b'<row r="1"><c r="A1"><v>1</v></c></row>'), styles=styles_xml(count, True))


def wide_row() -> bytes:
    """One row with a cell in column XFD (16,384)."""
    return xlsx_package(sheet(b'<row r="1"><c r="A1"><v>1</v></c><c r="XFD1"><v>2</v></c></row>'))


def csv_many_rows(count: int = 400_000) -> bytes:
    return "".join(f"{i},题{i}\n" for i in range(count)).encode()


def csv_commas(size: int = 20 * 1024 * 1024 - 1024) -> bytes:
    """An upload just under the 20 MB request limit, one line of commas (20 million fields)."""
    return b"," * size


# ---------------------------------------------------------------- valid files

BANK_HEADER = ["题型", "题干", "选项A", "选项B", "选项C", "选项D", "选项E", "答案", "解析", "分值", "难度", "知识点"]
TAGS = ["枫桥经验", "共建共治共享", "五治融合", "党建引领", "共同缔造", "积分制", "网格化管理"]


def bank_rows(count: int = 20_000, seed: int = 1) -> list[list[str]]:
    """A realistic bank (header first): the four types in contest proportions (as bench_import.py)."""
    rnd = random.Random(seed)
    rows = [BANK_HEADER]
    for i in range(count):
        kind = rnd.choices(["单选", "多选", "判断", "填空"], weights=[40, 25, 20, 15])[0]
        stem = f"第{i}题：关于{rnd.choice(TAGS)}，下列说法中{rnd.choice(['正确', '错误'])}的是（编号{i}）"
        options, answer = [""] * 5, ""
        if kind == "单选":
            options = [f"选项内容{j}-{i}" for j in range(4)] + [""]
            answer = rnd.choice("ABCD")
        elif kind == "多选":
            options = [f"选项内容{j}-{i}" for j in range(5)]
            answer = "、".join(sorted(rnd.sample("ABCDE", rnd.randint(2, 4))))
        elif kind == "判断":
            answer = rnd.choice(["正确", "错误", "对", "×"])
        else:
            stem += "，____与____。"
            answer = "共建;共同建设|共享"
        rows.append([kind, stem, *options, answer, f"解析{i}：依据相关文件精神。", rnd.choice(["", "2"]),
                     rnd.choice(["容易", "中等", "困难", ""]), ";".join(rnd.sample(TAGS, 2))])
    return rows


def roster_rows(count: int = 100_000) -> list[list[str]]:
    units = ["乔司街道/三角村社区", "乔司街道/永丰村", "伦教街道/常教社区"]
    return [["姓名", "手机号", "单位"]] + [[f"参赛者{i}", f"139{i:08d}", units[i % 3]] for i in range(count)]


def to_xlsx(rows: list[list[str]], shared: bool = False) -> bytes:
    """Rows as an XLSX workbook written by openpyxl (write-only: inline strings, like many
    exporting systems; `shared=True`: shared strings, as Excel and WPS write)."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=not shared)
    worksheet = workbook.active if shared else workbook.create_sheet("Sheet1")
    for row in rows:
        worksheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


CASES = {
    "xlsx-dimension-A1:XFD1048576": (dimension_bomb, "x.xlsx"),
    "xlsx-2M-shared-strings-84KB": (shared_strings_bomb, "x.xlsx"),
    "xlsx-2M-distinct-shared-strings": (shared_strings_distinct, "x.xlsx"),
    "xlsx-400k-rows": (many_rows, "x.xlsx"),
    "xlsx-500k-styles": (styles_bomb, "x.xlsx"),
    "xlsx-500k-distinct-styles": (styles_distinct, "x.xlsx"),
    "xlsx-cell-in-column-XFD": (wide_row, "x.xlsx"),
    "csv-400k-rows": (csv_many_rows, "x.csv"),
    "csv-20MB-of-commas": (csv_commas, "x.csv"),
    "valid-bank-20000-xlsx": (lambda: to_xlsx(bank_rows()), "bank.xlsx"),
    "valid-bank-20000-xlsx-shared-strings": (lambda: to_xlsx(bank_rows(), shared=True), "bank.xlsx"),
    "valid-bank-20000-csv": (lambda: to_csv(bank_rows()), "bank.csv"),
    "valid-roster-100000-xlsx": (lambda: to_xlsx(roster_rows()), "roster.xlsx"),
}


# ---------------------------------------------------------------- measuring

def _rss_kb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() // 1024


def _child(data: bytes, filename: str, traced: bool, queue) -> None:
    from quiz import create_app
    from quiz.services.tables import FileRejected, read_table

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tempfile.mkdtemp()}/b.sqlite3",
                      "SECRET_KEY": "bench"})
    with app.test_request_context():
        read_table(b"a,b\n1,2\n", "warm.csv")  # load translations and modules first
        before = _rss_kb()
        if traced:
            tracemalloc.start()
        start = time.perf_counter()
        try:
            table = read_table(data, filename)
            outcome = f"read {len(table.rows):,} rows"
        except FileRejected as exc:
            outcome = f"rejected: {exc.message}"
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    queue.put((seconds, max(grown, 0) / 1024, peak / 2**20, outcome))


def measure(data: bytes, filename: str, traced: bool) -> tuple[float, float, float, str]:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_child, args=(data, filename, traced, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="case names (default: all)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(f"{'case':38} {'size':>9} {'time':>8} {'RSS +':>8} {'py peak':>8}  outcome")
    for name, (build, filename) in CASES.items():
        if args.only and name not in args.only:
            continue
        data = build()
        for _attempt in range(args.repeat):
            seconds, rss, _peak, outcome = measure(data, filename, traced=False)
            _s, _r, peak, _o = measure(data, filename, traced=True)
            size = f"{len(data) / 1024:,.0f} KB" if len(data) < 2**20 else f"{len(data) / 2**20:,.1f} MB"
            print(f"{name:38} {size:>9} {seconds:7.2f}s {rss:6.0f}MB {peak:6.0f}MB  {outcome[:110]}")


if __name__ == "__main__":
    main()
