"""HTML pages for question banks (/banks/…): upload → preview → confirm, browse and filter,
edit, retire/restore, export, and the organiser's unit scope.

UI strings are being translated concurrently, so these tests assert on data (stems, bank
names, row numbers, counts, status codes, redirects, database rows), never on UI wording.
"""
from __future__ import annotations

import html as htmllib
import io
import re

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from quiz import create_app
from quiz.extensions import db
from quiz.models import Bank, ImportLog, Question, Unit
from quiz.services.importer import import_bank_file
from tests.conftest import FIXED_NOW, HEADER, csv_bytes

GOOD_ROWS = [
    ["单选", "枫桥经验发源于哪个省？", "江苏", "浙江", "福建", "广东", "B", "诸暨枫桥镇", "2", "容易", "枫桥经验"],
    ["多选", "五治融合包括哪些？", "政治", "自治", "法治", "财治", "ABC", "", "", "中等", "五治融合"],
    ["判断", "共建共治共享是社会治理格局。", "", "", "", "", "对", "", "", "", ""],
    ["填空", "小事不出____，大事不出____。", "", "", "", "", "村|镇", "", "", "", "枫桥经验"],
]
GOOD_STEMS = [row[1] for row in GOOD_ROWS]


# ---------------------------------------------------------------- helpers

def upload(client, data: bytes, filename: str = "x.csv", bank: str = "新题库", unit="") -> object:
    return client.post("/banks/upload",
                       data={"file": (io.BytesIO(data), filename), "bank": bank, "unit": str(unit)},
                       content_type="multipart/form-data")


def hidden_inputs(page: str) -> dict[str, str]:
    """name → value of every <input type="hidden"> in the page (attribute order free)."""
    found = {}
    for tag in re.findall(r"<input\b[^>]*>", page):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag))
        if attrs.get("type") == "hidden" and "name" in attrs:
            found[attrs["name"]] = htmllib.unescape(attrs.get("value", ""))
    return found


def preview_counts(page: str) -> list[int]:
    """The five preview figures in order: new, updated, unchanged, repeats merged, problems."""
    return [int(n) for n in re.findall(r'<div class="stat[^"]*">\s*<b>(\d+)</b>', page)]


def preview_rows(page: str) -> list[tuple[str, int, str]]:
    """(status, spreadsheet row, cell html) for every row of the preview table."""
    return [(status, int(row), body) for status, row, body in re.findall(
        r'<tr class="status-(\w+)">\s*<td class="num">(\d+)</td>(.*?)</tr>', page, re.S)]


def stems_on(page: str) -> list[str]:
    return [htmllib.unescape(s).strip() for s in re.findall(r'<div class="q-stem">(.*?)</div>', page, re.S)]


def confirm(client, page: str, **extra):
    wanted = ("upload_id", "bank", "unit", "csrf_token")
    fields = {k: v for k, v in hidden_inputs(page).items() if k in wanted}
    assert fields.get("upload_id") and fields.get("bank"), "the preview must carry upload_id and bank"
    return client.post("/banks/confirm", data={**fields, **extra})


def make_bank(app, name: str, rows: list[list[str]], unit_id: int | None = None) -> int:
    """A bank created through the import service (as the CLI would), owned by `unit_id`."""
    with app.app_context():
        unit = db.session.get(Unit, unit_id) if unit_id else None
        report = import_bank_file(name, csv_bytes([HEADER, *rows]), "seed.csv", actor=None,
                                  now=FIXED_NOW, unit=unit)
        assert report.written, report.rejected
        db.session.commit()
        return db.session.execute(select(Bank.id).where(Bank.name == name)).scalar_one()


def question_id(app, stem: str) -> int:
    with app.app_context():
        return db.session.execute(select(Question.id).where(Question.stem == stem)).scalar_one()


def stored(app, qid: int) -> Question:
    with app.app_context():
        question = db.session.get(Question, qid)
        db.session.expunge(question)
        return question


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def edit_form(**overrides) -> dict:
    form = {"stem": "枫桥经验发源于哪个省？", "option_a": "江苏", "option_b": "浙江", "option_c": "福建",
            "option_d": "广东", "answer": "B", "explanation": "", "points": "", "difficulty": "",
            "tags": ""}
    form.update(overrides)
    return form


# ---------------------------------------------------------------- access

