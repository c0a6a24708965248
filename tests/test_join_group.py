"""Joins committed in groups by the join lane (quiz/join_lane.py JoinGroup, on
quiz/services/batching.py): the joins a process has in flight run in one transaction and one
commit; a refused join leaves the others be, in its own language; a refused join that wrote, or a
database error, rolls the batch back and its other joins go to the Flask view."""
from __future__ import annotations

import threading

import pytest
from flask import g
from sqlalchemy import event, func, select

from quiz.errors import Conflict, IdentityMismatch
from quiz.extensions import db
from quiz.join_lane import BatchFailed
from quiz.models import Attempt, Participant
from quiz.models.base import utcnow
from quiz.services import joins
from quiz.services.batching import Pending
from tests.test_api_quiz import PERSON, quiz_id  # noqa: F401  (fixture)
from tests.test_joins import join_lane, post, through_flask, view_calls  # noqa: F401  (fixture)


def person(n: int, **changes) -> dict:
    return {**PERSON, "name": f"参赛者{n}", "phone": f"139{n:08d}", **changes}


def run_for(code: str, body: dict):
    """What the lane hands its group for one join (JoinLane.serve's `run`)."""
    def run(conn, later=None):
        sheet = joins.join_by_code(code, body, address="10.0.0.1", now=utcnow(), conn=conn, later=later)
        return sheet, (joins.payload(sheet, conn=conn) if sheet.resumed else None)
    return run


def item(code: str, body: dict, locale: str = "zh_CN") -> tuple:
    """What the lane submits to its group for one join: (run, language, the lookup read ahead)."""
    return run_for(code, body), locale, joins.lookup_by_code(code, body)


def write_batch(app, items: list[tuple]) -> tuple[list[Pending], list[str]]:
    """Run one batch as a leading request does (in its app context); the statements' ends."""
    lane = join_lane(app)
    batch = [Pending(params) for params in items]
    ends = []
    with app.app_context():
        engine = db.engine
        g.locale_override = "zh_CN"
        listeners = [(engine, name, lambda conn, name=name: ends.append(name)) for name in ("commit", "rollback")]
        listeners.append((engine, "before_cursor_execute", lambda conn, cursor, statement, *rest: ends.append(
            "lookup" if "FROM quiz" in statement and "join_code" in statement else "statement")))
        for listener in listeners:
            event.listen(*listener)
        try:
            lane.group._write(None, batch)
        finally:
            for listener in listeners:
                event.remove(*listener)
            kept, lane.group.kept = lane.group.kept, None  # as the queue running empty does
            if kept is not None:
                lane.group._release(kept)
        assert g.locale_override == "zh_CN"  # the leader's own language is given back
    assert all(item.done and item.event.is_set() for item in batch)
    return batch, ends


def sheets_of(app, phones) -> int:
    with app.app_context():
        return db.session.execute(select(func.count(Attempt.id)).join(Participant)
                                  .where(Participant.phone.in_(list(phones)))).scalar()


def send_behind_first(app, code: str, first: int, others: tuple[int, ...], started, release) -> tuple[dict, list]:
    """Person `first` joins and its batch is held (the patched join sets `started`, then waits for
    `release`) until `others` have queued behind it. Their responses by number (filled in once the
    caller sets `release` and joins the threads), and the threads."""
    lane = join_lane(app)
    results = {}

    def send(n):
        results[n] = app.test_client().post(f"/api/v1/join/{code}", json=person(n))

    leader = threading.Thread(target=send, args=(first,))
    leader.start()
    assert started.wait(10)
    queued = [threading.Thread(target=send, args=(n,)) for n in others]
    for thread in queued:
        thread.start()
    for _ in range(200):  # they wait in the queue for the next batch
        with lane.group._lock:
            if len(lane.group._queue) == len(others):
                break
        threading.Event().wait(0.01)
    else:
        pytest.fail("the joins did not queue behind the first batch")
    return results, [leader, *queued]


def test_joins_that_arrive_together_are_one_transaction(app, client, quiz_id):
    code = quiz_id["join_code"]
    assert post(client, code, person(1)).status_code == 201  # person 1 resumes below
    bodies = [person(n) for n in range(1, 6)]
    batch, ends = write_batch(app, [item(code, body) for body in bodies])
    assert ends.count("commit") == 1 and "rollback" not in ends
    # PostgreSQL: the five lookups are one statement (elsewhere, one each); the four new people and
    # their sheets one more, and the resumed sheet's saved answers another
    postgres = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    assert ends.count("lookup") == (1 if postgres else 5)
    if postgres:
        assert ends.count("statement") == 2, ends
    assert [item.error for item in batch] == [None] * 5
    sheets = [item.row[0] for item in batch]
    assert [s.resumed for s in sheets] == [True, False, False, False, False]
    assert batch[0].row[1]["attempt_id"] == sheets[0].id  # a resumed sheet's payload is read in the batch
    assert sheets_of(app, [b["phone"] for b in bodies]) == 5
    assert join_lane(app).group.saves >= 5


