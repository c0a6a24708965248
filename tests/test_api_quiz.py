"""The participant and organiser JSON API of issue 3, as phones and integrations call it."""
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from quiz.extensions import db
from quiz.models import Answer, Attempt, Question
from quiz.models.base import utcnow
from tests.quizdata import make_bank, right_response

QUIZ = {"title": "应知应会", "banks": ["题库"], "duration_seconds": 600, "shuffle_options": True,
        "rules": [{"type": "单选", "count": 2, "points": 2}, {"type": "多选", "count": 1, "points": 3},
                  {"type": "判断", "count": 1, "points": 1}, {"type": "填空", "count": 1, "points": 2}]}
PERSON = {"name": "张三", "phone": "13800138000", "unit": "乔司街道/三角村社区"}


@pytest.fixture
def quiz_id(app, client, token_for, tree):
    with app.app_context():
        make_bank()
    response = client.post("/api/v1/quizzes", json=QUIZ, headers={"Authorization": f"Bearer {token_for('admin')}"})
    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) == {"id", "join_code", "join_url"} and body["join_url"].endswith(f"/j/{body['join_code']}")
    return body


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_create_quiz_errors(client, token_for, app, tree):
    with app.app_context():
        make_bank()
    headers = bearer(token_for("admin"))
    response = client.post("/api/v1/quizzes", json={**QUIZ, "rules": [{"type": "单选", "count": 20, "points": 2}]},
                           headers=headers)
    assert response.status_code == 422 and "6" in response.json["error"]
    assert client.post("/api/v1/quizzes", data="{", headers=headers, content_type="application/json").status_code == 422
    assert client.post("/api/v1/quizzes", json=QUIZ).status_code == 401
    assert client.post("/api/v1/quizzes", json=QUIZ, headers=bearer(token_for("judge1"))).status_code == 403


def test_join_payload_never_leaks_answers(client, quiz_id, app):
    response = client.post(f"/api/v1/join/{quiz_id['join_code']}", json=PERSON)
    assert response.status_code == 201
    body = response.json
    assert set(body) == {"attempt_id", "token", "deadline", "questions", "answers"}
    assert body["answers"] == {}
    for q in body["questions"]:
        assert set(q) == {"id", "type", "widget", "label", "stem", "options", "blanks", "points"}
        assert all(set(o) == {"key", "text"} for o in q["options"])
    text = json.dumps(body, ensure_ascii=False)
    assert "解析" not in text and "共同建设" not in text and "正确" not in text
    resumed = client.post(f"/api/v1/join/{quiz_id['join_code']}", json=PERSON)
    assert resumed.status_code == 200 and resumed.json["attempt_id"] == body["attempt_id"]
    assert resumed.json["token"] == body["token"]


def test_answer_submit_leaderboard_flow(client, quiz_id, app):
    body = client.post(f"/api/v1/join/{quiz_id['join_code']}", json=PERSON).json
    attempt_id, token = body["attempt_id"], body["token"]
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        wanted = {e["q"]: right_response(db.session.get(Question, e["q"]), e) for e in attempt.paper}
        types = {e["q"]: db.session.get(Question, e["q"]).type for e in attempt.paper}
    for qid, response in wanted.items():
        if types[qid] == "multi":
            response = list(response)  # ["A","C"] form
        if types[qid] == "judge":
            response = response == "正确"  # true/false form
        r = client.put(f"/api/v1/attempts/{attempt_id}/answers/{qid}", json={"response": response},
                       headers=bearer(token))
        assert r.status_code == 200, r.json
    state = client.get(f"/api/v1/attempts/{attempt_id}", headers=bearer(token)).json
    assert len(state["answers"]) == 5
    result = client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=bearer(token))
    assert result.status_code == 200
    assert set(result.json) == {"score", "max_score", "correct_count", "question_count", "time_used_seconds",
                                "passed", "level", "rank"}
    assert result.json["score"] == result.json["max_score"] == 10 and result.json["rank"] == 1
    again = client.post(f"/api/v1/attempts/{attempt_id}/submit", headers=bearer(token))
    assert again.json == result.json
    late = client.put(f"/api/v1/attempts/{attempt_id}/answers/{next(iter(wanted))}", json={"response": "A"},
                      headers=bearer(token))
    assert late.status_code == 409 and late.json["error"]
    board = client.get(f"/api/v1/quizzes/{quiz_id['id']}/leaderboard?limit=10")
    assert board.status_code == 200
    assert board.json["entries"] == [{"rank": 1, "name": "张三", "unit": "乔司街道/三角村社区", "score": 10,
                                      "time_used_seconds": board.json["entries"][0]["time_used_seconds"]}]
    assert "13800138000" not in board.get_data(as_text=True)
    review = client.get(f"/api/v1/attempts/{attempt_id}/review", headers=bearer(token)).json
    assert review["answers_shown"] and len(review["questions"]) == 5


