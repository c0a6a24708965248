"""Application factory: config order, database selection, SQLite pragmas, error handling."""
import logging

import pytest
from sqlalchemy import text

from quiz import create_app, normalise_database_url
from quiz.extensions import db


def test_database_url_normalisation():
    assert normalise_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x") == "sqlite:///x"


def test_config_order(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///" + str(tmp_path / "env.sqlite3"))
    monkeypatch.setenv("FLASK_ITEMS_PER_PAGE", "7")
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("env.sqlite3")
    assert app.config["ITEMS_PER_PAGE"] == 7
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "t.sqlite3")})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("t.sqlite3")  # test_config wins


def test_default_is_instance_sqlite(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/quiz.sqlite3")


def test_sqlite_wal_and_foreign_keys(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "p.sqlite3")})
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        db.engine.dispose()


def _boom_app(database_url, tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "t",
                      "UPLOAD_FOLDER": str(tmp_path), "PROPAGATE_EXCEPTIONS": False})

    @app.route("/boom")
    def boom():
        from quiz.models import Unit
        db.session.add(Unit(name="半截", path="半截", headcount=1))
        db.session.flush()
        raise RuntimeError("kaput")

    @app.route("/api/v1/boom")
    def api_boom():
        raise RuntimeError("kaput")
    return app


def test_500_rolls_back_logs_and_answers_in_language(database_url, tmp_path, caplog, app):
    boom = _boom_app(database_url, tmp_path)
    client = boom.test_client()
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom")
    assert response.status_code == 500
    assert "kaput" not in response.get_data(as_text=True)
    assert "出错" in response.get_data(as_text=True) or "错误" in response.get_data(as_text=True)
    assert any("Unhandled error" in r.message for r in caplog.records)
    with boom.app_context():
        from quiz.models import Unit
        assert db.session.execute(db.select(Unit).where(Unit.path == "半截")).first() is None
    response = client.get("/api/v1/boom", headers={"X-Language": "en"})
    assert response.status_code == 500 and response.json["status"] == 500
    assert "went wrong" in response.json["error"]
    with boom.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("path", ["/units/", "/banks/", "/people/", "/people/accounts"])
def test_pages_need_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_login_rejects_wrong_password_and_open_redirect(client, auth):
    response = client.post("/login", data={"username": "admin", "password": "nope"})
    assert response.status_code == 200
    assert 'id="welcome"' in client.get("/").get_data(as_text=True)  # still not logged in
    response = client.post("/login?next=https://evil.example/", data={"username": "admin", "password": "secret-pass"})
    assert response.headers["Location"] == "/"


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}
