"""Picture questions (看图题): pictures checked by their content, bank ZIPs (import through the
service, the web upload, the API and the CLI; hostile ZIPs refused), the edit page's upload,
replace and remove, signed serving, the `image` key of question views (sheets, results, live
screens) and the export round trip."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import struct
import zipfile
import zlib

import pytest
from openpyxl import Workbook
from PIL import Image
from sqlalchemy import func, select

from quiz import create_app
from quiz.extensions import db
from quiz.models import Bank, Picture, Question
from quiz.services import pictures
from quiz.services.banks import edit_question, export_bank, export_bank_file
from quiz.services.importer import import_bank_file
from quiz.services.pictures import PictureProblem, check_picture
from tests.conftest import FIXED_NOW, HEADER, csv_bytes

PICTURE_HEADER = [*HEADER, "图片"]


# ---------------------------------------------------------------- helpers

def image_bytes(fmt: str = "PNG", size=(40, 30), color="red", **save) -> bytes:
    mode = "RGBA" if fmt in ("PNG", "WEBP") else "RGB"
    image = Image.new(mode, size, color)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def png(color: str = "red", size=(40, 30)) -> bytes:
    return image_bytes("PNG", size, color)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bank_zip(rows: list[list[str]], files: dict[str, bytes], *, sheet_name: str = "题库.csv",
             header: list[str] = PICTURE_HEADER) -> bytes:
    """A bank ZIP: the spreadsheet (CSV, or XLSX when the name says so) and the given files."""
    if sheet_name.endswith(".xlsx"):
        workbook = Workbook()
        for row in [header, *rows]:
            workbook.active.append(row)
        buffer = io.BytesIO()
        workbook.save(buffer)
        sheet = buffer.getvalue()
    else:
        sheet = csv_bytes([header, *rows])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(sheet_name, sheet)
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def row(stem: str, picture: str = "", answer: str = "A", options=("红色", "绿色")) -> list[str]:
    return ["单选", stem, *options, "", "", answer, "", "", "", "", picture]


def judge_row(stem: str, picture: str = "") -> list[str]:
    return ["判断", stem, "", "", "", "", "对", "", "", "", "", picture]


RED, GREEN = png("red"), png("green")
SIGNS = [row("图中是什么颜色？", "images/red.png"), row("图中是什么颜色？", "images/green.png", "B"),
         judge_row("图中的颜色是红色。", "red.png"), row("没有图片的题", "")]


def sample_zip() -> bytes:
    return bank_zip(SIGNS, {"images/red.png": RED, "images/green.png": GREEN})


def problems(report) -> list[tuple[int, str]]:
    return [(p.row, p.message) for p in report.rejected]


# ---------------------------------------------------------------- checking a picture by its content

@pytest.mark.parametrize("fmt,content_type", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"),
                                              ("GIF", "image/gif")])
def test_the_four_formats_are_recognised_by_content(ctx, fmt, content_type):
    data = image_bytes(fmt)
    checked = check_picture(data)
    assert (checked.content_type, checked.width, checked.height) == (content_type, 40, 30)
    assert checked.data == data and checked.sha256 == sha(data)  # small pictures are kept byte for byte


@pytest.mark.parametrize("data", [
    b"", b"just some text pretending to be a picture", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
    b"%PDF-1.7\n", b"BM" + bytes(60),  # a BMP: a real image, but not an accepted type
    b"\x89PNG\r\n\x1a\n" + bytes(40),  # PNG magic bytes, nothing behind them
])
def test_anything_else_is_refused_whatever_its_name(ctx, data):
    with pytest.raises(PictureProblem) as excinfo:
        check_picture(data)
    assert str(excinfo.value)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_truncated_picture_is_refused_as_damaged(ctx, fmt, monkeypatch):
    from PIL import ImageFile

    import weasyprint  # noqa: F401  (posters: it makes Pillow load truncated images for the whole process)

    buffer = io.BytesIO()
    Image.frombytes("RGB", (300, 200), bytes(range(256)) * 703 + bytes(232)).save(buffer, fmt)
    data = buffer.getvalue()
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(PictureProblem):
        check_picture(data[: len(data) // 2])
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # left as it was found
    assert check_picture(data).data == data


def test_size_and_pixel_limits_are_checked_before_decoding(app):
    app.config.update(PICTURE_MAX_BYTES=1000)
    with app.app_context():
        with pytest.raises(PictureProblem, match="MB"):
            check_picture(image_bytes("PNG", size=(300, 300), color=None) + bytes(2000))
    app.config.update(PICTURE_MAX_BYTES=8 * 2**20, PICTURE_MAX_PIXELS=1_000_000)
    # PNGs whose header declares 20,000 × 5,000 (and 100,000 × 100,000) pixels: refused from the
    # header, never decoded
    with app.app_context():
        with pytest.raises(PictureProblem, match="20000"):
            check_picture(png_header(20_000, 5_000))
        with pytest.raises(PictureProblem):
            check_picture(png_header(100_000, 100_000))


def png_header(width: int, height: int) -> bytes:
    """A PNG of only a header (and an end): what a decompression bomb shows before its data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


