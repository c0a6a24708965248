"""Report pages and downloads through the test client."""
import csv
import io
import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from openpyxl import load_workbook
from sqlalchemy import func, select

from quiz.extensions import db
from quiz.models import Attempt, Quiz
from quiz.models.base import utcnow
from tests.quizdata import make_quiz
from tests.test_boards import _sit


def _data(app):
    with app.app_context():
        now = utcnow() - timedelta(hours=1)
        quiz = make_quiz(now=now, pass_score=6, excellent_score=10, title="=应知应会")
        _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")
        _sit(quiz, now, "13800000002", "李四", "乔司街道/永丰村", right=False)
        _sit(quiz, now, "13800000003", "王五", "伦教街道/常教社区")
        return quiz.id


def _chart_data(html: str) -> dict:
    """The JSON block the page hands to static/reports.js (and no inline script anywhere)."""
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert all("src=" in attrs or 'type="application/json"' in attrs for attrs, _body in scripts)
    assert 'src="/static/vendor/echarts/echarts.min.js"' in html and 'src="/static/reports.js"' in html
    block = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    return json.loads(block.group(1))


def _link(html: str, name: str) -> tuple[str, dict]:
    href = re.search(rf'href="([^"]+)" data-download="{name}"', html).group(1).replace("&amp;", "&")
    parts = urlsplit(href)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}


def test_unit_report_page_and_downloads(client, auth, app):
    quiz_id = _data(app)
    auth.login()
    page = client.get(f"/quizzes/{quiz_id}/report?rank_by=mix&weight=0.3")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "乔司街道" in html
    data = _chart_data(html)
    assert {u["path"] for u in data["units"]} == {"乔司街道", "伦教街道"}  # the default level: streets
    assert client.get(f"/quizzes/{quiz_id}/report?rank_by=bogus&weight=x&level=9").status_code == 200
    xlsx = client.get(f"/quizzes/{quiz_id}/export/leaderboard.xlsx")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(xlsx.data)).active
    assert "应知应会" in ws["A1"].value and ws.max_row == 5
    units = client.get(f"/quizzes/{quiz_id}/export/units.csv")
    assert units.data.startswith(b"\xef\xbb\xbf")
    assert units.headers["Content-Type"] == "text/csv; charset=utf-8"  # charset once
    answers = list(csv.reader(io.StringIO(client.get(f"/quizzes/{quiz_id}/export/answers.csv").data.decode("utf-8-sig"))))
    assert len(answers) == 1 + 3 * 5 and "13800000001" in {r[1] for r in answers}
    analysis = client.get(f"/quizzes/{quiz_id}/export/analysis.xlsx")
    assert analysis.status_code == 200
    assert client.get(f"/quizzes/{quiz_id}/export/nothing.xlsx").status_code == 404
    assert client.get(f"/quizzes/{quiz_id}/export/units.pdf").status_code == 404


def test_analysis_page_makes_a_practice_set(client, auth, app):
    quiz_id = _data(app)
    auth.login()
    page = client.get(f"/quizzes/{quiz_id}/analysis")
    assert page.status_code == 200
    import re
    ids = re.findall(r'name="question" value="(\d+)"', page.get_data(as_text=True))
    assert ids
    response = client.post(f"/quizzes/{quiz_id}/analysis", data={"question": ids[:2]})
    assert response.status_code == 302
    with app.app_context():
        practice = db.session.execute(select(Quiz).where(Quiz.mode == "practice")).scalar_one()
        assert sum(r["count"] for r in practice.rules) == 2
    assert client.post(f"/quizzes/{quiz_id}/analysis", data={}).status_code == 200


def test_reports_are_for_organisers_in_scope(client, auth, app):
    quiz_id = _data(app)
    assert client.get(f"/quizzes/{quiz_id}/report").status_code == 302
    auth.login("qiaosi")
    # the quiz is open to every unit: 乔司街道's organiser views it, limited to 乔司街道's people
    assert client.get(f"/quizzes/{quiz_id}/report").status_code == 200
    answers = client.get(f"/quizzes/{quiz_id}/export/answers.csv").get_data().decode("utf-8-sig")
    assert "张三" in answers and "王五" not in answers and "13800000003" not in answers
    assert client.get(f"/quizzes/{quiz_id}/regrade").status_code == 403


