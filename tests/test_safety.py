"""Abuse limits and account safety (issue 8): log-in lockout and per-address limits, join-code
guessing, an office NAT joining at once, joins that reveal no registration and move nobody,
per-quiz identity checks (roster, personal access codes), security headers and cookie flags, and
the warning for several workers counting rate limits in memory://."""
from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Attempt, Participant, Quiz
from quiz.services.people import save_participant
from quiz.services.quizzes import JOIN_ALPHABET
from quiz.services.units import find_unit
from tests.conftest import FIXED_NOW
from tests.quizdata import make_bank

ROOT = Path(__file__).resolve().parent.parent
QUIZ = {"title": "安全测试", "banks": ["题库"], "duration_seconds": 600,
        "rules": [{"type": "单选", "count": 2, "points": 5}]}
NAT = {"REMOTE_ADDR": "203.0.113.7"}
OTHER = {"REMOTE_ADDR": "198.51.100.9"}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make(client, app, token_for, tree):
    """make(**settings) → the created quiz's JSON ({"id", "join_code", "join_url"})."""
    with app.app_context():
        make_bank()
    token = token_for("admin")

    def create(**settings):
        response = client.post("/api/v1/quizzes", json={**QUIZ, **settings}, headers=bearer(token))
        assert response.status_code == 201, response.json
        return response.json

    return create


def roster(app, *people):
    """Put (name, phone, unit path) on the roster."""
    with app.app_context():
        for name, phone, path in people:
            save_participant(name=name, phone=phone, unit=find_unit(path), actor=None, now=FIXED_NOW)
        db.session.commit()


def login(client, username, password="secret-pass", env=None):
    return client.post("/login", data={"username": username, "password": password}, environ_base=env or NAT)


def flashed(response) -> str:
    return " ".join(re.findall(r'class="flash[^"]*"[^>]*>([^<]*)<', response.get_data(as_text=True)))


# ---------------------------------------------------------------- logging in
def test_login_locks_the_user_name_after_ten_failures_and_says_when_to_retry(client, users):
    for _ in range(10):
        response = login(client, "qiaosi", "wrong-password")
        assert response.status_code == 200 and "用户名或密码错误" in flashed(response)
    locked = login(client, "qiaosi")  # even the right password, until the window ends
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 14 * 60  # the lockout's window (or a longer limit's)
    message = flashed(locked)
    assert "登录失败次数过多" in message and "15 分钟后" in message
    assert client.get("/quizzes/").status_code == 302  # not logged in
    # a user name that does not exist gets exactly the same treatment: the lockout reveals nothing
    for _ in range(10):
        login(client, "nobody-here", "wrong-password")
    ghost = login(client, "nobody-here", "whatever")
    assert ghost.status_code == 429 and flashed(ghost) == message
    # other accounts from the same address are not locked
    assert login(client, "lunjiao").status_code == 302


def test_a_successful_login_clears_only_its_own_count(client, users, app):
    app.config["LOGIN_FAILURE_LIMIT_PER_ADDRESS"] = "12 per 15 minutes"
    for _ in range(9):
        login(client, "qiaosi", "wrong-password")
    assert login(client, "qiaosi").status_code == 302
    client.post("/logout")
    for _ in range(2):  # the account's count started again …
        assert login(client, "qiaosi", "wrong-password").status_code == 200
    assert login(client, "qiaosi").status_code == 302
    client.post("/logout")
    # … but the address's did not: 9 + 2 failures so far, the 12th blocks the address
    assert login(client, "judge1", "wrong-password").status_code == 200
    blocked = login(client, "admin")
    assert blocked.status_code == 429 and "网络" in flashed(blocked)
    assert login(client, "admin", env=OTHER).status_code == 302  # another address is fine


def test_password_spraying_from_one_address_is_limited(client, users, app):
    app.config["LOGIN_FAILURE_LIMIT_PER_ADDRESS"] = "20 per 15 minutes"  # the default is 100
    for i in range(20):
        assert login(client, f"guess{i}", "123456").status_code == 200
    assert login(client, "admin").status_code == 429
    assert login(client, "admin", env=OTHER).status_code == 302