def test_a_large_photo_is_scaled_down_and_turned_upright(app):
    app.config.update(PICTURE_MAX_SIDE=200)
    image = Image.new("RGB", (800, 400), "orange")
    exif = image.getexif()
    exif[0x0112] = 6  # EXIF orientation: rotate 90° to show upright
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    with app.app_context():
        checked = check_picture(buffer.getvalue())
    assert checked.content_type == "image/jpeg" and (checked.width, checked.height) == (100, 200)
    assert checked.sha256 == sha(checked.data) and checked.data != buffer.getvalue()
    with app.app_context():  # the stored picture is within the limits: checking it again keeps it as is
        assert check_picture(checked.data).data == checked.data


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_small_photo_loses_its_metadata_and_is_turned_upright(app, fmt):
    """A photo within the size limit is kept as uploaded unless it carries EXIF or XMP: a phone
    photo's GPS position, camera and time are not published with a question."""
    image = Image.new("RGB", (60, 40), "teal")
    exif = image.getexif()
    exif[0x010F] = "PhoneMaker"  # camera make
    exif[0x0132] = "2026:11:29 08:00:00"  # when
    exif.get_ifd(0x8825)[1] = "N"  # GPS latitude ref
    exif.get_ifd(0x8825)[2] = (30.0, 18.0, 0.0)  # GPS latitude
    buffer = io.BytesIO()
    image.save(buffer, fmt, exif=exif)
    with app.app_context():
        checked = check_picture(buffer.getvalue())
    assert b"PhoneMaker" in buffer.getvalue() and b"PhoneMaker" not in checked.data
    with Image.open(io.BytesIO(checked.data)) as stored:
        assert not len(stored.getexif()) and stored.size == (60, 40) and stored.format == fmt
    assert checked.sha256 == sha(checked.data) and (checked.width, checked.height) == (60, 40)
    with app.app_context():  # nothing left to drop: checking it again keeps it as is
        assert check_picture(checked.data).data == checked.data
    # turned upright on the way (orientation 6: the picture is stored 40 × 60)
    exif[0x0112] = 6
    turned = io.BytesIO()
    image.save(turned, fmt, exif=exif)
    with app.app_context():
        upright = check_picture(turned.getvalue())
    assert (upright.width, upright.height) == (40, 60) and b"PhoneMaker" not in upright.data


def test_a_picture_without_metadata_is_stored_byte_for_byte(app):
    data = image_bytes("JPEG", size=(50, 50))
    with app.app_context():
        assert check_picture(data).data == data


# ---------------------------------------------------------------- import from a ZIP

def test_zip_import_stores_each_picture_once_and_reimports_unchanged(ctx):
    report = import_bank_file("看图题", sample_zip(), "看图题.zip", actor=None, now=FIXED_NOW)
    assert report.written and problems(report) == [] and report.created == 4
    db.session.commit()
    stored = {q.stem + (q.answer or ""): q.picture for q in db.session.scalars(select(Question))}
    assert stored == {"图中是什么颜色？A": sha(RED), "图中是什么颜色？B": sha(GREEN), "图中的颜色是红色。正确": sha(RED),
                      "没有图片的题A": None}
    assert db.session.scalar(select(func.count()).select_from(Picture)) == 2
    picture = db.session.get(Picture, sha(RED))
    assert (picture.content_type, picture.width, picture.height, picture.size) == ("image/png", 40, 30, len(RED))
    again = import_bank_file("看图题", sample_zip(), "看图题.zip", actor=None, now=FIXED_NOW)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