def test_poster_downloads_and_cli(client, auth, app, runner, tmp_path):
    quiz_id = _data(app)
    auth.login()
    png = client.get(f"/quizzes/{quiz_id}/poster/honour.png?top=3")
    assert png.status_code == 200 and png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    from PIL import Image
    assert Image.open(io.BytesIO(png.data)).width == 1080
    pdf = client.get(f"/quizzes/{quiz_id}/poster/units.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert client.get(f"/quizzes/{quiz_id}/poster/honour.gif").status_code == 404
    out = tmp_path / "光荣榜.png"
    result = runner.invoke(args=["export", "poster", str(quiz_id), "--top", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x89PNG")
    assert runner.invoke(args=["export", "poster", str(quiz_id), "-o", str(tmp_path / "x.jpg")]).exit_code != 0


def test_points_page(client, auth, app, monkeypatch):
    _data(app)
    with app.app_context():  # the page's clock just after the sheets: "this month" is theirs at any hour
        last = db.session.execute(select(func.max(Attempt.submitted_at))).scalar()
    monkeypatch.setattr("quiz.views.reports.utcnow", lambda: last + timedelta(seconds=1))
    auth.login()
    page = client.get("/points?period=year")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "张三" in html and "王五" in html
    fixed = client.get("/points?period=month&mode=fixed&participate=1&passed=2&full_marks=3&daily_cap=5")
    assert fixed.status_code == 200 and "张三" in fixed.get_data(as_text=True)
    assert client.get("/points?period=custom&start=2020-01-01&end=2020-02-01").status_code == 200
    assert client.get("/points?period=custom&start=bad").status_code == 200
    assert client.get("/points?mode=nonsense").status_code == 200
    auth.logout()
    auth.login("lunjiao")
    html = client.get("/points?period=year").get_data(as_text=True)
    assert "张三" not in html  # quizzes outside the organiser's scope do not count


def _levels_data(app):
    """三角村社区 10 and 10, 常教社区 0; nobody from 永丰村."""
    with app.app_context():
        now = utcnow() - timedelta(hours=1)
        quiz = make_quiz(now=now, pass_score=6, title="应知应会")
        _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")
        _sit(quiz, now, "13800000002", "李四", "乔司街道/三角村社区")
        _sit(quiz, now, "13800000003", "王五", "伦教街道/常教社区", right=False)
        return quiz.id, quiz.max_score


def test_unit_report_level_ranks_and_chart_data(client, auth, app):
    quiz_id, full = _levels_data(app)
    auth.login()
    html = client.get(f"/quizzes/{quiz_id}/report?level=1").get_data(as_text=True)
    data = _chart_data(html)
    assert [(u["path"], u["rank"], u["average"]) for u in data["units"]] == [
        ("乔司街道/三角村社区", 1, 10), ("伦教街道/常教社区", 2, 0), ("乔司街道/永丰村", None, None)]
    assert data["units"][2]["participation"] == 0  # shown in the participation chart, not ranked
    # whole-number bins for full marks 10: 0, 1, … 9, 10; full marks counted in their own bin
    assert full == 10 and data["histogram"]["labels"] == [str(i) for i in range(11)]
    assert data["histogram"]["counts"][10] == 2 and data["histogram"]["counts"][0] == 1
    table = html[html.index('id="unit-table"'):]
    rows = re.findall(r"<tr>\s*<td class=\"num\">(.*?)</td>\s*<td><a [^>]*>(.*?)</a>", table, re.S)
    assert [(re.sub(r"<[^>]+>", "", rank).strip(), name) for rank, name in rows] == [
        ("1", "乔司街道/三角村社区"), ("2", "伦教街道/常教社区"), ("未参与", "乔司街道/永丰村")]
    assert "乔司街道</a>" not in table  # ranks of one level only
    street = _chart_data(client.get(f"/quizzes/{quiz_id}/report?level=0").get_data(as_text=True))
    assert [(u["path"], u["rank"]) for u in street["units"]] == [("乔司街道", 1), ("伦教街道", 2)]
    assert client.get("/static/vendor/echarts/echarts.min.js").status_code == 200
    assert client.get("/static/reports.js").status_code == 200


def test_poster_and_downloads_follow_the_level_and_settings_of_the_page(client, auth, app, monkeypatch, runner,
                                                                       tmp_path):
    from quiz.services import posters

    quiz_id, _full = _levels_data(app)
    drawn = []
    render = posters.render
    monkeypatch.setattr(posters, "render", lambda kind, context, fmt: (
        drawn.append((context["organiser"], [(r["rank"] or "未参与", r["path"]) for r in context["rows"]])),
        render(kind, context, fmt))[1])
    auth.login()
    html = client.get(f"/quizzes/{quiz_id}/report?level=1&rank_by=participation&weight=0.2&organiser=乔司街道党工委"
                      ).get_data(as_text=True)
    path, args = _link(html, "units-png")
    assert args == {"level": "1", "rank_by": "participation", "weight": "0.2", "organiser": "乔司街道党工委"}
    assert client.get(path, query_string=args).data.startswith(b"\x89PNG")
    subtitle, rows = drawn[-1]
    assert client.get(path, query_string={**args, "level": "9"}).status_code in (400, 422)  # no such level
    # by participation 2/120 (三角村社区) equals 1/60 (常教社区): a shared rank; 永丰村 did not take part
    assert [(r[0], r[1]) for r in rows] == [(1, "乔司街道/三角村社区"), (1, "伦教街道/常教社区"), ("未参与", "乔司街道/永丰村")]
    assert "乔司街道党工委" in subtitle
    path, args = _link(html, "units-xlsx")
    assert args["level"] == "1" and args["organiser"] == "乔司街道党工委"
    ws = load_workbook(io.BytesIO(client.get(path, query_string=args).data)).active
    assert "乔司街道党工委" in ws["A1"].value
    assert [ws.cell(row=r, column=2).value for r in range(3, ws.max_row + 1)] == [
        "乔司街道/三角村社区", "伦教街道/常教社区", "乔司街道/永丰村"]
    assert ws.cell(row=5, column=1).value == "未参与"
    # the command line: --level (1 = top units) and --rank-by
    result = runner.invoke(args=["export", "poster", str(quiz_id), "--kind", "units", "--level", "2",
                                 "--rank-by", "average", "-o", str(tmp_path / "units.png")])
    assert result.exit_code == 0, result.output
    assert [(r[0], r[1]) for r in drawn[-1][1]] == [(1, "乔司街道/三角村社区"), (2, "伦教街道/常教社区"),
                                                    ("未参与", "乔司街道/永丰村")]
    assert runner.invoke(args=["export", "poster", str(quiz_id), "--kind", "units", "--level", "9",
                               "-o", str(tmp_path / "x.png")]).exit_code == 1


def test_organiser_name_defaults_to_the_unit_of_the_organiser(client, auth, app):
    with app.app_context():
        now = utcnow() - timedelta(hours=1)
        quiz = make_quiz(now=now, unit="乔司街道", title="=乔司测试")
        _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")
        quiz_id = quiz.id
    auth.login("qiaosi")
    html = client.get(f"/quizzes/{quiz_id}/report").get_data(as_text=True)
    assert 'name="organiser"' in html and 'value="乔司街道"' in html
    ws = load_workbook(io.BytesIO(client.get(f"/quizzes/{quiz_id}/export/leaderboard.xlsx").data)).active
    assert ws["A1"].value.startswith("=乔司测试") and ws["A1"].value.endswith("乔司街道")
    assert ws["A1"].data_type == "s" and [str(r) for r in ws.merged_cells.ranges] == ["A1:E1"]
    ws = load_workbook(io.BytesIO(client.get(f"/quizzes/{quiz_id}/export/leaderboard.xlsx?organiser=").data)).active
    assert "乔司街道" not in ws["A1"].value  # cleared on the page: no organiser


def test_reports_of_a_quiz_without_submissions(client, auth, app):
    """The quiz page links to every report from the start; each works with zero answer sheets."""
    with app.app_context():
        quiz_id = make_quiz(now=utcnow() - timedelta(hours=1)).id
    auth.login()
    show = client.get(f"/quizzes/{quiz_id}").get_data(as_text=True)
    for url in (f"/quizzes/{quiz_id}/report", f"/quizzes/{quiz_id}/analysis", f"/quizzes/{quiz_id}/regrade",
                f"/quizzes/{quiz_id}/export/leaderboard.xlsx"):
        assert f'href="{url}"' in show, url
        assert client.get(url).status_code == 200, url
    data = _chart_data(client.get(f"/quizzes/{quiz_id}/report").get_data(as_text=True))
    assert all(u["rank"] is None for u in data["units"]) and sum(data["histogram"]["counts"]) == 0
    for kind in ("leaderboard", "units", "answers", "analysis"):
        for fmt in ("xlsx", "csv"):
            response = client.get(f"/quizzes/{quiz_id}/export/{kind}.{fmt}")
            assert response.status_code == 200 and response.data, (kind, fmt)
    for kind in ("honour", "units"):
        assert client.get(f"/quizzes/{quiz_id}/poster/{kind}.png").data.startswith(b"\x89PNG"), kind


def test_csv_downloads_say_charset_once(client, auth, app):
    """Regression: 'text/csv; charset=utf-8; charset=utf-8'."""
    quiz_id = _data(app)
    auth.login()
    for url in (f"/quizzes/{quiz_id}/export/leaderboard.csv", "/banks/template.csv", "/banks/1/export.csv"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8", url
    assert client.get(f"/quizzes/{quiz_id}/export/units.xlsx").headers["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def test_analysis_lists_only_missed_questions_pre_ticked(client, auth, app):
    from quiz.models import Question
    from quiz.services import attempts as svc
    from tests.quizdata import right_response
    from tests.test_quizzes import join

    with app.app_context():
        now = utcnow() - timedelta(hours=1)
        quiz = make_quiz(now=now, rules=[{"type": "单选", "count": 6, "points": 1}], shuffle_questions=False)
        for i, phone in enumerate(("13800000001", "13800000002")):
            attempt = join(quiz, now, phone=phone, name=f"人{i}").attempt
            ids = sorted(e["q"] for e in attempt.paper)  # the same six questions for both
            for entry in attempt.paper:
                q = db.session.get(Question, entry["q"])
                right = right_response(q, entry)
                # ids[0:4]: both right; ids[4]: one of the two wrong; ids[5]: both wrong
                wrong = q.id == ids[5] or (q.id == ids[4] and i == 0)
                svc.save_answer(attempt, q.id, ("A" if right != "A" else "B") if wrong else right, now=now)
            svc.submit(attempt, now=now + timedelta(seconds=30))
        db.session.commit()
        quiz_id = quiz.id
    auth.login()
    html = client.get(f"/quizzes/{quiz_id}/analysis").get_data(as_text=True)
    ticked = re.findall(r'name="question" value="(\d+)" checked', html)
    assert ticked == [str(ids[5]), str(ids[4])]  # 0 %, then 50 %; questions everyone got right are absent
    assert re.findall(r'name="question" value="(\d+)"', html) == ticked


def test_regrade_undo_asks_for_confirmation_and_a_reason(client, auth, app):
    from quiz.models import Attempt, Question, Regrade

    with app.app_context():
        now = utcnow() - timedelta(hours=1)
        quiz = make_quiz(now=now, rules=[{"type": "判断", "count": 4, "points": 1}])
        _sit(quiz, now, "13800000001", "甲", "乔司街道/三角村社区")
        for q in db.session.execute(select(Question).where(Question.type == "judge")).scalars():
            q.answer = "错误" if q.answer == "正确" else "正确"
        db.session.commit()
        quiz_id = quiz.id
    auth.login()
    assert client.post(f"/quizzes/{quiz_id}/regrade", data={"reason": "答案更正"}).status_code == 302
    html = client.get(f"/quizzes/{quiz_id}/regrade").get_data(as_text=True)
    form = re.search(r'<form method="post" class="inline undo-regrade"(.*?)</form>', html, re.S)
    assert form and 'data-confirm="确定撤销这次重新评分吗' in form.group(1)
    assert re.search(r'<input name="reason" required', form.group(1))
    with app.app_context():
        record_id = db.session.execute(select(Regrade.id)).scalar_one()
    refused = client.post(f"/quizzes/{quiz_id}/regrade", data={"undo": str(record_id), "reason": "  "})
    assert refused.status_code == 200 and "请说明撤销重新评分的原因" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Regrade, record_id).undone_at is None
        assert db.session.execute(select(Attempt.score)).scalar_one() == 0
    assert client.post(f"/quizzes/{quiz_id}/regrade", data={"undo": str(record_id), "reason": "误操作"}).status_code == 302
    with app.app_context():
        assert db.session.get(Regrade, record_id).undo_reason == "误操作"
