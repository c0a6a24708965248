"""Malformed input never gives a 500 (issue 8): NUL bytes, lone surrogates, ids beyond the
database's integer range, non-finite numbers, odd digits and dates, duplicate audience units and
deeply nested JSON each get a clear 4xx message naming the field. Run on SQLite and PostgreSQL
(PostgreSQL is where NUL bytes and surrogates used to fail)."""
from __future__ import annotations

import io
import logging

import pytest

from quiz.extensions import db
from quiz.inputs import MAX_DB_INT
from quiz.models import Attempt, Quiz
from tests.quizdata import make_bank

HUGE = MAX_DB_INT + 1
QUIZ = {"title": "应知应会", "banks": ["题库"], "duration_seconds": 600,
        "rules": [{"type": "单选", "count": 2, "points": 2}, {"type": "判断", "count": 1, "points": 1}]}
PERSON = {"name": "张三", "phone": "13800138000", "unit": "乔司街道/三角村社区"}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(token_for):
    return bearer(token_for("admin"))


@pytest.fixture
def quiz(app, client, admin, tree):
    with app.app_context():
        make_bank()
    response = client.post("/api/v1/quizzes", json=QUIZ, headers=admin)
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def sheet(client, quiz):
    body = client.post(f"/api/v1/join/{quiz['join_code']}", json=PERSON).json
    return body


def post_raw(client, url, text, headers=None, method="post"):
    """Send `text` as a JSON body verbatim (lone surrogates, NaN and deep nesting included)."""
    return getattr(client, method)(url, data=text.encode("utf-8", "surrogatepass"),
                                   content_type="application/json", headers=headers or {})


def assert_names(response, status, *words):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
    text = response.json["error"] if response.is_json else response.get_data(as_text=True)
    for word in words:
        assert word in text, (word, text[:500])


# ------------------------------------------------------------------ NUL bytes in query strings
def test_nul_in_manager_search_is_400_naming_the_field(app, client, auth):
    with app.app_context():
        make_bank()
        from quiz.models import Bank
        bank = db.session.execute(db.select(Bank.id)).scalar_one()
    auth.login()
    for url, field in ((f"/banks/{bank}?q=a%00b", "q"), (f"/banks/{bank}?tag=%00", "tag"), ("/people/?q=%00", "q"),
                       ("/units/?q=x%00", "q"), ("/units/search.json?q=%00", "q"), ("/people/?a%00=1", "a\\u0000")):
        assert_names(client.get(url), 400, f"“{field}”", "空字符")


def test_nul_in_public_board_and_path_is_400(client, quiz):
    for query, field in (("unit=%00", "unit"), ("q=%00", "q"), ("unit=a%00b&q=x", "unit")):
        assert_names(client.get(f"/board/{quiz['id']}?{query}"), 400, f"“{field}”")
    assert_names(client.get("/j/AB%00CD"), 400, "空字符", "“code”")
    assert_names(client.post("/api/v1/join/AB%00CD", json=PERSON), 400, "空字符")


# ------------------------------------------------------------------ joining
def test_nul_and_surrogates_in_join_api_are_422_naming_the_field(app, client, quiz):
    url = f"/api/v1/join/{quiz['join_code']}"
    for field in ("name", "phone", "unit"):
        response = client.post(url, json={**PERSON, field: "张\x00三"})
        assert_names(response, 422, f"“{field}”", "空字符")
        assert response.json["status"] == 422
        body = '{"name": "张三", "phone": "13800138000", "unit": "乔司街道/三角村社区"}'.replace(
            f'"{field}": "', f'"{field}": "\\ud800')
        assert_names(post_raw(client, url, body), 422, f"“{field}”", "代理")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Attempt.id))) == 0


def test_nul_in_web_join_form_is_400(app, client, quiz):
    for field in ("name", "phone", "unit"):
        response = client.post(f"/j/{quiz['join_code']}", data={**PERSON, field: "张\x00三"})
        assert_names(response, 400, f"“{field}”", "空字符")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Attempt.id))) == 0