# ---------------------------------------------------------------- join codes
def test_guessing_join_codes_is_limited_per_address(client, make):
    quiz = make()
    wrong = [c for c in ("AAAAAA", "BBBBBB", "CCCCCC") if c != quiz["join_code"]][0]
    for i in range(100):
        if i % 2:
            response = client.get(f"/j/{wrong}", environ_base=NAT)
        else:
            response = client.post(f"/api/v1/join/{wrong}", json={"name": "甲", "phone": f"1390000{i:04d}"},
                                   environ_base=NAT)
        assert response.status_code == 404
    # over the limit every lookup from that address is refused, the right code too (a right guess
    # must not be recognisable), with a message and Retry-After
    for response in (client.get(f"/j/{quiz['join_code']}", environ_base=NAT),
                     client.post(f"/api/v1/join/{quiz['join_code']}", environ_base=NAT,
                                 json={"name": "张三", "phone": "13800138000", "unit": "乔司街道/三角村社区"})):
        assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert "加入码" in client.post(f"/api/v1/join/{wrong}", json={}, environ_base=NAT).json["error"]
    assert client.get(f"/j/{quiz['join_code']}", environ_base=OTHER).status_code == 200


def test_an_office_nat_of_200_people_joining_at_once_all_get_in(client, make, app):
    """200 colleagues behind one address join one quiz within seconds (some mistype the code or
    their name first, as people do); nobody is throttled."""
    quiz = make()
    code = quiz["join_code"]
    typo = "".join(JOIN_ALPHABET[(JOIN_ALPHABET.index(c) + 1) % len(JOIN_ALPHABET)] for c in code)
    started = time.monotonic()
    for i in range(200):
        phone = f"1380000{i:04d}"
        if i % 10 == 0:  # one in ten mistypes the code first
            assert client.get(f"/j/{typo}", environ_base=NAT).status_code == 404
        if i % 2:
            response = client.post(f"/j/{code}", environ_base=NAT,
                                   data={"name": f"同事{i}", "phone": phone, "unit": "乔司街道/三角村社区"})
            assert response.status_code == 302 and "/a/" in response.headers["Location"], flashed(response)
        else:
            response = client.post(f"/api/v1/join/{code}", environ_base=NAT,
                                   json={"name": f"同事{i}", "phone": phone, "unit": "乔司街道/永丰村"})
            assert response.status_code == 201, response.json
    assert time.monotonic() - started < 120
    with app.app_context():
        assert db.session.scalar(select(db.func.count(Attempt.id))) == 200


# ---------------------------------------------------------------- what joining reveals and changes
def test_joining_does_not_reveal_whether_a_phone_is_registered(client, make, app):
    open_quiz = make()
    roster_quiz = make(identity_check="roster")
    roster(app, ("张三", "13800138000", "乔司街道/三角村社区"))
    person = {"name": "李四", "phone": "13800138000", "unit": "乔司街道/三角村社区"}
    known = client.post(f"/api/v1/join/{open_quiz['join_code']}", json=person)
    assert known.status_code == 403
    assert known.json["error"] == "姓名与手机号不匹配，请核对或联系组织者。"
    assert "注册" not in known.json["error"] and "another name" not in known.json["error"]
    page = client.post(f"/j/{open_quiz['join_code']}", data=person)
    assert flashed(page) == known.json["error"]
    # a roster quiz answers an unknown phone, a wrong name and a non-roster person identically
    with app.app_context():
        db.session.add(Participant(name="王五", phone="13700137000", unit_id=find_unit("乔司街道").id,
                                   on_roster=False, created_at=FIXED_NOW, updated_at=FIXED_NOW))
        db.session.commit()
    answers = {(r.status_code, r.json["error"]) for r in (
        client.post(f"/api/v1/join/{roster_quiz['join_code']}", json={"name": "李四", "phone": "13800138000"}),
        client.post(f"/api/v1/join/{roster_quiz['join_code']}", json={"name": "李四", "phone": "13900139000"}),
        client.post(f"/api/v1/join/{roster_quiz['join_code']}", json={"name": "王五", "phone": "13700137000"}),
    )}
    assert answers == {(403, "姓名、手机号与本竞赛参赛名单不匹配，请核对或联系组织者。")}


