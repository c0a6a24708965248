"""The database refuses values the services never write (quiz/models/checks.py, migration
0010_checks): status, mode and role columns have CHECK constraints, question.type refers to the
registered question types; `quiz db check` finds the models and the migrated database equal, and
notices when they are not. Runs on SQLite, and on PostgreSQL with TEST_DATABASE_URL."""
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from quiz import create_app
from quiz.extensions import db
from quiz.models import Attempt, Question, Quiz, User
from quiz.models.banks import question_type
from quiz.models.checks import check_values
from quiz.questions import QUESTION_TYPES
from quiz.services.people import create_user
from tests.quizdata import make_quiz
from tests.test_reports import _sit


def _refused(statement) -> None:
    """`statement` fails on a constraint and changes nothing."""
    savepoint = db.session.begin_nested()
    with pytest.raises(IntegrityError):
        db.session.execute(statement)
        db.session.flush()
    savepoint.rollback()


@pytest.mark.parametrize("model, column, bad", [
    (Attempt, "status", "graded"),
    (Quiz, "mode", "duel"),
    (Quiz, "paper_mode", "mixed"),
    (Quiz, "attempt_policy", "first"),
    (Quiz, "multi_partial", "all"),
    (Quiz, "show_answers", "always"),
    (User, "role", "superuser"),
    (Question, "type", "essay"),
])
def test_a_value_the_services_never_write_is_refused(ctx, tree, now, model, column, bad):
    quiz = make_quiz()
    attempt = _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")
    user = create_user("organiser1", role="organiser", password="secret-pass", unit=quiz.unit or attempt.participant.unit,
                       now=now)
    row = {Attempt: attempt, Quiz: quiz, User: user,
           Question: db.session.execute(select(Question)).scalars().first()}[model]
    db.session.commit()
    before = getattr(row, column)
    _refused(update(model).where(model.id == row.id).values({column: bad}))
    db.session.expire_all()
    assert getattr(db.session.get(model, row.id), column) == before


@pytest.mark.parametrize("values", [
    {"mode": "duel"}, {"paper_mode": "随机组卷"}, {"show_answers": ""}, {"attempt_policy": "BEST"},
])
def test_inserting_a_bad_quiz_is_refused(ctx, values):
    row = {"title": "t", "join_code": "CHECK1", "rules": [], "mode": "exam", "paper_mode": "fixed",
           "attempt_policy": "best", "multi_partial": "none", "show_answers": "after_submit", **values}
    _refused(Quiz.__table__.insert().values(
        **row, description="", attempts_allowed=1, shuffle_questions=True, shuffle_options=False, max_score=0,
        roster_only=False, access_code_required=False, created_at=db.func.now(), updated_at=db.func.now()))
    assert db.session.execute(select(Quiz.id)).first() is None


def test_inserting_a_user_with_an_unknown_role_is_refused(ctx):
    _refused(User.__table__.insert().values(username="x", display_name="x", password_hash="x", role="root",
                                            active=True, created_at=db.func.now()))


def test_every_registered_question_type_is_a_row(ctx):
    assert set(db.session.execute(select(question_type.c.name)).scalars()) >= set(QUESTION_TYPES)


def test_a_new_question_type_needs_no_migration(app, ctx, runner, monkeypatch):
    """Registering a type and running `quiz init-db` is enough for the database to accept it."""
    monkeypatch.setitem(QUESTION_TYPES, "essay", QUESTION_TYPES["blank"])
    try:
        result = runner.invoke(args=["init-db"])
        assert result.exit_code == 0, result.output
        assert "essay" in set(db.session.execute(select(question_type.c.name)).scalars())
    finally:
        db.session.execute(question_type.delete().where(question_type.c.name == "essay"))
        db.session.commit()


def test_check_values_read_the_same_from_the_model_and_both_databases():
    model = "mode IN ('exam', 'practice')"
    postgres = "(mode)::text = ANY ((ARRAY['exam'::character varying, 'practice'::character varying])::text[])"
    assert check_values(model) == check_values(postgres) == (["exam", "practice"], [])
    assert check_values("headcount >= 0") == check_values("(headcount >= 0)") == ([], [0.0])
    assert check_values("mode IN ('exam')") != check_values(model)


def test_db_check_finds_no_drift_in_the_test_database(runner):
    """The models (index ix_attempt_board and every CHECK constraint included) equal the schema the
    migrations built, on SQLite and PostgreSQL alike."""
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_db_check_notices_a_changed_list_of_values(runner, monkeypatch):
    constraint = next(c for c in Quiz.__table__.constraints if str(c.name) == "ck_quiz_mode")
    monkeypatch.setattr(constraint, "sqltext", text("mode IN ('exam', 'practice', 'duel')"))
    assert runner.invoke(args=["db", "check"]).exit_code == 1


def test_db_check_notices_missing_constraints_and_migrations_keep_data(tmp_path, now):
    """A database migrated to 0009 and stamped as current lacks the constraints: `quiz db check`
    says so. Downgrading and upgrading again keeps every row (SQLite copies the tables)."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite:///" + str(tmp_path / "m.sqlite3"),
                      "SECRET_KEY": "t", "UPLOAD_FOLDER": str(tmp_path)})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    with app.app_context():
        from quiz.services.units import ensure_path

        ensure_path(["乔司街道", "三角村社区"], actor=None, now=now, headcount=120)
        db.session.commit()
        quiz = make_quiz()
        _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")
        counts = {t: db.session.execute(text(f'SELECT count(*) FROM "{t}"')).scalar()
                  for t in ("quiz", "attempt", "answer", "question", "participant")}
        db.engine.dispose()
    assert runner.invoke(args=["db", "downgrade", "0009_safety"]).exit_code == 0
    assert runner.invoke(args=["db", "stamp", "0010_checks"]).exit_code == 0
    assert runner.invoke(args=["db", "check"]).exit_code == 1
    assert runner.invoke(args=["db", "stamp", "0009_safety"]).exit_code == 0
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert runner.invoke(args=["db", "check"]).exit_code == 0
    with app.app_context():
        assert {t: db.session.execute(text(f'SELECT count(*) FROM "{t}"')).scalar() for t in counts} == counts
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1  # back on after migrating
        index = db.session.execute(text("SELECT sql FROM sqlite_master WHERE name = 'ix_attempt_board'")).scalar()
        assert "score DESC" in index and "WHERE status = 'submitted'" in index
        db.engine.dispose()
