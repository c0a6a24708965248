"""HTML pages for people (/people/…): roster upload and single additions, the roster list,
and accounts, all within the manager's unit scope. Assertions are on data (names, phones,
unit paths, row numbers, status codes, database rows), never on UI wording."""
from __future__ import annotations

import html as htmllib
import io
import re

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Participant, Unit, User
from tests.conftest import csv_bytes

ROSTER_HEADER = ["姓名", "手机号", "单位"]


def upload_roster(client, rows, filename="roster.csv", **fields):
    data = rows if isinstance(rows, bytes) else csv_bytes(rows)
    return client.post("/people/import", data={"file": (io.BytesIO(data), filename), **fields},
                       content_type="multipart/form-data")


def people_in_db(app) -> dict[str, tuple[str, str]]:
    """phone → (name, unit path)."""
    with app.app_context():
        rows = db.session.execute(select(Participant.phone, Participant.name, Unit.path)
                                  .join(Unit, Participant.unit_id == Unit.id)).all()
        return {phone: (name, path) for phone, name, path in rows}


def users_in_db(app) -> dict[str, tuple[str, str | None]]:
    """username → (role, unit path)."""
    with app.app_context():
        return {u.username: (u.role, u.unit.path if u.unit else None)
                for u in db.session.execute(select(User)).scalars()}


def flashes(page: str, category: str = "danger") -> list[str]:
    return [htmllib.unescape(m) for m in
            re.findall(rf'<div class="flash flash-{category}"[^>]*>(.*?)</div>', page, re.S)]


def table_rows(page: str) -> list[list[str]]:
    """Cells of every row in the page's data table (tbody), tags stripped."""
    body = page.split("<tbody>", 1)[-1].split("</tbody>", 1)[0]
    rows = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip()
                 for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if len(cells) > 1:
            rows.append(cells)
    return rows


def seed_people(app, tree):
    with app.app_context():
        for name, phone, path in (("乔一", "13800000001", "乔司街道/三角村社区"),
                                  ("乔二", "13800000002", "乔司街道/永丰村"),
                                  ("伦一", "13900000001", "伦教街道/常教社区")):
            db.session.add(Participant(name=name, phone=phone, unit_id=tree[path], on_roster=True))
        db.session.commit()


def account(**overrides):
    form = {"username": "newjudge", "display_name": "新评委", "role": "judge", "unit": "",
            "password": "long-enough-1"}
    form.update({k: str(v) for k, v in overrides.items()})
    return form


# ---------------------------------------------------------------- access

