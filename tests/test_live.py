"""Live stage contests through the service and the JSON API: set-up, joins and rejoins, each
round type played by the host, fair buzz timing, answers on phones through the answer-save rule,
corrections, undo, pause, the ledger and the standings."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from quiz.extensions import db
from quiz.models import Answer, Attempt, Quiz
from quiz.models.base import utcnow
from quiz.models.live import LiveContest, LivePlayer, LiveScore
from quiz.services import live
from quiz.services.importer import import_bank_file
from tests.conftest import HEADER, csv_bytes

ROWS = [HEADER] + [["单选", f"单选题{i}", "甲", "乙", "丙", "丁", "B", f"解析{i}", "", "", ""] for i in range(30)] + \
       [["判断", f"判断题{i}", "", "", "", "", "对", "", "", "", ""] for i in range(10)]
TEAMS = [("三角村社区", "乔司街道/三角村社区", ["13800000001", "13800000002"]),
         ("永丰村", "乔司街道/永丰村", ["13800000003"]),
         ("常教社区", "伦教街道/常教社区", ["13800000004"])]


def _setup(app, rounds, mode="teams"):
    with app.app_context():
        import_bank_file("现场题库", csv_bytes(ROWS), "l.csv", actor=None, now=utcnow())
        payload = {"title": "知识竞赛决赛", "mode": mode, "banks": ["现场题库"], "rounds": rounds,
                   "entrants": [{"name": name, "unit": unit, "base_score": 100,
                                 "members": [{"name": f"队员{p[-1]}", "phone": p} for p in phones]}
                                for name, unit, phones in TEAMS] if mode == "teams" else []}
        contest = live.create_contest(payload, actor=None, now=utcnow())
        db.session.commit()
        return contest.id


def _join(client, code, phone, name=None, **extra):
    reply = client.post(f"/api/v1/live/join/{code}", json={"name": name or f"队员{phone[-1]}", "phone": phone,
                                                            "unit": "乔司街道/三角村社区", **extra})
    assert reply.status_code in (200, 201), reply.get_json()
    return reply.get_json()


def _host(client, token, contest_id, name, **body):
    reply = client.post(f"/api/v1/live/{contest_id}/host/{name}", json=body,
                        headers={"Authorization": f"Bearer {token}"})
    return reply


def _totals(app, contest_id):
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        return {s.entrant.name: (s.rank, s.total) for s in live.standings(contest)}


def test_setup_via_api_joins_and_rejoins(app, client, users, tree, token_for):
    token = token_for("admin")
    with app.app_context():
        import_bank_file("现场题库", csv_bytes(ROWS), "l.csv", actor=None, now=utcnow())
        db.session.commit()
    reply = client.post("/api/v1/live", headers={"Authorization": f"Bearer {token}"}, json={
        "title": "知识竞赛决赛", "mode": "teams", "banks": ["现场题库"],
        "entrants": [{"name": "三角村社区", "unit": "乔司街道/三角村社区", "base_score": 100,
                      "members": [{"name": "队员1", "phone": "13800000001"}]},
                     {"name": "永丰村", "base_score": 100}],
        "rounds": [{"type": "必答", "rules": [{"type": "单选", "count": 2}], "settings": {"points": 10}},
                   {"type": "抢答", "questions": [{"id": 31, "points": 20}]},
                   {"type": "共答", "rules": [{"type": "判断", "count": 2, "points": 5}], "settings": {"speed": True}}]})
    assert reply.status_code == 201, reply.get_json()
    body = reply.get_json()
    assert set(body) == {"id", "join_code", "join_url", "host_url", "screen_url"}
    state = client.get(f"/api/v1/live/{body['id']}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [len(r["questions"]) for r in state["run_sheet"]] == [2, 1, 2]
    assert [r["type"] for r in state["run_sheet"]] == ["required", "buzzer", "all"]
    assert state["question"] is None and state["contest"]["phase"] == "lobby"
    assert [(s["name"], s["total"], s["rank"]) for s in state["scores"]] == [("三角村社区", 100, 1), ("永丰村", 100, 1)]
    # the registered member joins their team without a code; others need the team's code
    first = _join(client, body["join_code"], "13800000001")
    assert first["state"]["me"]["entrant"] == "三角村社区" and first["sheet"] is not None
    bad = client.post(f"/api/v1/live/join/{body['join_code']}", json={"name": "路人", "phone": "13900000009",
                                                                       "unit": "乔司街道/永丰村"})
    assert bad.status_code == 422
    code = next(s["team_code"] for s in state["scores"] if s["name"] == "永丰村")
    second = _join(client, body["join_code"], "13900000009", "路人", team_code=code)
    assert second["state"]["me"]["entrant"] == "永丰村"
    again = client.post(f"/api/v1/live/join/{body['join_code']}", json={"name": "队员1", "phone": "13800000001",
                                                                         "unit": "乔司街道/三角村社区"})
    assert again.status_code == 200 and again.get_json()["player_id"] == first["player_id"]
    with app.app_context():
        assert db.session.scalar(select(func.count(LivePlayer.id))) == 2
    # nobody sees an unopened question
    public = client.get(f"/api/v1/live/{body['id']}/state",
                        headers={"Authorization": f"Bearer {first['token']}"}).get_json()
    assert public["question"] is None and "run_sheet" not in public
    # bad set-up is a message naming the field
    bad_setup = client.post("/api/v1/live", headers={"Authorization": f"Bearer {token}"},
                            json={"title": "x", "banks": ["现场题库"], "rounds": [{"type": "抢着答"}]})
    assert bad_setup.status_code == 422 and "抢着答" in bad_setup.get_json()["error"]
    assert client.post("/api/v1/live", headers={"Authorization": f"Bearer {token_for('judge1')}"},
                       json={"title": "x"}).status_code == 403


def test_required_buzzer_wager_rounds_with_corrections_and_undo(app, client, users, tree, token_for):
    contest_id = _setup(app, [
        {"type": "必答", "rules": [{"type": "单选", "count": 3}], "settings": {"points": 10}},
        {"type": "抢答", "rules": [{"type": "单选", "count": 2}],
         "settings": {"points": 20, "deduct": 10, "early_penalty": 5}},
        {"type": "风险题", "rules": [{"type": "单选", "count": 3}], "settings": {"values": [10, 20, 30]}}])
    token = token_for("admin")
    host = lambda name, **b: _host(client, token, contest_id, name, **b)  # noqa: E731
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        code, teams = contest.join_code, {e.name: e.id for e in contest.entrants}
    phones = {p: _join(client, code, p) for _n, _u, ps in TEAMS for p in ps}

    # 必答: each team in turn, right +10, wrong costs nothing
    state = host("open").get_json()
    assert state["question"]["turn"]["name"] == "三角村社区" and state["contest"]["phase"] == "open"
    assert host("judge", right=True).status_code == 409  # not started yet
    host("start")
    state = host("judge", right=True).get_json()
    assert state["contest"]["phase"] == "closed"
    host("next")
    state = host("start").get_json()
    assert state["question"]["turn"]["name"] == "永丰村"
    host("judge", right=False)
    host("next"), host("start"), host("judge", right=True)
    assert _totals(app, contest_id) == {"三角村社区": (1, 110), "常教社区": (1, 110), "永丰村": (3, 100)}

    # 抢答 with fair timing: an early buzz costs 5 and locks the team out; of two later buzzes the
    # one pressed first wins although it arrived later (a 200 ms phone against a 5 ms one)
    host("next")
    a, b, c = phones["13800000001"], phones["13800000003"], phones["13800000004"]
    with app.app_context():
        players = {p.id: p for p in db.session.execute(select(LivePlayer)).scalars()}
        players[a["player_id"]].rtt_ms, players[b["player_id"]].rtt_ms = 200.0, 5.0
        db.session.commit()
        contest = db.session.get(LiveContest, contest_id)
        early = live.buzz(contest, players[c["player_id"]], now=utcnow())
        db.session.commit()
    assert early["early"] and early["accepted"]
    host("start")
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        started = contest.current.started_at
        pressed = started + timedelta(seconds=1)
        players = {p.id: p for p in db.session.execute(select(LivePlayer)).scalars()}
        live.buzz(contest, players[b["player_id"]], now=pressed + timedelta(milliseconds=52.5))  # pressed at +50 ms
        live.buzz(contest, players[a["player_id"]], now=pressed + timedelta(milliseconds=100))   # pressed at 0 ms
        with pytest.raises(Exception):
            live.buzz(contest, players[c["player_id"]], now=pressed + timedelta(milliseconds=200))  # locked out
        db.session.commit()
    state = client.get(f"/api/v1/live/{contest_id}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [x["entrant"] for x in state["question"]["buzzes"]] == ["三角村社区", "永丰村"]
    first = state["question"]["buzzes"][0]
    assert first["rtt_ms"] == 200 and first["received_at"] != first["corrected_at"]
    assert state["question"]["answering"]["name"] == "三角村社区"
    assert state["question"]["early"] == ["常教社区"]
    state = host("judge", right=False).get_json()   # wrong: −10, locked out, re-opened to the others
    assert state["contest"]["phase"] == "started" and state["question"]["answering"] is None
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        players = {p.id: p for p in db.session.execute(select(LivePlayer)).scalars()}
        live.buzz(contest, players[b["player_id"]], now=utcnow())
        db.session.commit()
    state = host("judge", right=True).get_json()
    assert _totals(app, contest_id) == {"永丰村": (1, 120), "常教社区": (2, 105), "三角村社区": (3, 100)}
    # undo the last judging: 永丰村's 20 points go, the question is open again with 永丰村 answering
    state = host("undo").get_json()
    assert state["contest"]["phase"] == "started" and state["question"]["status"] == "open"
    assert _totals(app, contest_id)["永丰村"] == (2, 100)
    host("judge", right=True)
    # a correction with a reason, in the ledger
    assert host("correct", entrant=teams["三角村社区"], points=5, reason="").status_code == 422
    host("correct", entrant=teams["三角村社区"], points=5, reason="评委复核加分")
    with app.app_context():
        kinds = [k for (k,) in db.session.execute(select(LiveScore.kind).order_by(LiveScore.id))]
        assert kinds.count("correction") == 1 and kinds.count("undo") == 1 and kinds.count("early") == 1
        reasons = [r for (r,) in db.session.execute(select(LiveScore.reason).where(LiveScore.kind == "correction"))]
        assert reasons == ["评委复核加分"]
    assert _totals(app, contest_id) == {"永丰村": (1, 120), "三角村社区": (2, 105), "常教社区": (2, 105)}

    # 风险题: the highest score picks first; the stake comes before the question shows
    host("next")
    state = host("next").get_json()  # the second 抢答 question is skipped unanswered
    player_view = client.get(f"/api/v1/live/{contest_id}/state",
                             headers={"Authorization": f"Bearer {b['token']}"}).get_json()
    assert state["question"]["turn"]["name"] == "永丰村" and player_view["question"]["hidden"]
    assert "stem" not in player_view["question"] and player_view["me"]["may_wager"]
    assert host("start").status_code == 409  # no stake yet
    stake = client.post(f"/api/v1/live/{contest_id}/wager", json={"value": 30},
                        headers={"Authorization": f"Bearer {b['token']}"})
    assert stake.status_code == 200
    assert client.post(f"/api/v1/live/{contest_id}/wager", json={"value": 30},
                       headers={"Authorization": f"Bearer {a['token']}"}).status_code == 409  # not their turn
    host("start")
    host("judge", right=False)
    assert _totals(app, contest_id)["永丰村"] == (3, 90)


def test_everyone_answers_on_phones_through_the_answer_lane(app, client, users, tree, token_for):
    contest_id = _setup(app, [{"type": "共答", "rules": [{"type": "判断", "count": 2, "points": 10}],
                               "settings": {"time_seconds": 30}}], mode="individuals")
    token = token_for("admin")
    host = lambda name, **b: _host(client, token, contest_id, name, **b)  # noqa: E731
    with app.app_context():
        code = db.session.get(LiveContest, contest_id).join_code
    people = [_join(client, code, f"1390000000{i}", f"选手{i}") for i in range(4)]
    state = host("open").get_json()
    qid = state["question"]["question_id"]

    def save(person, response):
        sheet = person["sheet"]
        return client.put(f"/api/v1/attempts/{sheet['attempt_id']}/answers/{qid}", json={"response": response},
                          headers={"Authorization": f"Bearer {sheet['token']}"})

    assert save(people[0], "正确").status_code == 409  # not started: the sheet is closed
    host("start")
    assert save(people[0], "正确").status_code == 200
    assert save(people[1], "错误").status_code == 200
    assert save(people[2], "对").status_code == 200
    host("pause")
    assert save(people[3], "正确").status_code == 409  # paused: no answers
    host("resume")
    assert save(people[3], "正确").status_code == 200
    state = host("close").get_json()
    assert save(people[1], "正确").status_code == 409  # after the cut
    assert state["question"]["answered"] == 4 and state["question"]["distribution"] == {"正确": 3, "错误": 1}
    totals = _totals(app, contest_id)
    assert totals["选手0"] == (1, 10) and totals["选手1"] == (4, 0)
    with app.app_context():
        assert db.session.scalar(select(func.count(Answer.id))) == 4  # every acknowledged answer is stored
        assert db.session.get(Attempt, people[1]["sheet"]["attempt_id"]).status == "open"
    host("finish")
    with app.app_context():
        assert db.session.get(LiveContest, contest_id).status == "finished"


def test_tiebreak_among_tied_entrants_and_scope(app, client, users, tree, token_for):
    contest_id = _setup(app, [{"type": "加赛", "rules": [{"type": "单选", "count": 3}]}])
    token = token_for("admin")
    host = lambda name, **b: _host(client, token, contest_id, name, **b)  # noqa: E731
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        code = contest.join_code
    phones = {p: _join(client, code, p) for _n, _u, ps in TEAMS for p in ps}
    state = host("open").get_json()
    assert sorted(state["question"]["eligible"]) == sorted(n for n, _u, _p in TEAMS)  # all tied at 100
    host("start")
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        by_phone = {p.participant.phone: p for p in db.session.execute(select(LivePlayer)).scalars()}
        live.buzz(contest, by_phone["13800000003"], now=utcnow())
        db.session.commit()
    state = host("judge", right=False).get_json()   # 永丰村 is out
    assert state["question"]["out"] == ["永丰村"]
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        by_phone = {p.participant.phone: p for p in db.session.execute(select(LivePlayer)).scalars()}
        live.buzz(contest, by_phone["13800000004"], now=utcnow())
        db.session.commit()
    host("judge", right=True)                          # 常教社区 wins the 加赛
    assert _totals(app, contest_id)["常教社区"] == (1, 101)
    state = host("next").get_json()                    # the rest of the 加赛 is skipped
    assert state["contest"]["phase"] == "podium"
    # another unit's organiser cannot host
    assert _host(client, token_for("lunjiao"), contest_id, "open").status_code == 403
    assert phones  # every team joined


def test_pings_measure_latency_and_the_correction_is_capped(app, client, users, tree, token_for):
    """A phone's round trip is the median of its latest pings; a buzz is corrected by half of it,
    never more than LIVE_BUZZ_CORRECTION_CAP_MS (a phone claiming a slow link gains at most that)."""
    contest_id = _setup(app, [{"type": "抢答", "rules": [{"type": "单选", "count": 1}]}])
    with app.app_context():
        code = db.session.get(LiveContest, contest_id).join_code
    slow, fast = _join(client, code, "13800000001"), _join(client, code, "13800000003")
    auth = {"Authorization": f"Bearer {slow['token']}"}
    first = client.post(f"/api/v1/live/{contest_id}/ping", headers=auth)
    assert first.status_code == 200 and first.get_json()["rtt_ms"] is None and first.get_json()["server_time"]
    for rtt in (900, 5000, 800, 1000, 40):  # median of the five: 900
        reply = client.post(f"/api/v1/live/{contest_id}/ping", headers=auth, json={"rtt": rtt})
    assert reply.get_json()["rtt_ms"] == 900
    assert client.post(f"/api/v1/live/{contest_id}/ping", headers=auth, json={"rtt": "NaN"}).status_code == 422
    assert client.post(f"/api/v1/live/{contest_id}/ping", json={"rtt": 5}).status_code == 401
    assert client.post(f"/api/v1/live/{contest_id}/ping", json={"rtt": 5},
                       headers={"Authorization": f"Bearer {fast['token']}x"}).status_code == 401
    client.post(f"/api/v1/live/{contest_id}/ping", json={"rtt": 10},
                headers={"Authorization": f"Bearer {fast['token']}"})
    token = token_for("admin")
    _host(client, token, contest_id, "open")
    _host(client, token, contest_id, "start")
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        players = {p.id: p for p in db.session.execute(select(LivePlayer)).scalars()}
        pressed = contest.current.started_at + timedelta(seconds=2)
        # the "slow" phone arrives 400 ms after the fast one: half its 900 ms would be 450 ms, capped at 300
        live.buzz(contest, players[fast["player_id"]], now=pressed + timedelta(milliseconds=5))
        live.buzz(contest, players[slow["player_id"]], now=pressed + timedelta(milliseconds=405))
        db.session.commit()
    buzzes = _host(client, token, contest_id, "pause").get_json()["question"]["buzzes"]
    assert [b["entrant"] for b in buzzes] == ["永丰村", "三角村社区"]  # the fast phone stays first
    slow_buzz = next(b for b in buzzes if b["entrant"] == "三角村社区")
    gained = datetime.fromisoformat(slow_buzz["received_at"]) - datetime.fromisoformat(slow_buzz["corrected_at"])
    assert gained == timedelta(milliseconds=300) and slow_buzz["rtt_ms"] == 900


def test_a_buzz_carries_the_round_trips_the_phone_measured(app, client, users, tree, token_for):
    """The phone page measures its round trips against /live/clock (nothing written) and sends the
    latest with its buzz: their median times the buzz, capped like pings' (and replaces them)."""
    contest_id = _setup(app, [{"type": "抢答", "rules": [{"type": "单选", "count": 1}]}])
    with app.app_context():
        code = db.session.get(LiveContest, contest_id).join_code
    slow, fast = _join(client, code, "13800000001"), _join(client, code, "13800000003")
    clock = client.get("/live/clock")
    assert clock.status_code == 200 and clock.get_json()["server_time"]
    token = token_for("admin")
    _host(client, token, contest_id, "open")
    _host(client, token, contest_id, "start")

    def buzz(phone, body):
        return client.post(f"/api/v1/live/{contest_id}/buzz", json=body,
                           headers={"Authorization": f"Bearer {phone['token']}"})

    assert buzz(slow, {"rtt": ["fast"]}).status_code == 422  # not a number: nothing recorded
    assert buzz(slow, {"rtt": 120}).status_code == 422
    assert buzz(fast, {"rtt": [12, 8.5, 10, 90000]}).get_json()["accepted"]  # 90 s ignored: median 10
    slow_reply = buzz(slow, {"rtt": [200, 260, 240]})
    assert slow_reply.get_json()["accepted"]
    gained = datetime.fromisoformat(slow_reply.get_json()["received_at"]) - \
        datetime.fromisoformat(slow_reply.get_json()["corrected_at"])
    assert gained == timedelta(milliseconds=120)  # half of the median 240
    buzzes = _host(client, token, contest_id, "pause").get_json()["question"]["buzzes"]
    assert {b["entrant"]: b["rtt_ms"] for b in buzzes} == {"永丰村": 10, "三角村社区": 240}
    with app.app_context():
        player = db.session.get(LivePlayer, slow["player_id"])
        assert player.rtt_samples == [200, 260, 240] and player.rtt_ms == 240


