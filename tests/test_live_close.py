"""Closing a question answered on phones (services/live.py `_score_phone_answers`, and the host's
state the close replies with): streaks carry over from the round's previous question, and the SQL
of a close does not grow with the number of phones or of questions in the contest (5,000 phones:
docs/benchmarks.md "Live contests")."""
from __future__ import annotations

from sqlalchemy import event, select

from quiz.extensions import db
from quiz.models.base import utcnow
from quiz.models.live import LiveContest, LiveScore
from quiz.services import live
from quiz.services.importer import import_bank_file
from tests.conftest import csv_bytes
from tests.test_live import ROWS, TEAMS, _host, _join, _setup, _totals


def _save(client, person, qid, response):
    sheet = person["sheet"]
    reply = client.put(f"/api/v1/attempts/{sheet['attempt_id']}/answers/{qid}", json={"response": response},
                       headers={"Authorization": f"Bearer {sheet['token']}"})
    assert reply.status_code == 200, reply.get_json()


def test_streaks_carry_over_from_the_previous_question(app, client, users, tree, token_for):
    contest_id = _setup(app, [{"type": "共答", "rules": [{"type": "判断", "count": 3, "points": 10}],
                               "settings": {"time_seconds": 30, "streak_bonus": 2}}], mode="individuals")
    token = token_for("admin")
    with app.app_context():
        code = db.session.get(LiveContest, contest_id).join_code
    people = [_join(client, code, f"1390000000{i}", f"选手{i}") for i in range(3)]
    plays = [("正确", "正确", "错误"), ("正确", "错误", "正确"), ("正确", None, "正确")]  # 选手1 misses the third
    for responses in plays:
        qid = _host(client, token, contest_id, "next").get_json()["question"]["question_id"]
        _host(client, token, contest_id, "start")
        for person, response in zip(people, responses):
            if response is not None:
                _save(client, person, qid, response)
        closed = _host(client, token, contest_id, "close").get_json()["question"]
        assert closed["answered"] == sum(r is not None for r in responses)
    # 选手0: right three times (streak bonus 2 on the second, 4 on the third); 选手2: wrong, then right twice
    assert _totals(app, contest_id) == {"选手0": (1, 36.0), "选手2": (2, 22.0), "选手1": (3, 10.0)}
    with app.app_context():
        streaks = db.session.execute(select(LiveScore.points).where(LiveScore.kind == "streak")
                                     .order_by(LiveScore.id)).scalars().all()
    assert streaks == [2.0, 4.0, 2.0]


def _contest(app, client, questions: int, phones: int) -> tuple[int, list[dict]]:
    """A teams contest with a 共答 round of `questions` and a 抢答 round of 3; `phones` phones
    join the teams by their team codes."""
    with app.app_context():
        contest = live.create_contest({
            "title": f"决赛{questions}", "mode": "teams", "banks": ["现场题库"],
            "entrants": [{"name": name, "unit": unit} for name, unit, _phones in TEAMS],
            "rounds": [{"type": "共答", "rules": [{"type": "单选", "count": questions}],
                        "settings": {"speed": True, "streak_bonus": 1}},
                       {"type": "抢答", "rules": [{"type": "判断", "count": 3}]}]}, actor=None, now=utcnow())
        db.session.commit()
        contest_id, code, teams = contest.id, contest.join_code, [e.team_code for e in contest.entrants]
    people = [_join(client, code, f"1371234{questions:02d}{i:02d}", f"队员{i}", team_code=teams[i % len(teams)])
              for i in range(phones)]
    return contest_id, people


def test_a_close_sends_as_many_statements_for_few_or_many_phones_and_questions(app, client, users, tree,
                                                                                  token_for):
    token = token_for("admin")
    with app.app_context():
        import_bank_file("现场题库", csv_bytes(ROWS), "l.csv", actor=None, now=utcnow())
        db.session.commit()
        engine = db.engine
    small = _contest(app, client, questions=2, phones=2)
    large = _contest(app, client, questions=8, phones=9)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    counts = []
    for contest_id, people in (small, large):
        for number in range(2):  # the second close also reads the first one's streaks
            qid = _host(client, token, contest_id, "next").get_json()["question"]["question_id"]
            _host(client, token, contest_id, "start")
            for index, person in enumerate(people):
                _save(client, person, qid, "BC"[index % 2])
            statements.clear()
            event.listen(engine, "before_cursor_execute", record)
            try:
                closed = _host(client, token, contest_id, "close").get_json()
            finally:
                event.remove(engine, "before_cursor_execute", record)
            assert closed["question"]["status"] == "closed" and closed["question"]["answered"] == len(people)
            assert [q["status"] for q in closed["run_sheet"][0]["questions"][:number + 1]] == \
                ["revealed"] * number + ["closed"]
            counts.append(len(statements))
    assert counts[1] == counts[3], counts  # 2 phones and 2 questions, or 9 phones and 8 + 3 questions