def test_anonymous_is_sent_to_login_and_judge_is_forbidden(client, auth):
    response = client.get("/banks/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert "next=" in response.headers["Location"]
    # Logging in from there comes back to the banks page.
    login = client.post(response.headers["Location"], data={"username": "admin", "password": "secret-pass"})
    assert login.status_code == 302 and login.headers["Location"].startswith("/banks/")
    assert client.get("/banks/").status_code == 200
    client.post("/logout")
    auth.login("judge1")
    assert client.get("/banks/").status_code == 403
    assert client.post("/banks/upload", data={"bank": "x"}).status_code == 403
    assert client.get("/banks/template.csv").status_code == 403


# ---------------------------------------------------------------- upload, preview, confirm

def test_upload_previews_without_saving_then_confirm_imports(client, auth, app):
    auth.login()
    data = csv_bytes([HEADER, *GOOD_ROWS])
    response = upload(client, data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert stems_on(page) == GOOD_STEMS  # every question, in file order
    assert preview_counts(page) == [4, 0, 0, 0, 0]
    assert sorted(row for _s, row, _b in preview_rows(page)) == [2, 3, 4, 5]
    assert {s for s, _r, _b in preview_rows(page)} == {"created"}
    assert count(app, Bank) == 0 and count(app, Question) == 0  # a preview writes nothing

    hidden = hidden_inputs(page)
    assert hidden["bank"] == "新题库"
    assert re.fullmatch(r"[0-9a-f]{32}", hidden["upload_id"])
    response = confirm(client, page)
    assert response.status_code == 302
    with app.app_context():
        bank = db.session.execute(select(Bank).where(Bank.name == "新题库")).scalar_one()
        assert response.headers["Location"] == f"/banks/{bank.id}"
        assert bank.unit_id is None  # admin, no unit chosen
        questions = db.session.execute(select(Question).where(Question.bank_id == bank.id)
                                       .order_by(Question.id)).scalars().all()
        assert [q.stem for q in questions] == GOOD_STEMS
        assert [q.answer for q in questions] == ["B", "ABC", "正确", "村|镇"]
        assert db.session.scalar(select(func.count(ImportLog.id))) == 1
    shown = client.get(response.headers["Location"])
    assert shown.status_code == 200
    assert stems_on(shown.get_data(as_text=True)) == GOOD_STEMS

    again = upload(client, data)
    page = again.get_data(as_text=True)
    assert again.status_code == 200
    assert preview_counts(page) == [0, 0, 4, 0, 0]
    assert {s for s, _r, _b in preview_rows(page)} == {"unchanged"}


def test_confirm_is_one_shot_and_tied_to_the_session(client, auth, app):
    auth.login()
    page = upload(client, csv_bytes([HEADER, *GOOD_ROWS])).get_data(as_text=True)
    assert confirm(client, page).status_code == 302
    # The stored upload is consumed: replaying the same confirmation finds nothing.
    assert confirm(client, page).status_code == 404
    # Another browser cannot confirm someone else's upload id.
    page = upload(client, csv_bytes([HEADER, *GOOD_ROWS]), bank="第二题库").get_data(as_text=True)
    other = app.test_client()
    other.post("/login", data={"username": "admin", "password": "secret-pass"})
    assert confirm(other, page).status_code == 404
    with app.app_context():
        assert db.session.execute(select(Bank).where(Bank.name == "第二题库")).first() is None


def test_upload_into_chosen_unit_and_gbk_and_xlsx(client, auth, app, tree):
    auth.login()
    gbk = csv_bytes([HEADER, GOOD_ROWS[0]], encoding="gbk")
    page = upload(client, gbk, filename="gbk.csv", bank="街道题库", unit=tree["乔司街道/永丰村"]).get_data(as_text=True)
    assert stems_on(page) == [GOOD_STEMS[0]]
    assert hidden_inputs(page)["unit"] == str(tree["乔司街道/永丰村"])
    assert confirm(client, page).status_code == 302

    workbook = Workbook()
    workbook.active.append(HEADER)
    workbook.active.append(GOOD_ROWS[2])
    buffer = io.BytesIO()
    workbook.save(buffer)
    page = upload(client, buffer.getvalue(), filename="b.xlsx", bank="街道题库").get_data(as_text=True)
    assert preview_counts(page) == [1, 0, 0, 0, 0]
    assert confirm(client, page).status_code == 302
    with app.app_context():
        bank = db.session.execute(select(Bank).where(Bank.name == "街道题库")).scalar_one()
        assert bank.unit.path == "乔司街道/永丰村"
        stems = db.session.execute(select(Question.stem).where(Question.bank_id == bank.id)).scalars()
        assert sorted(stems) == sorted([GOOD_STEMS[0], GOOD_STEMS[2]])


def test_upload_into_an_unknown_unit_is_refused(client, auth, app):
    auth.login()
    response = upload(client, csv_bytes([HEADER, *GOOD_ROWS]), unit="999999")
    assert response.status_code in (404, 422)
    assert count(app, Bank) == 0


def test_bad_row_is_named_and_blocks_import_unless_skipped(client, auth, app):
    auth.login()
    rows = [HEADER, GOOD_ROWS[0],
            ["单选", "坏题：答案不在选项中", "甲", "乙", "丙", "丁", "E", "", "", "", ""],
            GOOD_ROWS[2]]
    response = upload(client, csv_bytes(rows))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    problems = [(row, body) for status, row, body in preview_rows(page) if status == "rejected"]
    assert len(problems) == 1
    row, body = problems[0]
    assert row == 3  # header is row 1, the bad question is the second data row
    assert re.search(r"(?<!\d)3(?!\d)", re.sub(r"<[^>]+>", "", body)), "the message names the row"
    assert "E" in body  # the offending answer
    assert preview_counts(page)[4] == 1
    assert "skip_invalid" in page

    response = confirm(client, page)  # without skip_invalid: all or nothing
    assert response.status_code == 302 and response.headers["Location"] == "/banks/"
    assert count(app, Bank) == 0 and count(app, Question) == 0

    response = confirm(client, page, skip_invalid="y")
    assert response.status_code == 302
    with app.app_context():
        stems = set(db.session.execute(select(Question.stem)).scalars())
        assert stems == {GOOD_STEMS[0], GOOD_STEMS[2]}
        log = db.session.execute(select(ImportLog)).scalar_one()
        assert (log.created, log.rejected) == (2, 1)


def test_long_file_preview_is_capped_but_everything_is_imported(client, auth, app):
    auth.login()
    rows = [["判断", f"长文件第{i:03d}题", "", "", "", "", "对", "", "", "", ""] for i in range(1, 351)]
    page = upload(client, csv_bytes([HEADER, *rows])).get_data(as_text=True)
    assert preview_counts(page) == [350, 0, 0, 0, 0]
    assert len(preview_rows(page)) == 300
    assert "50" in re.sub(r"<[^>]+>", " ", page.split("</table>", 1)[1])  # "… and 50 more rows"
    assert confirm(client, page).status_code == 302
    assert count(app, Question) == 350


def test_preview_counts_agree_with_the_rows_listed(client, auth, app):
    auth.login()
    rows = [HEADER, GOOD_ROWS[0], ["单选", "坏题", "甲", "乙", "丙", "丁", "E", "", "", "", ""], GOOD_ROWS[2]]
    page = upload(client, csv_bytes(rows)).get_data(as_text=True)
    marked_new = sum(1 for status, _row, _body in preview_rows(page) if status == "created")
    assert preview_counts(page)[0] == marked_new


def test_skipping_every_row_does_not_create_an_empty_bank(client, auth, app):
    auth.login()
    rows = [HEADER, ["单选", "坏题", "甲", "乙", "丙", "丁", "E", "", "", "", ""]]
    page = upload(client, csv_bytes(rows)).get_data(as_text=True)
    confirm(client, page, skip_invalid="y")
    assert count(app, Bank) == 0


def test_wrong_extension_is_refused_without_500(client, auth, app):
    auth.login()
    response = upload(client, b"%PDF-1.4 whatever", filename="bank.pdf")
    assert response.status_code == 302 and response.headers["Location"] == "/banks/"
    page = client.get("/banks/").get_data(as_text=True)
    assert ".pdf" in page  # the flash names the rejected extension
    assert count(app, Bank) == 0


BAD_FILES = [
    (b"", "empty.csv"),
    (b"   \r\n\r\n", "blank.csv"),
    (bytes(range(256)) * 20, "garbage.csv"),
    (bytes(range(128, 256)) * 40, "high-bytes.csv"),
    (b"PK\x03\x04" + bytes(range(256)) * 4, "fake.csv"),
    (b"PK\x03\x04not a zip", "fake.xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xlsx"),
    ("名称,内容\n甲,乙\n".encode(), "noheader.csv"),
    ("题干,说明\n一道题,没有答案列\n".encode(), "noanswer.csv"),
    ("题型,题干,答案\n".encode(), "headeronly.csv"),
    ('题干,答案\n"未闭合的引号,A\n'.encode(), "quote.csv"),
]


@pytest.mark.parametrize("data, filename", BAD_FILES, ids=[name for _data, name in BAD_FILES])
def test_bad_files_give_a_preview_with_the_reason_never_500(client, auth, app, data, filename):
    auth.login()
    response = upload(client, data, filename=filename)
    assert response.status_code == 200, response.status_code
    page = response.get_data(as_text=True)
    counts = preview_counts(page)
    assert counts[:3] == [0, 0, 0] and counts[4] >= 1  # reported as a problem, nothing to import
    assert stems_on(page) == []
    assert count(app, Bank) == 0 and count(app, Question) == 0
    if "upload_id" in hidden_inputs(page):  # row-level problems: confirming as is imports nothing
        assert confirm(client, page).headers["Location"] == "/banks/"
        assert count(app, Question) == 0


def test_file_level_problem_cannot_be_confirmed(client, auth, app):
    auth.login()
    page = upload(client, "名称,内容\n甲,乙\n".encode()).get_data(as_text=True)
    assert preview_counts(page)[4] == 1
    assert stems_on(page) == []
    assert "upload_id" not in hidden_inputs(page)  # no confirm button for an unreadable file
    # Even a hand-made confirmation of that upload imports nothing.
    with client.session_transaction() as session:
        (upload_id,) = session["uploads"].keys()
    response = client.post("/banks/confirm",
                           data={"upload_id": upload_id, "bank": "新题库", "skip_invalid": "y"})
    assert response.status_code == 302 and response.headers["Location"] == "/banks/"
    assert count(app, Bank) == 0 and count(app, Question) == 0


def test_formula_looking_stem_is_kept_as_text_and_escaped_on_export(client, auth, app):
    auth.login()
    rows = [HEADER, ["单选", "=1+1", "2", "3", "", "", "A", "", "", "", ""],
            ["判断", "@SUM(A1) 是公式吗", "", "", "", "", "错", "", "", "", ""]]
    page = upload(client, csv_bytes(rows)).get_data(as_text=True)
    assert stems_on(page) == ["=1+1", "@SUM(A1) 是公式吗"]
    assert confirm(client, page).status_code == 302
    with app.app_context():
        bank_id = db.session.execute(select(Bank.id)).scalar_one()
        assert set(db.session.execute(select(Question.stem)).scalars()) == {"=1+1", "@SUM(A1) 是公式吗"}
    exported = client.get(f"/banks/{bank_id}/export.csv").data.decode("utf-8-sig")
    assert "'=1+1" in exported and "'@SUM(A1)" in exported
    # Re-importing our own export changes nothing (the ' is taken off again).
    page = upload(client, exported.encode("utf-8-sig"), filename="again.csv").get_data(as_text=True)
    assert preview_counts(page) == [0, 0, 2, 0, 0]
    # In XLSX the cell is text, never a formula.
    sheet = load_workbook(io.BytesIO(client.get(f"/banks/{bank_id}/export.xlsx").data)).active
    stem_cells = {cell.value: cell.data_type for cell in sheet["B"][1:]}
    assert stem_cells["=1+1"] == "s"


def test_html_in_a_stem_is_shown_as_text(client, auth, app):
    auth.login()
    rows = [HEADER, ["判断", "<script>alert(1)</script>", "", "", "", "", "对", "", "", "", ""]]
    page = upload(client, csv_bytes(rows)).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_overlong_stem_is_rejected_with_a_message(client, auth, app):
    auth.login()
    long_stem = "长" * 10_000
    rows = [HEADER, GOOD_ROWS[0], ["判断", long_stem, "", "", "", "", "对", "", "", "", ""]]
    response = upload(client, csv_bytes(rows))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    problems = [(row, body) for status, row, body in preview_rows(page) if status == "rejected"]
    assert [row for row, _b in problems] == [3]
    assert "10000" in problems[0][1]  # the message gives the length
    assert long_stem not in page
    confirm(client, page)
    assert count(app, Question) == 0


def test_body_over_the_size_limit_is_413_with_the_limit(client, auth, app):
    auth.login()
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 20 * 1024 * 1024
    response = upload(client, b"x" * (limit + 1), filename="huge.csv")
    assert response.status_code == 413
    text = response.get_data(as_text=True)
    assert "20" in re.sub(r"<[^>]+>", " ", text.split('<main', 1)[-1])  # names the 20 MB limit
    assert count(app, Bank) == 0


@pytest.fixture
def small_limit_app(app, users, database_url, tmp_path):
    small = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                        "WTF_CSRF_ENABLED": False, "UPLOAD_FOLDER": str(tmp_path / "small"),
                        "MAX_CONTENT_LENGTH": 1024})
    yield small
    with small.app_context():
        db.session.remove()
        db.engine.dispose()