def test_same_stem_and_options_with_another_picture_is_another_question(ctx):
    rows = [row("这是哪一类垃圾？", "a.png", options=("可回收物", "有害垃圾")),
            row("这是哪一类垃圾？", "b.png", "B", options=("可回收物", "有害垃圾")),
            row("这是哪一类垃圾？", "a.png", options=("可回收物", "有害垃圾"))]  # a true repeat: merged
    report = import_bank_file("垃圾分类", bank_zip(rows, {"a.png": RED, "b.png": GREEN}), "b.zip", actor=None,
                              now=FIXED_NOW)
    assert (report.created, report.duplicates, problems(report)) == (2, 1, [])


def test_dry_run_stores_no_picture(ctx):
    report = import_bank_file("看图题", sample_zip(), "看图题.zip", actor=None, now=FIXED_NOW, dry_run=True)
    assert report.accepted and report.created == 4 and not report.written
    assert db.session.scalar(select(func.count()).select_from(Picture)) == 0


def test_xlsx_in_a_folder_and_names_as_people_type_them(ctx):
    rows = [row("第一题", "images\\Red.PNG"), row("第二题", "./images/green.png", "B"), row("第三题", "blue.jpg")]
    data = bank_zip(rows, {"题库/images/red.png": RED, "题库/images/green.png": GREEN,
                           "题库/其他/blue.jpg": image_bytes("JPEG", color="blue"),
                           "__MACOSX/题库/._red.png": b"resource fork", "题库/.DS_Store": b"junk"},
                    sheet_name="题库/题库.xlsx")
    report = import_bank_file("看图题", data, "看图题.zip", actor=None, now=FIXED_NOW)
    assert problems(report) == [] and report.created == 3
    db.session.commit()
    assert db.session.scalar(select(Picture.content_type).join(Question, Question.picture == Picture.sha256)
                             .where(Question.stem == "第三题")) == "image/jpeg"


def test_chinese_names_from_a_zip_tool_without_the_utf8_flag(ctx):
    """Windows' own zip tool writes names in the local code page (GBK) without the UTF-8 flag."""

    class GbkName(zipfile.ZipInfo):
        def _encodeFilenameFlags(self):
            return self.filename.encode("gbk"), self.flag_bits

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(GbkName("题库.csv"), csv_bytes([PICTURE_HEADER, row("看图", "图片/红色.png")]))
        archive.writestr(GbkName("图片/红色.png"), RED)
    report = import_bank_file("看图题", buffer.getvalue(), "看图题.zip", actor=None, now=FIXED_NOW)
    assert problems(report) == [] and report.created == 1


def test_missing_bad_and_unzipped_pictures_are_row_problems_naming_the_file(ctx):
    rows = [row("有图", "images/red.png"), row("图不在包里", "images/none.png"),
            row("不是图片", "notes.png"), row("被截断", "broken.jpg"), row("无图", "")]
    data = bank_zip(rows, {"images/red.png": RED, "notes.png": b"hello, I am a text file",
                           "broken.jpg": image_bytes("JPEG", size=(200, 200))[:300]})
    report = import_bank_file("看图题", data, "看图题.zip", actor=None, now=FIXED_NOW)
    found = problems(report)
    assert [r for r, _m in found] == [3, 4, 5] and not report.written
    assert "images/none.png" in found[0][1] and "notes.png" in found[1][1] and "broken.jpg" in found[2][1]
    skipped = import_bank_file("看图题", data, "看图题.zip", actor=None, now=FIXED_NOW, skip_invalid=True)
    assert skipped.written and skipped.created == 2
    # the same 图片 column in a plain CSV: nothing to find the file in
    plain = import_bank_file("看图题2", csv_bytes([PICTURE_HEADER, row("有图", "red.png")]), "b.csv", actor=None,
                             now=FIXED_NOW)
    [(number, message)] = problems(plain)
    assert number == 2 and "red.png" in message and "ZIP" in message


def test_a_picture_over_the_size_limit_is_not_even_unpacked(app):
    app.config.update(PICTURE_MAX_BYTES=500)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (60, 60), bytes(range(256)) * 42 + bytes(108)).save(buffer, "PNG")
    big = buffer.getvalue()
    assert len(big) > 500
    with app.app_context():
        report = import_bank_file("看图题", bank_zip([row("大图", "big.png")], {"big.png": big}), "b.zip",
                                  actor=None, now=FIXED_NOW)
    assert [r for r, _m in problems(report)] == [2] and "big.png" in problems(report)[0][1]


# ---------------------------------------------------------------- hostile ZIPs

