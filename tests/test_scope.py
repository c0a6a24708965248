"""Unit scope: an organiser sees and changes only their subtree (services called directly)."""
import pytest
from sqlalchemy import select

from quiz.errors import Conflict, Forbidden
from quiz.extensions import db
from quiz.models import Bank, Participant, Unit
from quiz.services import scope
from quiz.services.importer import import_bank_file
from quiz.services.people import find_user, save_participant
from quiz.services.units import create_unit, delete_unit, edit_unit, import_units
from tests.conftest import HEADER, csv_bytes

ROWS = csv_bytes([HEADER, ["判断", "题", "", "", "", "", "对", "", "", "", ""]])


def unit(path):
    return db.session.execute(select(Unit).where(Unit.path == path)).scalar_one()


def test_visible_units_are_the_subtree(ctx, users, now):
    qiaosi = find_user("qiaosi")
    paths = [u.path for u in db.session.execute(scope.visible_units(qiaosi)).scalars()]
    assert paths == ["乔司街道", "乔司街道/三角村社区", "乔司街道/永丰村"]
    admin = find_user("admin")
    assert len(db.session.execute(scope.visible_units(admin)).scalars().all()) == 5
    judge = find_user("judge1")
    assert db.session.execute(scope.visible_units(judge)).scalars().all() == []


def test_prefix_lookalike_unit_is_not_in_scope(ctx, users, now):
    """乔司街道二 starts with the same characters but is not inside 乔司街道."""
    create_unit(parent=None, name="乔司街道二", headcount=1, actor=None, now=now)
    qiaosi = find_user("qiaosi")
    paths = [u.path for u in db.session.execute(scope.visible_units(qiaosi)).scalars()]
    assert "乔司街道二" not in paths
    assert not scope.can_manage_unit(qiaosi, unit("乔司街道二"))


def test_banks_follow_the_owner_unit(ctx, users, now):
    import_bank_file("乔司题库", ROWS, "a.csv", actor=find_user("qiaosi"), now=now)
    import_bank_file("伦教题库", ROWS, "a.csv", actor=find_user("lunjiao"), now=now)
    import_bank_file("全局题库", ROWS, "a.csv", actor=None, now=now)
    db.session.commit()
    names = lambda user: [b.name for b in db.session.execute(scope.visible_banks(user)).scalars()]  # noqa: E731
    assert names(find_user("qiaosi")) == ["乔司题库"]
    assert names(find_user("lunjiao")) == ["伦教题库"]
    assert len(names(find_user("admin"))) == 3
    with pytest.raises(Forbidden):
        import_bank_file("伦教题库", ROWS, "a.csv", actor=find_user("qiaosi"), now=now)
    with pytest.raises(Forbidden):
        import_bank_file("全局题库", ROWS, "a.csv", actor=find_user("qiaosi"), now=now)
    with pytest.raises(Forbidden):
        import_bank_file("新", ROWS, "a.csv", actor=find_user("qiaosi"), now=now, unit=unit("伦教街道"))
    report = import_bank_file("村题库", ROWS, "a.csv", actor=find_user("qiaosi"), now=now,
                              unit=unit("乔司街道/永丰村"))
    assert report.written
    assert db.session.execute(select(Bank).where(Bank.name == "村题库")).scalar_one().unit.path == "乔司街道/永丰村"


def test_units_edit_and_create_in_scope(ctx, users, now):
    qiaosi = find_user("qiaosi")
    create_unit(parent=unit("乔司街道"), name="新社区", headcount=5, actor=qiaosi, now=now)
    with pytest.raises(Forbidden):
        create_unit(parent=unit("伦教街道"), name="x", headcount=5, actor=qiaosi, now=now)
    with pytest.raises(Forbidden):
        create_unit(parent=None, name="顶层", headcount=5, actor=qiaosi, now=now)
    with pytest.raises(Forbidden):
        edit_unit(unit("伦教街道/常教社区"), name="改名", headcount=1, actor=qiaosi, now=now)
    edit_unit(unit("乔司街道/永丰村"), name="永丰村", headcount=99, actor=qiaosi, now=now)
    assert unit("乔司街道/永丰村").headcount == 99
    with pytest.raises(Forbidden):  # own unit: headcount yes, rename no
        edit_unit(unit("乔司街道"), name="改名街道", headcount=1, actor=qiaosi, now=now)
    with pytest.raises(Conflict):
        create_unit(parent=unit("乔司街道"), name="永丰村", headcount=1, actor=qiaosi, now=now)