def test_small_configured_limit_still_413(small_limit_app):
    client = small_limit_app.test_client()
    client.post("/login", data={"username": "admin", "password": "secret-pass"})
    response = upload(client, csv_bytes([HEADER, *GOOD_ROWS * 20]))
    assert response.status_code == 413
    assert "<h1>413</h1>" in response.get_data(as_text=True).replace(" ", "")


def test_small_configured_limit_is_not_announced_as_zero(small_limit_app):
    """Regression: the 413 message used to round a sub-megabyte limit down to "0 MB"."""
    client = small_limit_app.test_client()
    client.post("/login", data={"username": "admin", "password": "secret-pass"})
    response = upload(client, csv_bytes([HEADER, *GOOD_ROWS * 20]))
    text = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True).split("<main", 1)[-1])
    assert not re.search(r"(?<![\d.])0\s*(MB|M\b|兆)", text), text


# ---------------------------------------------------------------- CSRF

@pytest.fixture
def csrf_app(app, users, database_url, tmp_path):
    protected = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                            "WTF_CSRF_ENABLED": True, "UPLOAD_FOLDER": str(tmp_path / "csrf-uploads")})
    yield protected
    with protected.app_context():
        db.session.remove()
        db.engine.dispose()


def _token(page: str) -> str:
    return hidden_inputs(page)["csrf_token"]


