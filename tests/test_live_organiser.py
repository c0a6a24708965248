"""The organiser's side of live contests on the web: the list, the set-up page (new and edit, with
errors naming the field), the host console and its commands (scope, CSRF), the exports (standings
and ledger as XLSX/CSV, read back), the podium poster, the CLI exports and the set-up parsers."""
from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from quiz.errors import Invalid
from quiz.extensions import db
from quiz.models import Question, Quiz, Unit
from quiz.models.base import utcnow
from quiz.models.live import LiveContest, LiveEntrant, LiveQuestion, LiveScore
from quiz.services import live
from quiz.services.importer import import_bank_file
from tests.conftest import csv_bytes
from tests.test_live import ROWS, _join
from tests.test_posters import cjk  # noqa: F401  (the fixture)


@pytest.fixture
def bank(app, users):
    """The 30 单选 + 10 判断 bank of tests/test_live.py and three 多选 (picked by hand in the tests, so a
    draw never takes them first), owned by 乔司街道; {"id", "questions": {stem: id}}."""
    rows = ROWS + [["多选", f"多选题{i}", "甲", "乙", "丙", "丁", "AB", "", "", "", ""] for i in range(3)]
    with app.app_context():
        import_bank_file("现场题库", csv_bytes(rows), "l.csv", actor=None, now=utcnow(),
                         unit=db.session.execute(select(Unit).where(Unit.path == "乔司街道")).scalar_one())
        db.session.commit()
        questions = {q.stem: q.id for q in db.session.execute(select(Question)).scalars()}
        return {"id": db.session.execute(select(Question.bank_id)).scalars().first(), "questions": questions}


def _unit_ids(app) -> dict[str, int]:
    with app.app_context():
        return {u.path: u.id for u in db.session.execute(select(Unit)).scalars()}


def _form(app, bank, **extra) -> dict:
    """A filled set-up form: two team rows, a pasted team, and four rounds (three drawn, one picked)."""
    units = _unit_ids(app)
    q = bank["questions"]
    data = {
        "title": "乔司街道知识竞赛决赛", "description": "现场赛", "mode": "teams", "unit": str(units["乔司街道"]),
        "banks": [str(bank["id"])], "base_score": "100",
        "entrants-0-unit": str(units["乔司街道/三角村社区"]), "entrants-0-name": "",
        "entrants-0-members": "张三 13800000001\n李四 13800000002",
        "entrants-1-unit": str(units["乔司街道/永丰村"]), "entrants-1-name": "永丰村代表队", "entrants-1-base_score": "90",
        "entrants-2-unit": "", "entrants-2-name": "",  # an empty row is skipped
        "pasted": "机关队\t乔司街道\t\t王五 13800000003; 赵六 13800000004\n",
        "rounds-0-type": "required", "rounds-0-title": "第一轮 必答题", "rounds-0-source": "draw",
        "rounds-0-draw_single": "3", "rounds-0-s_required_points": "10", "rounds-0-s_required_time_seconds": "30",
        "rounds-0-s_required_answer_by": "stage",
        "rounds-1-type": "buzzer", "rounds-1-title": "第二轮 抢答题", "rounds-1-source": "draw",
        "rounds-1-draw_judge": "2", "rounds-1-s_buzzer_points": "20", "rounds-1-s_buzzer_deduct": "5",
        "rounds-1-s_buzzer_early_penalty": "5", "rounds-1-s_buzzer_time_seconds": "15",
        "rounds-1-s_buzzer_early_lockout": "y", "rounds-1-s_buzzer_reopen": "y",
        "rounds-2-type": "wager", "rounds-2-title": "第三轮 风险题", "rounds-2-source": "pick",
        "rounds-2-questions": f"{q['多选题2']} {q['多选题1']}，{q['多选题0']}:15",
        "rounds-2-s_wager_values": "10, 20, 30", "rounds-2-s_wager_time_seconds": "30",
        "rounds-3-type": "all", "rounds-3-title": "", "rounds-3-source": "draw", "rounds-3-draw_single": "2",
        "rounds-3-s_all_points": "10", "rounds-3-s_all_time_seconds": "20", "rounds-3-s_all_speed": "y",
        "rounds-3-s_all_streak_bonus": "2",
    }
    data.update(extra)
    return data