def _zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


SHEET = ("题库.csv", csv_bytes([PICTURE_HEADER, row("看图", "red.png")]))


@pytest.mark.parametrize("name", ["../red.png", "images/../../etc/passwd", "/etc/red.png", "C:\\red.png",
                                  "images\\..\\..\\red.png", "ok/\x01red.png"])
def test_path_traversal_and_absolute_names_refuse_the_whole_zip(ctx, name):
    report = import_bank_file("看图题", _zip([SHEET, (name, RED), ("red.png", RED)]), "b.zip", actor=None,
                              now=FIXED_NOW)
    assert report.file_error and not report.written and problems(report)[0][0] == 1


def test_a_symbolic_link_entry_refuses_the_zip(ctx):
    link = zipfile.ZipInfo("red.png")
    link.external_attr = (0o120777 << 16)
    report = import_bank_file("看图题", _zip([SHEET, (link, b"/etc/passwd")]), "b.zip", actor=None, now=FIXED_NOW)
    assert report.file_error


def test_zip_bomb_too_many_entries_and_too_much_unpacked_are_refused(app):
    with app.app_context():
        bomb = _zip([SHEET, ("red.png", b"\x00" * (8 * 2**20))])  # 8 MB of zeros packs to ~8 KB: 1000 to 1
        report = import_bank_file("看图题", bomb, "b.zip", actor=None, now=FIXED_NOW)
        assert report.file_error and "zip" in problems(report)[0][1].lower()
    app.config.update(UPLOAD_MAX_ZIP_MEMBERS=5)
    with app.app_context():
        many = _zip([SHEET, *[(f"p{i}.png", RED) for i in range(6)]])
        assert import_bank_file("看图题", many, "b.zip", actor=None, now=FIXED_NOW).file_error
    app.config.update(UPLOAD_MAX_ZIP_MEMBERS=1000, UPLOAD_MAX_UNCOMPRESSED_BYTES=4000)
    with app.app_context():
        report = import_bank_file("看图题", _zip([SHEET, ("a.png", RED), ("b.bin", bytes(range(256)) * 20)]), "b.zip",
                                  actor=None, now=FIXED_NOW)
        assert report.file_error and "MB" in problems(report)[0][1]


@pytest.mark.parametrize("entries,word", [
    ([("red.png", RED)], "CSV"),                                                   # no spreadsheet
    ([SHEET, ("另一个.xlsx", b"PK"), ("red.png", RED)], "另一个.xlsx"),              # two spreadsheets
    ([SHEET, ("red.png", RED), ("images/../red.png", RED)], ".."),                 # the same file twice
])
def test_zip_without_exactly_one_spreadsheet_is_refused(ctx, entries, word):
    report = import_bank_file("看图题", _zip(entries), "b.zip", actor=None, now=FIXED_NOW)
    assert report.file_error and word in problems(report)[0][1]