# ------------------------------------------------------------------ creating quizzes (API)
@pytest.fixture
def bank(app, tree):
    with app.app_context():
        make_bank()


def quiz_count(app) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Quiz.id)))


def test_nul_in_quiz_fields_is_422(app, client, admin, bank):
    for field, value, named in (
            ("title", "应知\x00应会", "title"), ("description", "\x00", "description"), ("mode", "\x00", "mode"),
            ("opens_at", "2026-12-01\x00", "opens_at"), ("banks", ["题\x00库"], "banks[0]"),
            ("audience", {"units": ["乔司\x00街道"]}, "audience.units[0]"),
            ("rules", [{"type": "单选", "count": 1, "points": 2, "tags": ["枫桥\x00经验"]}], "rules[0].tags[0]")):
        response = client.post("/api/v1/quizzes", json={**QUIZ, field: value}, headers=admin)
        assert_names(response, 422, f"“{named}”", "空字符")
    assert quiz_count(app) == 0


def test_lone_surrogates_in_quiz_fields_are_422(app, client, admin, bank):
    for field in ("title", "description"):
        body = ('{"title": "应知应会", "description": "说明", "banks": ["题库"], "duration_seconds": 600,'
                ' "rules": [{"type": "单选", "count": 2, "points": 2}]}').replace(f'"{field}": "', f'"{field}": "\\udc80')
        assert_names(post_raw(client, "/api/v1/quizzes", body, headers=admin), 422, f"“{field}”", "代理", "\\udc80")
    raw = b'{"title": "\xed\xa0\x80", "banks": ["\xe9\xa2\x98\xe5\xba\x93"], "duration_seconds": 600}'  # as bytes
    response = client.post("/api/v1/quizzes", data=raw, content_type="application/json", headers=admin)
    assert_names(response, 422, "“title”")
    assert quiz_count(app) == 0


def test_non_finite_numbers_are_422_naming_the_field(app, client, admin, bank):
    for field in ("duration_seconds", "pass_score", "attempts_allowed", "min_seconds", "excellent_score"):
        for literal in ("Infinity", "-Infinity", "NaN", "1e999", "-1e999"):
            body = ('{"title": "t", "banks": ["题库"], "rules": [{"type": "单选", "count": 2, "points": 2}], '
                    '"duration_seconds": 600, "%s": %s}' % (field, literal))
            assert_names(post_raw(client, "/api/v1/quizzes", body, headers=admin), 422, f"“{field}”", "有限")
    for rule_field in ("count", "points"):
        for literal in ("Infinity", "1e999", "NaN"):
            rule = '{"type": "单选", "count": 2, "points": 2}'.replace(f'"{rule_field}": 2', f'"{rule_field}": {literal}')
            body = '{"title": "t", "banks": ["题库"], "duration_seconds": 600, "rules": [%s]}' % rule
            assert_names(post_raw(client, "/api/v1/quizzes", body, headers=admin), 422, f"rules[0].{rule_field}")
    assert quiz_count(app) == 0


def test_odd_numbers_in_quiz_fields_are_422(app, client, admin, bank):
    for field in ("duration_seconds", "attempts_allowed", "min_seconds", "pass_score"):
        for value in ("²", "1e999", "inf", "nan", "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠", "9" * 5000, 10 ** 30, -(10 ** 30),
                      True, [1], {"a": 1}):
            response = client.post("/api/v1/quizzes", json={**QUIZ, field: value}, headers=admin)
            assert_names(response, 422, field)
    assert quiz_count(app) == 0


def test_odd_bank_references_are_422(app, client, admin, bank):
    for value in ("²", "٣", str(HUGE), HUGE, 10 ** 30, -1, 0, True, 1.5, None, {"id": 1}, "9" * 40):
        response = client.post("/api/v1/quizzes", json={**QUIZ, "banks": [value]}, headers=admin)
        assert_names(response, 422, "banks")
    assert quiz_count(app) == 0


