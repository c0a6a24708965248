"""The answer lane (quiz/answer_lane.py, a WSGI transport) against the Flask view: two transports
over the same save rules (quiz/services/answers.py).

The lane may only ever answer a clean save, with exactly the JSON the view gives; everything else
must reach the view untouched (and be counted once against the sheet's rate limit)."""
import json

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from quiz import create_app
from quiz.extensions import db
from quiz.models import Answer, Attempt
from quiz.services import answers
from tests.conftest import answer_lane
from tests.test_api_quiz import PERSON, QUIZ, bearer, quiz_id  # noqa: F401  (fixture)


@pytest.fixture
def view_calls(app):
    """Calls that reached the Flask view api.save_answer."""
    calls = []
    view = app.view_functions["api.save_answer"]

    def counting(**kwargs):
        calls.append(kwargs)
        return view(**kwargs)

    app.view_functions["api.save_answer"] = counting
    return calls


@pytest.fixture
def sheet(client, quiz_id):  # noqa: F811
    body = client.post(f"/api/v1/join/{quiz_id['join_code']}", json=PERSON).json
    by_type = {}
    for q in body["questions"]:
        by_type.setdefault(q["type"], q)
    return body, by_type


def put(client, body, qid, response, **kwargs):
    headers = kwargs.pop("headers", bearer(body["token"]))
    return client.put(f"/api/v1/attempts/{body['attempt_id']}/answers/{qid}", json={"response": response},
                      headers=headers, **kwargs)


def stored(app, attempt_id, qid):
    with app.app_context():
        return db.session.execute(select(Answer.response).where(
            Answer.attempt_id == attempt_id, Answer.question_id == qid)).scalar_one_or_none()


def sans_clock(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if k != "server_time"}


SAVES = [("single", "B"), ("single", "b"), ("multi", "CA"), ("multi", ["A", "C", "D"]), ("multi", "A,B"),
         ("judge", True), ("judge", "错误"), ("judge", "对"), ("blank", ["人民", "  共同 "]), ("blank", "人民")]


def test_clean_saves_skip_flask_and_match_the_full_path(app, client, sheet, view_calls, monkeypatch):
    body, by_type = sheet
    fast = []
    for qtype, response in SAVES:
        qid = by_type[qtype]["id"]
        answer = put(client, body, qid, response)
        assert answer.status_code == 200, answer.json
        assert answer.headers["Content-Type"] == "application/json"
        fast.append((sans_clock(answer.json), stored(app, body["attempt_id"], qid)))
    assert view_calls == [], "clean saves must not reach Flask"

    # The reference: the view's full ORM path (the lane declined) on the same sheet.
    monkeypatch.setattr(answers, "fast_save", lambda *args, **kwargs: None)
    for (qtype, response), (fast_body, fast_row) in zip(SAVES, fast):
        qid = by_type[qtype]["id"]
        answer = put(client, body, qid, response)
        assert answer.status_code == 200, answer.json
        assert sans_clock(answer.json) == fast_body, (qtype, response)
        assert stored(app, body["attempt_id"], qid) == fast_row
    assert len(view_calls) == len(SAVES)


def test_everything_but_a_clean_save_reaches_the_view(app, client, sheet, view_calls):
    body, by_type = sheet
    qid = by_type["single"]["id"]
    assert put(client, body, qid, "A").status_code == 200 and view_calls == []

    cases = [
        (put(client, body, qid, "A", headers=bearer(body["token"] + "x")), 401),           # wrong token
        (put(client, body, qid, "A", headers={}), 401),                                      # no token
        (put(client, body, qid, "Z"), 422),                                                  # not an option
        (put(client, body, 999_999, "A"), 404),                                              # not on the sheet
        (client.put(f"/api/v1/attempts/{body['attempt_id']}/answers/{qid}", data='{"response": "A"}',
                    headers=bearer(body["token"]), content_type="text/plain"), 422),         # not JSON
        (client.put(f"/api/v1/attempts/{body['attempt_id']}/answers/{qid}", data="{", headers=bearer(body["token"]),
                    content_type="application/json"), 422),                                  # broken JSON
        (client.put(f"/api/v1/attempts/{body['attempt_id']}/answers/{qid}", json={"answer": "A"},
                    headers=bearer(body["token"])), 422),                                    # no "response"
        (client.put(f"/api/v1/attempts/{body['attempt_id']}/answers/{qid}",
                    data=json.dumps({"response": "A" * 200_000}), headers=bearer(body["token"]),
                    content_type="application/json"), 413),                                 # too large
    ]
    for number, (response, status) in enumerate(cases, start=1):
        assert response.status_code == status, (number, response.status_code, response.json)
        assert response.json["error"], number
    assert len(view_calls) == len(cases)
    assert stored(app, body["attempt_id"], qid) is not None

    cleared = put(client, body, qid, None)                                                   # clearing
    assert cleared.status_code == 200 and cleared.json["response"] is None
    assert stored(app, body["attempt_id"], qid) is None
    assert len(view_calls) == len(cases) + 1