def test_encrypted_entries_and_damaged_zips_are_refused(ctx):
    plain = bytearray(_zip([SHEET, ("red.png", RED)]))
    at = plain.find(b"PK\x01\x02")
    while at >= 0:  # zipfile cannot write encrypted entries: set the "encrypted" flag in the central directory
        plain[at + 8] |= 0x1
        at = plain.find(b"PK\x01\x02", at + 4)
    report = import_bank_file("看图题", bytes(plain), "b.zip", actor=None, now=FIXED_NOW)
    assert report.file_error and "题库.csv" in problems(report)[0][1]
    data = sample_zip()
    for damaged in (b"", b"not a zip at all", data[:len(data) // 2], data[:30] + b"\xff" * 40 + data[70:]):
        report = import_bank_file("看图题", damaged, "b.zip", actor=None, now=FIXED_NOW)
        assert not report.written and report.rejected


# ---------------------------------------------------------------- web upload, API, CLI

def test_web_upload_previews_thumbnails_then_confirm_imports(client, auth, app):
    auth.login()
    response = client.post("/banks/upload", data={"file": (io.BytesIO(sample_zip()), "看图题.zip"), "bank": "看图题",
                                                  "unit": ""}, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert len(re.findall(r'<img src="data:image/(?:png|jpeg);base64,', page)) == 3  # not stored yet: inline
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Picture)) == 0
    upload_id = re.search(r'name="upload_id"[^>]*value="([0-9a-f]{32})"|value="([0-9a-f]{32})"[^>]*name="upload_id"',
                          page)
    upload_id = upload_id.group(1) or upload_id.group(2)
    response = client.post("/banks/confirm", data={"upload_id": upload_id, "bank": "看图题", "unit": ""})
    assert response.status_code == 302
    with app.app_context():
        bank = db.session.scalar(select(Bank).where(Bank.name == "看图题"))
        assert db.session.scalar(select(func.count()).select_from(Picture)) == 2
    page = client.get(f"/banks/{bank.id}").get_data(as_text=True)
    urls = set(re.findall(r'<img src="(/pictures/[0-9a-f]{32}/[0-9a-f]{64})"', page))
    assert len(urls) == 2 and all(client.get(u).status_code == 200 for u in urls)


def test_api_and_cli_import_zips(client, token_for, runner, app, tmp_path):
    response = client.post("/api/v1/banks/import", headers={"Authorization": f"Bearer {token_for('admin')}"},
                           data={"file": (io.BytesIO(sample_zip()), "看图题.zip"), "bank": "看图题"},
                           content_type="multipart/form-data")
    assert response.status_code == 200 and response.get_json()["created"] == 4
    bad = bank_zip([row("图不在包里", "none.png")], {})
    response = client.post("/api/v1/banks/import", headers={"Authorization": f"Bearer {token_for('admin')}"},
                           data={"file": (io.BytesIO(bad), "bad.zip"), "bank": "看图题2"},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and response.get_json()["rejected"][0]["row"] == 2
    path = tmp_path / "看图题.zip"
    path.write_bytes(sample_zip())
    result = runner.invoke(args=["bank", "import", str(path), "--bank", "看图题3", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["created"] == 4


# ---------------------------------------------------------------- the edit page

@pytest.fixture
def csrf_app(app, users, database_url, tmp_path):
    protected = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                            "WTF_CSRF_ENABLED": True, "UPLOAD_FOLDER": str(tmp_path / "csrf-uploads")})
    yield protected
    with protected.app_context():
        db.session.remove()
        db.engine.dispose()


def _csrf(page: str) -> str:
    match = re.search(r'<input[^>]*name="csrf_token"[^>]*>', page)
    return re.search(r'value="([^"]+)"', match.group(0)).group(1)


def _form(question: Question, **extra) -> dict:
    data = {"stem": question.stem, "answer": question.answer, "explanation": "", "points": "", "difficulty": "",
            "tags": "", **{f"option_{c}": (question.options + [""] * 8)[i] for i, c in enumerate("abcdefgh")}}
    data.update(extra)
    return data


def test_edit_page_uploads_replaces_and_removes_the_picture_with_csrf(csrf_app):
    with csrf_app.app_context():
        import_bank_file("看图题", csv_bytes([HEADER, ["单选", "这是什么颜色？", "红", "绿", "", "", "A", "", "", "", ""]]),
                         "b.csv", actor=None, now=FIXED_NOW)
        db.session.commit()
        question = db.session.scalar(select(Question))
        qid, form = question.id, _form(question)
    client = csrf_app.test_client()
    login = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"username": "admin", "password": "secret-pass", "csrf_token": _csrf(login)})
    url = f"/banks/questions/{qid}/edit"
    token = _csrf(client.get(url).get_data(as_text=True))

    def post(with_token=True, **extra):
        data = {**form, **extra, **({"csrf_token": token} if with_token else {})}
        return client.post(url, data=data, content_type="multipart/form-data")

    def current():
        with csrf_app.app_context():
            return db.session.get(Question, qid).picture, db.session.scalar(select(func.count()).select_from(Picture))

    # without the token nothing changes
    assert post(with_token=False, picture=(io.BytesIO(RED), "red.png")).status_code == 400
    assert current() == (None, 0)
    # upload
    assert post(picture=(io.BytesIO(RED), "red.png")).status_code == 302
    assert current() == (sha(RED), 1)
    page = client.get(url).get_data(as_text=True)
    assert f"/{sha(RED)}" in page and 'enctype="multipart/form-data"' in page
    # a file that is not a picture (named like one) is refused, the old picture stays
    response = post(picture=(io.BytesIO(b"MZ\x90\x00 not an image"), "evil.png"))
    assert response.status_code == 422 and current() == (sha(RED), 1)
    # replace: the old picture, shown by no question now, is deleted
    assert post(picture=(io.BytesIO(GREEN), "green.webp")).status_code == 302
    assert current() == (sha(GREEN), 1)
    # saving the text alone keeps the picture
    assert post(explanation="看颜色").status_code == 302 and current() == (sha(GREEN), 1)
    # remove
    assert post(remove_picture="y").status_code == 302
    assert current() == (None, 0)