def test_odd_dates_are_422_naming_the_field(app, client, admin, bank):
    for field in ("opens_at", "closes_at"):
        for value in ("0001-01-01T00:00", "0001-01-01T00:00+14:00", "9999-12-31T23:59", "9999-12-31T23:59-12:00",
                      "1999-12-31T23:59", "2101-01-01T00:00", "²", 20261201, True, ["2026-12-01"]):
            response = client.post("/api/v1/quizzes", json={**QUIZ, field: value}, headers=admin)
            assert_names(response, 422, field)
    assert quiz_count(app) == 0
    response = client.post("/api/v1/quizzes", headers=admin,
                           json={**QUIZ, "opens_at": "2026-12-01T09:00", "closes_at": "2026-12-07T18:00Z"})
    assert response.status_code == 201, response.json


def test_duplicate_audience_units_are_merged(app, client, admin, bank):
    units = ["乔司街道", "乔司街道", " 乔司街道 ", "乔司街道/三角村社区", "乔司街道/三角村社区"]
    response = client.post("/api/v1/quizzes", json={**QUIZ, "audience": {"units": units}}, headers=admin)
    assert response.status_code == 201, response.json
    with app.app_context():
        quiz = db.session.get(Quiz, response.json["id"])
        assert sorted(u.path for u in quiz.audience_units) == ["乔司街道", "乔司街道/三角村社区"]


def test_odd_audience_is_422(app, client, admin, bank):
    for units in (5, 1.5, True, {"x": 1}, [["乔司街道"]], [None]):
        response = client.post("/api/v1/quizzes", json={**QUIZ, "audience": {"units": units}}, headers=admin)
        assert_names(response, 422, "audience")


def test_deeply_nested_json_is_422(client, admin, sheet, quiz):
    shapes = ["[" * 30_000 + "]" * 30_000, '{"a":' * 5_000 + "1" + "}" * 5_000,
              '{"response": ' + "[" * 40 + "]" * 40 + "}"]
    for url, method, headers in (("/api/v1/quizzes", "post", admin),
                                 (f"/api/v1/join/{quiz['join_code']}", "post", {}),
                                 (f"/api/v1/attempts/{sheet['attempt_id']}/answers/1", "put", bearer(sheet["token"])),
                                 (f"/api/v1/attempts/{sheet['attempt_id']}/events", "post", bearer(sheet["token"]))):
        for shape in shapes:
            assert_names(post_raw(client, url, shape, headers=headers, method=method), 422, "嵌套")


# ------------------------------------------------------------------ the web quiz form
def test_odd_values_in_web_quiz_form_are_explained(app, client, auth):
    with app.app_context():
        make_bank()
        from quiz.models import Bank
        bank = db.session.execute(db.select(Bank.id)).scalar_one()
    auth.login()
    for field, value in (("duration_minutes", "inf"), ("duration_minutes", "1e999"), ("duration_minutes", "²"),
                         ("duration_minutes", "nan"), ("banks", "²"), ("banks", str(HUGE)), ("attempts_allowed", "²"),
                         ("pass_score", "inf"), ("opens_at", "0001-01-01T00:00"), ("closes_at", "9999-12-31T23:59"),
                         ("rule_count", "²"), ("rule_points", "inf"), ("rule_count", "1e999")):
        form = {"title": "t", "duration_minutes": "10", "banks": str(bank), "rule_type": "single",
                "rule_count": "1", "rule_points": "2", "rule_tags": ""}
        form[field] = value
        response = client.post("/quizzes/new", data=form)
        assert response.status_code == 200, (field, value, response.status_code)
        assert "danger" in response.get_data(as_text=True), (field, value)
    assert quiz_count(app) == 0
    response = client.post("/quizzes/new", data={"title": "应知\x00应会", "duration_minutes": "10"})
    assert_names(response, 400, "“title”", "空字符")


