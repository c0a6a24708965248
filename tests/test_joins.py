"""Joining (quiz/services/joins.py) through its two transports, the join lane (quiz/join_lane.py)
and the Flask view: the same responses, the same sheets, the cached questions as shown equal to the
plain ones, few statements, and caches that follow bank edits on another app server."""
from __future__ import annotations

import json
import random
import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from quiz import direct_sql
from quiz.extensions import db
from quiz.join_lane import JoinLane
from quiz.models import Attempt, Participant, Question, Quiz
from quiz.models.base import utcnow
from quiz.services import attempts as svc
from quiz.services import joins
from tests.test_api_quiz import PERSON, QUIZ, bearer, quiz_id  # noqa: F401  (fixture)


def join_lane(app) -> JoinLane:
    """The app's join lane, wherever it sits in the WSGI middleware chain."""
    layer = app.wsgi_app
    while not isinstance(layer, JoinLane):
        layer = layer.wsgi_app
    return layer


@pytest.fixture
def view_calls(app):
    """Joins that reached the Flask view api.join."""
    calls = []
    view = app.view_functions["api.join"]

    def counting(**kwargs):
        calls.append(kwargs)
        return view(**kwargs)

    app.view_functions["api.join"] = counting
    return calls


def post(client, code, body, **kwargs):
    return client.post(f"/api/v1/join/{code}", json=body, **kwargs)


def through_flask(app, call):
    """call() with the join lane switched off: the Flask view serves it."""
    lane = join_lane(app)
    lane.enabled = False
    try:
        return call()
    finally:
        lane.enabled = True


def plain_questions(app, attempt_id: int) -> list[dict]:
    """The questions as shown, computed the plain way: each question read from the database and
    shown by attempts.question_view in the sheet's option order (no cache)."""
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        found = {q.id: q for q in db.session.execute(
            select(Question).where(Question.id.in_([e["q"] for e in attempt.paper]))).scalars()}
        return json.loads(json.dumps([{**svc.question_view(found[e["q"]], e["order"]), "points": e["points"]}
                                      for e in attempt.paper]))


def test_the_lane_answers_like_the_flask_view(app, client, quiz_id, view_calls):
    code = quiz_id["join_code"]
    new = post(client, code, PERSON)
    assert new.status_code == 201 and view_calls == [], "a clean API join must not reach Flask"
    assert new.headers["Content-Type"] == "application/json"
    resumed_lane = post(client, code, PERSON)
    resumed_view = through_flask(app, lambda: post(client, code, PERSON))
    assert len(view_calls) == 1
    assert resumed_lane.status_code == resumed_view.status_code == 200
    assert resumed_lane.data == resumed_view.data  # byte for byte
    assert resumed_lane.json["attempt_id"] == new.json["attempt_id"]
    assert resumed_lane.json["questions"] == new.json["questions"]

    # an answer saved, then resumed: the saved answer comes back in the shown letters, both ways
    single = next(q for q in new.json["questions"] if q["type"] == "single")
    saved = client.put(f"/api/v1/attempts/{new.json['attempt_id']}/answers/{single['id']}",
                       json={"response": "B"}, headers=bearer(new.json["token"]))
    assert saved.status_code == 200
    lane, view = post(client, code, PERSON), through_flask(app, lambda: post(client, code, PERSON))
    assert lane.json["answers"] == {str(single["id"]): "B"} and lane.data == view.data

    # errors: the same status, body and Retry-After either way
    cases = [("NOPE99", PERSON), (code, {**PERSON, "phone": "123"}), (code, {**PERSON, "name": "李四"}),
             (code, {**PERSON, "phone": "13900139000", "unit": "不存在"}), (code, {"name": "王五"})]
    for join_code, body in cases:
        lane, view = post(client, join_code, body), through_flask(app, lambda: post(client, join_code, body))
        assert lane.status_code == view.status_code and lane.status_code >= 400, (body, lane.json)
        assert lane.json == view.json and lane.json["error"]
    assert [c["code"] for c in view_calls[-len(cases):]] == [c for c, _b in cases]
    with app.app_context():
        quiz = db.session.get(Quiz, quiz_id["id"])
        quiz.closes_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    other = {**PERSON, "phone": "13900139002"}
    lane, view = post(client, code, other), through_flask(app, lambda: post(client, code, other))
    assert lane.status_code == view.status_code == 409 and lane.json == view.json