def test_wrong_names_for_one_phone_are_limited(client, make, app):
    quiz = make()
    roster(app, ("张三", "13800138000", "乔司街道/三角村社区"))
    for i in range(10):  # from ten different addresses
        response = client.post(f"/api/v1/join/{quiz['join_code']}", environ_base={"REMOTE_ADDR": f"10.0.0.{i}"},
                               json={"name": f"张{i}", "phone": "13800138000"})
        assert response.status_code == 403
    locked = client.post(f"/api/v1/join/{quiz['join_code']}", json={"name": "张三", "phone": "13800138000"})
    assert locked.status_code == 429 and "手机号" in locked.json["error"]
    other = client.post(f"/api/v1/join/{quiz['join_code']}",
                        json={"name": "李四", "phone": "13900139000", "unit": "乔司街道/永丰村"})
    assert other.status_code == 201


def test_joining_never_moves_a_person_to_another_unit(client, make, app):
    first, second = make(), make()
    me = {"name": "赵六", "phone": "13600136000", "unit": "乔司街道/三角村社区"}
    assert client.post(f"/api/v1/join/{first['join_code']}", json=me).status_code == 201
    # someone with my name and phone picks another unit: the sheet stays under my unit
    moved = client.post(f"/api/v1/join/{second['join_code']}", json={**me, "unit": "伦教街道/常教社区"})
    assert moved.status_code == 201
    page = client.post(f"/j/{first['join_code']}", data={**me, "unit": "乔司街道/永丰村"})
    assert page.status_code == 302
    warning = flashed(client.get(page.headers["Location"]))
    assert "乔司街道/三角村社区" in warning and "组织者" in warning
    with app.app_context():
        person = db.session.execute(select(Participant).where(Participant.phone == "13600136000")).scalar_one()
        assert person.unit.path == "乔司街道/三角村社区"
        assert {a.participant.unit.path for a in db.session.execute(select(Attempt)).scalars()} == {
            "乔司街道/三角村社区"}
    # a quiz that is not open to the registered unit says so instead of moving the person
    lunjiao = make(audience={"units": ["伦教街道"]})
    refused = client.post(f"/api/v1/join/{lunjiao['join_code']}", json={**me, "unit": "伦教街道/常教社区"})
    assert refused.status_code == 403 and "乔司街道/三角村社区" in refused.json["error"]
    # the organiser can move them (with their results)
    with app.app_context():
        save_participant(name="赵六", phone="13600136000", unit=find_unit("伦教街道/常教社区"), actor=None,
                         now=FIXED_NOW)
        db.session.commit()
    assert client.post(f"/api/v1/join/{lunjiao['join_code']}", json=me).status_code == 201