# ------------------------------------------------------------------ ids beyond the integer range
def test_huge_ids_in_public_urls_are_404(client, admin, sheet):
    token = bearer(sheet["token"])
    for big in (HUGE, 10 ** 17, 10 ** 40):
        for method, url, headers in (
                ("get", "/api/v1/attempts/{big}", token), ("post", "/api/v1/attempts/{big}/submit", token),
                ("get", "/api/v1/attempts/{big}/review", token), ("post", "/api/v1/attempts/{big}/events", token),
                ("put", "/api/v1/attempts/{big}/answers/1", token),
                ("put", "/api/v1/attempts/{attempt}/answers/{big}", token),
                ("get", "/api/v1/quizzes/{big}", admin), ("get", "/api/v1/quizzes/{big}/leaderboard", {}),
                ("get", "/board/{big}", {}), ("get", "/board/{big}/screen", {}), ("get", "/a/{big}", {}),
                ("get", "/a/{big}/result", {}), ("post", "/me/wrong/{big}/check", {})):
            url = url.format(big=big, attempt=sheet["attempt_id"])
            response = getattr(client, method)(url, json={"response": "A"}, headers=headers)
            assert response.status_code == 404, (url, response.status_code)
    # the largest id the database holds is still looked up (and simply not found)
    assert client.get(f"/api/v1/attempts/{MAX_DB_INT}", headers=token).status_code == 404


def test_huge_ids_in_manager_urls_are_404(client, auth):
    auth.login()
    for url in ("/quizzes/{big}", "/quizzes/{big}/leaderboard", "/quizzes/{big}/report", "/quizzes/{big}/analysis",
                "/banks/{big}", "/banks/questions/{big}/edit", "/units/{big}/edit", "/quizzes/{big}/counts.json",
                "/quizzes/{big}/export/leaderboard.csv", "/banks/{big}/export.csv"):
        assert client.get(url.format(big=HUGE)).status_code == 404, url


def test_huge_ids_skip_the_fast_lane_quietly(client, sheet, caplog):
    caplog.set_level(logging.WARNING, logger="quiz.answer_lane")
    for big in (HUGE, 10 ** 17):
        response = client.put(f"/api/v1/attempts/{big}/answers/1", json={"response": "A"},
                              headers=bearer(sheet["token"]))
        assert response.status_code == 404
    assert "falling back" not in caplog.text


def test_odd_ids_in_query_strings_and_forms(app, client, auth, quiz):
    auth.login()
    for value in (str(HUGE), "9" * 30, "²", "٣", "-1", "abc"):
        assert client.get(f"/people/?unit={value}").status_code == 200
        assert client.get(f"/quizzes/{quiz['id']}/report?level={value}").status_code == 200
        r = client.post("/people/participants", data={"name": "李四", "phone": "13800138001", "unit": value})
        assert r.status_code == 302
        assert client.post("/units/new", data={"name": "新单位", "parent": value}).status_code == 404
        r = client.post(f"/quizzes/{quiz['id']}/analysis", data={"question": [value, "1"]})
        assert r.status_code in (200, 302)
        r = client.post(f"/quizzes/{quiz['id']}/regrade", data={"undo": value, "reason": "x"})
        assert r.status_code == 404
        r = client.post("/banks/upload", data={"bank": "b", "unit": value, "file": (io.BytesIO(b"x"), "a.csv")},
                        content_type="multipart/form-data")
        assert_names(r, 422, "单位")


# ------------------------------------------------------------------ paging and numbers in query strings
def test_huge_page_numbers(app, client, auth, quiz):
    with app.app_context():
        from quiz.models import Bank
        bank = db.session.execute(db.select(Bank.id)).scalar_one()
    auth.login()
    for page in ("9" * 30, str(HUGE), "²", "-5", "0", "1e999"):
        for url in (f"/banks/{bank}?page={page}", f"/people/?page={page}", f"/board/{quiz['id']}?page={page}",
                    f"/quizzes/{quiz['id']}/leaderboard?page={page}", f"/board/{quiz['id']}/screen?top={page}"):
            assert client.get(url).status_code == 200, url