def test_the_lane_leaves_the_rest_to_flask(app, client, quiz_id, view_calls):
    code = quiz_id["join_code"]
    english = post(client, code, PERSON, query_string={"lang": "en"})  # a query string: Flask
    assert english.status_code == 201 and len(view_calls) == 1 and english.json["questions"][0]["label"]
    client.set_cookie("session", "abc")
    with_cookie = client.post(f"/api/v1/join/{code}", json=PERSON)
    assert with_cookie.status_code == 200 and len(view_calls) == 2
    client.delete_cookie("session")
    not_json = client.post(f"/api/v1/join/{code}", data="name=x", content_type="application/x-www-form-urlencoded")
    assert not_json.status_code == 422 and len(view_calls) == 3
    broken = client.post(f"/api/v1/join/{code}", data="{", content_type="application/json")
    assert broken.status_code == 422 and len(view_calls) == 4
    # the language of X-Language, in the lane
    lane = post(client, code, {**PERSON, "phone": "13900139003"}, headers={"X-Language": "en"})
    assert lane.status_code == 201 and len(view_calls) == 4
    assert {q["label"] for q in lane.json["questions"]} == {q["label"] for q in english.json["questions"]}
    chinese = post(client, code, {**PERSON, "phone": "13900139004"})
    assert {q["label"] for q in chinese.json["questions"]} != {q["label"] for q in english.json["questions"]}


def test_cached_questions_as_shown_equal_the_plain_ones(app, client, quiz_id):
    """Shuffled questions and options (QUIZ: shuffle_options), many people: every payload equals the
    plain computation, from a cache that is warm after the first joins."""
    code = quiz_id["join_code"]
    sheets = []
    for i in range(12):
        body = post(client, code, {**PERSON, "name": f"同事{i}", "phone": f"1390000{i:04d}"}).json
        assert body["questions"] == plain_questions(app, body["attempt_id"]), i
        sheets.append(body)
    orders = {tuple(o["text"] for o in q["options"]) for s in sheets for q in s["questions"] if q["type"] == "single"}
    assert len(orders) > 2, "options were shuffled per person"
    with app.app_context():  # the ORM transports (sheet page, attempt state) read the same cache
        attempt = db.session.get(Attempt, sheets[0]["attempt_id"])
        assert svc.join_payload(attempt, new=True) == {**sheets[0]}


def test_the_encoded_payload_is_the_payload_encoded(app, client, quiz_id, monkeypatch):
    """joins.payload_json (the questions from their cached encodings) writes, byte for byte, what
    the app's encoder writes for joins.payload: shuffled options, points with and without a
    fraction, both languages, a resumed sheet with saved answers; and a value only Flask's encoder
    writes (an integer beyond 64 bits) falls back to encoding payload()."""
    from flask import g

    from quiz.join_lane import join_body

    code = quiz_id["join_code"]
    ids = [post(client, code, {**PERSON, "name": f"编码{i}", "phone": f"1390001{i:04d}"}).json["attempt_id"]
           for i in range(6)]
    single = next(q for q in post(client, code, {**PERSON, "name": "编码0", "phone": "13900010000"}).json["questions"]
                  if q["type"] == "single")
    with app.app_context():
        first = db.session.get(Attempt, ids[0])
        first.paper = [{**e, "points": (e["points"], 2.5, 3)[i % 3]} for i, e in enumerate(first.paper)]
        # the same questions in the same orders with 3.0 where the first has 3: written differently
        db.session.get(Attempt, ids[2]).paper = [{**e, "points": float(e["points"])} for e in first.paper]
        db.session.commit()
    token = client.post(f"/api/v1/join/{code}", json={**PERSON, "name": "编码0", "phone": "13900010000"}).json["token"]
    assert client.put(f"/api/v1/attempts/{ids[0]}/answers/{single['id']}", json={"response": "C"},
                      headers=bearer(token)).status_code == 200
    checked = 0
    for language, kept in (("zh_CN", joins.MAX_ENCODED), ("en", joins.MAX_ENCODED), ("zh_CN", 5)):
        monkeypatch.setattr(joins, "MAX_ENCODED", kept)  # 5: the encoded questions are emptied again and again
        with app.test_request_context(headers={"X-Language": language}):
            g.locale_override = language
            for attempt_id in ids:
                attempt = db.session.get(Attempt, attempt_id)
                for resumed in (False, True):
                    sheet = joins.Sheet.of(attempt, resumed=resumed)
                    encoded = joins.payload_json(sheet)
                    assert encoded == app.json.compact_bytes(joins.payload(sheet)), (language, attempt_id, resumed)
                    checked += 1
            assert b'"points":2.5' in joins.payload_json(joins.Sheet.of(db.session.get(Attempt, ids[0])))
            assert b'"points":3,' in joins.payload_json(joins.Sheet.of(db.session.get(Attempt, ids[0])))
            assert b'"points":3.0,' in joins.payload_json(joins.Sheet.of(db.session.get(Attempt, ids[2])))
            assert b'"answers":{"%d":"C"}' % single["id"] in joins.payload_json(
                joins.Sheet.of(db.session.get(Attempt, ids[0])))
            monkeypatch.setattr(joins, "saved_answers", lambda *a, **k: {"1": 10 ** 30})
            sheet = joins.Sheet.of(db.session.get(Attempt, ids[1]))
            assert joins.payload_json(sheet) is None
            assert json.loads(join_body(app, sheet))["answers"] == {"1": 10 ** 30}
            monkeypatch.undo()
    assert checked == 36