# ---------------------------------------------------------------- per-quiz identity check
def test_identity_check_setting_in_the_api_and_the_form(client, make, app, token_for, auth):
    created = make(identity_check="code")
    status = client.get(f"/api/v1/quizzes/{created['id']}", headers=bearer(token_for("admin"))).json
    assert status["identity_check"] == "code"
    assert make(audience={"roster_only": True})["join_code"]  # the older spelling still works
    with app.app_context():
        assert [q.identity_check for q in db.session.execute(select(Quiz).order_by(Quiz.id)).scalars()] == [
            "code", "roster"]
    headers = bearer(token_for("admin"))
    for bad in ({"identity_check": "sms"}, {"identity_check": "none", "roster_only": True}):
        response = client.post("/api/v1/quizzes", json={**QUIZ, **bad}, headers=headers)
        assert response.status_code == 422 and "identity_check" in response.json["error"]
    auth.login()
    form = client.get("/quizzes/new").get_data(as_text=True)
    assert 'name="identity_check"' in form and 'value="code"' in form
    with app.app_context():
        bank_id = db.session.execute(db.select(db.text("id")).select_from(db.text("bank"))).scalar()
    response = client.post("/quizzes/new", data={
        "title": "名单竞赛", "mode": "exam", "duration_minutes": "10", "banks": [str(bank_id)],
        "rule_type": ["single"], "rule_count": ["2"], "rule_points": ["5"], "rule_tags": [""],
        "identity_check": "code"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-check="code"' in page and "访问码" in page


def test_roster_quiz_asks_for_no_unit_and_no_code(client, make, app):
    quiz = make(identity_check="roster")
    roster(app, ("张三", "13800138000", "乔司街道/三角村社区"))
    page = client.get(f"/j/{quiz['join_code']}").get_data(as_text=True)
    assert 'name="access_code"' not in page and 'name="unit"' not in page
    assert client.post(f"/j/{quiz['join_code']}", data={"name": "张三", "phone": "13800138000"}).status_code == 302


def test_access_code_quiz(client, make, app, runner, tmp_path):
    quiz = make(identity_check="code")
    code = quiz["join_code"]
    roster(app, ("张三", "13800138000", "乔司街道/三角村社区"), ("李四", "13900139000", "乔司街道/永丰村"))
    zhang = {"name": "张三", "phone": "13800138000"}
    assert 'name="access_code"' in client.get(f"/j/{code}").get_data(as_text=True)
    # no codes made yet: the quiz page warns the organiser, nobody can join
    no_code = client.post(f"/api/v1/join/{code}", json={**zhang, "code": "ABCDEF"})
    assert no_code.status_code == 403
    mismatch = no_code.json["error"]
    assert mismatch == "姓名、手机号、访问码与本竞赛参赛名单不匹配，请核对或联系组织者。"
    result = runner.invoke(args=["roster", "codes", "--unit", "乔司街道", "-o", str(tmp_path / "x.csv")])
    assert result.exit_code == 0, result.output
    with app.app_context():
        codes = dict(db.session.execute(select(Participant.phone, Participant.access_code)).all())
    assert all(len(c) == 6 and set(c) <= set(JOIN_ALPHABET) for c in codes.values())
    assert len(set(codes.values())) == 2
    # name + phone alone no longer opens a sheet: the code is asked for
    missing = client.post(f"/api/v1/join/{code}", json=zhang)
    assert missing.status_code == 422 and "访问码" in missing.json["error"]
    wrong = client.post(f"/api/v1/join/{code}", json={**zhang, "code": codes["13900139000"]})
    unknown = client.post(f"/api/v1/join/{code}", json={"name": "王五", "phone": "13700137000", "code": "ABCDEF"})
    assert (wrong.status_code, wrong.json["error"]) == (unknown.status_code, unknown.json["error"]) == (403, mismatch)
    typed = " ".join(codes["13800138000"].lower())  # any case, spaces: as people type it
    joined = client.post(f"/api/v1/join/{code}", json={**zhang, "code": typed})
    assert joined.status_code == 201
    # resuming the open sheet needs the code as well
    assert client.post(f"/api/v1/join/{code}", json={**zhang, "code": "ZZZZZZ"}).status_code == 403
    resumed = client.post(f"/api/v1/join/{code}", json={**zhang, "code": codes["13800138000"]})
    assert resumed.status_code == 200 and resumed.json["attempt_id"] == joined.json["attempt_id"]
    # the HTML form takes the code too
    page = client.post(f"/j/{code}", data={"name": "李四", "phone": "13900139000",
                                           "access_code": codes["13900139000"]})
    assert page.status_code == 302, flashed(page)
    # new codes replace the old ones
    result = runner.invoke(args=["roster", "codes", "--unit", "乔司街道/三角村社区", "-o", str(tmp_path / "y.csv")])
    assert result.exit_code == 0
    stale = client.post(f"/api/v1/join/{code}", json={**zhang, "code": codes["13800138000"]})
    assert stale.status_code == 403


def test_guessing_an_access_code_locks_that_phone(client, make, app, runner, tmp_path):
    quiz = make(identity_check="code")
    roster(app, ("张三", "13800138000", "乔司街道/三角村社区"))
    runner.invoke(args=["roster", "codes", "--unit", "乔司街道", "-o", str(tmp_path / "x.csv")])
    with app.app_context():
        right = db.session.execute(select(Participant.access_code)).scalar_one()
    guesses = [c for c in ("AAAAAA", "BBBBBB", "CCCCCC", "DDDDDD", "EEEEEE", "FFFFFF", "GGGGGG", "HHHHHH",
                           "JJJJJJ", "KKKKKK", "LLLLLL") if c != right][:10]
    for i, guess in enumerate(guesses):
        response = client.post(f"/api/v1/join/{quiz['join_code']}", environ_base={"REMOTE_ADDR": f"10.1.0.{i}"},
                               json={"name": "张三", "phone": "13800138000", "code": guess})
        assert response.status_code == 403
    locked = client.post(f"/api/v1/join/{quiz['join_code']}",
                         json={"name": "张三", "phone": "13800138000", "code": right})
    assert locked.status_code == 429 and "Retry-After" in locked.headers


def test_access_code_list_export_and_scope(client, app, users, auth):
    from openpyxl import load_workbook

    roster(app, ("张三", "13800138000", "乔司街道/三角村社区"), ("李四", "13900139000", "乔司街道/永丰村"),
           ("王五", "13700137000", "伦教街道/常教社区"))
    with app.app_context():
        qiaosi = find_unit("乔司街道").id
        lunjiao = find_unit("伦教街道").id
    auth.login("qiaosi")
    outside = client.post("/people/access-codes", data={"unit": str(lunjiao)})
    assert outside.status_code == 302 and "范围" in flashed(client.get(outside.headers["Location"]))
    response = client.post("/people/access-codes", data={"unit": str(qiaosi)})
    assert response.status_code == 302
    assert "2" in flashed(client.get(response.headers["Location"]))
    with app.app_context():
        codes = {p.name: p.access_code for p in db.session.execute(select(Participant)).scalars()}
    assert codes["王五"] is None and codes["张三"] and codes["李四"]
    sheet = client.get(f"/people/access-codes.xlsx?unit={qiaosi}")
    assert sheet.status_code == 200 and "attachment" in sheet.headers["Content-Disposition"]
    rows = list(load_workbook(io.BytesIO(sheet.data)).active.iter_rows(values_only=True))
    assert "乔司街道" in rows[0][0]
    assert rows[1] == ("姓名", "单位", "手机号", "访问码")
    assert set(rows[2:]) == {("张三", "乔司街道/三角村社区", "138****8000", codes["张三"]),
                             ("李四", "乔司街道/永丰村", "139****9000", codes["李四"])}
    text = client.get(f"/people/access-codes.csv?unit={qiaosi}").data.decode("utf-8-sig")
    assert text.splitlines()[0] == "姓名,单位,手机号,访问码" and codes["张三"] in text and "13800138000" not in text
    assert client.get(f"/people/access-codes.csv?unit={lunjiao}").status_code == 403
    roster_page = client.get("/people/").get_data(as_text=True)
    assert codes["张三"] in roster_page and 'id="access-codes"' in roster_page
    # filling in missing codes keeps the ones handed out
    roster(app, ("赵六", "13600136000", "乔司街道/永丰村"))
    client.post("/people/access-codes", data={"unit": str(qiaosi), "missing_only": "y"})
    with app.app_context():
        after = {p.name: p.access_code for p in db.session.execute(select(Participant)).scalars()}
    assert after["张三"] == codes["张三"] and after["李四"] == codes["李四"] and after["赵六"]


def test_cli_roster_codes(runner, app, tree, tmp_path):
    from openpyxl import load_workbook

    roster(app, ("张三", "13800138000", "乔司街道/三角村社区"))
    out = tmp_path / "codes.xlsx"
    result = runner.invoke(args=["roster", "codes", "--unit", "乔司街道", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    with app.app_context():
        code = db.session.execute(select(Participant.access_code)).scalar_one()
    assert rows[2] == ("张三", "乔司街道/三角村社区", "138****8000", code)
    again = runner.invoke(args=["roster", "codes", "--unit", "乔司街道", "-o", str(out), "--list-only"])
    assert again.exit_code == 0 and "0" in again.output
    with app.app_context():
        assert db.session.execute(select(Participant.access_code)).scalar_one() == code
    assert runner.invoke(args=["roster", "codes", "--unit", "不存在", "-o", str(out)]).exit_code == 1
    assert runner.invoke(args=["roster", "codes", "--unit", "乔司街道", "-o", str(tmp_path / "x.txt")]).exit_code == 2


# ---------------------------------------------------------------- headers and cookies
def test_security_headers_on_every_kind_of_response(client, make, app):
    quiz = make()
    joined = client.post(f"/api/v1/join/{quiz['join_code']}",
                         json={"name": "张三", "phone": "13800138000", "unit": "乔司街道/三角村社区"}).json
    question = joined["questions"][0]["id"]
    responses = {
        "html": client.get("/login"),
        "json": client.get("/api/v1/ping"),
        "404": client.get("/no/such/page"),
        "static": client.get("/static/app.js"),
        "join page": client.get(f"/j/{quiz['join_code']}"),
        "fast lane save": client.put(f"/api/v1/attempts/{joined['attempt_id']}/answers/{question}",
                                     json={"response": "A"}, headers={"X-Attempt-Token": joined["token"]}),
    }
    for kind, response in responses.items():
        assert response.status_code < 500, kind
        policy = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, kind
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0], kind
        assert "img-src 'self' data:" in policy, kind
        assert response.headers.get("X-Frame-Options") == "DENY", kind
        assert response.headers.get("X-Content-Type-Options") == "nosniff", kind
        assert response.headers.get("Referrer-Policy") == "same-origin", kind
    assert responses["fast lane save"].status_code == 200


def test_frame_ancestors_can_be_configured(database_url, tmp_path):
    from quiz import create_app

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "t",
                      "FRAME_ANCESTORS": "'self'"})
    response = app.test_client().get("/api/v1/ping")
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def _cookies(response) -> dict[str, str]:
    return {value.split("=", 1)[0]: value for value in response.headers.getlist("Set-Cookie")}


def test_cookie_flags_over_http_and_https(client, users):
    plain = _cookies(client.post("/login", data={"username": "admin", "password": "secret-pass", "remember": "y"}))
    assert "Secure" not in plain["session"] and "Secure" not in plain["remember_token"]  # the local demo works
    assert "HttpOnly" in plain["session"] and "SameSite=Lax" in plain["session"]
    remember = plain["remember_token"]
    assert "HttpOnly" in remember and "SameSite=Lax" in remember
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", remember).group(1))
    assert timedelta(days=6) < expires - datetime.now(timezone.utc) <= timedelta(days=7)
    client.post("/logout")
    secure = _cookies(client.post("/login", base_url="https://quiz.example.org",
                                  data={"username": "admin", "password": "secret-pass", "remember": "y"}))
    assert "Secure" in secure["session"] and "Secure" in secure["remember_token"]


def test_secure_cookies_behind_the_documented_proxy(database_url, users):
    from quiz import create_app

    settings = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "t",
                "WTF_CSRF_ENABLED": False, "PROXY_FIX_X_FOR": 1}
    client = create_app(settings).test_client()
    form = {"username": "admin", "password": "secret-pass"}
    proxied = client.post("/login", data=form, headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "1.2.3.4"})
    assert "Secure" in _cookies(proxied)["session"]
    direct = create_app(settings).test_client().post("/login", data=form)
    assert "Secure" not in _cookies(direct)["session"]
    forced_off = create_app({**settings, "SESSION_COOKIE_SECURE": False}).test_client().post(
        "/login", data=form, headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in _cookies(forced_off)["session"]
    forced_on = create_app({**settings, "SESSION_COOKIE_SECURE": True}).test_client().post("/login", data=form)
    assert "Secure" in _cookies(forced_on)["session"]


# ---------------------------------------------------------------- memory:// sweeps once a second
def test_memory_limits_sweep_expired_keys_once_a_second_and_still_expire_them(app, monkeypatch):
    """memory:// is SweptMemoryStorage: thousands of keys (a crowd joining) start one sweep a second,
    not one 10 ms after each hit; a key past its window is counted afresh at once, swept or not."""
    from limits import parse
    from limits.storage import MemoryStorage, storage_from_string
    from limits.strategies import FixedWindowRateLimiter

    from quiz.extensions import SweptMemoryStorage, limiter

    assert type(limiter.limiter.storage) is SweptMemoryStorage  # the app's own, from RATELIMIT_STORAGE_URI
    storage = storage_from_string("memory://")
    assert type(storage) is SweptMemoryStorage and isinstance(storage, MemoryStorage)
    sweeps = []
    real = storage._MemoryStorage__expire_events
    monkeypatch.setattr(storage, "_MemoryStorage__expire_events", lambda: (sweeps.append(time.monotonic()), real()))
    storage.timer.join()  # the sweep the constructor scheduled
    window = FixedWindowRateLimiter(storage)
    limit = parse("2/second")
    started = time.monotonic()
    for person in range(3000):
        assert window.hit(limit, "join", str(person))
    assert storage.timer.interval == SweptMemoryStorage.SWEEP_SECONDS  # the hits scheduled a 1 s sweep
    assert window.hit(limit, "join", "again") and window.hit(limit, "join", "again")
    assert not window.hit(limit, "join", "again")  # 2/second: the third is refused
    time.sleep(1.1)
    assert window.hit(limit, "join", "again")  # a new window at once, whether the sweep has run or not
    storage.timer.join()
    assert len(sweeps) <= 2 and all(at - started >= 0.9 for at in sweeps), sweeps
    assert len(storage.storage) <= 1  # the expired keys are gone after the sweep (only "again" was hit again)


# ---------------------------------------------------------------- one app's limits stay its own
def test_an_app_does_not_inherit_an_earlier_apps_limit_settings(database_url, tmp_path):
    """Flask-Limiter keeps the first app's config on its extension object; the factory builds each
    app from its own config (CI once failed: a test's app-wide 1000/hour throttled later tests)."""
    from quiz import create_app

    base = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
            "UPLOAD_FOLDER": str(tmp_path / "u")}
    throttled = create_app({**base, "RATELIMIT_DEFAULT": "2/minute"}).test_client()
    assert [throttled.get("/login").status_code for _ in range(3)] == [200, 200, 429]

    plain = create_app(base).test_client()
    assert {plain.get("/login").status_code for _ in range(5)} == {200}

    create_app({**base, "RATELIMIT_ENABLED": False})
    limited = create_app(base)
    limited.config["JOIN_GUESS_LIMIT"] = "2 per 10 minutes"
    guesser = limited.test_client()
    with limited.app_context():
        db.create_all()
    statuses = [guesser.post("/api/v1/join/ZZZZZZ", json={"name": "x", "phone": "13900000000"},
                             environ_base={"REMOTE_ADDR": "192.0.2.77"}).status_code for _ in range(3)]
    assert statuses[-1] == 429, statuses  # an earlier app's RATELIMIT_ENABLED = False is not inherited