def test_leaderboard_api_numbers(client, quiz):
    for query in ("offset=" + "9" * 30, f"offset={HUGE}", "limit=" + "9" * 30, "offset=-5"):
        response = client.get(f"/api/v1/quizzes/{quiz['id']}/leaderboard?{query}")
        assert response.status_code == 200 and response.json["entries"] == [], query
    for query in ("offset=²", "limit=1e999", "limit=abc"):
        response = client.get(f"/api/v1/quizzes/{quiz['id']}/leaderboard?{query}")
        assert_names(response, 422, query.split("=")[0])


def test_paging_links_survive_odd_query_names(app):
    page_url = app.jinja_env.globals["page_url"]
    for query in ("quiz_id=abc", "_scheme=x", "_external=1", "_anchor=x", "_method=DELETE", "page=3&q=张"):
        with app.test_request_context(f"/board/7?{query}"):
            link = page_url(2)
        assert link.startswith("/board/7?") and "page=2" in link and "_" not in link, (query, link)


def test_points_page_odd_numbers_and_dates(client, auth, quiz):
    auth.login()
    for query in ("participate=inf", "passed=1e999", "full_marks=nan", "daily_cap=-inf",
                  "period=custom&start=0001-01-01&end=9999-12-31",
                  "period=custom&start=2026-01-01&end=9999-12-31T23:59-12:00"):
        response = client.get(f"/points?{query}")
        assert response.status_code == 200
        assert "danger" in response.get_data(as_text=True), query


# ------------------------------------------------------------------ answers
def test_odd_answer_bodies_are_422_and_change_nothing(app, client, sheet):
    with app.app_context():
        qid = db.session.get(Attempt, sheet["attempt_id"]).paper[0]["q"]
    url = f"/api/v1/attempts/{sheet['attempt_id']}/answers/{qid}"
    for body, words in (('{"response": "A\\u0000"}', ("“response”", "空字符")),
                        ('{"response": ["\\ud800"]}', ("“response[0]”", "代理")),
                        ('{"response": NaN}', ("“response”",)), ('{"response": 1e999}', ("“response”",)),
                        ('{"response\\u0000": "A"}', ("response\\u0000",))):
        assert_names(post_raw(client, url, body, headers=bearer(sheet["token"]), method="put"), 422, *words)
    state = client.get(f"/api/v1/attempts/{sheet['attempt_id']}", headers=bearer(sheet["token"])).json
    assert state["answers"] == {}


def test_non_ascii_sheet_tokens_are_401(client, sheet):
    url = f"/api/v1/attempts/{sheet['attempt_id']}"
    assert client.get(url, headers={"X-Attempt-Token": "ä" * 10}).status_code == 401
    response = client.put(f"{url}/answers/1", json={"response": "A"}, headers={"X-Attempt-Token": "ä"})
    assert response.status_code == 401
    assert client.get(f"/a/{sheet['attempt_id']}?token=%E4%B8%AD").status_code == 401


def test_wrong_book_check_with_a_list_body(app, client, sheet):
    with app.app_context():
        person = db.session.get(Attempt, sheet["attempt_id"]).participant_id
    with client.session_transaction() as s:
        s["participant_id"] = person
    response = client.post("/me/wrong/1/check", json=[1, 2])
    assert response.status_code == 422


def test_extend_without_minutes_is_explained(app, client, auth, quiz):
    auth.login()
    for minutes in ("", " ", "²", "9" * 40, "inf"):
        response = client.post(f"/quizzes/{quiz['id']}/extend", data={"minutes": minutes}, follow_redirects=True)
        assert response.status_code == 200
        assert "minutes" in response.get_data(as_text=True), minutes
    with app.app_context():
        assert db.session.get(Quiz, quiz["id"]).closes_at is None