def test_in_debug_mode_the_lane_answers_with_indented_json(app, client, quiz_id):
    app.debug = True
    try:
        lane = post(client, quiz_id["join_code"], PERSON)
        view = through_flask(app, lambda: post(client, quiz_id["join_code"], PERSON))
    finally:
        app.debug = False
    assert lane.data.startswith(b"{\n  ") and lane.data == view.data


def test_a_new_sheet_is_stored_as_before(app, client, quiz_id, now):
    """The rows a join writes: the person in the chosen unit, the sheet with its number, paper,
    deadline, points, open slot and a token that opens it."""
    body = post(client, quiz_id["join_code"], {**PERSON, "unit": " 乔司街道 / 三角村社区 "}).json
    with app.app_context():
        attempt = db.session.get(Attempt, body["attempt_id"])
        person = db.session.get(Participant, attempt.participant_id)
        assert (person.name, person.phone, person.unit.path, person.on_roster, person.user_id, person.access_code) == \
            ("张三", "13800138000", "乔司街道/三角村社区", False, None, None)
        assert (attempt.number, attempt.status, attempt.open_slot, attempt.question_count) == (1, "open", person.id, 5)
        assert attempt.max_score == 10 and attempt.score is None and not attempt.auto_submitted
        assert attempt.tab_switches == 0 and not attempt.flagged_fast and not attempt.excluded
        assert attempt.deadline - attempt.started_at == timedelta(seconds=600)
        assert body["deadline"] == attempt.deadline.isoformat()
        assert svc.attempt_token(attempt) == body["token"] and re.fullmatch(r"[0-9a-f]{32}", attempt.nonce)
        assert [e["q"] for e in attempt.paper] == [q["id"] for q in body["questions"]]
        assert all(set(e) == {"q", "points", "order", "t", "n"} for e in attempt.paper)


def test_one_rule_for_both_result_forms(app, now, tree):
    """attempts.join (ORM objects, the web page) and joins.join (the API) are one rule: the same
    paper from the same draw, the same refusals."""
    from tests.quizdata import make_quiz

    with app.app_context():
        quiz = make_quiz(now=now, paper_mode="random", shuffle_options=True, shuffle_questions=True,
                         attempts_allowed=1)
        a = svc.join(quiz, name="甲", phone="13800000001", unit_path="乔司街道/永丰村", now=now,
                     rng=random.Random(3)).attempt
        b = joins.join(joins.read_quiz(quiz.id), name="乙", phone="13800000002", unit_path="乔司街道/永丰村",
                       now=now, rng=random.Random(3))
        assert a.paper == b.paper and not b.resumed
        svc.submit(a, now=now + timedelta(seconds=60))
        db.session.commit()
        with pytest.raises(Exception) as orm_error:
            svc.join(quiz, name="甲", phone="13800000001", unit_path="乔司街道/永丰村", now=now)
        db.session.rollback()
        with pytest.raises(Exception) as core_error:
            joins.join(joins.read_quiz(quiz.id), name="甲", phone="13800000001", now=now)
        assert type(orm_error.value) is type(core_error.value) and orm_error.value.message == core_error.value.message
        assert orm_error.value.status_code == 409