def test_a_picture_shared_by_two_questions_is_kept_until_neither_shows_it(ctx):
    import_bank_file("看图题", sample_zip(), "b.zip", actor=None, now=FIXED_NOW)
    db.session.commit()
    red = db.session.scalars(select(Question).where(Question.picture == sha(RED))).all()
    assert len(red) == 2

    def remove(question):
        edit_question(question, stem=question.stem, options=question.options, answer=question.answer,
                      explanation="", points="", difficulty="", tags="", actor=None, now=FIXED_NOW,
                      remove_picture=True)
        db.session.commit()

    remove(red[0])
    assert db.session.get(Picture, sha(RED)) is not None
    remove(red[1])
    assert db.session.get(Picture, sha(RED)) is None and db.session.get(Picture, sha(GREEN)) is not None


def test_storing_a_picture_a_concurrent_request_stored_meanwhile(ctx, monkeypatch):
    """Between looking a picture up and inserting it, another request may store the same bytes: the
    insert fails in its savepoint, and the picture found then is used; the transaction goes on."""
    from quiz.models import Picture as PictureRow

    checked = check_picture(RED)
    db.session.add(PictureRow(sha256=checked.sha256, content_type=checked.content_type, width=40, height=30,
                              size=len(RED), data=RED))
    db.session.commit()
    real = db.session.execute
    looks = []

    class Nothing:
        @staticmethod
        def scalar():
            return None

    def blind_first_look(statement, *args, **kwargs):
        looks.append(statement)
        return Nothing() if len(looks) == 1 else real(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", blind_first_look)
    assert pictures.store(checked) == checked.sha256
    monkeypatch.undo()
    assert len(looks) == 2
    import_bank_file("看图题", sample_zip(), "b.zip", actor=None, now=FIXED_NOW)  # the transaction still works
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Picture)) == 2


def test_removing_the_picture_may_not_make_a_duplicate(ctx):
    """With the picture the stem and options are free; without it they repeat another question."""
    import_bank_file("看图题", sample_zip(), "b.zip", actor=None, now=FIXED_NOW)
    db.session.commit()
    question = db.session.scalar(select(Question).where(Question.picture == sha(RED), Question.type == "single"))
    import_bank_file("看图题", bank_zip([row("图中是什么颜色？", "")], {}), "c.zip", actor=None, now=FIXED_NOW)
    db.session.commit()
    from quiz.errors import Invalid
    with pytest.raises(Invalid):
        edit_question(question, stem=question.stem, options=question.options, answer=question.answer,
                      explanation="", points="", difficulty="", tags="", actor=None, now=FIXED_NOW,
                      remove_picture=True)


# ---------------------------------------------------------------- serving

def test_signed_urls_serve_with_type_and_long_cache_and_forged_ones_are_404(client, app):
    with app.app_context():
        import_bank_file("看图题", bank_zip([row("a", "a.webp"), row("b", "b.gif")],
                                         {"a.webp": image_bytes("WEBP"), "b.gif": image_bytes("GIF")}),
                         "b.zip", actor=None, now=FIXED_NOW)
        db.session.commit()
        hashes = {q.stem: q.picture for q in db.session.scalars(select(Question))}
        with app.test_request_context():
            url = pictures.picture_url(hashes["a"])
            gif_url = pictures.picture_url(hashes["b"])
            forged = pictures.picture_url(hashes["a"]).replace(pictures.signature(hashes["a"]),
                                                               pictures.signature(hashes["b"]))
            unknown = pictures.picture_url("0" * 64)
    response = client.get(url)
    assert response.status_code == 200 and response.content_type == "image/webp"
    assert sha(response.data) == hashes["a"]
    assert "immutable" in response.headers["Cache-Control"] and "max-age=31536000" in response.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(gif_url).content_type == "image/gif"
    assert client.get(url, headers={"If-None-Match": response.headers["ETag"]}).status_code == 304
    sig = url.split("/")[2]
    for bad in (forged, unknown, f"/pictures/{'0' * 32}/{hashes['a']}", f"/pictures/{sig}/{hashes['a'][:-1]}",
                f"/pictures/{hashes['a']}", f"/pictures/{sig.upper()}/{hashes['a']}"):
        assert client.get(bad).status_code == 404, bad