def test_upload_without_csrf_token_is_refused(csrf_app, tmp_path):
    client = csrf_app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    response = client.post("/login",
                           data={"username": "admin", "password": "secret-pass", "csrf_token": token})
    assert response.status_code == 302
    data = csv_bytes([HEADER, *GOOD_ROWS])
    response = client.post("/banks/upload", data={"file": (io.BytesIO(data), "x.csv"), "bank": "新题库"},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    uploads = tmp_path / "csrf-uploads"
    assert not uploads.exists() or not any(uploads.iterdir())  # the file was not kept

    # The same request with the page's token is accepted: the token was the only difference.
    token = _token(client.get("/banks/").get_data(as_text=True))
    response = client.post("/banks/upload",
                           data={"file": (io.BytesIO(data), "x.csv"), "bank": "新题库", "csrf_token": token},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert stems_on(page) == GOOD_STEMS
    # And the confirmation without a token is refused too.
    fields = {k: v for k, v in hidden_inputs(page).items() if k != "csrf_token"}
    assert client.post("/banks/confirm", data=fields).status_code == 400
    with csrf_app.app_context():
        assert db.session.scalar(select(func.count(Bank.id))) == 0
        assert db.session.scalar(select(func.count(Question.id))) == 0


# ---------------------------------------------------------------- browse and filter

FILTER_ROWS = [
    ["单选", "枫桥经验的核心", "矛盾不上交", "全部上交", "", "", "A", "", "", "", "枫桥经验"],
    ["单选", "平安建设的目标", "平安", "动荡", "", "", "A", "提到枫桥", "", "", "平安建设"],
    ["多选", "五治融合包括", "政治", "自治", "法治", "", "ABC", "", "", "", "五治融合;枫桥经验"],
    ["判断", "枫桥经验诞生于1963年", "", "", "", "", "对", "", "", "", "枫桥经验"],
    ["单选", "已经停用的枫桥题", "甲", "乙", "", "", "B", "", "", "", "枫桥经验"],
]


def test_filters_by_text_type_tag_and_status(client, auth, app):
    bank_id = make_bank(app, "筛选题库", FILTER_ROWS)
    with app.app_context():
        db.session.execute(Question.__table__.update().where(Question.stem == "已经停用的枫桥题")
                           .values(retired=True))
        db.session.commit()
    auth.login()

    def shown(**args):
        response = client.get(f"/banks/{bank_id}", query_string=args)
        assert response.status_code == 200
        return set(stems_on(response.get_data(as_text=True)))

    active = {r[1] for r in FILTER_ROWS[:4]}
    assert shown() == active
    assert shown(q="枫桥") == {"枫桥经验的核心", "枫桥经验诞生于1963年", "平安建设的目标"}  # stem or explanation
    assert shown(type="single") == {"枫桥经验的核心", "平安建设的目标"}
    assert shown(type="multi") == {"五治融合包括"}
    assert shown(tag="枫桥经验") == {"枫桥经验的核心", "五治融合包括", "枫桥经验诞生于1963年"}
    assert shown(tag="枫桥") == set()  # whole tags only
    assert shown(q="枫桥", type="single", tag="枫桥经验") == {"枫桥经验的核心"}
    assert shown(status="retired") == {"已经停用的枫桥题"}
    assert shown(q="枫桥", type="single", tag="枫桥经验", status="retired") == {"已经停用的枫桥题"}
    assert shown(status="all") == {r[1] for r in FILTER_ROWS}
    assert shown(q="100%_") == set()  # LIKE wildcards are literal
    assert shown(type="nonsense") == active  # unknown filters are ignored, not errors
    assert client.get(f"/banks/{bank_id}?page=abc").status_code == 200


def test_text_search_ignores_latin_case(client, auth, app):
    bank_id = make_bank(app, "英文题库", [
        ["判断", "WTO 成立于1995年", "", "", "", "", "对", "", "", "", ""],
        ["判断", "GDP 是国内生产总值", "", "", "", "", "对", "", "", "", ""]])
    auth.login()
    page = client.get(f"/banks/{bank_id}?q=wto").get_data(as_text=True)
    assert stems_on(page) == ["WTO 成立于1995年"]


def test_paging_when_more_than_50_questions(client, auth, app):
    """Regression: the pager macro could not see page_url, so >50 questions gave a 500."""
    rows = [["判断", f"第{i:03d}道判断题", "", "", "", "", "对", "", "", "", ""] for i in range(1, 61)]
    bank_id = make_bank(app, "大题库", rows)
    auth.login()
    first = client.get(f"/banks/{bank_id}").get_data(as_text=True)
    assert stems_on(first) == [f"第{i:03d}道判断题" for i in range(1, 51)]
    assert 'class="pager"' in first
    assert re.search(rf'href="/banks/{bank_id}\?[^"]*page=2', first)
    second = client.get(f"/banks/{bank_id}?page=2").get_data(as_text=True)
    assert stems_on(second) == [f"第{i:03d}道判断题" for i in range(51, 61)]
    # Filters survive paging links.
    filtered = client.get(f"/banks/{bank_id}?type=judge&q=判断").get_data(as_text=True)
    link = re.search(rf'href="(/banks/{bank_id}\?[^"]*page=2[^"]*)"', filtered).group(1)
    link = htmllib.unescape(link)
    assert "type=judge" in link and "q=" in link
    assert client.get(f"/banks/{bank_id}?page=99").status_code == 200
    small = make_bank(app, "小题库", rows[:50])
    assert 'class="pager"' not in client.get(f"/banks/{small}").get_data(as_text=True)


def test_unknown_bank_and_question_are_404(client, auth):
    auth.login()
    assert client.get("/banks/999999").status_code == 404
    assert client.get("/banks/questions/999999/edit").status_code == 404
    assert client.post("/banks/questions/999999/retire").status_code == 404
    assert client.get("/banks/999999/export.csv").status_code == 404
    assert client.get("/banks/template.pdf").status_code == 404


# ---------------------------------------------------------------- edit

def test_edit_question_normalises_answer(client, auth, app):
    make_bank(app, "编辑题库", [GOOD_ROWS[0]])
    qid = question_id(app, GOOD_STEMS[0])
    auth.login()
    page = client.get(f"/banks/questions/{qid}/edit")
    assert page.status_code == 200
    assert GOOD_STEMS[0] in page.get_data(as_text=True)
    response = client.post(f"/banks/questions/{qid}/edit",
                           data=edit_form(answer="c", points="3", tags="枫桥经验；新标签", difficulty="困难"))
    assert response.status_code == 302
    question = stored(app, qid)
    assert response.headers["Location"] == f"/banks/{question.bank_id}"
    assert question.answer == "C"
    assert (question.points, question.difficulty, question.tags) == (3.0, 5, ["枫桥经验", "新标签"])
    response = client.post(f"/banks/questions/{qid}/edit", data=edit_form(answer="b"))
    assert response.status_code == 302
    assert stored(app, qid).answer == "B"


def test_edit_question_with_invalid_answer_is_422_and_keeps_the_old_one(client, auth, app):
    make_bank(app, "编辑题库", [GOOD_ROWS[0], GOOD_ROWS[1]])
    qid = question_id(app, GOOD_STEMS[0])
    auth.login()
    response = client.post(f"/banks/questions/{qid}/edit", data=edit_form(answer="E", stem="改过的题干"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "改过的题干" in page  # the form keeps what the user typed
    question = stored(app, qid)
    assert (question.answer, question.stem) == ("B", GOOD_STEMS[0])
    # Two letters for a single choice, and an empty option before a filled one, are refused too.
    assert client.post(f"/banks/questions/{qid}/edit", data=edit_form(answer="AB")).status_code == 422
    assert client.post(f"/banks/questions/{qid}/edit",
                       data=edit_form(option_b="", answer="A")).status_code == 422
    # Turning it into a copy of another question in the bank is refused.
    other = edit_form(stem=GOOD_STEMS[1], option_a="政治", option_b="自治", option_c="法治", option_d="财治")
    multi = question_id(app, GOOD_STEMS[1])
    assert client.post(f"/banks/questions/{multi}/edit", data={**other, "answer": "AB"}).status_code == 302
    assert stored(app, qid).answer == "B"
    assert stored(app, multi).answer == "AB"


def test_edit_judge_and_blank_questions(client, auth, app):
    make_bank(app, "编辑题库", [GOOD_ROWS[2], GOOD_ROWS[3]])
    judge, blank = question_id(app, GOOD_STEMS[2]), question_id(app, GOOD_STEMS[3])
    auth.login()
    assert client.get(f"/banks/questions/{judge}/edit").status_code == 200
    empty_options = {f"option_{c}": "" for c in "abcd"}
    response = client.post(f"/banks/questions/{judge}/edit",
                           data=edit_form(stem=GOOD_STEMS[2], answer="×", **empty_options))
    assert response.status_code == 302
    assert stored(app, judge).answer == "错误"
    assert client.post(f"/banks/questions/{judge}/edit",
                       data=edit_form(stem=GOOD_STEMS[2], answer="也许", **empty_options)).status_code == 422
    assert stored(app, judge).answer == "错误"
    # Two blanks in the stem need two answers.
    assert client.post(f"/banks/questions/{blank}/edit",
                       data=edit_form(stem=GOOD_STEMS[3], answer="村", **empty_options)).status_code == 422
    assert client.post(f"/banks/questions/{blank}/edit",
                       data=edit_form(stem=GOOD_STEMS[3], answer="村;社区|镇", **empty_options)).status_code == 302
    assert stored(app, blank).answer == "村;社区|镇"


def test_edit_question_overlong_stem_is_422(client, auth, app):
    make_bank(app, "编辑题库", [GOOD_ROWS[0]])
    qid = question_id(app, GOOD_STEMS[0])
    auth.login()
    limit = app.config["MAX_STEM_LENGTH"]
    response = client.post(f"/banks/questions/{qid}/edit", data=edit_form(stem="长" * (limit + 1)))
    assert response.status_code == 422
    assert stored(app, qid).stem == GOOD_STEMS[0]


def test_tags_from_the_edit_form_survive_an_export_round_trip(client, auth, app):
    """Regression: the edit form and the importer split tags differently, so a re-imported
    export of an edited question was reported as updated."""
    bank_id = make_bank(app, "标签题库", [GOOD_ROWS[0]])
    qid = question_id(app, GOOD_STEMS[0])
    auth.login()
    assert client.post(f"/banks/questions/{qid}/edit",
                       data=edit_form(tags="自治、法治")).status_code == 302
    exported = client.get(f"/banks/{bank_id}/export.csv").data
    page = upload(client, exported, bank="标签题库").get_data(as_text=True)
    assert preview_counts(page) == [0, 0, 1, 0, 0]


# ---------------------------------------------------------------- retire / restore

def test_retire_hides_question_and_excludes_it_from_export_restore_brings_it_back(client, auth, app):
    bank_id = make_bank(app, "停用题库", GOOD_ROWS[:2])
    qid = question_id(app, GOOD_STEMS[0])
    auth.login()
    response = client.post(f"/banks/questions/{qid}/retire")
    assert response.status_code == 302 and response.headers["Location"] == f"/banks/{bank_id}"
    assert stored(app, qid).retired is True
    assert stems_on(client.get(f"/banks/{bank_id}").get_data(as_text=True)) == [GOOD_STEMS[1]]
    assert stems_on(client.get(f"/banks/{bank_id}?status=retired").get_data(as_text=True)) == [GOOD_STEMS[0]]
    exported = client.get(f"/banks/{bank_id}/export.csv").data.decode("utf-8-sig")
    assert GOOD_STEMS[0] not in exported and GOOD_STEMS[1] in exported
    assert GOOD_STEMS[0] in client.get(f"/banks/{bank_id}/export.csv?retired=1").data.decode("utf-8-sig")
    workbook = load_workbook(io.BytesIO(client.get(f"/banks/{bank_id}/export.xlsx").data))
    assert [r[1] for r in workbook.active.iter_rows(min_row=2, values_only=True)] == [GOOD_STEMS[1]]

    response = client.post(f"/banks/questions/{qid}/retire", data={"restore": "1"})
    assert response.status_code == 302
    assert stored(app, qid).retired is False
    assert stems_on(client.get(f"/banks/{bank_id}").get_data(as_text=True)) == GOOD_STEMS[:2]
    assert GOOD_STEMS[0] in client.get(f"/banks/{bank_id}/export.csv").data.decode("utf-8-sig")


def test_retire_goes_back_to_the_filtered_page(client, auth, app):
    bank_id = make_bank(app, "停用题库", GOOD_ROWS[:2])
    qid = question_id(app, GOOD_STEMS[0])
    auth.login()
    back = f"http://localhost/banks/{bank_id}?type=single"
    response = client.post(f"/banks/questions/{qid}/retire", headers={"Referer": back})
    assert response.headers["Location"] == back
    response = client.post(f"/banks/questions/{qid}/retire", data={"restore": "1"},
                           headers={"Referer": "http://evil.example/phish"})
    assert response.headers["Location"] == f"/banks/{bank_id}"


# ---------------------------------------------------------------- export and templates

def test_export_csv_and_xlsx_in_the_template_format(client, auth, app):
    bank_id = make_bank(app, "导出题库", GOOD_ROWS)
    auth.login()
    response = client.get(f"/banks/{bank_id}/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    text = response.data.decode("utf-8-sig")
    assert text.startswith("题型,题干,选项A,选项B,选项C,选项D,选项E,选项F,选项G,选项H,答案,解析,分值,难度,知识点")
    for stem in GOOD_STEMS:
        assert stem in text
    # Round trip: our export re-imports as unchanged.
    page = upload(client, response.data, filename="导出题库.csv", bank="导出题库").get_data(as_text=True)
    assert preview_counts(page) == [0, 0, 4, 0, 0]

    response = client.get(f"/banks/{bank_id}/export.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0][:3]) == ["题型", "题干", "选项A"]
    assert [r[1] for r in rows[1:]] == GOOD_STEMS
    assert rows[1][0] == "单选" and rows[1][10] == "B"
    page = upload(client, response.data, filename="导出题库.xlsx", bank="导出题库").get_data(as_text=True)
    assert preview_counts(page) == [0, 0, 4, 0, 0]


def test_blank_templates_download_and_import(client, auth):
    auth.login()
    csv_response = client.get("/banks/template.csv")
    assert csv_response.status_code == 200
    assert csv_response.data.startswith("\ufeff题型,题干,选项A".encode("utf-8"))
    assert "attachment" in csv_response.headers["Content-Disposition"]
    xlsx_response = client.get("/banks/template.xlsx")
    assert xlsx_response.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx_response.data)).active
    assert next(sheet.iter_rows(values_only=True))[:2] == ("题型", "题干")
    # The examples in the template are themselves importable.
    for response, name in ((csv_response, "t.csv"), (xlsx_response, "t.xlsx")):
        page = upload(client, response.data, filename=name, bank="模板" + name).get_data(as_text=True)
        counts = preview_counts(page)
        assert counts[0] >= 4 and counts[4] == 0, name


# ---------------------------------------------------------------- organiser scope

def test_organiser_sees_and_changes_only_banks_in_their_subtree(client, auth, app, tree):
    own = make_bank(app, "乔司题库", [GOOD_ROWS[0]], tree["乔司街道"])
    child = make_bank(app, "永丰村题库", [GOOD_ROWS[1]], tree["乔司街道/永丰村"])
    foreign = make_bank(app, "伦教题库", [GOOD_ROWS[2]], tree["伦教街道"])
    orphan = make_bank(app, "公共题库", [GOOD_ROWS[3]], None)
    foreign_q = question_id(app, GOOD_STEMS[2])
    orphan_q = question_id(app, GOOD_STEMS[3])
    auth.login("qiaosi")

    index = client.get("/banks/").get_data(as_text=True)
    assert "乔司题库" in index and "永丰村题库" in index
    assert "伦教题库" not in index and "公共题库" not in index
    assert client.get(f"/banks/{own}").status_code == 200
    assert client.get(f"/banks/{child}").status_code == 200

    for bank_id in (foreign, orphan):
        for url in (f"/banks/{bank_id}", f"/banks/{bank_id}/export.csv", f"/banks/{bank_id}/export.xlsx"):
            response = client.get(url)
            assert response.status_code in (403, 404), url
            assert "伦教题库" not in response.get_data(as_text=True)
            assert GOOD_STEMS[2] not in response.get_data(as_text=True)
    for qid in (foreign_q, orphan_q):
        assert client.get(f"/banks/questions/{qid}/edit").status_code in (403, 404)
        assert client.post(f"/banks/questions/{qid}/edit", data=edit_form(stem="篡改", answer="错")
                           ).status_code in (403, 404)
        assert client.post(f"/banks/questions/{qid}/retire").status_code in (403, 404)
    with app.app_context():
        assert db.session.get(Question, foreign_q).stem == GOOD_STEMS[2]
        assert db.session.get(Question, foreign_q).retired is False
        assert db.session.get(Question, orphan_q).retired is False

    # Uploading into someone else's bank by name, or into a unit outside the subtree, is refused.
    data = csv_bytes([HEADER, ["判断", "乔司混入的题", "", "", "", "", "对", "", "", "", ""]])
    assert upload(client, data, bank="伦教题库").status_code in (403, 404)
    assert upload(client, data, bank="公共题库").status_code in (403, 404)
    assert upload(client, data, bank="乔司新题库", unit=tree["伦教街道/常教社区"]).status_code in (403, 404)
    with app.app_context():
        assert db.session.execute(select(Question).where(Question.stem == "乔司混入的题")).first() is None
        assert db.session.execute(select(Bank).where(Bank.name == "乔司新题库")).first() is None


def test_organiser_upload_without_unit_belongs_to_their_unit(client, auth, app, tree):
    auth.login("qiaosi")
    index = client.get("/banks/").get_data(as_text=True)
    options = re.findall(r'<option value="(\d*)"', index)
    assert str(tree["伦教街道"]) not in options and str(tree["乔司街道/永丰村"]) in options
    page = upload(client, csv_bytes([HEADER, *GOOD_ROWS])).get_data(as_text=True)
    assert confirm(client, page).status_code == 302
    with app.app_context():
        bank = db.session.execute(select(Bank).where(Bank.name == "新题库")).scalar_one()
        assert bank.unit.path == "乔司街道"
    # The other street's organiser neither sees it nor can overwrite it.
    other = app.test_client()
    other.post("/login", data={"username": "lunjiao", "password": "secret-pass"})
    assert "新题库" not in other.get("/banks/").get_data(as_text=True)
    assert upload(other, csv_bytes([HEADER, *GOOD_ROWS])).status_code in (403, 404)