@pytest.mark.parametrize("per_statement", [joins.BATCH_LOOKUPS, 3])
def test_a_batch_reads_each_join_s_lookup_as_the_join_alone_reads_it(app, client, quiz_id, monkeypatch,
                                                                     per_statement):
    """The join lane's batch form of the lookup (PostgreSQL: one statement for up to BATCH_LOOKUPS
    joins) gives each join the row its own lookup reads: a person with an open sheet, a new phone,
    the same phone twice, an unknown unit, details that do not normalise, an unknown code."""
    monkeypatch.setattr(joins, "BATCH_LOOKUPS", per_statement)
    code = quiz_id["join_code"]
    assert post(client, code, PERSON).status_code == 201
    bodies = [(code, PERSON), (code.lower(), {**PERSON, "phone": "13900000042"}), (code, PERSON),
              (code, {**PERSON, "unit": "没有/这个单位"}), (code, {"name": "", "phone": "12", "unit": ""}),
              ("NOSUCH", PERSON), (code, {**PERSON, "phone": " 138-0013-8000 "})]
    lookups = [joins.lookup_by_code(c, body) for c, body in bodies]
    with app.app_context():
        conn = db.session.connection()
        alone = [direct_sql.execute(conn, statement, params).all() for statement, params in lookups]
        ran = []
        listener = lambda *args: ran.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            with joins.lookups_read_ahead(conn, lookups):
                batch = [direct_sql.execute(conn, statement, params).all() for statement, params in lookups]
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        db.session.rollback()
    fields = [name for name in alone[0][0]._fields]
    assert [[tuple(getattr(row, f) for f in fields) for row in rows] for rows in batch] == \
        [[tuple(row) for row in rows] for rows in alone]
    assert [len(rows) for rows in alone] == [1, 1, 1, 1, 1, 0, 1]
    assert alone[0][0].s_id is not None and alone[1][0].p_id is None and alone[3][0].unit_id is None
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        assert len(ran) == -(-len(lookups) // per_statement)  # one statement for up to BATCH_LOOKUPS
        assert all("JOIN LATERAL" in statement for statement in ran)
    else:
        assert len(ran) == len(lookups)  # each its own


def test_a_join_costs_few_statements_and_no_question_query(app, client, quiz_id):
    code = quiz_id["join_code"]
    post(client, code, PERSON)  # warm: the quiz's links, the pool, the questions as shown
    statements = []
    with app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, *args):
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        new = post(client, code, {**PERSON, "name": "李四", "phone": "13900139000"})
        new_statements, statements[:] = list(statements), []
        resumed = post(client, code, {**PERSON, "name": "李四", "phone": "13900139000"})
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert new.status_code == 201 and resumed.status_code == 200
    begin = [s for s in new_statements if s.startswith("BEGIN")]  # SQLite's BEGIN IMMEDIATE
    # one statement reads the quiz (locked), the person with their sheets and the unit; then the
    # person's row and the sheet's row: one statement on PostgreSQL, two on SQLite
    postgres = engine.dialect.name == "postgresql"
    assert len(new_statements) - len(begin) == (2 if postgres else 3), new_statements
    if postgres:
        assert new_statements[-1].startswith("WITH given (n, ") and "INSERT INTO participant" in new_statements[-1]
    assert not any("FROM question" in s or "JOIN question" in s for s in new_statements + statements)
    # resumed: the quiz with the person and their open sheet, then the saved answers
    assert len([s for s in statements if not s.startswith("BEGIN")]) == 2, statements