def test_the_same_person_twice_in_a_batch_gets_one_sheet(app, client, quiz_id):
    """The batch's lookups are read ahead, before the joins ahead in the batch wrote: the second join
    of a phone sees no person (or no open sheet) and resumes the sheet the first one wrote, as a
    concurrent join from another process would."""
    code = quiz_id["join_code"]
    assert post(client, code, person(1)).status_code == 201
    with app.app_context():  # person 1 exists with no open sheet
        db.session.execute(Attempt.__table__.delete().where(Attempt.participant_id == select(
            Participant.id).where(Participant.phone == "13900000001").scalar_subquery()))
        db.session.commit()
    batch, ends = write_batch(app, [item(code, person(7)), item(code, person(1)), item(code, person(7)),
                                    item(code, person(1), "en")])
    assert ends.count("commit") == 1 and "rollback" not in ends
    assert [item.error for item in batch] == [None] * 4
    sheets = [item.row[0] for item in batch]
    assert [s.resumed for s in sheets] == [False, False, True, True]
    assert sheets[0].id == sheets[2].id and sheets[1].id == sheets[3].id
    assert batch[2].row[1]["attempt_id"] == sheets[0].id
    assert sheets_of(app, ["13900000007"]) == 1 and sheets_of(app, ["13900000001"]) == 1
    with app.app_context():
        assert db.session.execute(select(func.count(Participant.id)).where(
            Participant.phone == "13900000007")).scalar() == 1