def test_multipart_part_without_a_usable_name(client, auth):
    auth.login()
    response = client.post("/banks/confirm", data={"\t\n": "", "file": (io.BytesIO(b""), "x.csv")},
                           content_type="multipart/form-data")
    assert response.status_code in (302, 400)


def test_logged_in_account_joining_with_a_second_phone(app, client, auth, quiz):
    """Found by the fuzz test: the account was linked to the first person, and creating the second
    one linked to it too broke the unique user_id (a 500)."""
    auth.login()
    first = client.post(f"/j/{quiz['join_code']}", data=PERSON)
    assert first.status_code == 302
    second = client.post(f"/j/{quiz['join_code']}", data={**PERSON, "name": "李四", "phone": "13900139000"})
    assert second.status_code == 302
    with app.app_context():
        from quiz.models import Participant
        people = db.session.execute(db.select(Participant).order_by(Participant.id)).scalars().all()
        assert [p.phone for p in people] == ["13800138000", "13900139000"]
        assert people[0].user_id is not None and people[1].user_id is None


def test_nul_in_uploaded_csv_cells_names_the_row_and_column(app, client, admin, auth):
    from tests.conftest import HEADER, csv_bytes
    rows = [HEADER, ["单选", "题干", "甲", "乙", "", "", "A", "", "", "", ""],
            ["单选", "题干\x00有空字符", "甲", "乙", "", "", "A", "", "", "", ""]]
    for encoding in ("utf-8-sig", "utf-16"):
        response = client.post("/api/v1/banks/import", headers=admin, content_type="multipart/form-data",
                               data={"bank": "题库", "file": (io.BytesIO(csv_bytes(rows, encoding)), "b.csv")})
        assert response.status_code == 422
        assert response.json["rejected"] == [{"row": 3, "message": response.json["rejected"][0]["message"]}]
        assert "第3行" in response.json["rejected"][0]["message"] and "题干" in response.json["rejected"][0]["message"]
    auth.login()
    units = csv_bytes([["单位", "应参人数"], ["乔司\x00街道", "5"]], "utf-8-sig")
    response = client.post("/units/import", data={"file": (io.BytesIO(units), "u.csv")},
                           content_type="multipart/form-data", follow_redirects=True)
    assert response.status_code == 200 and "第2行" in response.get_data(as_text=True)


def test_responses_are_flasks_json_written_by_orjson(app):
    """The app's JSON output (jsonify and the lanes) is Flask's: keys sorted, Flask's forms for
    dates, decimals and dataclasses, text as UTF-8; what orjson cannot write goes Flask's way."""
    import dataclasses
    import datetime
    import decimal
    import enum
    import json
    import uuid

    from flask import jsonify
    from markupsafe import Markup

    class Kind(enum.IntEnum):
        SINGLE = 1

    @dataclasses.dataclass
    class Point:
        x: int

    value = {"b": 1, "a": "应知应会 – “引号”", "when": datetime.datetime(2026, 1, 1, 8, tzinfo=datetime.timezone.utc),
             "day": datetime.date(2026, 1, 2), "score": decimal.Decimal("1.5"), "point": Point(3),
             "id": uuid.UUID(int=5), "f": 1.0, "none": None, "pair": (1, 2), "nested": {"z": [], "y": {}},
             "kind": Kind.SINGLE, "html": Markup("<b>是</b>")}
    flask_way = json.dumps(value, default=app.json.default, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    with app.test_request_context():
        assert app.json.dumps(value, separators=(",", ":")) == flask_way
        assert jsonify(value).get_data(as_text=True) == flask_way + "\n"
        assert json.loads(app.json.dumps({"big": 2 ** 70}, separators=(",", ":"))) == {"big": 2 ** 70}
        assert app.json.dumps({"b": 1, "a": 2}) == '{"a": 2, "b": 1}'  # other arguments: Flask's own
