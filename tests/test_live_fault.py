"""Fault test of the live push: a real gunicorn with two gevent workers on PostgreSQL and Redis,
phones on Server-Sent Events, a question running; one worker is killed with SIGKILL in the middle
of a 共答 question and again in the middle of a 抢答 question. Its phones reconnect (to another
worker) and get the current state at once, no acknowledged answer or buzz is lost, and the
contest goes on to the next question.

It needs PostgreSQL (gevent workers are for PostgreSQL: SQLite's lock waits would stall a whole
worker) and Redis (the workers hear each other's events through it). It runs on a database of its
own, TEST_LIVE_FAULT_DATABASE_URL (default postgresql://postgres@127.0.0.1/test_live_fault, created
when missing; its schema is rebuilt), whichever database the rest of the suite uses, and on
TEST_REDIS_URL with a prefix of its own. It is skipped only when one of the two is unreachable,
and never in CI (CI=true makes that a failure)."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from quiz.extensions import db

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
DATABASE_URL = os.environ.get("TEST_LIVE_FAULT_DATABASE_URL", "postgresql://postgres@127.0.0.1/test_live_fault")
PHONES = 16
SECRET = "fault-secret"


def _unreachable(what: str, exc: Exception):
    if os.environ.get("CI"):
        raise exc
    pytest.skip(f"{what} unreachable: {exc}")


def _database() -> str:
    """The test's own PostgreSQL database, created when missing, with a freshly migrated schema."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from quiz import create_app, normalise_database_url

    url = normalise_database_url(DATABASE_URL)
    try:
        server = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            name = make_url(url).database
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        server.dispose()
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - depends on the machine
        _unreachable("PostgreSQL", exc)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET})
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    return url