# ---------------------------------------------------------------- several workers, one count
def test_warning_for_several_workers_on_memory_storage(app, caplog):
    from quiz.security import warn_about_rate_limit_storage

    with caplog.at_level("WARNING", logger="quiz.security"):
        assert warn_about_rate_limit_storage(app, workers=2)
    assert f"pid {os.getpid()}" in caplog.text and "RATELIMIT_STORAGE_URI" in caplog.text
    assert not warn_about_rate_limit_storage(app, workers=1)
    app.config["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:6379/13"
    assert not warn_about_rate_limit_storage(app, workers=4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn_db(tmp_path):
    """A migrated SQLite file with the admin account, for a real gunicorn."""
    from quiz import create_app
    from quiz.services.people import create_user

    url = "sqlite:///" + str(tmp_path / "g.sqlite3")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "g"})
    assert app.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
    with app.app_context():
        create_user("admin", role="admin", password="secret-pass", now=FIXED_NOW)
        db.session.commit()
        db.engine.dispose()
    return url


def _gunicorn(url: str, workers: int, tmp_path, *args: str, **env):
    port = _free_port()
    log = open(tmp_path / f"gunicorn-{port}.log", "w+")
    environment = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "g", "FLASK_WTF_CSRF_ENABLED": "false", **env}
    environment.pop("SERVER_SOFTWARE", None)
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", *args, "-w", str(workers), "-b", f"127.0.0.1:{port}",
                                "quiz:create_app()"], cwd=ROOT, env=environment, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/ping", timeout=2)
            break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("gunicorn did not start: " + (tmp_path / f"gunicorn-{port}.log").read_text())
    return process, port, log