def test_a_database_error_in_the_lane_falls_back_to_the_view(app, client, sheet, view_calls, monkeypatch):
    body, by_type = sheet
    qid = by_type["multi"]["id"]

    def broken(*args, **kwargs):
        raise OperationalError("INSERT …", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(answers, "guarded_upsert", broken)
    answer = put(client, body, qid, "AB")
    assert answer.status_code == 200 and answer.json["response"] == "AB"
    assert len(view_calls) == 1
    assert stored(app, body["attempt_id"], qid) is not None


def test_rate_limit_counts_each_request_once(database_url, tmp_path, quiz_id, client):  # noqa: F811
    limited = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                          "WTF_CSRF_ENABLED": False, "UPLOAD_FOLDER": str(tmp_path / "u2"),
                          "ANSWER_LIMIT": "4/minute"})
    limited_client = limited.test_client()
    body = limited_client.post(f"/api/v1/join/{quiz_id['join_code']}", json=PERSON).json
    qid = next(q["id"] for q in body["questions"] if q["type"] == "single")
    # two saves served by the lane, two that fall through to the view (clear, bad letter)
    statuses = [put(limited_client, body, qid, "A").status_code, put(limited_client, body, qid, None).status_code,
                put(limited_client, body, qid, "B").status_code, put(limited_client, body, qid, "Z").status_code]
    assert statuses == [200, 200, 200, 422]
    over = put(limited_client, body, qid, "C")
    assert over.status_code == 429 and over.json["error"]
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert stored(limited, body["attempt_id"], qid) is not None  # "B" stays; nothing lost
    # tab-switch events share the sheet's budget
    event = limited_client.post(f"/api/v1/attempts/{body['attempt_id']}/events", json={"type": "blur"},
                                headers=bearer(body["token"]))
    assert event.status_code == 429


def test_the_lane_can_be_turned_off(database_url, tmp_path):
    base = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
            "UPLOAD_FOLDER": str(tmp_path / "u")}
    assert answer_lane(create_app(base)).enabled
    assert not answer_lane(create_app({**base, "ANSWER_FAST_LANE": False})).enabled
    # application-wide limits are only checked by Flask-Limiter's request hook: no bypass then
    assert not answer_lane(create_app({**base, "RATELIMIT_DEFAULT": "1000/hour"})).enabled


def test_lane_off_still_saves_through_flask(database_url, tmp_path, quiz_id, client, monkeypatch):  # noqa: F811
    """ANSWER_FAST_LANE = False switches the fast path off entirely: the view never uses it."""
    off = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test",
                      "UPLOAD_FOLDER": str(tmp_path / "u3"), "ANSWER_FAST_LANE": False})
    fast_calls = []
    monkeypatch.setattr(answers, "fast_save", lambda *args, **kwargs: fast_calls.append(args))
    monkeypatch.setattr(answers, "guarded_upsert", lambda *args, **kwargs: fast_calls.append(args))
    off_client = off.test_client()
    body = off_client.post(f"/api/v1/join/{quiz_id['join_code']}", json=PERSON).json
    qid = next(q["id"] for q in body["questions"] if q["type"] == "judge")
    answer = put(off_client, body, qid, "正确")
    assert answer.status_code == 200 and answer.json["response"] == "正确"
    assert fast_calls == []
    with off.app_context():
        assert db.session.get(Attempt, body["attempt_id"]).status == "open"