def _setup(url: str) -> dict:
    """Units, a bank, an organiser's API token and an individuals contest: 共答 ×2, 抢答 ×2."""
    from quiz import create_app
    from quiz.models.base import utcnow
    from quiz.services import live
    from quiz.services.importer import import_bank_file
    from quiz.services.people import create_token, create_user
    from quiz.services.units import ensure_path, split_path
    from tests.conftest import HEADER, csv_bytes

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET})
    rows = [HEADER] + [["单选", f"故障测试题{i}", "甲", "乙", "丙", "丁", "B", "", "", "", ""] for i in range(8)]
    with app.app_context():
        now = utcnow()
        ensure_path(split_path("乔司街道/三角村社区"), actor=None, now=now, headcount=10, cache={})
        import_bank_file("故障题库", csv_bytes(rows), "f.csv", actor=None, now=now)
        admin = create_user("fault-admin", role="admin", password="fault-pass-123", now=now)
        token = create_token(admin, now=now)
        contest = live.create_contest({
            "title": "故障测试", "mode": "individuals", "banks": ["故障题库"],
            "rounds": [{"type": "共答", "rules": [{"type": "单选", "count": 2}], "settings": {"time_seconds": 120}},
                       {"type": "抢答", "rules": [{"type": "单选", "count": 2}], "settings": {"time_seconds": 120}}]},
            actor=admin, now=now)
        db.session.commit()
        info = {"contest": contest.id, "code": contest.join_code, "token": token}
        db.session.remove()
        db.engine.dispose()
    return info


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn -k gevent -w 2 on the test database and Redis."""

    def __init__(self, url: str, log_path: Path):
        self.port = _free_port()
        self.log_path = log_path
        self.log = open(log_path, "w+")
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": SECRET, "REDIS_URL": REDIS_URL,
               "FLASK_EVENTS_PREFIX": f"test-fault-{uuid.uuid4().hex[:8]}:", "FLASK_LIVE_PUSH_MIN_INTERVAL": "0.05"}
        env.pop("SERVER_SOFTWARE", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "2", "--keep-alive", "75",
             "-b", f"127.0.0.1:{self.port}", "--graceful-timeout", "3", "quiz:create_app()"],
            cwd=ROOT, env=env, stdout=self.log, stderr=self.log, start_new_session=True)
        self.prefix = env["FLASK_EVENTS_PREFIX"]

    def workers(self) -> list[int]:
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                if int(stat[stat.rindex(")") + 2:].split()[1]) == self.process.pid:
                    out.append(int(entry))
        return sorted(out)

    def wait_ready(self, workers: int = 2, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            assert self.process.poll() is None, self.output()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/api/v1/ping")
                if conn.getresponse().status == 200 and len(self.workers()) >= workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        pytest.fail("gunicorn did not start: " + self.output())

    def serving(self, client_port: int) -> int | None:
        """The worker whose socket is connected to the client's local port."""
        inodes = set()
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if int(local.split(":")[1], 16) == self.port and int(remote.split(":")[1], 16) == client_port:
                inodes.add(fields[9])
        for pid in self.workers():
            try:
                links = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
            except OSError:
                continue
            if any(f"socket:[{inode}]" in links for inode in inodes):
                return pid
        return None

    def output(self) -> str:
        self.log.flush()
        return Path(self.log_path).read_text()[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


def _call(port: int, method: str, path: str, body: dict | None = None, token: str | None = None,
          tries: int = 20) -> tuple[int, dict]:
    """A request as a phone or the host makes it: retried when the connection breaks (a killed
    worker); only a response counts as acknowledged."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for attempt in range(tries):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request(method, path, body=json.dumps(body or {}), headers=headers)
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        except (ConnectionError, http.client.HTTPException, OSError):
            time.sleep(0.25)
        finally:
            conn.close()
    raise AssertionError(f"{method} {path}: no answer after {tries} tries")


class Phone:
    """A phone: its join, and an SSE stream that reconnects (with Last-Event-ID) like EventSource."""

    def __init__(self, server: Server, info: dict, index: int):
        self.server = server
        self.info = info
        status, body = _call(server.port, "POST", f"/api/v1/live/join/{info['code']}",
                             {"name": f"选手{index}", "phone": f"1370000{index:04d}", "unit": "乔司街道/三角村社区"})
        assert status == 201, body
        self.player, self.token = body["player_id"], body["token"]
        self.sheet, self.sheet_token = body["sheet"]["attempt_id"], body["sheet"]["token"]
        self.states: list[dict] = []
        self.workers: list[int | None] = []  # the worker serving each connection of the stream
        self.connections = 0
        self.changed = threading.Condition()
        self.stopped = False
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        last_id = None
        while not self.stopped:
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
            try:
                headers = {"Last-Event-ID": last_id} if last_id else {}
                conn.request("GET", f"/live/{self.info['contest']}/stream?token={self.token}", headers=headers)
                response = conn.getresponse()
                assert response.status == 200
                self.workers.append(self.server.serving(conn.sock.getsockname()[1]))
                self.connections += 1
                data = []
                while not self.stopped:
                    line = response.fp.readline()
                    if not line:
                        break  # the worker is gone: reconnect
                    line = line.decode().rstrip("\n")
                    if line.startswith("id: "):
                        last_id = line[4:]
                    elif line.startswith("data: "):
                        data.append(line[6:])
                    elif not line and data:
                        with self.changed:
                            self.states.append(json.loads("".join(data)))
                            self.changed.notify_all()
                        data = []
            except (ConnectionError, http.client.HTTPException, OSError):
                pass
            finally:
                conn.close()
            time.sleep(0.3)

    def wait_for(self, check, timeout: float = 20.0) -> dict:
        """The first state received (from now on, or the latest) that passes `check`."""
        end = time.monotonic() + timeout
        with self.changed:
            while True:
                if self.states and check(self.states[-1]):
                    return self.states[-1]
                remaining = end - time.monotonic()
                assert remaining > 0, f"phone {self.player}: no such state; last {self.states[-1:]}"
                self.changed.wait(remaining)

    def answer(self, question_id: int, response: str) -> bool:
        status, _body = _call(self.server.port, "PUT", f"/api/v1/attempts/{self.sheet}/answers/{question_id}",
                              {"response": response}, self.sheet_token)
        return status == 200

    def buzz(self) -> bool:
        status, body = _call(self.server.port, "POST", f"/api/v1/live/{self.info['contest']}/buzz",
                             token=self.token)
        return status == 200 and body.get("accepted") is True


def _phase(question_id: int, *statuses: str):
    return lambda s: s.get("question") and s["question"]["id"] == question_id and s["question"]["status"] in statuses


def _started(question_id: int):
    return lambda s: _phase(question_id, "open")(s) and s["question"]["started_at"] is not None


@pytest.fixture
def live_server(tmp_path):
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001
        _unreachable(f"Redis at {REDIS_URL}", exc)
    url = _database()
    info = _setup(url)
    server = Server(url, tmp_path / "gunicorn.log")
    try:
        server.wait_ready()
        yield server, info, url
    finally:
        server.stop()
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{server.prefix}*"):
            client.delete(key)


def _kill_a_streaming_worker(server: Server, phones: list[Phone]) -> tuple[int, list[Phone]]:
    """SIGKILL the worker serving the most streams now; returns it and its phones."""
    serving = {}
    for phone in phones:
        serving.setdefault(phone.workers[-1], []).append(phone)
    victim = max((pid for pid in serving if pid is not None), key=lambda pid: len(serving[pid]))
    for phone in serving[victim]:
        phone.before_kill = phone.connections
    os.kill(victim, signal.SIGKILL)
    return victim, serving[victim]


def test_a_killed_worker_loses_nothing_and_the_contest_goes_on(live_server):
    server, info, url = live_server
    port, host_token, contest = server.port, info["token"], info["contest"]

    def host(command: str, **body) -> dict:
        status, state = _call(port, "POST", f"/api/v1/live/{contest}/host/{command}", body, host_token)
        assert status == 200, state
        return state

    phones = [Phone(server, info, i) for i in range(PHONES)]
    for phone in phones:
        phone.wait_for(lambda s: s["contest"]["phase"] == "lobby")

    # 共答: half the phones answer, a worker is killed, its phones come back, the others answer
    question = host("open")["question"]
    host("start")
    qid, bank_qid = question["id"], question["question_id"]
    acknowledged = {}
    for phone in phones[: PHONES // 2]:
        phone.wait_for(_started(qid))
        if phone.answer(bank_qid, "B"):
            acknowledged[phone.sheet] = "B"
    victim, orphans = _kill_a_streaming_worker(server, phones)
    for phone in orphans:  # reconnected to a live worker, and told at once where the contest is
        end = time.monotonic() + 20
        while phone.connections == phone.before_kill or phone.workers[-1] in (None, victim):
            assert time.monotonic() < end, (f"phone {phone.player} did not reconnect: {phone.connections} "
                                            f"connections, workers {phone.workers}, killed {victim}")
            time.sleep(0.05)
        phone.wait_for(_started(qid))
    for phone in phones[PHONES // 2:]:
        if phone.answer(bank_qid, "C"):
            acknowledged[phone.sheet] = "C"
    assert len(acknowledged) == PHONES
    state = host("close")
    assert state["question"]["answered"] == PHONES
    for phone in phones:
        closed = phone.wait_for(_phase(qid, "closed"))
        assert closed["me"]["total"] == (10 if acknowledged[phone.sheet] == "B" else 0)

    # the contest goes on: 共答 question 2 is skipped straight to the 抢答 round
    second = host("next")["question"]
    host("close")
    buzzer = host("next")["question"]
    assert buzzer["buzzer"] and buzzer["id"] != second["id"]
    server.wait_ready()  # gunicorn has replaced the killed worker
    host("start")
    bid = buzzer["id"]
    buzzed = []
    for phone in phones[: PHONES // 2]:
        phone.wait_for(_started(bid))
        if phone.buzz():
            buzzed.append(phone.player)
    victim, orphans = _kill_a_streaming_worker(server, phones)
    for phone in phones[PHONES // 2:]:
        if phone.buzz():
            buzzed.append(phone.player)
    assert len(buzzed) == PHONES  # individuals: every phone is an entrant, each buzz is its own
    for phone in orphans:
        phone.wait_for(lambda s: _started(bid)(s) and len(s["question"]["buzzes"]) == PHONES)
    state = host("judge", right=True)
    assert state["question"]["status"] == "closed"
    nxt = host("next")["question"]
    assert nxt["id"] != bid and nxt["buzzer"]
    for phone in phones:
        phone.wait_for(_phase(nxt["id"], "open"))
    for phone in phones:
        phone.stopped = True

    # every acknowledged answer and buzz is in the database
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT attempt_id, response FROM answer WHERE question_id = :q"),
                                   {"q": bank_qid}).all())
        buzz_rows = set(conn.execute(text("SELECT player_id FROM live_buzz WHERE live_question_id = :q"),
                                     {"q": bid}).scalars())
    engine.dispose()
    assert {sheet: json.loads(r) if r.startswith('"') else r for sheet, r in stored.items()} == acknowledged
    assert buzz_rows == set(buzzed)
    assert "Traceback" not in server.output()