def test_rename_moves_descendants(ctx, users, now):
    edit_unit(unit("乔司街道"), name="乔司街道办", headcount=10, actor=None, now=now)
    db.session.commit()
    paths = sorted(u.path for u in db.session.execute(select(Unit)).scalars())
    assert "乔司街道办/三角村社区" in paths and "乔司街道/三角村社区" not in paths
    assert find_user("qiaosi").unit.path == "乔司街道办"


def test_delete_only_empty_units(ctx, users, now):
    with pytest.raises(Conflict):
        delete_unit(unit("乔司街道"), actor=None)
    save_participant(name="张三", phone="13800138000", unit=unit("乔司街道/永丰村"), actor=None, now=now)
    with pytest.raises(Conflict):
        delete_unit(unit("乔司街道/永丰村"), actor=None)
    delete_unit(unit("乔司街道/三角村社区"), actor=find_user("qiaosi"))
    with pytest.raises(Forbidden):
        delete_unit(unit("伦教街道/常教社区"), actor=find_user("qiaosi"))


def test_unit_import_scope(ctx, users, now):
    data = csv_bytes([["单位", "应参人数"], ["乔司街道/新村", "3"], ["伦教街道/新村", "4"]])
    report = import_units(data, "u.csv", actor=find_user("qiaosi"), now=now)
    assert [p.row for p in report.rejected] == [3] and not report.written
    assert db.session.execute(select(Unit).where(Unit.path == "乔司街道/新村")).first() is None


def test_participants_in_scope(ctx, users, now):
    person, status = save_participant(name="张三", phone="13800138000", unit=unit("伦教街道/常教社区"),
                                      actor=find_user("lunjiao"), now=now)
    assert status == "created"
    with pytest.raises(Forbidden):
        save_participant(name="张三", phone="13800138000", unit=unit("乔司街道/永丰村"),
                         actor=find_user("qiaosi"), now=now)
    assert db.session.get(Participant, person.id).unit.path == "伦教街道/常教社区"


def test_a_judge_scores_only_what_it_is_assigned_to_and_manages_nothing(app, users, client, auth, token_for):
    """The judge role (评委): it may score exactly the performances it is assigned to, nothing else;
    organisers and admins score only when assigned too; a judge sees no organiser page or API."""
    from quiz.errors import Forbidden
    from quiz.models import User
    from quiz.services.scope import can_judge, is_manager, require_judge

    with app.app_context():
        judge = db.session.execute(select(User).where(User.username == "judge1")).scalar_one()
        admin = db.session.execute(select(User).where(User.username == "admin")).scalar_one()
        assert can_judge(judge, [judge.id, 999]) and not can_judge(judge, [999]) and not can_judge(judge, [])
        assert not can_judge(admin, [judge.id]) and can_judge(admin, [admin.id])
        assert not can_judge(None, [judge.id]) and not is_manager(judge)
        with pytest.raises(Forbidden):
            require_judge(judge, [admin.id])
        judge.active = False
        assert not can_judge(judge, [judge.id])
        judge.active = True
        db.session.commit()
    auth.login("judge1")
    for page in ("/quizzes/", "/banks/", "/units/", "/people/", "/points"):
        assert client.get(page).status_code == 403, page
    headers = {"Authorization": f"Bearer {token_for('judge1')}"}
    assert client.get("/api/v1/banks", headers=headers).status_code == 403
    assert client.post("/api/v1/quizzes", json={"title": "x"}, headers=headers).status_code == 403