def test_csp_allows_the_picture_route(client, auth, app):
    with app.app_context():
        import_bank_file("看图题", sample_zip(), "b.zip", actor=None, now=FIXED_NOW)
        db.session.commit()
        bank_id = db.session.scalar(select(Bank.id))
    auth.login()
    response = client.get(f"/banks/{bank_id}")
    policy = response.headers["Content-Security-Policy"]
    img_src = re.search(r"img-src ([^;]+)", policy).group(1).split()
    assert "'self'" in img_src  # pictures come from this site, by a path
    assert re.search(r'<img src="/pictures/', response.get_data(as_text=True))


# ---------------------------------------------------------------- where participants see it

def test_question_view_join_payload_and_results_carry_the_image(client, app, tree):
    from quiz.services.attempts import question_view
    from quiz.services.quizzes import create_quiz

    with app.app_context():
        import_bank_file("看图题", sample_zip(), "b.zip", actor=None, now=FIXED_NOW)
        quiz = create_quiz({"title": "看图竞赛", "banks": ["看图题"], "duration_seconds": 600,
                            "rules": [{"type": "单选", "count": 3, "points": 2}, {"type": "判断", "count": 1, "points": 2}],
                            "show_answers": "after_submit"}, actor=None, now=FIXED_NOW)
        db.session.commit()
        code = quiz.join_code
        with app.test_request_context():
            views = {q.stem + q.answer: question_view(q, None) for q in db.session.scalars(select(Question))}
    assert "image" not in views["没有图片的题A"]
    assert views["图中是什么颜色？A"]["image"].endswith("/" + sha(RED))
    assert views["图中是什么颜色？B"]["image"].endswith("/" + sha(GREEN))
    joined = client.post(f"/j/{code}", data={"name": "张三", "phone": "13800138000", "unit": "乔司街道/三角村社区"})
    assert joined.status_code == 302
    sheet = client.get(joined.headers["Location"]).get_data(as_text=True)
    payload = json.loads(re.search(r'<script id="sheet-data" type="application/json">(.*?)</script>', sheet, re.S)
                         .group(1))["payload"]
    images = [q.get("image") for q in payload["questions"]]
    assert sum(1 for i in images if i) == 3  # the sheet (static/sheet.js) gets each picture's URL
    for url in filter(None, images):
        assert client.get(url).status_code == 200
    # the API join (served by the join lane) gives the same URLs
    joined = client.post(f"/api/v1/join/{code}", json={"name": "李四", "phone": "13800138001",
                                                       "unit": "乔司街道/三角村社区"})
    assert joined.status_code == 201, joined.get_json()
    assert sorted(filter(None, (q.get("image") for q in joined.get_json()["questions"]))) == sorted(filter(None, images))
    # after submitting, the result page shows the pictures next to the answers
    attempt_id = payload["attempt_id"]
    assert client.post(f"/api/v1/attempts/{attempt_id}/submit",
                       headers={"Authorization": f"Bearer {payload['token']}"}).status_code == 200
    result = client.get(f"/a/{attempt_id}/result").get_data(as_text=True)
    assert all(f'<img src="{url}"' in result for url in filter(None, images))


def test_a_live_question_shows_its_picture_only_once_opened(client, app, users, tree, token_for):
    from quiz.models.live import LiveContest
    from quiz.models.base import utcnow
    from quiz.services import live

    with app.app_context():
        import_bank_file("看图题", bank_zip([row("第一题", "red.png"), row("第二题", "green.png")],
                                         {"red.png": RED, "green.png": GREEN}), "b.zip", actor=None, now=utcnow())
        contest = live.create_contest({
            "title": "看图抢答", "mode": "teams", "banks": ["看图题"],
            "entrants": [{"name": "三角村社区", "unit": "乔司街道/三角村社区", "base_score": 100}],
            "rounds": [{"type": "必答", "rules": [{"type": "单选", "count": 2}], "settings": {"points": 10}}]},
            actor=None, now=utcnow())
        db.session.commit()
        contest_id = contest.id
    token = token_for("admin")

    def public_text():
        with app.app_context():
            contest = db.session.get(LiveContest, contest_id)
            return json.dumps(live.public_state(contest, now=utcnow()))

    before = public_text()
    assert sha(RED) not in before and sha(GREEN) not in before  # nothing of an unopened question
    host = client.get(f"/api/v1/live/{contest_id}", headers={"Authorization": f"Bearer {token}"}).get_json()
    previews = [q["image"] for q in host["run_sheet"][0]["questions"]]  # the host previews every question
    assert sorted(p.rsplit("/", 1)[1] for p in previews) == sorted([sha(RED), sha(GREEN)])
    state = client.post(f"/api/v1/live/{contest_id}/host/open", json={},
                        headers={"Authorization": f"Bearer {token}"}).get_json()
    image = state["question"]["image"]
    assert client.get(image).status_code == 200
    opened = public_text()
    shown, hidden = (sha(RED), sha(GREEN)) if sha(RED) in image else (sha(GREEN), sha(RED))
    assert shown in opened and hidden not in opened  # the next question's picture stays unknown
    with app.app_context():  # built outside a request (the push stream), the URL is the same path
        contest = db.session.get(LiveContest, contest_id)
        assert live.public_state(contest, now=utcnow())["question"]["image"] == image


