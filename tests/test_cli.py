"""`quiz …` commands as an organiser types them (contract of issue 2)."""
import json

from openpyxl import load_workbook
from sqlalchemy import func, select

from quiz.extensions import db
from quiz.models import Participant, Question, Unit, User
from tests.conftest import HEADER, csv_bytes

GOOD = [HEADER,
        ["单选", "题一", "甲", "乙", "丙", "丁", "A", "", "", "", ""],
        ["判断", "题二", "", "", "", "", "对", "", "", "", ""]]
BAD = GOOD + [["单选", "坏题", "甲", "乙", "丙", "丁", "E", "", "", "", ""]]


def write(tmp_path, name, rows, encoding="utf-8-sig"):
    path = tmp_path / name
    path.write_bytes(csv_bytes(rows, encoding))
    return str(path)


def test_help_lists_every_command(runner):
    result = runner.invoke(args=["--help"])
    for command in ("init-db", "unit", "user", "token", "roster", "bank", "demo", "db"):
        assert command in result.output
    result = runner.invoke(args=["bank", "--help"])
    assert "import" in result.output and "export" in result.output


def test_init_db_twice(runner):
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert runner.invoke(args=["init-db"]).exit_code == 0


def test_bank_import_summary_and_exit_codes(app, runner, tmp_path):
    result = runner.invoke(args=["bank", "import", write(tmp_path, "g.csv", GOOD), "--bank", "样题"])
    assert result.exit_code == 0, result.output
    assert "2" in result.output
    result = runner.invoke(args=["bank", "import", write(tmp_path, "b.csv", BAD), "--bank", "样题2"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("row ")]
    assert lines == [lines[0]] and lines[0].startswith("row 4: ")
    with app.app_context():
        assert db.session.scalar(select(func.count(Question.id))) == 2


def test_bank_import_json_contract(app, runner, tmp_path):
    path = write(tmp_path, "b.csv", BAD)
    result = runner.invoke(args=["bank", "import", path, "--bank", "样题", "--json"])
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert set(body) == {"bank", "created", "updated", "unchanged", "duplicates", "rejected"}
    assert body["bank"] == "样题" and body["created"] == 0
    assert body["rejected"][0]["row"] == 4 and body["rejected"][0]["message"]
    result = runner.invoke(args=["bank", "import", path, "--bank", "样题", "--json", "--skip-invalid"])
    assert result.exit_code == 0
    body = json.loads(result.output)
    assert (body["created"], len(body["rejected"])) == (2, 1)
    result = runner.invoke(args=["bank", "import", path, "--bank", "样题", "--json", "--skip-invalid"])
    body = json.loads(result.output)
    assert (body["created"], body["unchanged"]) == (0, 2)


def test_bank_import_dry_run(app, runner, tmp_path):
    path = write(tmp_path, "g.csv", GOOD)
    result = runner.invoke(args=["bank", "import", path, "--bank", "样题", "--dry-run", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["created"] == 2
    with app.app_context():
        assert db.session.scalar(select(func.count(Question.id))) == 0
    result = runner.invoke(args=["bank", "import", write(tmp_path, "b.csv", BAD), "--bank", "x", "--dry-run"])
    assert result.exit_code == 1 and "row 4:" in result.output


def test_bank_import_rejected_file_level(runner, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    result = runner.invoke(args=["bank", "import", str(path), "--bank", "x", "--json"])
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["rejected"][0]["row"] == 1


def test_bank_export_and_reimport(app, runner, tmp_path):
    runner.invoke(args=["bank", "import", write(tmp_path, "g.csv", GOOD), "--bank", "样题"])
    csv_out, xlsx_out = tmp_path / "out.csv", tmp_path / "out.xlsx"
    assert runner.invoke(args=["bank", "export", "样题", "-o", str(csv_out)]).exit_code == 0
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbf\xe9\xa2\x98\xe5\x9e\x8b")  # BOM + 题型
    assert runner.invoke(args=["bank", "export", "样题", "-o", str(xlsx_out)]).exit_code == 0
    sheet = load_workbook(xlsx_out).active
    assert [c.value for c in sheet[1]][:2] == ["题型", "题干"] and sheet.max_row == 3
    for out, bank in ((csv_out, "副本一"), (xlsx_out, "副本二")):
        result = runner.invoke(args=["bank", "import", str(out), "--bank", bank, "--json"])
        assert json.loads(result.output)["created"] == 2
    result = runner.invoke(args=["bank", "export", "不存在", "-o", str(csv_out)])
    assert result.exit_code == 1
    result = runner.invoke(args=["bank", "export", "样题", "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code != 0


def test_unit_import(app, runner, tmp_path):
    path = write(tmp_path, "u.csv", [["单位", "应参人数"], ["乔司街道/三角村社区", "120"], ["乔司街道", "30"],
                                      ["乔司街道/机关各办/党政办", "12"]])
    result = runner.invoke(args=["unit", "import", path])
    assert result.exit_code == 0, result.output
    with app.app_context():
        units = {u.path: u.headcount for u in db.session.execute(select(Unit)).scalars()}
    assert units == {"乔司街道": 30, "乔司街道/三角村社区": 120, "乔司街道/机关各办": 0, "乔司街道/机关各办/党政办": 12}
    path = write(tmp_path, "u2.csv", [["单位", "应参人数"], ["乔司街道/三角村社区", "125"], ["乔司街道/永丰村", "-1"]])
    result = runner.invoke(args=["unit", "import", path])
    assert result.exit_code == 1 and "row 3:" in result.output
    path = write(tmp_path, "u3.csv", [["单位", "应参人数"], ["乔司街道/三角村社区", "125"]])
    assert runner.invoke(args=["unit", "import", path, "--json"]).exit_code == 0
    with app.app_context():
        assert db.session.execute(select(Unit.headcount).where(Unit.path == "乔司街道/三角村社区")).scalar() == 125


def test_user_and_token_create(app, runner, tree, client):
    result = runner.invoke(args=["user", "create", "zhang", "--role", "organiser", "--unit", "乔司街道",
                                 "--password", "long-enough"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["user", "create", "nounit", "--role", "organiser", "--password", "long-enough"])
    assert result.exit_code == 1
    result = runner.invoke(args=["user", "create", "x", "--role", "admin", "--password", "short"])
    assert result.exit_code == 1
    result = runner.invoke(args=["user", "create", "y", "--role", "judge", "--unit", "不存在", "--password", "long-enough"])
    assert result.exit_code == 1
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == "zhang")).scalar_one()
        assert user.unit.path == "乔司街道" and user.check_password("long-enough")
        assert user.password_hash != "long-enough"
    token = runner.invoke(args=["token", "create", "zhang"]).output.strip()
    assert len(token) > 30
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json["unit"] == "乔司街道"
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert runner.invoke(args=["token", "create", "nobody"]).exit_code == 1


def test_roster_import(app, runner, tree, tmp_path):
    rows = [["姓名", "手机号", "单位"],
            ["张三", "13800138000", "乔司街道/三角村社区"],
            ["李四", "+86 139-0013-9000", "乔司街道/永丰村"],
            ["王五", "1380013800", "乔司街道/永丰村"],
            ["赵六", "23800138000", "乔司街道/永丰村"],
            ["钱七", "13700137000", "不存在的单位"]]
    path = write(tmp_path, "r.csv", rows, encoding="gbk")
    result = runner.invoke(args=["roster", "import", path])
    assert result.exit_code == 1
    assert [line.split(":")[0] for line in result.output.splitlines() if line.startswith("row")] == \
        ["row 4", "row 5", "row 6"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Participant.id))) == 0
    result = runner.invoke(args=["roster", "import", path, "--skip-invalid", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.output)["created"] == 2
    rows = [["姓名", "手机", "单位"], ["张三丰", "138 0013 8000", "乔司街道/永丰村"]]
    result = runner.invoke(args=["roster", "import", write(tmp_path, "r2.csv", rows), "--json"])
    assert json.loads(result.output)["updated"] == 1
    with app.app_context():
        person = db.session.execute(select(Participant).where(Participant.phone == "13800138000")).scalar_one()
        assert (person.name, person.unit.path) == ("张三丰", "乔司街道/永丰村")


def test_demo_sets_up_and_serves(tmp_path):
    """`quiz demo` on a fresh SQLite file: loads samples, prints logins, and really serves."""
    import os
    import re
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": "sqlite:///" + str(tmp_path / "demo.sqlite3")}
    quiz_bin = os.path.join(os.path.dirname(sys.executable), "quiz")
    process = subprocess.Popen([quiz_bin, "demo", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        output = ""
        deadline = time.time() + 60
        status = None
        while time.time() < deadline and status is None:
            time.sleep(0.5)
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).status
            except OSError:
                if process.poll() is not None:
                    break
        assert status == 200, "the demo server did not answer"
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert re.search(r"admin / \S+", output), output
    assert "基层治理理论知识题库" in output and "应知应会知识竞赛样题" in output
