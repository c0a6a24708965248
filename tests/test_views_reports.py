"""Report pages and downloads through the test client."""
import csv
import io
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import select

from quiz.extensions import db
from quiz.models import Quiz
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


def test_unit_report_page_and_downloads(client, auth, app):
    quiz_id = _data(app)
    auth.login()
    page = client.get(f"/quizzes/{quiz_id}/report?rank_by=mix&weight=0.3")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.count("<svg") == 3 and "三角村社区" in html
    assert client.get(f"/quizzes/{quiz_id}/report?rank_by=bogus&weight=x&level=9").status_code == 200
    xlsx = client.get(f"/quizzes/{quiz_id}/export/leaderboard.xlsx")
    assert xlsx.status_code == 200 and "attachment" in xlsx.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(xlsx.data)).active
    assert "应知应会" in ws["A1"].value and ws.max_row == 5
    units = client.get(f"/quizzes/{quiz_id}/export/units.csv")
    assert units.data.startswith(b"\xef\xbb\xbf")
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
    assert client.get(f"/quizzes/{quiz_id}/report").status_code == 403
    assert client.get(f"/quizzes/{quiz_id}/export/answers.csv").status_code == 403


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


def test_points_page(client, auth, app):
    _data(app)
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