@pytest.mark.parametrize("name", ["甲", "乙"])
def test_a_phone_that_joined_at_the_same_moment_is_identified_as_written(app, now, tree, name):
    """Two joins of one new phone at once: the one that reads the quiz before the other's person is
    committed writes nothing for the person (on PostgreSQL its one statement for the person and the
    sheet writes neither), then finds the person the other wrote: the same name gets a sheet of
    that person (here, with the other's sheet submitted, the second of two allowed); another name
    is refused as a mismatch. Nothing is written twice."""
    from quiz.errors import IdentityMismatch
    from tests.quizdata import make_quiz

    with app.app_context():
        quiz_id = make_quiz(now=now, attempts_allowed=2).id
        db.session.commit()
        late = joins.read_quiz(quiz_id, lock=False, phone="13800000009", unit_path="乔司街道/永丰村")
        assert late.person is None  # read before the other join's person existed
        db.session.commit()
        with db.engine.connect() as other, other.begin():  # the other join, committed first
            first = joins.join(joins.read_quiz(quiz_id, conn=other, phone="13800000009",
                                               unit_path="乔司街道/永丰村"),
                               name="甲", phone="13800000009", unit_path="乔司街道/永丰村", now=now, conn=other)
            other.execute(Attempt.__table__.update().where(Attempt.__table__.c.id == first.id)
                          .values(status="submitted", open_slot=None, submitted_at=now, score=0))
        if name == "甲":
            sheet = joins.join(late, name=name, phone="13800000009", unit_path="乔司街道/永丰村", now=now)
            assert (sheet.participant_id, sheet.number, sheet.resumed) == (first.participant_id, 2, False)
        else:
            with pytest.raises(IdentityMismatch):
                joins.join(late, name=name, phone="13800000009", unit_path="乔司街道/永丰村", now=now)
        db.session.commit()
        people = db.session.execute(select(Participant).where(Participant.phone == "13800000009")).scalars().all()
        assert [p.name for p in people] == ["甲"]
        sheets = db.session.execute(select(Attempt.number).where(Attempt.quiz_id == quiz_id)
                                    .order_by(Attempt.number)).scalars().all()
        assert sheets == ([1, 2] if name == "甲" else [1])


def test_join_limits_count_once_when_the_lane_falls_back(app, client, quiz_id, monkeypatch, view_calls):
    app.config["JOIN_LIMIT"] = "3/minute"
    real = joins.join_by_code
    failures = []

    def flaky(*args, **kwargs):
        from flask import has_request_context  # only the Flask view has a request

        if not has_request_context():
            failures.append(1)
            raise RuntimeError("database hiccup")
        return real(*args, **kwargs)

    monkeypatch.setattr(joins, "join_by_code", flaky)
    statuses = [post(client, quiz_id["join_code"], PERSON).status_code for _ in range(4)]
    assert statuses == [201, 200, 200, 429] and len(failures) == 3 and len(view_calls) == 3
    assert "Retry-After" in post(client, quiz_id["join_code"], PERSON).headers


def test_join_limits_are_per_client_address_behind_a_proxy(database_url, tmp_path, tree, quiz_id):
    """With PROXY_FIX_X_FOR the lane sees the client's address (it sits inside ProxyFix)."""
    from quiz import create_app

    proxied = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                          "PROXY_FIX_X_FOR": 1, "JOIN_LIMIT_PER_ADDRESS": "2/minute",
                          "UPLOAD_FOLDER": str(tmp_path / "uploads")})
    client = proxied.test_client()

    def join(i, address):
        return post(client, quiz_id["join_code"], {**PERSON, "name": f"同事{i}", "phone": f"1390000{i:04d}"},
                    headers={"X-Forwarded-For": address}).status_code

    assert [join(i, "10.0.0.1") for i in range(3)] == [201, 201, 429]
    assert join(3, "10.0.0.2") == 201
    with proxied.app_context():
        db.session.remove()
        db.engine.dispose()


# ------------------------------------------------------------------ two app servers, one database
def _edit_stem(app, question_id: int, stem: str) -> None:
    from quiz.services.banks import edit_question

    with app.app_context():
        q = db.session.get(Question, question_id)
        edit_question(q, stem=stem, options=q.options, answer=q.answer, explanation=q.explanation,
                      points="", difficulty="", tags="", actor=None, now=utcnow())
        db.session.commit()