def test_after_deadline_409_and_graded(client, quiz_id, app, monkeypatch):
    body = client.post(f"/api/v1/join/{quiz_id['join_code']}", json=PERSON).json
    qid = next(q["id"] for q in body["questions"] if q["type"] == "single")
    assert client.put(f"/api/v1/attempts/{body['attempt_id']}/answers/{qid}", json={"response": "A"},
                      headers=bearer(body["token"])).status_code == 200
    import quiz.answer_lane as answer_lane
    import quiz.views.api.sheets as api
    late_clock = lambda: utcnow() + timedelta(seconds=601)  # noqa: E731
    monkeypatch.setattr(api, "utcnow", late_clock)
    monkeypatch.setattr(answer_lane, "utcnow", late_clock)  # the WSGI answer lane keeps its own clock
    late = client.put(f"/api/v1/attempts/{body['attempt_id']}/answers/{qid}", json={"response": "B"},
                      headers=bearer(body["token"]))
    assert late.status_code == 409
    with app.app_context():
        attempt = db.session.get(Attempt, body["attempt_id"])
        assert attempt.status == "submitted" and attempt.auto_submitted
        assert db.session.execute(select(Answer.response)).scalar_one() in ("A", "B", "C", "D")
    board = client.get(f"/api/v1/quizzes/{quiz_id['id']}/leaderboard").json
    assert len(board["entries"]) == 1


def test_bad_requests_are_4xx(client, quiz_id, app):
    body = client.post(f"/api/v1/join/{quiz_id['join_code']}", json=PERSON).json
    aid, token, qid = body["attempt_id"], body["token"], body["questions"][0]["id"]
    url = f"/api/v1/attempts/{aid}/answers/{qid}"
    assert client.put(url, json={"response": "A"}).status_code == 401
    assert client.put(url, json={"response": "A"}, headers=bearer("nope")).status_code == 401
    assert client.put(f"/api/v1/attempts/99999/answers/{qid}", json={"response": "A"},
                      headers=bearer(token)).status_code == 404
    assert client.put(f"/api/v1/attempts/{aid}/answers/99999", json={"response": "A"},
                      headers=bearer(token)).status_code == 404
    assert client.put(url, json={"response": {"x": 1}}, headers=bearer(token)).status_code == 422
    assert client.put(url, json={"nothing": 1}, headers=bearer(token)).status_code == 422
    assert client.put(url, data="not json", headers=bearer(token), content_type="application/json").status_code == 422
    big = client.put(url, data=json.dumps({"response": "A" * 200_000}), headers=bearer(token),
                     content_type="application/json")
    assert big.status_code == 413 and big.json["error"]
    assert client.post("/api/v1/join/NOPE99", json=PERSON).status_code == 404
    bad_phone = client.post(f"/api/v1/join/{quiz_id['join_code']}", json={**PERSON, "phone": "123"})
    assert bad_phone.status_code == 422 and "123" in bad_phone.json["error"]
    no_unit = client.post(f"/api/v1/join/{quiz_id['join_code']}", json={**PERSON, "phone": "13900139000", "unit": "不存在"})
    assert no_unit.status_code == 422
    assert client.get("/api/v1/quizzes/99999/leaderboard").status_code == 404
    assert client.get(f"/api/v1/quizzes/{quiz_id['id']}/leaderboard?limit=x").status_code == 422


def test_join_rate_limit_is_per_person_not_per_address(client, quiz_id):
    code = quiz_id["join_code"]
    statuses = [client.post(f"/api/v1/join/{code}", json=PERSON).status_code for _ in range(25)]
    assert statuses.count(429) >= 1 and statuses[0] == 201
    # a hundred colleagues behind the same office NAT are not throttled
    for i in range(100):
        response = client.post(f"/api/v1/join/{code}", json={**PERSON, "name": f"同事{i}", "phone": f"1390000{i:04d}"})
        assert response.status_code == 201, response.json


def test_concurrent_duplicates_do_not_double_count(client, quiz_id, app):
    """Simultaneous joins with one phone → one attempt; simultaneous saves → one answer row."""
    code = quiz_id["join_code"]
    results = []

    def do_join():
        with app.test_client() as c:
            results.append(c.post(f"/api/v1/join/{code}", json=PERSON))

    threads = [threading.Thread(target=do_join) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert all(r.status_code in (200, 201) for r in results), [r.json for r in results]
    assert len({r.json["attempt_id"] for r in results}) == 1
    body = results[0].json
    qid = next(q["id"] for q in body["questions"] if q["type"] == "single")
    saves = []

    def do_save(letter):
        with app.test_client() as c:
            saves.append(c.put(f"/api/v1/attempts/{body['attempt_id']}/answers/{qid}", json={"response": letter},
                               headers=bearer(body["token"])))

    threads = [threading.Thread(target=do_save, args=("ABCD"[i % 4],)) for i in range(12)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert all(r.status_code == 200 for r in saves), [r.json for r in saves]
    with app.app_context():
        assert db.session.scalar(select(func.count(Attempt.id))) == 1
        assert db.session.scalar(select(func.count(Answer.id)).where(Answer.question_id == qid)) == 1


def test_tab_switch_events(client, quiz_id, app):
    body = client.post(f"/api/v1/join/{quiz_id['join_code']}", json=PERSON).json
    r = client.post(f"/api/v1/attempts/{body['attempt_id']}/events", json={"type": "hidden"}, headers=bearer(body["token"]))
    assert r.json["tab_switches"] == 1 and r.json["deadline"] and r.json["server_time"]
    assert client.post(f"/api/v1/attempts/{body['attempt_id']}/events", json={"type": "x"},
                       headers=bearer(body["token"])).status_code == 422
