"""Fixtures: the schema is built once per run through the migrations (SQLite by default,
PostgreSQL when TEST_DATABASE_URL is set), and every test starts from empty tables."""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from quiz import create_app, normalise_database_url
from quiz.extensions import db

FIXED_NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return normalise_database_url(url)
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


def _reset_database(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """A database with the schema built by `quiz init-db` (the migrations)."""
    url = _database_url(tmp_path_factory)
    if url.startswith("postgresql"):
        try:
            _reset_database(url)
        except Exception as exc:  # pragma: no cover - depends on the machine
            if os.environ.get("CI"):
                raise
            pytest.skip(f"PostgreSQL unreachable: {exc}")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test"})
    runner = app.test_cli_runner()
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        db.engine.dispose()
    return url


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test",
        "WTF_CSRF_ENABLED": False,
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
    })
    from quiz.services import answers, pictures

    answers.clear_caches()  # ids are reused after the tables are emptied
    pictures.clear_cache()  # pictures served by an earlier test are gone from the tables
    with app.app_context():
        _empty_tables()
    yield app
    with app.app_context():
        db.session.remove()
        _empty_tables()
        db.engine.dispose()


def _empty_tables() -> None:
    tables = [t for t in db.metadata.sorted_tables if not t.info.get("reference_data")]  # question_type stays
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        # a browser test's server may still be finishing a request (a push stream building its
        # last state) while the tables are emptied: a deadlock there is retried, not a failure
        for attempt in range(10):
            try:
                db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                break
            except OperationalError:
                db.session.rollback()
                if attempt == 9:
                    raise
                time.sleep(0.2)
    else:
        unit = db.metadata.tables["unit"]
        for table in reversed(tables):
            if table is unit:  # self-referencing RESTRICT: remove leaves first
                while db.session.execute(text("SELECT 1 FROM unit LIMIT 1")).first():
                    db.session.execute(text(
                        "DELETE FROM unit WHERE id NOT IN (SELECT parent_id FROM unit WHERE parent_id IS NOT NULL)"))
                continue
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def ctx(app):
    """An application context for calling services directly."""
    with app.app_context():
        yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def now() -> datetime:
    return FIXED_NOW


@pytest.fixture
def tree(app):
    """乔司街道 with two communities and a second street office; returns {path: unit_id}."""
    from quiz.services.units import ensure_path

    with app.app_context():
        ids = {}
        for path, headcount in (("乔司街道", 10), ("乔司街道/三角村社区", 120), ("乔司街道/永丰村", 80),
                                ("伦教街道", 5), ("伦教街道/常教社区", 60)):
            unit, _status = ensure_path(path.split("/"), actor=None, now=FIXED_NOW, headcount=headcount)
            ids[path] = unit.id
        db.session.commit()
        return ids


@pytest.fixture
def users(app, tree):
    """admin, an organiser of 乔司街道, an organiser of 伦教街道, a judge; password 'secret-pass'."""
    from quiz.models import Unit
    from quiz.services.people import create_user

    with app.app_context():
        create_user("admin", role="admin", password="secret-pass", now=FIXED_NOW)
        create_user("qiaosi", role="organiser", password="secret-pass",
                    unit=db.session.get(Unit, tree["乔司街道"]), now=FIXED_NOW)
        create_user("lunjiao", role="organiser", password="secret-pass",
                    unit=db.session.get(Unit, tree["伦教街道"]), now=FIXED_NOW)
        create_user("judge1", role="judge", password="secret-pass",
                    unit=db.session.get(Unit, tree["乔司街道"]), now=FIXED_NOW)
        db.session.commit()
    return {"admin": "admin", "qiaosi": "qiaosi", "lunjiao": "lunjiao", "judge": "judge1"}


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, username="admin", password="secret-pass"):
        return self._client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client, users):
    return AuthActions(client)


@pytest.fixture
def token_for(app, users):
    """token_for(username) → a fresh API token for that user."""
    from quiz.services.people import create_token, find_user

    def make(username: str) -> str:
        with app.app_context():
            secret = create_token(find_user(username), now=FIXED_NOW)
            db.session.commit()
            return secret

    return make


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8-sig") -> bytes:
    """Rows → CSV bytes in the given encoding (header included in rows)."""
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


HEADER = ["题型", "题干", "选项A", "选项B", "选项C", "选项D", "答案", "解析", "分值", "难度", "知识点"]


def answer_lane(app):
    """The app's answer lane (quiz/answer_lane.py), wherever it sits in the WSGI middleware chain."""
    from quiz.answer_lane import AnswerLane

    layer = app.wsgi_app
    while not isinstance(layer, AnswerLane):
        layer = layer.wsgi_app
    return layer
