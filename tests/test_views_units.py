"""HTML pages for the unit tree (/units/…): spreadsheet upload, add, edit, rename, delete and
the organiser's subtree scope. Assertions are on data (paths, headcounts, row numbers, status
codes, redirects, database rows), never on UI wording, which is being translated."""
from __future__ import annotations

import html as htmllib
import io
import re

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Participant, Unit
from tests.conftest import FIXED_NOW, csv_bytes

ORIGINAL = {"乔司街道": 10, "乔司街道/三角村社区": 120, "乔司街道/永丰村": 80, "伦教街道": 5,
            "伦教街道/常教社区": 60}


def units_in_db(app) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(select(Unit.path, Unit.headcount)).all())


def parents_in_db(app) -> dict[str, str | None]:
    with app.app_context():
        units = db.session.execute(select(Unit)).scalars().all()
        return {u.path: (u.parent.path if u.parent else None) for u in units}


def upload_units(client, rows, filename="units.csv"):
    data = rows if isinstance(rows, bytes) else csv_bytes(rows)
    return client.post("/units/import", data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def flashes(page: str, category: str = "danger") -> list[str]:
    return [htmllib.unescape(m) for m in
            re.findall(rf'<div class="flash flash-{category}"[^>]*>(.*?)</div>', page, re.S)]


def listed_paths(page: str) -> list[str]:
    """Unit paths in the unit table (each row's name cell carries its path as title)."""
    return [htmllib.unescape(p) for p in re.findall(r'<td [^>]*title="([^"]*)"', page)]


# ---------------------------------------------------------------- access

def test_units_page_needs_a_manager(client, auth):
    response = client.get("/units/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    auth.login("judge1")
    assert client.get("/units/").status_code == 403
    assert upload_units(client, [["单位", "应参人数"], ["乔司街道/新村", "3"]]).status_code == 403


# ---------------------------------------------------------------- upload

def test_upload_creates_units_and_missing_parents(client, auth, app, tree):
    auth.login()
    rows = [["单位", "应参人数"],
            ["乔司街道/新村", "30"],
            ["新街道/甲社区/一组", "12"],
            ["乔司街道/永丰村", "99"],       # existing: headcount updated
            [" 伦教街道 ／ 常教社区 ", "60"]]  # existing, same headcount, spaces and full-width slash
    response = upload_units(client, rows)
    assert response.status_code == 302 and response.headers["Location"] == "/units/"
    units = units_in_db(app)
    assert units["乔司街道/新村"] == 30
    assert units["新街道/甲社区/一组"] == 12
    assert units["新街道"] == 0 and units["新街道/甲社区"] == 0  # intermediate parents created
    assert units["乔司街道/永丰村"] == 99
    assert units["伦教街道/常教社区"] == 60
    assert len(units) == len(ORIGINAL) + 4
    parents = parents_in_db(app)
    assert parents["新街道/甲社区/一组"] == "新街道/甲社区"
    assert parents["新街道/甲社区"] == "新街道"
    assert parents["乔司街道/新村"] == "乔司街道"
    page = client.get("/units/").get_data(as_text=True)
    assert {"乔司街道/新村", "新街道", "新街道/甲社区", "新街道/甲社区/一组"} <= set(listed_paths(page))
    assert listed_paths(page) == sorted(listed_paths(page))  # tree order: parents before children

    # Uploading the same file again changes nothing.
    before = units_in_db(app)
    assert upload_units(client, rows).status_code == 302
    assert units_in_db(app) == before


def test_upload_xlsx_with_numeric_headcounts(client, auth, app, tree):
    auth.login()
    workbook = Workbook()
    workbook.active.append(["单位名称", "应参加人数"])
    workbook.active.append(["乔司街道/机关各办", 25])
    workbook.active.append(["乔司街道/综治中心", 7.0])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert upload_units(client, buffer.getvalue(), filename="units.xlsx").status_code == 302
    units = units_in_db(app)
    assert units["乔司街道/机关各办"] == 25 and units["乔司街道/综治中心"] == 7


@pytest.mark.parametrize("bad", ["-3", "abc", "2.5"])
def test_bad_headcount_rejects_the_file_naming_the_row(client, auth, app, tree, bad):
    auth.login()
    rows = [["单位", "应参人数"], ["乔司街道/好村", "10"], ["乔司街道/坏村", bad], ["新街道/好社区", "4"]]
    response = upload_units(client, rows)
    assert response.status_code == 302
    messages = flashes(client.get("/units/").get_data(as_text=True))
    named = [m for m in messages if bad in m]
    assert named, messages
    assert re.search(r"(?<!\d)3(?!\d)", named[0])  # row 3 (header is row 1)
    assert units_in_db(app) == ORIGINAL  # nothing written, not even the good rows


def test_duplicate_and_empty_paths_are_rejected_with_rows(client, auth, app, tree):
    auth.login()
    rows = [["单位", "应参人数"], ["乔司街道/新村", "1"], ["乔司街道 / 新村", "2"], ["乔司街道//空", "3"]]
    upload_units(client, rows)
    messages = flashes(client.get("/units/").get_data(as_text=True))
    assert any(re.search(r"(?<!\d)3(?!\d)", m) and "2" in m for m in messages), messages  # row 3 repeats row 2
    assert any(re.search(r"(?<!\d)4(?!\d)", m) for m in messages), messages
    assert units_in_db(app) == ORIGINAL


@pytest.mark.parametrize("data, filename", [
    (b"", "empty.csv"),
    (b"x", "units.pdf"),
    (bytes(range(256)) * 10, "garbage.csv"),
    ("名称,人数\n甲,1\n".encode(), "noheader.csv"),
])
def test_unreadable_unit_files_are_refused_without_500(client, auth, app, tree, data, filename):
    auth.login()
    response = upload_units(client, data, filename=filename)
    assert response.status_code == 302
    assert flashes(client.get("/units/").get_data(as_text=True))
    assert units_in_db(app) == ORIGINAL


# ---------------------------------------------------------------- add, edit, rename, delete

def test_add_unit_under_a_parent(client, auth, app, tree):
    auth.login()
    response = client.post("/units/new", data={"parent": tree["乔司街道"], "name": " 红星社区 ", "headcount": "45"})
    assert response.status_code == 302
    assert units_in_db(app)["乔司街道/红星社区"] == 45
    assert parents_in_db(app)["乔司街道/红星社区"] == "乔司街道"
    # The same name again is refused, nothing duplicated.
    client.post("/units/new", data={"parent": tree["乔司街道"], "name": "红星社区", "headcount": "1"})
    assert units_in_db(app)["乔司街道/红星社区"] == 45
    # A name with "/" would break paths: refused.
    client.post("/units/new", data={"parent": tree["乔司街道"], "name": "甲/乙", "headcount": "1"})
    assert "乔司街道/甲/乙" not in units_in_db(app) and "乔司街道/甲" not in units_in_db(app)
    # Admins may add a top-level unit.
    client.post("/units/new", data={"parent": "", "name": "临平街道", "headcount": "8"})
    assert units_in_db(app)["临平街道"] == 8


def test_edit_name_and_headcount(client, auth, app, tree):
    auth.login()
    unit_id = tree["乔司街道/永丰村"]
    page = client.get(f"/units/{unit_id}/edit")
    assert page.status_code == 200 and "乔司街道/永丰村" in page.get_data(as_text=True)
    response = client.post(f"/units/{unit_id}/edit", data={"name": "永丰社区", "headcount": "81"})
    assert response.status_code == 302 and response.headers["Location"] == "/units/"
    units = units_in_db(app)
    assert units["乔司街道/永丰社区"] == 81 and "乔司街道/永丰村" not in units


def test_renaming_a_parent_renames_the_childrens_paths(client, auth, app, tree):
    auth.login()
    response = client.post(f"/units/{tree['乔司街道']}/edit", data={"name": "乔司镇", "headcount": "10"})
    assert response.status_code == 302
    assert units_in_db(app) == {"乔司镇": 10, "乔司镇/三角村社区": 120, "乔司镇/永丰村": 80,
                                "伦教街道": 5, "伦教街道/常教社区": 60}
    with app.app_context():
        assert db.session.get(Unit, tree["乔司街道/三角村社区"]).path == "乔司镇/三角村社区"
    # The organiser of the renamed street keeps their whole subtree.
    client.post("/logout")
    client.post("/login", data={"username": "qiaosi", "password": "secret-pass"})
    assert set(listed_paths(client.get("/units/").get_data(as_text=True))) == {
        "乔司镇", "乔司镇/三角村社区", "乔司镇/永丰村"}
    assert client.get(f"/units/{tree['乔司街道/永丰村']}/edit").status_code == 200


def test_rename_to_an_existing_sibling_is_refused(client, auth, app, tree):
    auth.login()
    response = client.post(f"/units/{tree['乔司街道/永丰村']}/edit", data={"name": "三角村社区", "headcount": "80"})
    assert response.status_code == 409
    assert units_in_db(app) == ORIGINAL


def test_negative_headcount_in_the_form_is_not_saved(client, auth, app, tree):
    auth.login()
    response = client.post(f"/units/{tree['乔司街道/永丰村']}/edit", data={"name": "永丰村", "headcount": "-5"})
    assert response.status_code in (200, 422)
    assert units_in_db(app)["乔司街道/永丰村"] == 80
    client.post("/units/new", data={"parent": tree["乔司街道"], "name": "负数村", "headcount": "-1"})
    assert "乔司街道/负数村" not in units_in_db(app)


def test_renaming_a_unit_leaves_a_differently_cased_unit_alone(client, auth, app, tree):
    """Regression (SQLite): LIKE was case-insensitive, so renaming 'abc' moved 'Abc/子' too."""
    auth.login()
    upload_units(client, [["单位", "应参人数"], ["Abc", "1"], ["Abc/子", "2"], ["abc", "3"]])
    with app.app_context():
        lower = db.session.execute(select(Unit.id).where(Unit.path == "abc")).scalar_one()
    assert client.post(f"/units/{lower}/edit", data={"name": "xyz", "headcount": "3"}).status_code == 302
    parents = parents_in_db(app)
    assert parents.get("Abc/子") == "Abc" and "xyz/子" not in parents


def test_organiser_scope_is_case_sensitive(client, app, tree):
    """Regression (SQLite): the scope filter's LIKE let the organiser of 'abc' see 'Abc/子'."""
    from quiz.services.people import create_user
    from quiz.services.units import ensure_path

    with app.app_context():
        for path in ("Abc", "Abc/子", "abc"):
            ensure_path(path.split("/"), actor=None, now=FIXED_NOW)
        lower = db.session.execute(select(Unit).where(Unit.path == "abc")).scalar_one()
        create_user("lower", role="organiser", password="secret-pass", unit=lower, now=FIXED_NOW)
        db.session.commit()
    client.post("/login", data={"username": "lower", "password": "secret-pass"})
    assert listed_paths(client.get("/units/").get_data(as_text=True)) == ["abc"]


@pytest.mark.parametrize("name", ["甲>乙", "甲＞乙", "甲／乙", "甲\\乙"])
def test_unit_names_with_path_separators_are_refused(client, auth, app, tree, name):
    """Uploads split paths on / ／ \\ > ＞, so a unit named with one could never be addressed
    in a unit or roster upload: the add and edit forms refuse such names."""
    auth.login()
    client.post("/units/new", data={"parent": tree["乔司街道"], "name": name, "headcount": "3"})
    response = client.post(f"/units/{tree['乔司街道/永丰村']}/edit", data={"name": name, "headcount": "80"})
    assert response.status_code == 422
    assert units_in_db(app) == ORIGINAL
    # The upload reads the same text as a path of two units.
    upload_units(client, [["单位", "应参人数"], [f"乔司街道/{name}", "9"]])
    assert units_in_db(app)["乔司街道/甲/乙"] == 9


def test_delete_refuses_a_unit_with_children_or_people(client, auth, app, tree):
    auth.login()
    response = client.post(f"/units/{tree['乔司街道']}/delete")
    assert response.status_code == 302
    assert flashes(client.get("/units/").get_data(as_text=True))
    assert units_in_db(app) == ORIGINAL

    with app.app_context():
        db.session.add(Participant(name="张三", phone="13800138000", unit_id=tree["乔司街道/三角村社区"]))
        db.session.commit()
    client.post(f"/units/{tree['乔司街道/三角村社区']}/delete")
    assert "乔司街道/三角村社区" in units_in_db(app)

    assert client.post(f"/units/{tree['乔司街道/永丰村']}/delete").status_code == 302
    assert "乔司街道/永丰村" not in units_in_db(app)
    assert client.post(f"/units/{tree['乔司街道/永丰村']}/delete").status_code == 404


# ---------------------------------------------------------------- organiser scope

def test_organiser_sees_only_their_subtree(client, auth, app, tree):
    auth.login("qiaosi")
    page = client.get("/units/").get_data(as_text=True)
    assert set(listed_paths(page)) == {"乔司街道", "乔司街道/三角村社区", "乔司街道/永丰村"}
    assert "伦教" not in page
    assert listed_paths(client.get("/units/?q=永丰").get_data(as_text=True)) == ["乔司街道/永丰村"]
    assert listed_paths(client.get("/units/?q=常教").get_data(as_text=True)) == []
    found = client.get("/units/search.json?q=社区").get_json()
    assert [u["path"] for u in found["units"]] == ["乔司街道/三角村社区"]
    options = re.findall(r'<option value="(\d+)"', page)
    assert str(tree["伦教街道"]) not in options and str(tree["乔司街道/永丰村"]) in options


def test_organiser_cannot_touch_units_outside_the_subtree(client, auth, app, tree):
    auth.login("qiaosi")
    other = tree["伦教街道/常教社区"]
    assert client.get(f"/units/{other}/edit").status_code == 403
    assert client.post(f"/units/{other}/edit", data={"name": "被改名", "headcount": "1"}).status_code == 403
    assert client.post(f"/units/{other}/delete").status_code == 403
    assert client.post("/units/new", data={"parent": tree["伦教街道"], "name": "新村", "headcount": "1"}
                       ).status_code == 403
    response = client.post("/units/new", data={"parent": "", "name": "顶级新街道", "headcount": "1"})
    assert response.status_code in (302, 403)
    for rows in ([["单位", "应参人数"], ["伦教街道/新村", "5"]],
                 [["单位", "应参人数"], ["另一个街道", "5"]],
                 [["单位", "应参人数"], ["伦教街道", "500"]],
                 [["单位", "应参人数"], ["乔司街道/合法村", "5"], ["伦教街道/常教社区", "1"]]):
        upload_units(client, rows)
    assert units_in_db(app) == ORIGINAL


def test_organiser_manages_units_inside_the_subtree(client, auth, app, tree):
    auth.login("qiaosi")
    assert client.post("/units/new", data={"parent": tree["乔司街道/三角村社区"], "name": "一组", "headcount": "9"}
                       ).status_code == 302
    assert upload_units(client, [["单位", "应参人数"], ["乔司街道/新村/二组", "4"], ["乔司街道", "11"]]
                        ).status_code == 302
    assert client.post(f"/units/{tree['乔司街道/永丰村']}/edit", data={"name": "永丰社区", "headcount": "70"}
                       ).status_code == 302
    units = units_in_db(app)
    assert units["乔司街道/三角村社区/一组"] == 9
    assert units["乔司街道/新村/二组"] == 4 and units["乔司街道/新村"] == 0
    assert units["乔司街道"] == 11  # own unit's headcount
    assert units["乔司街道/永丰社区"] == 70
    # But not rename or delete their own unit.
    assert client.post(f"/units/{tree['乔司街道']}/edit", data={"name": "乔司镇", "headcount": "11"}
                       ).status_code == 403
    client.post(f"/units/{tree['乔司街道']}/delete")
    assert "乔司街道" in units_in_db(app)