def test_people_pages_need_a_manager(client, auth):
    for url in ("/people/", "/people/accounts"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    auth.login("judge1")
    assert client.get("/people/").status_code == 403
    assert client.get("/people/accounts").status_code == 403
    assert client.post("/people/participants", data={"name": "x", "phone": "13800138000"}).status_code == 403


# ---------------------------------------------------------------- roster upload

def test_roster_upload_creates_participants_with_normalised_phones(client, auth, app, tree):
    auth.login()
    rows = [ROSTER_HEADER,
            ["张三", "13800138000", "乔司街道/三角村社区"],
            ["李四", "+86 139-0013-9000", "乔司街道/永丰村"],
            [" 王 五 ", "0086 137 0013 7000", "伦教街道 / 常教社区"],
            ["", "", ""]]  # blank rows are ignored
    response = upload_roster(client, rows)
    assert response.status_code == 302 and response.headers["Location"] == "/people/"
    assert people_in_db(app) == {"13800138000": ("张三", "乔司街道/三角村社区"),
                                 "13900139000": ("李四", "乔司街道/永丰村"),
                                 "13700137000": ("王 五", "伦教街道/常教社区")}
    with app.app_context():
        assert all(db.session.execute(select(Participant.on_roster)).scalars())
    listed = table_rows(client.get("/people/").get_data(as_text=True))
    assert {(r[0], r[2]) for r in listed} == {("张三", "乔司街道/三角村社区"), ("李四", "乔司街道/永丰村"),
                                              ("王 五", "伦教街道/常教社区")}


def test_roster_xlsx_with_numeric_phones(client, auth, app, tree):
    auth.login()
    workbook = Workbook()
    workbook.active.append(["名字", "手机号码", "所在单位"])
    workbook.active.append(["赵六", 13600136000, "乔司街道/永丰村"])
    workbook.active.append(["钱七", 13500135000.0, "乔司街道"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert upload_roster(client, buffer.getvalue(), filename="r.xlsx").status_code == 302
    assert people_in_db(app) == {"13600136000": ("赵六", "乔司街道/永丰村"), "13500135000": ("钱七", "乔司街道")}


def test_bad_phones_reject_the_file_naming_rows(client, auth, app, tree):
    auth.login()
    rows = [ROSTER_HEADER,
            ["张三", "13800138000", "乔司街道/三角村社区"],
            ["短号", "1380013800", "乔司街道/三角村社区"],
            ["错头", "23800138000", "乔司街道/永丰村"],
            ["无单位", "13700137000", "乔司街道/不存在村"],
            ["重号", "138-0013-8000", "乔司街道/永丰村"]]
    assert upload_roster(client, rows).status_code == 302
    messages = flashes(client.get("/people/").get_data(as_text=True))
    by_row = {}
    for message in messages:
        match = re.search(r"(?<!\d)([3-6])(?!\d)", message)
        if match:
            by_row.setdefault(int(match.group(1)), message)
    assert "1380013800" in by_row[3], messages
    assert "23800138000" in by_row[4], messages
    assert "不存在村" in by_row[5], messages
    assert 6 in by_row and "2" in by_row[6], messages  # repeats row 2's phone
    assert people_in_db(app) == {}  # all or nothing

    assert upload_roster(client, rows, skip_invalid="y").status_code == 302
    assert people_in_db(app) == {"13800138000": ("张三", "乔司街道/三角村社区")}


def test_reupload_updates_a_changed_name_and_unit(client, auth, app, tree):
    auth.login()
    upload_roster(client, [ROSTER_HEADER, ["张三", "13800138000", "乔司街道/三角村社区"],
                           ["李四", "13900139000", "乔司街道/永丰村"]])
    with app.app_context():
        first_id = db.session.execute(
            select(Participant.id).where(Participant.phone == "13800138000")).scalar_one()
    upload_roster(client, [ROSTER_HEADER, ["张三丰", "+8613800138000", "乔司街道/永丰村"],
                           ["李四", "13900139000", "乔司街道/永丰村"]])
    assert people_in_db(app) == {"13800138000": ("张三丰", "乔司街道/永丰村"),
                                 "13900139000": ("李四", "乔司街道/永丰村")}
    with app.app_context():  # the same person, not a new one
        assert db.session.execute(select(Participant.id).where(Participant.phone == "13800138000")
                                  ).scalar_one() == first_id


@pytest.mark.parametrize("data, filename", [
    (b"", "empty.csv"),
    (b"x", "roster.pdf"),
    (bytes(range(256)) * 10, "garbage.csv"),
    ("姓名,单位\n张三,乔司街道\n".encode(), "nophone.csv"),
])
def test_unreadable_roster_files_are_refused_without_500(client, auth, app, tree, data, filename):
    auth.login()
    response = upload_roster(client, data, filename=filename)
    assert response.status_code == 302
    assert flashes(client.get("/people/").get_data(as_text=True))
    assert people_in_db(app) == {}


# ---------------------------------------------------------------- roster scope

def test_organiser_cannot_import_people_into_another_street(client, auth, app, tree):
    seed_people(app, tree)
    auth.login("lunjiao")
    rows = [ROSTER_HEADER, ["伦二", "13900000002", "伦教街道/常教社区"],
            ["混入", "13700000009", "乔司街道/三角村社区"]]
    upload_roster(client, rows)
    messages = flashes(client.get("/people/").get_data(as_text=True))
    assert any(re.search(r"(?<!\d)3(?!\d)", m) for m in messages), messages
    people = people_in_db(app)
    assert "13700000009" not in people and "13900000002" not in people  # atomic
    # Skipping bad rows still never writes into 乔司街道.
    upload_roster(client, rows, skip_invalid="y")
    people = people_in_db(app)
    assert "13700000009" not in people and people["13900000002"] == ("伦二", "伦教街道/常教社区")
    # Nor can a roster move a 乔司街道 person (matched by phone) into 伦教街道.
    upload_roster(client, [ROSTER_HEADER, ["被挪走", "13800000001", "伦教街道/常教社区"]], skip_invalid="y")
    assert people_in_db(app)["13800000001"] == ("乔一", "乔司街道/三角村社区")


def test_organiser_sees_only_their_people(client, auth, app, tree):
    seed_people(app, tree)
    auth.login("lunjiao")
    page = client.get("/people/").get_data(as_text=True)
    assert [r[0] for r in table_rows(page)] == ["伦一"]
    assert "13800000001" not in page and "乔一" not in page
    # Asking for a unit outside the subtree shows nobody rather than leaking.
    page = client.get(f"/people/?unit={tree['乔司街道']}").get_data(as_text=True)
    assert "乔一" not in page and "乔二" not in page
    assert [r[0] for r in table_rows(client.get("/people/?q=1380000").get_data(as_text=True))] == []

    client.post("/logout")
    client.post("/login", data={"username": "qiaosi", "password": "secret-pass"})
    page = client.get("/people/").get_data(as_text=True)
    assert sorted(r[0] for r in table_rows(page)) == ["乔一", "乔二"]
    filtered = client.get(f"/people/?unit={tree['乔司街道/永丰村']}").get_data(as_text=True)
    assert [r[0] for r in table_rows(filtered)] == ["乔二"]
    assert [r[0] for r in table_rows(client.get("/people/?q=乔一").get_data(as_text=True))] == ["乔一"]


def test_roster_pages_when_more_than_50_people(client, auth, app, tree):
    """Regression: the pager macro could not see page_url, so >50 people gave a 500."""
    with app.app_context():
        for i in range(60):
            db.session.add(Participant(name=f"人{i:02d}", phone=f"137{i:08d}", unit_id=tree["乔司街道/永丰村"]))
        db.session.commit()
    auth.login()
    first = client.get("/people/")
    assert first.status_code == 200
    assert len(table_rows(first.get_data(as_text=True))) == 50
    second = client.get("/people/?page=2")
    assert len(table_rows(second.get_data(as_text=True))) == 10


# ---------------------------------------------------------------- one person

def test_add_one_participant(client, auth, app, tree):
    auth.login("qiaosi")
    response = client.post("/people/participants",
                           data={"name": "孙八", "phone": "+86 138-0013-8000", "unit": tree["乔司街道/永丰村"]})
    assert response.status_code == 302 and response.headers["Location"] == "/people/"
    assert people_in_db(app) == {"13800138000": ("孙八", "乔司街道/永丰村")}
    assert "孙八" in client.get("/people/").get_data(as_text=True)
    # Same phone again: the person is updated, not duplicated.
    client.post("/people/participants", data={"name": "孙八妹", "phone": "13800138000",
                                              "unit": tree["乔司街道/三角村社区"]})
    assert people_in_db(app) == {"13800138000": ("孙八妹", "乔司街道/三角村社区")}


@pytest.mark.parametrize("phone", ["1380013800", "23800138000", "138001380001", "abc"])
def test_add_participant_with_bad_phone_is_refused(client, auth, app, tree, phone):
    auth.login()
    response = client.post("/people/participants",
                           data={"name": "孙八", "phone": phone, "unit": tree["乔司街道/永丰村"]})
    assert response.status_code == 302
    assert any(phone in m for m in flashes(client.get("/people/").get_data(as_text=True)))
    assert people_in_db(app) == {}


def test_add_participant_outside_scope_is_refused(client, auth, app, tree):
    seed_people(app, tree)
    auth.login("qiaosi")
    response = client.post("/people/participants",
                           data={"name": "越界", "phone": "13700137000", "unit": tree["伦教街道/常教社区"]})
    assert response.status_code in (302, 403)
    assert "13700137000" not in people_in_db(app)
    # Taking over someone in another street by their phone number is refused too.
    client.post("/people/participants",
                data={"name": "冒名", "phone": "13900000001", "unit": tree["乔司街道/永丰村"]})
    assert people_in_db(app)["13900000001"] == ("伦一", "伦教街道/常教社区")
    # No unit chosen.
    client.post("/people/participants", data={"name": "无单位", "phone": "13700137001", "unit": ""})
    assert "13700137001" not in people_in_db(app)


# ---------------------------------------------------------------- accounts

def test_admin_creates_an_organiser_with_a_unit(client, auth, app, tree):
    auth.login()
    response = client.post("/people/accounts", data=account(username="linping", role="organiser",
                                                              unit=tree["乔司街道/三角村社区"]))
    assert response.status_code == 302 and response.headers["Location"] == "/people/accounts"
    assert users_in_db(app)["linping"] == ("organiser", "乔司街道/三角村社区")
    assert "linping" in client.get("/people/accounts").get_data(as_text=True)
    # The new organiser can log in and is scoped to that unit.
    other = app.test_client()
    assert other.post("/login", data={"username": "linping", "password": "long-enough-1"}).status_code == 302
    page = other.get("/units/").get_data(as_text=True)
    assert re.findall(r'<td [^>]*title="([^"]*)"', page) == ["乔司街道/三角村社区"]
    # An organiser without a unit would have no scope: refused.
    client.post("/people/accounts", data=account(username="nounit", role="organiser", unit=""))
    assert "nounit" not in users_in_db(app)


def test_account_form_refuses_bad_input(client, auth, app, tree):
    auth.login()
    before = users_in_db(app)
    for form in (account(username="x", unit=tree["乔司街道"]),                       # too short
                 account(username="带空格 的名字", unit=tree["乔司街道"]),
                 account(password="short", unit=tree["乔司街道"]),
                 account(username="qiaosi", unit=tree["乔司街道"]),                   # taken
                 account(role="superuser", unit=tree["乔司街道"])):
        response = client.post("/people/accounts", data=form)
        assert response.status_code == 200, form
    assert users_in_db(app) == before


def test_organiser_creates_a_judge_in_their_subtree(client, auth, app, tree):
    auth.login("qiaosi")
    response = client.post("/people/accounts", data=account(unit=tree["乔司街道/永丰村"]))
    assert response.status_code == 302
    assert users_in_db(app)["newjudge"] == ("judge", "乔司街道/永丰村")
    response = client.post("/people/accounts", data=account(username="player1", role="participant",
                                                              unit=tree["乔司街道"]))
    assert response.status_code == 302
    assert users_in_db(app)["player1"] == ("participant", "乔司街道")


def test_organiser_cannot_create_managers_or_accounts_elsewhere(client, auth, app, tree):
    auth.login("qiaosi")
    before = users_in_db(app)
    for form in (account(username="boss", role="organiser", unit=tree["乔司街道/永丰村"]),
                 account(username="root2", role="admin", unit=tree["乔司街道"]),
                 account(username="root3", role="admin", unit=""),
                 account(username="farjudge", role="judge", unit=tree["伦教街道/常教社区"]),
                 account(username="nounitjudge", role="judge", unit="")):
        response = client.post("/people/accounts", data=form)
        assert response.status_code in (200, 403), form
    assert users_in_db(app) == before


def test_organiser_sees_only_accounts_in_their_subtree(client, auth, app, tree):
    auth.login("qiaosi")
    page = client.get("/people/accounts").get_data(as_text=True)
    names = {r[0] for r in table_rows(page)}
    assert names == {"qiaosi", "judge1"}
    options = re.findall(r'<option value="([^"]*)"', page)
    assert "organiser" not in options and "admin" not in options
    assert str(tree["伦教街道"]) not in options