def test_the_hidden_quiz_behind_a_contest_reveals_no_question(app, client, users, tree, token_for):
    """Phone answers live on sheets of a hidden quiz: its join code opens nothing, and a player's
    sheet shows no question before it is asked (the paper holds every phone question)."""
    contest_id = _setup(app, [{"type": "共答", "rules": [{"type": "判断", "count": 2}]}])
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        code, hidden_code = contest.join_code, db.session.get(Quiz, contest.quiz_id).join_code
    person = {"name": "队员1", "phone": "13800000001", "unit": "乔司街道/三角村社区"}
    assert client.post(f"/api/v1/join/{hidden_code}", json=person).status_code == 404
    assert client.get(f"/j/{hidden_code}").status_code == 404
    joined = _join(client, code, "13800000001")
    sheet = joined["sheet"]
    auth = {"Authorization": f"Bearer {sheet['token']}"}
    for path in (f"/api/v1/attempts/{sheet['attempt_id']}", f"/api/v1/attempts/{sheet['attempt_id']}/review"):
        reply = client.get(path, headers=auth)
        assert reply.status_code in (403, 404, 409), (path, reply.status_code)
        assert "判断题" not in reply.get_data(as_text=True)
    assert client.get(f"/a/{sheet['attempt_id']}").status_code in (401, 403, 404)
    assert client.post(f"/api/v1/attempts/{sheet['attempt_id']}/submit", headers=auth).status_code == 409


def test_only_hosts_see_the_hosts_state(app, client, users, tree, token_for):
    """Organisers whose units play in a contest see it (view), but the host's state — every
    question with its answer — is for the contest's own organisers only."""
    contest_id = _setup(app, [{"type": "抢答", "rules": [{"type": "单选", "count": 1}]}])  # the admin's contest
    for name in ("qiaosi", "lunjiao"):
        reply = client.get(f"/api/v1/live/{contest_id}", headers={"Authorization": f"Bearer {token_for(name)}"})
        assert reply.status_code == 403 and "run_sheet" not in reply.get_data(as_text=True)
    admin = client.get(f"/api/v1/live/{contest_id}", headers={"Authorization": f"Bearer {token_for('admin')}"})
    assert admin.status_code == 200 and admin.get_json()["run_sheet"][0]["questions"][0]["stem"]
    with app.app_context():
        from quiz.models import User
        from quiz.services import scope
        contest = db.session.get(LiveContest, contest_id)
        access = {u.username: scope.live_access(u, contest) for u in db.session.execute(select(User)).scalars()}
    assert access == {"admin": "manage", "qiaosi": "view", "lunjiao": "view", "judge1": None}