# ---------------------------------------------------------------- export round trip

@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_is_a_zip_that_imports_back_identically(ctx, fmt):
    import_bank_file("看图题", sample_zip(), "b.zip", actor=None, now=FIXED_NOW)
    db.session.commit()
    bank = db.session.scalar(select(Bank))
    exported = export_bank_file(bank, fmt)
    assert exported.extension == "zip"
    with zipfile.ZipFile(io.BytesIO(exported.data)) as archive:
        names = archive.namelist()
        assert names[0] == f"看图题.{fmt}" and len(names) == 3
        assert {sha(archive.read(n)) for n in names[1:]} == {sha(RED), sha(GREEN)}
        if fmt == "csv":
            header = next(csv.reader(io.StringIO(archive.read(names[0]).decode("utf-8-sig"))))
            assert header[-1] == "图片"

    def content(bank_name):
        b = db.session.scalar(select(Bank).where(Bank.name == bank_name))
        return sorted((q.type, q.stem, tuple(q.options), q.answer, q.picture, q.fingerprint)
                      for q in db.session.scalars(select(Question).where(Question.bank_id == b.id)))

    again = import_bank_file("看图题", exported.data, "x.zip", actor=None, now=FIXED_NOW)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    copy = import_bank_file("副本", exported.data, "x.zip", actor=None, now=FIXED_NOW)
    assert copy.created == 4 and problems(copy) == []
    db.session.commit()
    assert content("副本") == content("看图题")
    assert db.session.scalar(select(func.count()).select_from(Picture)) == 2


def test_a_bank_without_pictures_exports_as_before(ctx):
    from quiz.services.banks import TEMPLATE_HEADER

    import_bank_file("纯文字", csv_bytes([HEADER, ["单选", "题", "甲", "乙", "", "", "A", "", "", "", ""]]), "b.csv",
                     actor=None, now=FIXED_NOW)
    db.session.commit()
    bank = db.session.scalar(select(Bank))
    assert export_bank_file(bank, "xlsx").extension == "xlsx"
    exported = export_bank_file(bank, "csv")
    assert exported.extension == "csv" and exported.data == export_bank(bank, "csv")
    assert next(csv.reader(io.StringIO(exported.data.decode("utf-8-sig")))) == TEMPLATE_HEADER


def test_web_and_cli_export_of_a_picture_bank(client, auth, app, runner, tmp_path):
    with app.app_context():
        import_bank_file("看图题", sample_zip(), "b.zip", actor=None, now=FIXED_NOW)
        db.session.commit()
        bank_id = db.session.scalar(select(Bank.id))
    auth.login()
    response = client.get(f"/banks/{bank_id}/export.xlsx")
    assert response.status_code == 200 and response.content_type == "application/zip"
    assert ".zip" in response.headers["Content-Disposition"]
    assert zipfile.ZipFile(io.BytesIO(response.data)).namelist()[0] == "看图题.xlsx"
    for name in ("x.xlsx", "x.txt"):
        result = runner.invoke(args=["bank", "export", "看图题", "-o", str(tmp_path / name)])
        assert result.exit_code == 2 and not (tmp_path / name).exists()
    result = runner.invoke(args=["bank", "export", "看图题", "-o", str(tmp_path / "x.zip"), "--sheet-format", "csv"])
    assert result.exit_code == 0, result.output
    assert zipfile.ZipFile(tmp_path / "x.zip").namelist()[0] == "看图题.csv"