def _stop(process, log) -> str:
    process.terminate()
    process.wait(timeout=30)
    log.seek(0)
    return log.read()


WARNING = re.compile(r"Rate limits are counted in memory:// by each of 2 worker processes \(this is pid (\d+)\)")


def test_gunicorn_with_two_workers_on_memory_storage_warns(gunicorn_db, tmp_path):
    process, _port, log = _gunicorn(gunicorn_db, 2, tmp_path)
    deadline = time.monotonic() + 30
    while len(set(WARNING.findall(Path(log.name).read_text()))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)  # the second worker may still be loading the app
    output = _stop(process, log)
    assert len(set(WARNING.findall(output))) == 2, output  # once in each worker, with its pid
    process, _port, log = _gunicorn(gunicorn_db, 1, tmp_path)
    assert "Rate limits are counted in memory://" not in _stop(process, log)


def test_the_deployment_gunicorn_config_keeps_the_loaded_app_out_of_collections(gunicorn_db, tmp_path):
    """tools/gunicorn.conf.py (docs/deployment.md): each worker freezes what loading the app made and
    sets the collector's thresholds, for gthread workers as for the live gevent ones."""
    process, port, log = _gunicorn(gunicorn_db, 1, tmp_path, "-c", str(ROOT / "tools" / "gunicorn.conf.py"),
                                   "-k", "gthread", "--threads", "4", GC_THRESHOLD="40000,15,90",
                                   SWITCH_INTERVAL_MS="2")
    body = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/ping", timeout=5).read())
    output = _stop(process, log)
    assert body["ok"] is True
    frozen = re.search(r"gc: (\d+) objects of the loaded app frozen", output)
    assert frozen and int(frozen.group(1)) > 50_000, output  # the app's modules, metadata, translations
    assert "gc: thresholds (40000, 15, 90)" in output
    assert "switch interval: 2 ms" in output


def _redis_or_skip(number: int = 13):
    try:
        import redis

        client = redis.Redis.from_url(f"redis://127.0.0.1:6379/{number}")
        client.ping()
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Redis unreachable: {exc}")
    client.flushdb()
    return client


def _post(port: int, path: str, form: dict) -> int:
    from urllib.parse import urlencode

    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=urlencode(form).encode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_limits_are_shared_between_gunicorn_workers_with_redis(gunicorn_db, tmp_path):
    redis_client = _redis_or_skip()
    process, port, log = _gunicorn(gunicorn_db, 2, tmp_path, RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/13",
                                   FLASK_LOGIN_FAILURE_LIMIT="4 per 15 minutes")
    try:
        statuses = [_post(port, "/login", {"username": "admin", "password": "wrong"}) for _ in range(4)]
        assert statuses == [200] * 4
        # whichever worker answers, the fifth try is refused: the count lives in Redis
        assert [_post(port, "/login", {"username": "admin", "password": "secret-pass"}) for _ in range(6)] == [429] * 6
    finally:
        output = _stop(process, log)
        redis_client.flushdb()
    assert "Rate limits are counted in memory://" not in output