def test_a_phone_written_by_another_server_meanwhile_is_joined_again(app, client, quiz_id):
    """A new person of the batch whose phone another process wrote after the batch's lookups (and
    before its write) is not written by the batch: that join runs again and resumes the other's
    sheet."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("SQLite has one writer: nothing else writes while a batch is open (and it writes at once)")
    code = quiz_id["join_code"]
    elsewhere = {}

    def another_server_first(conn, later=None):
        elsewhere["response"] = through_flask(app, lambda: post(app.test_client(), code, person(9)))
        return run_for(code, person(8))(conn, later)

    batch, ends = write_batch(app, [(another_server_first, "zh_CN", joins.lookup_by_code(code, person(8))),
                                    item(code, person(9))])
    assert elsewhere["response"].status_code == 201
    assert ends.count("commit") == 2 and "rollback" not in ends  # the other server's, then the batch's
    assert [item.error for item in batch] == [None, None]
    assert batch[0].row[0].resumed is False and batch[0].row[0].id is not None
    assert batch[1].row[0].resumed is True and batch[1].row[0].id == elsewhere["response"].get_json()["attempt_id"]
    assert sheets_of(app, ["13900000008"]) == 1 and sheets_of(app, ["13900000009"]) == 1


def test_a_refused_join_leaves_the_others_and_keeps_its_language(app, client, quiz_id):
    code = quiz_id["join_code"]
    assert post(client, code, person(1)).status_code == 201
    wrong = person(1, name="冒名者")  # person 1's phone with another name
    batch, ends = write_batch(app, [item(code, person(2)), item(code, wrong, "en"), item(code, wrong),
                                    item(code, person(3), "en")])
    assert ends.count("commit") == 1
    assert isinstance(batch[1].error, IdentityMismatch) and isinstance(batch[2].error, IdentityMismatch)
    assert "do not match" in batch[1].error.message and "不匹配" in batch[2].error.message
    assert batch[0].row[0].resumed is False and batch[3].row[0].resumed is False
    assert sheets_of(app, ["13900000002", "13900000003"]) == 2


def test_a_refused_join_that_wrote_rolls_the_batch_back(app, client, quiz_id):
    code = quiz_id["join_code"]
    base = run_for(code, person(5))

    def wrote_then_refused(conn, later=None):
        base(conn)  # writes person 5 and their sheet
        assert conn.info[joins.WROTE] > 0
        raise Conflict("refused after writing")

    batch, ends = write_batch(app, [item(code, person(4)), (wrote_then_refused, "zh_CN", None),
                                    item(code, person(6))])
    assert "commit" not in ends and "rollback" in ends
    assert isinstance(batch[1].error, Conflict)  # its own refusal is its answer
    assert isinstance(batch[0].error, BatchFailed) and isinstance(batch[2].error, BatchFailed)
    assert sheets_of(app, ["13900000004", "13900000005", "13900000006"]) == 0  # nothing of the batch stays


def test_a_batch_rolled_back_is_joined_again_by_the_flask_view(app, client, quiz_id, view_calls, monkeypatch):
    """End to end: a database error in one join of a batch; every join of it still gets its sheet,
    the failed ones through the Flask view."""
    code = quiz_id["join_code"]
    lane = join_lane(app)
    real = joins.join_by_code
    started, release = threading.Event(), threading.Event()

    def join_by_code(code, body, **kwargs):
        from flask import has_request_context

        if not has_request_context():  # in the lane
            if body["phone"] == "13900000010":  # the first request: hold its batch until the rest queue
                started.set()
                assert release.wait(10)
            if body["phone"] == "13900000012":
                raise RuntimeError("database hiccup")
        return real(code, body, **kwargs)

    monkeypatch.setattr(joins, "join_by_code", join_by_code)
    results, threads = send_behind_first(app, code, 10, (11, 12, 13), started, release)
    batches = lane.group.batches
    release.set()
    for thread in threads:
        thread.join(20)
    assert {n: r.status_code for n, r in results.items()} == {10: 201, 11: 201, 12: 201, 13: 201}
    assert lane.group.batches == batches + 1  # the first alone; the second batch was rolled back
    assert len(view_calls) == 3  # 11, 12 and 13 joined again through Flask
    assert sheets_of(app, [person(n)["phone"] for n in (10, 11, 12, 13)]) == 4


def test_without_group_commit_each_join_commits_alone(app, client, quiz_id):
    lane = join_lane(app)
    group, lane.group = lane.group, None
    try:
        assert post(client, quiz_id["join_code"], person(20)).status_code == 201
    finally:
        lane.group = group
    assert sheets_of(app, [person(20)["phone"]]) == 1


def test_batches_in_a_row_share_one_connection_and_a_quiet_queue_returns_it(app, client, quiz_id, monkeypatch):
    """While joins keep arriving, each batch runs on the connection the last one used (no pool
    checkout per batch); when the queue runs empty it goes back to the pool; a failed batch's
    connection is not used again."""
    code = quiz_id["join_code"]
    lane = join_lane(app)
    real = joins.join_by_code
    started, release = threading.Event(), threading.Event()
    used = {}

    def join_by_code(code, body, **kwargs):
        from flask import has_request_context

        if not has_request_context():  # in the lane
            used[body["phone"]] = kwargs["conn"].connection.dbapi_connection
            if body["phone"] == person(30)["phone"]:  # hold the first batch until the rest queue
                started.set()
                assert release.wait(10)
        return real(code, body, **kwargs)

    monkeypatch.setattr(joins, "join_by_code", join_by_code)
    results, threads = send_behind_first(app, code, 30, (31, 32), started, release)
    release.set()
    for thread in threads:
        thread.join(20)
    assert {n: r.status_code for n, r in results.items()} == {30: 201, 31: 201, 32: 201}
    phones = [person(n)["phone"] for n in (30, 31, 32)]
    assert len({id(used[phone]) for phone in phones}) == 1  # two batches, one connection
    assert lane.group.kept is None  # the queue ran empty: given back
    with app.app_context():
        pool = db.engine.pool
        if hasattr(pool, "checkedout"):
            assert pool.checkedout() == 0

    # a batch that fails leaves no connection behind for the next one
    monkeypatch.setattr(joins, "join_by_code", real)
    with app.app_context():
        conn = db.engine.connect()
    lane.group.kept = conn
    batch, ends = write_batch(app, [(lambda c, later: (_ for _ in ()).throw(RuntimeError("lost")), "zh_CN", None)])
    assert isinstance(batch[0].error, RuntimeError) and "rollback" in ends
    assert conn.closed and lane.group.kept is None


def _wakeup_checks() -> None:
    """Wakeup (quiz/services/batching.py) behaves as threading.Event for one waiter."""
    import time

    from quiz.services.batching import Wakeup

    wakeup = Wakeup()
    assert not wakeup.is_set()
    assert not wakeup.wait(0.01)  # nobody set it: the timeout ends the wait
    wakeup.set()
    wakeup.set()  # a promotion, then the batch's result: setting twice is harmless
    assert wakeup.is_set() and wakeup.wait(0.01) and wakeup.wait() and wakeup.is_set()  # stays set

    later = Wakeup()
    started = time.monotonic()
    threading.Timer(0.05, later.set).start()
    assert later.wait(5)
    assert 0.04 < time.monotonic() - started < 4


def test_a_wakeup_is_an_event_for_one_waiter():
    _wakeup_checks()


def test_a_wakeup_works_under_gevent():
    """Under gevent's monkey patching (the gevent workers) the lock is gevent's, which refuses a
    second release with ValueError on some versions: still harmless."""
    import subprocess
    import sys

    script = ("from gevent import monkey\nmonkey.patch_all()\n"
              "from tests.test_join_group import _wakeup_checks\n_wakeup_checks()\nprint('ok')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_one_write_refuses_two_new_people_with_one_phone(app):
    """Later.write keeps a repeated phone back for a second pass; the statement itself refuses it
    (its rows would be matched back to both)."""
    person_ = {"name": "甲", "phone": "13900000010", "unit_id": 1, "user_id": None}
    with app.app_context(), pytest.raises(ValueError, match="same phone or account"):
        joins._people_and_sheets(db.session.connection(), [(person_, {}), (dict(person_, name="乙"), {})])