def _stems(client, code, phone) -> dict[int, str]:
    body = post(client, code, {**PERSON, "phone": phone}).json
    assert "questions" in body, body
    return {q["id"]: q["stem"] for q in body["questions"]}


def test_a_question_edit_on_one_server_is_shown_by_the_other(servers, tree):
    from tests.quizdata import make_quiz
    from tests.test_events import _until

    a, b = servers
    with a.app_context():
        code = make_quiz(now=utcnow() - timedelta(minutes=5)).join_code
    reader = b.test_client()
    before = _stems(reader, code, "13900000001")  # b caches the questions as shown
    qid = sorted(before)[0]
    _edit_stem(a, qid, "改过的题干")
    phones = iter(f"1390001{i:04d}" for i in range(10_000))  # a new person per try (the join limit is per phone)
    assert _until(lambda: _stems(reader, code, next(phones))[qid] == "改过的题干")


def test_without_redis_the_other_server_follows_within_the_pool_age(app, database_url, tmp_path, tree,
                                                                     monkeypatch):
    from quiz import create_app
    from quiz.services import papers
    from tests.quizdata import make_quiz
    from tests.test_events import _until

    monkeypatch.setattr(papers, "POOL_MAX_AGE", 0.3)
    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                        "UPLOAD_FOLDER": str(tmp_path / "uploads")})
    with app.app_context():
        code = make_quiz(now=utcnow() - timedelta(minutes=5)).join_code
    reader = other.test_client()
    qid = sorted(_stems(reader, code, "13900000001"))[0]
    _edit_stem(app, qid, "改过的题干")
    phones = iter(f"1390001{i:04d}" for i in range(10_000))  # a new person per try (the join limit is per phone)
    assert _until(lambda: _stems(reader, code, next(phones))[qid] == "改过的题干", timeout=2.0)
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def test_an_overdue_sheet_is_graded_by_the_flask_view(app, client, quiz_id, view_calls):
    """Resuming a sheet past its deadline grades it first (ORM, events): the lane leaves that join
    to the Flask view, which grades it and starts the next sheet (two attempts allowed here)."""
    code = quiz_id["join_code"]
    first = post(client, code, PERSON).json
    with app.app_context():
        db.session.get(Quiz, quiz_id["id"]).attempts_allowed = 2
        db.session.get(Attempt, first["attempt_id"]).deadline = utcnow() - timedelta(seconds=5)
        db.session.commit()
    again = post(client, code, PERSON)
    assert again.status_code == 201 and len(view_calls) == 1, again.json
    assert again.json["attempt_id"] != first["attempt_id"]
    with app.app_context():
        attempt = db.session.get(Attempt, first["attempt_id"])
        assert attempt.status == "submitted" and attempt.auto_submitted
        assert db.session.get(Attempt, again.json["attempt_id"]).number == 2


from tests.test_events import servers  # noqa: E402,F401  (fixture)


def test_a_unit_renamed_on_one_server_changes_the_audience_on_the_other(servers, tree):
    """The audience's unit paths are cached per quiz; a rename (a `units` event) drops them."""
    from quiz.models import Unit
    from quiz.services.units import edit_unit
    from tests.quizdata import make_quiz
    from tests.test_events import _until

    a, b = servers
    with a.app_context():
        code = make_quiz(now=utcnow() - timedelta(minutes=5), audience={"units": ["乔司街道"]}).join_code
    reader = b.test_client()
    assert post(reader, code, {**PERSON, "phone": "13900000001"}).status_code == 201  # b caches the audience
    with a.app_context():
        unit = db.session.execute(select(Unit).where(Unit.path == "乔司街道")).scalar_one()
        edit_unit(unit, name="乔司新街道", headcount=unit.headcount, actor=None, now=utcnow())
        db.session.commit()
    phones = iter(f"1390001{i:04d}" for i in range(10_000))
    assert _until(lambda: post(reader, code, {**PERSON, "phone": next(phones),
                                              "unit": "乔司新街道/三角村社区"}).status_code == 201)
    refused = post(reader, code, {**PERSON, "phone": "13900000009", "unit": "伦教街道/常教社区"})
    assert refused.status_code == 403
