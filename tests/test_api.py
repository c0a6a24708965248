"""POST /api/v1/banks/import: token auth, scope, the JSON contract, bad input never 500."""
import io

from sqlalchemy import func, select

from quiz.extensions import db
from quiz.models import Bank, Question
from tests.conftest import HEADER, csv_bytes

GOOD = [HEADER, ["单选", "题一", "甲", "乙", "丙", "丁", "A", "", "", "", ""],
        ["判断", "题二", "", "", "", "", "对", "", "", "", ""]]
BAD = GOOD + [["单选", "坏题", "甲", "乙", "丙", "丁", "E", "", "", "", ""]]


def post(client, token, data, filename="b.csv", **fields):
    form = {"file": (io.BytesIO(data), filename), **fields}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/banks/import", data=form, headers=headers, content_type="multipart/form-data")


def test_import_contract(client, token_for, app):
    token = token_for("admin")
    response = post(client, token, csv_bytes(GOOD), bank="API题库")
    assert response.status_code == 200
    assert response.json == {"bank": "API题库", "created": 2, "updated": 0, "unchanged": 0,
                             "duplicates": 0, "rejected": []}
    response = post(client, token, csv_bytes(BAD), bank="API题库")
    assert response.status_code == 422
    assert response.json["rejected"][0]["row"] == 4 and response.json["created"] == 0
    response = post(client, token, csv_bytes(BAD), bank="API题库", skip_invalid="true")
    assert response.status_code == 200 and response.json["unchanged"] == 2
    response = post(client, token, csv_bytes(GOOD), bank="干跑", dry_run="1")
    assert response.status_code == 200 and response.json["created"] == 2
    with app.app_context():
        assert db.session.execute(select(Bank).where(Bank.name == "干跑")).first() is None


def test_token_required_and_cookie_not_enough(client, auth, token_for):
    assert post(client, None, csv_bytes(GOOD), bank="x").status_code == 401
    assert post(client, "wrong", csv_bytes(GOOD), bank="x").status_code == 401
    auth.login()  # a browser session is not an API credential
    assert post(client, None, csv_bytes(GOOD), bank="x").status_code == 401


def test_judge_cannot_import(client, token_for):
    response = post(client, token_for("judge1"), csv_bytes(GOOD), bank="x")
    assert response.status_code == 403 and response.json["error"]


def test_organiser_scope(client, token_for, app, tree):
    qiaosi, lunjiao = token_for("qiaosi"), token_for("lunjiao")
    assert post(client, qiaosi, csv_bytes(GOOD), bank="乔司题库").status_code == 200
    with app.app_context():
        bank = db.session.execute(select(Bank).where(Bank.name == "乔司题库")).scalar_one()
        assert bank.unit.path == "乔司街道"
    response = post(client, lunjiao, csv_bytes(GOOD), bank="乔司题库")
    assert response.status_code == 403
    response = post(client, qiaosi, csv_bytes(GOOD), bank="新题库", unit="伦教街道")
    assert response.status_code == 403
    listed = client.get("/api/v1/banks", headers={"Authorization": f"Bearer {lunjiao}"}).json
    assert listed["banks"] == []


def test_bad_requests_are_4xx_with_messages(client, token_for, app):
    token = token_for("admin")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/banks/import", headers=headers, data={"bank": "x"}).status_code == 422
    assert post(client, token, csv_bytes(GOOD)).status_code == 422  # no bank
    for data, name in ((b"", "e.csv"), (b"x", "a.pdf"), (bytes(range(256)) * 10, "g.csv"),
                       (b"PK\x03\x04zz", "z.xlsx"), ("题干\n题\n".encode(), "h.csv")):
        response = post(client, token, data, filename=name, bank="x")
        assert response.status_code == 422, name
        assert response.json["rejected"][0]["message"]
    response = client.post("/api/v1/banks/import", headers=headers, data="not multipart",
                           content_type="text/plain")
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count(Question.id))) == 0


def test_oversized_upload_is_413(database_url, tmp_path, token_for):
    from quiz import create_app

    token = token_for("admin")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "t",
                      "MAX_CONTENT_LENGTH": 1024, "UPLOAD_FOLDER": str(tmp_path)})
    client = app.test_client()
    response = client.post("/api/v1/banks/import", data={"file": (io.BytesIO(b"x" * 5000), "big.csv"), "bank": "x"},
                           headers={"Authorization": f"Bearer {token}"}, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "1 KB" in response.json["error"]
    with app.app_context():
        db.engine.dispose()