class _FormValues(HTMLParser):
    """The values a browser sends for the form with id `form_id` (inputs, checked boxes, selects, textareas)."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside, self.values = form_id, False, {}
        self.select = self.textarea = None

    def add(self, name, value):
        if name in self.values:
            old = self.values[name]
            self.values[name] = (old if isinstance(old, list) else [old]) + [value]
        else:
            self.values[name] = value

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or "name" not in a and tag != "option":
            return
        if tag == "input" and a.get("type") in ("checkbox", "radio"):
            if "checked" in a:
                self.add(a["name"], a.get("value", "on"))
        elif tag == "input" and "disabled" not in a:
            self.add(a["name"], a.get("value", ""))
        elif tag == "select":
            self.select = None if "disabled" in a else a["name"]
        elif tag == "option" and self.select and "selected" in a:
            self.add(self.select, a.get("value", ""))
        elif tag == "textarea":
            self.textarea = a["name"]
            self.add(self.textarea, "")

    def handle_data(self, data):
        if self.textarea:
            self.values[self.textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self.textarea:
            self.values[self.textarea] = self.values[self.textarea].lstrip("\r\n")
            self.textarea = None
        elif tag == "select":
            self.select = None


def _values(page: str, form_id: str) -> dict:
    parser = _FormValues(form_id)
    parser.feed(page)
    return {k: (v if k != "banks" or isinstance(v, list) else [v]) for k, v in parser.values.items()}


def _login(client, username="qiaosi"):
    reply = client.post("/login", data={"username": username, "password": "secret-pass"})
    assert reply.status_code == 302, reply.get_data(as_text=True)[:500]


def _create(app, client, bank, **extra) -> int:
    reply = client.post("/live/new", data=_form(app, bank, **extra))
    page = reply.get_data(as_text=True)
    assert reply.status_code == 302, re.sub(r"\s+", " ", page[page.find("setup-errors"):])[:2000]
    return int(re.search(r"/live/(\d+)/host", reply.headers["Location"]).group(1))


def test_setup_page_creates_a_contest(app, client, users, bank):
    _login(client)
    page = client.get("/live/new").get_data(as_text=True)
    assert 'href="/live/"' in page and "现场赛" in page  # in the organiser's navigation
    assert 'name="rounds-0-s_buzzer_early_lockout"' in page and 'name="entrants-0-members"' in page
    assert "<script>" not in page  # CSP: no inline script (data blocks are type="application/json")
    contest_id = _create(app, client, bank)
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        assert (contest.title, contest.mode, contest.status, contest.unit.path) == \
            ("乔司街道知识竞赛决赛", "teams", "setup", "乔司街道")
        teams = [(e.name, e.unit.path if e.unit else None, e.base_score, [m["phone"] for m in e.members])
                 for e in contest.entrants]
        assert teams == [("三角村社区", "乔司街道/三角村社区", 100, ["13800000001", "13800000002"]),
                         ("永丰村代表队", "乔司街道/永丰村", 90, []),
                         ("机关队", "乔司街道", 100, ["13800000003", "13800000004"])]
        assert all(re.fullmatch(r"[A-Z0-9]{4}", e.team_code) for e in contest.entrants)
        totals = {s.entrant.name: s.total for s in live.standings(contest)}
        assert totals == {"三角村社区": 100, "永丰村代表队": 90, "机关队": 100}
        rounds = contest.rounds
        assert [(r.type, r.title, len(r.questions)) for r in rounds] == [
            ("required", "第一轮 必答题", 3), ("buzzer", "第二轮 抢答题", 2), ("wager", "第三轮 风险题", 3),
            ("all", str(live.get_round_type("all").label), 2)]
        assert rounds[1].settings == {"points": 20, "time_seconds": 15, "deduct": 5, "early_penalty": 5,
                                      "early_lockout": True, "reopen": True}
        assert rounds[2].settings["values"] == [10, 20, 30]
        assert rounds[3].settings["speed"] is True and rounds[3].settings["streak_bonus"] == 2
        assert all(q.question.type == "single" for q in rounds[0].questions)
        assert all(q.question.type == "judge" and q.points == 20 for q in rounds[1].questions)
        picked = [(q.question.stem, q.points) for q in rounds[2].questions]
        assert picked == [("多选题2", 10), ("多选题1", 10), ("多选题0", 15)]  # in the order given
        used = [q.question_id for q in db.session.execute(select(LiveQuestion)).scalars()]
        assert len(used) == len(set(used)) == 10  # never a question twice
        quiz = db.session.get(Quiz, contest.quiz_id)
        assert [e["q"] for e in quiz.paper] == [q.question_id for q in rounds[3].questions]  # phone questions
    listing = client.get("/live/").get_data(as_text=True)
    assert "乔司街道知识竞赛决赛" in listing and f"/live/{contest_id}/host" in listing
    assert f"/live/{contest_id}/edit" in listing and f"/live/{contest_id}/screen" in listing
    host = client.get(f"/live/{contest_id}/host")
    assert host.status_code == 200
    text = host.get_data(as_text=True)
    for marker in ('data-command="open"', 'data-command="judge" data-right="1"', 'data-command="judge" data-right="0"',
                   'id="wager-form"', 'id="correct-form"', 'id="buzz-order"', 'id="scores"', 'id="run-sheet"',
                   'id="ledger"', 'id="phase"', 'data-command="sound"', 'data-command="resume"', "live/host.js"):
        assert marker in text, marker
    assert "多选题2" in text and '<li class="right"><b>B</b> 乙</li>' in text  # every question, with its answer
    assert client.get("/quizzes/").get_data(as_text=True).count("（现场赛）") == 0  # the hidden quiz is not listed


def test_individuals_start_from_zero_like_players_who_join_on_their_phones(app, client, users, bank):
    _login(client)
    contest_id = _create(app, client, bank, mode="individuals", pasted="王小明, 乔司街道/永丰村, , 13800000005",
                         **{"entrants-0-members": "13800000001", "entrants-1-members": ""})
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        assert [(e.name, e.base_score, e.team_code, [m["phone"] for m in e.members]) for e in contest.entrants] == [
            ("三角村社区", 0, None, ["13800000001"]), ("永丰村代表队", 90, None, []),
            ("王小明", 0, None, ["13800000005"])]
        code = contest.join_code
    assert _join(client, code, "13800000005", "王小明")["state"]["me"]["entrant"] == "王小明"  # registered


def test_setup_page_names_the_field_of_each_error(app, client, users, bank):
    _login(client)
    units = _unit_ids(app)
    # form errors: no title, no bank, a time that is not a number, an unknown bank
    reply = client.post("/live/new", data=_form(app, bank, title="", banks=[], **{
        "rounds-1-s_buzzer_time_seconds": "soon", "entrants-1-base_score": "lots"}))
    page = reply.get_data(as_text=True)
    assert reply.status_code == 200 and 'id="setup-errors"' in page
    assert "标题" in page and "题库" in page  # the fields, named in the summary
    assert "<li>第2轮 · 答题时间（秒）：不是有效的整数。</li>" in page  # the row and the field
    assert "<li>第2个参赛队伍 · 基础分：不是有效的浮点数。</li>" in page
    assert 'value="乔司街道知识竞赛决赛"' not in page  # the title field kept what was sent (empty)
    # the service's errors name the round or entrant and the field
    cases = [
        ({"rounds-0-draw_single": "0"}, "第一轮 必答题"),                       # nothing to draw
        ({"rounds-2-questions": "999999"}, "999999"),                          # no such question
        ({"rounds-0-draw_single": "40"}, "第一轮 必答题"),                      # more than the bank has
        ({"pasted": "机关队\t乔司街道\t很多\n"}, "第1行"),                          # pasted list, line 1
        ({"pasted": "三角村社区\t乔司街道/三角村社区\n"}, "三角村社区"),               # listed twice
        ({"entrants-0-members": "张三 12345"}, "三角村社区"),                    # bad phone of a member
        ({"rounds-2-s_wager_values": "10, -20"}, "values"),                    # a stake must be positive
    ]
    for extra, named in cases:
        reply = client.post("/live/new", data=_form(app, bank, **extra))
        page = reply.get_data(as_text=True)
        assert reply.status_code == 200 and 'id="setup-errors"' in page, extra
        errors = page[page.find('id="setup-errors"'):page.find("</div>", page.find('id="setup-errors"'))]
        assert named in errors, (extra, errors)
    with app.app_context():
        assert db.session.scalar(select(func.count(LiveContest.id))) == 0
        assert db.session.scalar(select(func.count(Quiz.id))) == 0  # nothing half-made
    assert units  # (the unit tree was there all along)


def test_edit_setup_changes_entrants_in_place_and_keeps_the_questions(app, client, users, bank):
    _login(client)
    contest_id = _create(app, client, bank)
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        ids = {e.name: e.id for e in contest.entrants}
        before = [[q.question_id for q in r.questions] for r in contest.rounds]
        code = contest.join_code
    page = client.get(f"/live/{contest_id}/edit").get_data(as_text=True)
    assert 'value="永丰村代表队"' in page and "13800000001" in page
    # a phone joins 三角村社区 (a registered member): that team can no longer be removed
    _join(client, code, "13800000001")
    form = _values(page, "live-setup")  # what the browser would send back unchanged
    assert form["rounds-0-source"] == "pick" and form["banks"] == [str(bank["id"])]
    assert form["rounds-1-s_buzzer_reopen"] == "y" and "rounds-3-s_all_speed" in form
    # rename 永丰村代表队, lift its base 90 → 120, remove 机关队, add 朝阳队
    changed = dict(form, **{"entrants-1-name": "永丰村队", "entrants-1-base_score": "120",
                            "entrants-2-id": "", "entrants-2-unit": "", "entrants-2-name": "", "entrants-2-members": "",
                            "entrants-3-name": "朝阳队", "entrants-3-base_score": "100"})
    reply = client.post(f"/live/{contest_id}/edit", data=changed)
    page = reply.get_data(as_text=True)
    assert reply.status_code == 302, re.sub(r"\s+", " ", page[page.find("setup-errors"):])[:2000]
    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        assert [(e.id, e.name) for e in contest.entrants] == [
            (ids["三角村社区"], "三角村社区"), (ids["永丰村代表队"], "永丰村队"), (contest.entrants[2].id, "朝阳队")]
        assert [[q.question_id for q in r.questions] for r in contest.rounds] == before  # same questions
        assert {s.entrant.name: s.total for s in live.standings(contest)}["永丰村队"] == 120
        raised = db.session.execute(select(LiveScore).where(LiveScore.entrant_id == ids["永丰村代表队"])
                                    .order_by(LiveScore.id)).scalars().all()
        assert [(s.kind, s.points) for s in raised] == [("base", 90), ("base", 30)]  # appended, not rewritten
        assert "90" in raised[1].reason and "120" in raised[1].reason
    # removing the team a phone joined is refused, naming it; nothing changes
    without = {k: v for k, v in changed.items() if not k.startswith("entrants-0-")}
    reply = client.post(f"/live/{contest_id}/edit", data=without)
    assert reply.status_code == 200 and "三角村社区" in reply.get_data(as_text=True)
    assert 'id="setup-errors"' in reply.get_data(as_text=True)
    reply = client.post(f"/live/{contest_id}/edit", data=dict(changed, mode="individuals"))
    assert 'id="setup-errors"' in reply.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(LiveEntrant.id)).where(LiveEntrant.contest_id == contest_id)) == 3
        assert db.session.get(LiveContest, contest_id).mode == "teams"
    # once started, the set-up page sends the host back to the console
    assert client.post(f"/live/{contest_id}/host/open", json={}).status_code == 200
    reply = client.get(f"/live/{contest_id}/edit")
    assert reply.status_code == 302 and reply.headers["Location"].endswith(f"/live/{contest_id}/host")
    assert client.post(f"/live/{contest_id}/edit", data=changed).status_code == 302
    with app.app_context():
        assert db.session.get(LiveContest, contest_id).entrants[1].name == "永丰村队"


def test_other_units_organisers_and_judges_cannot_host(app, client, users, bank):
    _login(client)
    contest_id = _create(app, client, bank)
    client.post("/logout")
    _login(client, "lunjiao")
    for path in (f"/live/{contest_id}/host", f"/live/{contest_id}/edit", f"/live/{contest_id}/export/standings.xlsx",
                 f"/live/{contest_id}/export/ledger.csv", f"/live/{contest_id}/poster.png"):
        assert client.get(path).status_code == 403, path
    assert client.post(f"/live/{contest_id}/host/open", json={}).status_code == 403
    assert client.post(f"/live/{contest_id}/edit", data=_form(app, bank)).status_code == 403
    listing = client.get("/live/").get_data(as_text=True)
    assert f"/live/{contest_id}/host" not in listing and f"/live/{contest_id}/export" not in listing
    # the push stream gives them the public state, never the host's (answers of unopened questions)
    stream = client.get(f"/live/{contest_id}/stream", buffered=False)
    first = next(chunk for chunk in stream.response if b"event: state" in chunk)
    stream.close()
    assert b"run_sheet" not in first and b'"answer"' not in first
    client.post("/logout")
    _login(client, "judge1")
    assert client.get("/live/").status_code == 403
    assert client.get(f"/live/{contest_id}/host").status_code == 403
    client.post("/logout")
    assert client.get(f"/live/{contest_id}/host").status_code == 302  # to the log-in page
    with app.app_context():
        assert db.session.get(LiveContest, contest_id).phase == "lobby"  # nothing happened


def test_host_commands_need_the_csrf_token(app, users, bank):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    with app.app_context():
        contest = live.create_contest({"title": "决赛", "banks": ["现场题库"], "unit": "乔司街道",
                                       "entrants": [{"name": "甲队"}, {"name": "乙队"}],
                                       "rounds": [{"type": "抢答", "rules": [{"type": "单选", "count": 2}]}]},
                                      actor=None, now=utcnow())
        db.session.commit()
        contest_id = contest.id
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    assert client.post("/login", data={"username": "qiaosi", "password": "secret-pass",
                                       "csrf_token": token}).status_code == 302
    page = client.get(f"/live/{contest_id}/host").get_data(as_text=True)
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    refused = client.post(f"/live/{contest_id}/host/open", json={}, headers={"Accept": "application/json"})
    assert refused.status_code == 400 and "error" in refused.get_json()
    with app.app_context():
        assert db.session.get(LiveContest, contest_id).phase == "lobby"
    done = client.post(f"/live/{contest_id}/host/open", json={},
                       headers={"Accept": "application/json", "X-CSRFToken": csrf})
    assert done.status_code == 200 and done.get_json()["contest"]["phase"] == "open"


def test_host_commands_through_the_web_route(app, client, users, bank):
    _login(client)
    contest_id = _create(app, client, bank)
    post = lambda name, **body: client.post(f"/live/{contest_id}/host/{name}", json=body,  # noqa: E731
                                            headers={"Accept": "application/json"})
    too_early = post("start")
    assert too_early.status_code == 409 and too_early.get_json()["error"]  # a message the console shows
    state = post("open").get_json()
    assert state["contest"]["phase"] == "open" and state["question"]["turn"]["name"] == "三角村社区"
    assert state["question"]["answer"] == "B" and state["run_sheet"][0]["questions"][0]["status"] == "open"
    assert post("start").get_json()["contest"]["phase"] == "started"
    # a form-encoded judging (right="1") as well as JSON
    judged = client.post(f"/live/{contest_id}/host/judge", data={"right": "1"})
    assert judged.status_code == 200
    state = judged.get_json()
    assert state["question"]["judged"] == {"name": "三角村社区", "right": True}
    assert state["scores"][0]["name"] == "三角村社区" and state["scores"][0]["total"] == 110
    assert state["can_undo"] is True
    undone = post("undo").get_json()
    assert {s["name"]: s["total"] for s in undone["scores"]}["三角村社区"] == 100
    assert [e["kind"] for e in undone["ledger"][:2]] == ["undo", "answer"]
    wrong = post("correct", entrant=state["scores"][0]["entrant_id"], points=5, reason="")
    assert wrong.status_code == 422 and "原因" in wrong.get_json()["error"]
    assert post("sound", on=False).get_json()["contest"]["sound"] is False
    assert post("pause").get_json()["contest"]["paused"] is True
    assert post("pause").status_code == 409
    assert post("resume").get_json()["contest"]["paused"] is False
    assert post("bogus").status_code == 404


def _play(app, client, contest_id):
    """必答 question 1 right for 三角村社区, a correction for 永丰村代表队, an undone judging."""
    post = lambda name, **body: client.post(f"/live/{contest_id}/host/{name}", json=body)  # noqa: E731
    for step in ("open", "start"):
        assert post(step).status_code == 200
    assert post("judge", right=True).status_code == 200
    with app.app_context():
        teams = {e.name: e.id for e in db.session.get(LiveContest, contest_id).entrants}
    assert post("correct", entrant=teams["永丰村代表队"], points=-5, reason="=抢先作答（裁判组认定）").status_code == 200
    for step in ("reveal", "next", "start"):
        assert post(step).status_code == 200, step
    assert post("judge", right=True).status_code == 200  # 永丰村代表队 +10 …
    assert post("undo").status_code == 200               # … undone
    return teams


def test_exports_read_back(app, client, users, bank):
    _login(client)
    contest_id = _create(app, client, bank)
    _play(app, client, contest_id)
    reply = client.get(f"/live/{contest_id}/export/standings.xlsx")
    assert reply.status_code == 200 and reply.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in reply.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(reply.data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][0].startswith("乔司街道知识竞赛决赛") and "乔司街道" in rows[0][0]
    assert rows[1] == ["名次", "参赛队", "单位", "基础分", "本场得分", "总分"]
    assert rows[2:] == [[1, "三角村社区", "乔司街道/三角村社区", 100, 10, 110],
                        [2, "机关队", "乔司街道", 100, 0, 100],
                        [3, "永丰村代表队", "乔司街道/永丰村", 90, -5, 85]]
    ledger = load_workbook(io.BytesIO(client.get(f"/live/{contest_id}/export/ledger.xlsx").data)).active
    lines = [[c.value for c in row] for row in ledger.iter_rows()][2:]
    with app.app_context():
        assert len(lines) == db.session.scalar(select(func.count(LiveScore.id)))
    kinds = [(line[2], line[5], line[6], line[7]) for line in lines]
    assert kinds == [("三角村社区", "基础分", 100, 100), ("永丰村代表队", "基础分", 90, 90), ("机关队", "基础分", 100, 100),
                     ("三角村社区", "答题", 10, 110), ("永丰村代表队", "主持人更正", -5, 85),
                     ("永丰村代表队", "答题", 10, 95), ("永丰村代表队", "撤销", -10, 85)]
    assert lines[3][3].endswith("第一轮 必答题") and lines[3][4] == 1  # round and question
    assert lines[4][8] == "=抢先作答（裁判组认定）" and lines[4][9]  # the reason, and who recorded it
    assert ledger.cell(row=7, column=9).data_type == "s"  # text, never a formula
    assert lines[6][10] == 6  # the undo names the event it cancels
    text = client.get(f"/live/{contest_id}/export/ledger.csv").data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][0] == "序号" and table[5][8] == "'=抢先作答（裁判组认定）"  # formula-safe CSV
    assert len(table) == len(lines) + 1
    standings = list(csv.reader(io.StringIO(client.get(f"/live/{contest_id}/export/standings.csv")
                                            .data.decode("utf-8-sig"))))
    assert [r[:2] for r in standings[1:]] == [["1", "三角村社区"], ["2", "机关队"], ["3", "永丰村代表队"]]
    assert client.get(f"/live/{contest_id}/export/other.xlsx").status_code == 404
    assert client.get(f"/live/{contest_id}/export/standings.ods").status_code == 404


def test_cli_exports(app, client, runner, users, bank, tmp_path):
    _login(client)
    contest_id = _create(app, client, bank)
    _play(app, client, contest_id)
    out = tmp_path / "standings.xlsx"
    result = runner.invoke(args=["export", "live-standings", str(contest_id), "-o", str(out), "--organiser", "乔司街道"])
    assert result.exit_code == 0, result.output
    rows = [[c.value for c in row] for row in load_workbook(out).active.iter_rows()]
    assert [r[1] for r in rows[2:]] == ["三角村社区", "机关队", "永丰村代表队"]
    ledger = tmp_path / "ledger.csv"
    assert runner.invoke(args=["export", "live-ledger", str(contest_id), "-o", str(ledger)]).exit_code == 0
    assert len(ledger.read_text(encoding="utf-8-sig").splitlines()) == 8
    missing = runner.invoke(args=["export", "live-ledger", "999", "-o", str(ledger)])
    assert missing.exit_code != 0 and "999" in missing.output
    bad = runner.invoke(args=["export", "live-poster", str(contest_id), "-o", str(tmp_path / "x.gif")])
    assert bad.exit_code != 0


@pytest.mark.usefixtures("cjk")
def test_podium_poster(app, client, users, bank, tmp_path, runner):
    import pypdfium2
    from PIL import Image

    _login(client)
    contest_id = _create(app, client, bank)
    _play(app, client, contest_id)
    png = client.get(f"/live/{contest_id}/poster.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    image = Image.open(io.BytesIO(png.data))
    assert image.width == 1080 and image.height > 1000
    pdf = client.get(f"/live/{contest_id}/poster.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    document = pypdfium2.PdfDocument(pdf.data)
    text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    flat = re.sub(r"\s+", "", text)
    assert "乔司街道知识竞赛决赛" in flat and "三角村社区" in flat and "110" in flat
    assert flat.index("三角村社区") < flat.index("永丰村代表队")
    assert client.get(f"/live/{contest_id}/poster.gif").status_code == 404
    out = tmp_path / "podium.pdf"
    assert runner.invoke(args=["export", "live-poster", str(contest_id), "-o", str(out)]).exit_code == 0
    assert out.read_bytes().startswith(b"%PDF")


def test_question_search_for_the_picker(app, client, users, bank):
    _login(client, "lunjiao")
    assert client.get("/live/questions.json?q=单选题").get_json() == []  # 乔司街道's bank is not theirs
    client.post("/logout")
    _login(client)
    found = client.get("/live/questions.json?q=单选题2&type=single").get_json()
    assert {q["stem"] for q in found} == {"单选题2", *(f"单选题2{i}" for i in range(10))}
    assert all(q["answer"] == "B" and q["bank"] == "现场题库" for q in found)
    assert client.get("/live/questions.json?type=judge").get_json()[0]["stem"].startswith("判断题")


def test_setup_parsers(ctx):
    assert live.parse_members("张三 13800000001\n李四，13800000002; 王 五 13800000003") == [
        {"name": "张三", "phone": "13800000001"}, {"name": "李四", "phone": "13800000002"},
        {"name": "王 五", "phone": "13800000003"}]
    assert live.parse_members("13800000009", default_name="赵六") == [{"name": "赵六", "phone": "13800000009"}]
    with pytest.raises(Invalid, match="13800000009"):
        live.parse_members("13800000009")
    assert live.parse_entrant_list("甲队, 乔司街道, 120, 张三 13800000001; 李四 13800000002\n\n乙队\t\t\t",
                                   base_score=100) == [
        {"name": "甲队", "unit": "乔司街道", "base_score": 120.0,
         "members": [{"name": "张三", "phone": "13800000001"}, {"name": "李四", "phone": "13800000002"}]},
        {"name": "乙队", "unit": "", "base_score": 100.0, "members": []}]
    assert live.parse_entrant_list("王小明,乔司街道/永丰村,,13800000005", individuals=True)[0]["members"] == [
        {"name": "王小明", "phone": "13800000005"}]
    with pytest.raises(Invalid, match="2"):
        live.parse_entrant_list("甲队\n\t乔司街道")
    assert live.parse_question_list("12 15:20，18\n21：5") == [
        "12", {"id": "15", "points": "20"}, "18", {"id": "21", "points": "5"}]
    assert live.parse_question_list("  ") == []
