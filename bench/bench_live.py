"""Live contest push under a crowd: thousands of phones on Server-Sent Events, 共答 and 抢答 questions.

Usage (pip install -e '.[bench]' for aiohttp; nginx from Debian for the second layout):
    .venv/bin/python bench/bench_live.py --database-url postgresql://postgres@127.0.0.1/test_push \\
        [--redis-url redis://127.0.0.1:6379/4] [--phones 5000] [--teams 100 | --mode individuals]
        [--all-questions 20] [--buzzer-questions 10] [--answer-window 3] [--workers 2]
        [--layouts single nginx] [--clients 2] [--client-gc 50000,20,100 | default] [--json out.json]

What one layout does:
 1. Prepares the database (the schema `public` of the URL is DROPPED and rebuilt): units, a bank
    of single-choice questions, an admin with an API token, and one live contest (mode teams with
    --teams teams, or individuals) with a 共答 round of --all-questions questions and a 抢答 round of
    --buzzer-questions questions. Redis database of --redis-url is flushed.
 2. Starts the app under gunicorn's gevent workers (-k gevent, --workers each, REDIS_URL set):
      single  one server on 127.0.0.1:5121; phones connect to it directly;
      nginx   two servers on 5121 and 5122 sharing PostgreSQL and Redis, behind nginx (Debian's,
              run as this script's own process with bench/nginx_live.conf) on 8081; every phone
              and the host go through nginx, which spreads the streams over both servers.
 3. The phones are seated through the join service before the servers start (--join service,
    the default: joining is not what is measured), or --join http: the client processes join them
    over HTTP (each process from its own loopback address: the per-address join limit is per phone
    network). --clients client processes (asyncio + aiohttp) open one SSE stream per phone
    (GET /live/<id>/stream?token=…) at --connect-rate per second.
 4. Each phone pings /live/clock as the phone page does (five times a second apart, then every 5 s
    while a round with a buzzer runs, every 20 s otherwise, never during a buzz race) and sends
    its latest round trips with its buzz (--no-pings: no pings).
    After --lobby seconds (the hall settles), the host (this process, the JSON API with a token)
    plays every question: open (next), start;
    共答: every phone answers through the answer lane (PUT /api/v1/attempts/<sheet>/answers/<q>)
    at a random moment within --answer-window seconds of receiving "started"; 抢答: the first
    --buzzers-per-team phones of each team (individuals: every phone) buzz within 0.5 s of
    "started" (teams: one buzz per team is accepted, the others are refused as duplicates). When
    every phone has answered or buzzed (at most --answer-window + 20 s), the host closes (共答:
    close; 抢答: judge right, which closes). Each phone records when the first state of that
    question with status "closed" reached it: the time its stream's bytes were read, noted before
    they are parsed (the simulated phones share the servers' cores; a real phone parses on its own).
 5. Prints, per layout: the time from the host's close (just before the request is sent) to each
    phone receiving the closed state (p50/p99/max over all phones and closes), the time to the last
    phone per close (p50/p99/max over the closes; target: under 1 s), how many states the servers
    built, the answer and buzz figures, the RSS of the gunicorn (and nginx) processes (peak, sampled
    every 0.5 s) and CPU seconds, and the integrity check: every acknowledged answer (200) and
    accepted buzz must be a row in the database. Then the servers' own account, read from their
    logs (quiz/live_push.py "delivery" lines, tools/gunicorn.conf.py "gc: pause" lines): the
    garbage collector's pauses, and for the three slowest closes when the host's command reached
    the servers, when its state was built and when the last stream had written it, with the
    collections of the servers and of the simulated phones that fell inside the close. The client
    processes use the servers' gc thresholds (--client-gc; "default": Python's), since their own
    collections, with 2,500 streams each, would delay their reads.

All traffic stays on 127.0.0.1 (and 127.0.0.x source addresses); every wait is bounded; servers,
nginx and clients are always stopped. Exit status 1 when an acknowledged answer or buzz is
missing, or a layout could not run.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

try:  # the simulated phones share the server's cores: the cheaper their parsing, the truer the figures
    from orjson import loads
except ImportError:  # pragma: no cover - orjson is a dependency of the app
    from json import loads

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SECRET = "bench-live-secret"
UNITS = ["乔司街道/三角村社区", "乔司街道/永丰村", "伦教街道/荔村", "伦教街道/常教社区"]
APP_PORTS = (5121, 5122)
NGINX_PORT = 8081
NGINX_CONF = Path(__file__).resolve().parent / "nginx_live.conf"
LETTERS = "ABCD"


# ====================================================================== set-up
def bank_csv(count: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["题型", "题干", "选项A", "选项B", "选项C", "选项D", "答案", "解析", "分值", "难度", "知识点"])
    rnd = random.Random(5)
    for i in range(count):
        writer.writerow(["单选", f"现场赛压测第{i + 1}题：以下哪一项是正确的？", "甲项", "乙项", "丙项", "丁项",
                         rnd.choice(LETTERS), f"解析{i + 1}", "", "", "现场赛"])
    return ("\ufeff" + out.getvalue()).encode()


def build_contest(app, args) -> dict:
    """In `app`: a fresh schema (a PostgreSQL URL's schema public is dropped), the units, the bank,
    the admin and its token, and the contest (args.mode, args.teams, args.all_questions 共答 and
    args.buzzer_questions 抢答 questions). Returns {"contest", "code", "token", "team_codes"}."""
    from quiz.cli import upgrade_schema
    from quiz.extensions import db
    from quiz.services import live
    from quiz.services.importer import import_bank_file
    from quiz.services.people import create_token, create_user
    from quiz.services.units import ensure_path, split_path

    now = datetime.now(timezone.utc)
    questions = args.all_questions + args.buzzer_questions
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        upgrade_schema()
        cache: dict = {}
        for path in UNITS:
            ensure_path(split_path(path), actor=None, now=now, headcount=50, cache=cache)
        report = import_bank_file("现场赛压测题库", bank_csv(questions + 5), "live.csv", actor=None, now=now)
        db.session.commit()
        if report.rejected:
            raise SystemExit(f"bank import failed: {report.as_dict()}")
        admin = create_user("bench-admin", role="admin", password="bench-pass-123", now=now)
        token = create_token(admin, now=now)
        entrants = [{"name": f"第{i + 1:03d}队", "unit": UNITS[i % len(UNITS)], "base_score": 100}
                    for i in range(args.teams)] if args.mode == "teams" else []
        contest = live.create_contest({
            "title": "现场赛压测", "mode": args.mode, "banks": ["现场赛压测题库"], "entrants": entrants,
            "rounds": [{"type": "共答", "rules": [{"type": "单选", "count": args.all_questions}],
                        "settings": {"points": 10, "time_seconds": 60, "speed": True}},
                       {"type": "抢答", "rules": [{"type": "单选", "count": args.buzzer_questions}],
                        "settings": {"points": 20, "deduct": 10, "time_seconds": 60}}]},
            actor=admin, now=now)
        db.session.commit()
        info = {"contest": contest.id, "code": contest.join_code, "token": token,
                "team_codes": [e.team_code for e in sorted(contest.entrants, key=lambda e: e.position)]}
        db.session.remove()
    return info


def prepare(url: str, redis_url: str, args) -> dict:
    """Fresh schema, units, bank, admin token and the contest (build_contest), the phones seated
    through the join service (unless --join http). Returns what the run needs."""
    import redis

    from quiz import create_app
    from quiz.extensions import db

    redis.Redis.from_url(redis_url).flushdb()
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET})
    info = build_contest(app, args)
    info["phones"] = seat(app, info["contest"], args, info["team_codes"]) if args.join == "service" else None
    with app.app_context():
        try:
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("CHECKPOINT")  # the next timed checkpoint falls after the run
        except Exception:  # noqa: BLE001 - needs superuser
            pass
        db.engine.dispose()
    return info


def phone_details(index: int, team_codes: list[str]) -> dict:
    body = {"name": f"选手{index:05d}", "phone": f"139{index:08d}", "unit": UNITS[index % len(UNITS)]}
    if team_codes:
        body["team_code"] = team_codes[index % len(team_codes)]
    return body


def seat(app, contest_id: int, args, team_codes: list[str]) -> list[dict]:
    """--join service: the phones join through the service (quiz/services/live.py `join`, the rule
    POST /api/v1/live/join/<code> runs) before the servers start; --join http measures joining too."""
    from quiz.extensions import db
    from quiz.models.live import LiveContest
    from quiz.services import attempts, live

    out = []
    started = time.time()
    with app.test_request_context():
        for index in range(args.phones):
            contest = db.session.get(LiveContest, contest_id)
            body = phone_details(index, team_codes)
            joined = live.join(contest, name=body["name"], phone=body["phone"], unit_path=body["unit"],
                               team_code=body.get("team_code"), user=None, now=datetime.now(timezone.utc))
            out.append({"player": joined.player.id, "token": live.player_token(joined.player),
                        "sheet": joined.sheet.id, "sheet_token": attempts.attempt_token(joined.sheet)})
            if index % 200 == 199:
                db.session.commit()
        db.session.commit()
    print(f"   seated {len(out)} phones through the join service in {time.time() - started:.0f} s", flush=True)
    return out


# ====================================================================== servers
class Process:
    """A child in its own process group; stop() is safe to call twice."""

    def __init__(self, cmd: list[str], log_path: Path, env: dict | None = None):
        self.cmd, self.log_path = cmd, log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def pids(self) -> list[int]:
        from bench_load import children_of

        return [self.proc.pid] + children_of(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if not self.log.closed:
            self.log.close()


def gunicorn(port: int, url: str, redis_url: str, workers: int, log_path: Path) -> Process:
    env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=SECRET, REDIS_URL=redis_url,
               RATELIMIT_STORAGE_URI=redis_url, FLASK_PROXY_FIX_X_FOR="1",
               # 15 + 8 pooled connections per worker (the app's and the answer lane's): four workers
               # stay under PostgreSQL's default max_connections = 100 (docs/deployment.md "Live contests")
               FLASK_SQLALCHEMY_ENGINE_OPTIONS='{"pool_size": 10, "max_overflow": 5, "pool_recycle": 1800}',
               FLASK_ANSWER_ENGINE_OPTIONS='{"pool_size": 4, "max_overflow": 4}')
    env.pop("SERVER_SOFTWARE", None)
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "tools" / "gunicorn.conf.py"),
           "-k", "gevent", "-w", str(workers), "--worker-connections", "10000",
           "--keep-alive", "75",
           "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5", "quiz:create_app()"]
    return Process(cmd, log_path, env)


def wait_ready(port: int, process: Process, workers: int, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.proc.poll() is not None:
            raise RuntimeError(f"{process.cmd[0]} exited; see {process.log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/ping", timeout=5) as response:
                if response.status == 200 and len(process.pids()) > workers:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"127.0.0.1:{port} did not answer within {timeout:.0f} s; see {process.log_path}")


def nginx(prefix: Path) -> Process:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise RuntimeError("nginx is not installed (apt-get install -y nginx)")
    for folder in ("logs", "tmp"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    return Process([binary, "-p", str(prefix), "-c", str(NGINX_CONF), "-e", str(prefix / "logs" / "error.log"),
                    "-g", f"pid {prefix / 'nginx.pid'};"], prefix / "nginx.out")


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class Host:
    """The host's console, through the JSON API (keep-alive)."""

    def __init__(self, base: str, contest: int, token: str):
        self.base, self.contest, self.token = base, contest, token

    def command(self, name: str, **body) -> dict:
        request = urllib.request.Request(f"{self.base}/api/v1/live/{self.contest}/host/{name}",
                                         data=json.dumps(body).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {self.token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"host {name}: {error.code} {error.read()[:300]!r}") from None


# ====================================================================== phones (client processes)
class Phone:
    def __init__(self, index: int):
        self.index = index
        self.player = self.token = self.sheet = self.sheet_token = None
        self.connected = asyncio.Event()
        self.acted: set[int] = set()  # live question ids answered or buzzed
        self.closed_at: dict[int, float] = {}  # live question id → when its closed state arrived
        self.started_at: dict[int, float] = {}  # … when its started state arrived
        self.done_at: dict[int, float] = {}  # … when its answer or buzz was answered
        self.frames = 0
        self.rtts: list[float] = []  # round trips of its pings (ms), sent with a buzz
        self.buzzer_round = self.racing = False  # from its latest state (the ping cadence)


class Crowd:
    """One client process's phones."""

    def __init__(self, cfg: dict, first: int, count: int):
        self.cfg = cfg
        self.base = cfg["base"]
        self.phones = [Phone(i) for i in range(first, first + count)]
        self.rnd = random.Random(first)
        self.answers: list[tuple[int, int, str]] = []  # acknowledged: sheet, bank question, response
        self.buzzes: list[tuple[int, int]] = []  # accepted: player, live question
        self.refused = {"answer": 0, "buzz": 0}
        self.pings = {"sent": 0, "failed": 0}
        self.errors: list[str] = []
        self.done: dict[int, int] = {}  # live question → phones that have acted on it
        self.tasks: set = set()
        self.gc_pauses: list[dict] = []

    async def run(self, pipe) -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=400, local_addr=(self.cfg["address"], 0))
        streams = aiohttp.TCPConnector(limit=0, local_addr=(self.cfg["address"], 0))
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=None)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as api, \
                aiohttp.ClientSession(connector=streams, timeout=timeout) as sse:
            self.api = api
            semaphore = asyncio.Semaphore(64)
            await asyncio.gather(*(self.join(p, semaphore) for p in self.phones))
            pipe.send(("joined", len([p for p in self.phones if p.token])))
            readers = []
            for phone in self.phones:  # phones arrive at --connect-rate (all of them at once is a test of its own)
                if phone.token:
                    readers.append(asyncio.create_task(self.stream(sse, phone)))
                    if len(readers) % 25 == 0:
                        await asyncio.sleep(25 / self.cfg["connect_rate"])
            for phone in self.phones:
                if phone.token:
                    await asyncio.wait_for(phone.connected.wait(), 120)
            if self.cfg["pings"]:
                readers += [asyncio.create_task(self.pinger(api, phone)) for phone in self.phones if phone.token]
            pipe.send(("connected", len([p for p in self.phones if p.token])))
            loop = asyncio.get_running_loop()
            while True:
                message = await loop.run_in_executor(None, pipe.recv)
                if message == "stop":
                    break
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await asyncio.gather(*self.tasks, return_exceptions=True)
        pipe.send(("result", {"answers": self.answers, "buzzes": self.buzzes, "refused": self.refused,
                              "pings": self.pings,
                              "errors": self.errors[:20], "error_count": len(self.errors),
                              "closed": {p.index: p.closed_at for p in self.phones},
                              "started": {p.index: p.started_at for p in self.phones},
                              "done": {p.index: p.done_at for p in self.phones},
                              "frames": sum(p.frames for p in self.phones), "gc_pauses": self.gc_pauses}))

    async def join(self, phone: Phone, semaphore) -> None:
        cfg = self.cfg
        if cfg["seated"]:
            seated = cfg["seated"][phone.index - cfg["first"]]
            phone.player, phone.token = seated["player"], seated["token"]
            phone.sheet, phone.sheet_token = seated["sheet"], seated["sheet_token"]
            return
        body = phone_details(phone.index, cfg["team_codes"])
        async with semaphore:
            for attempt in range(5):
                try:
                    async with self.api.post(f"{self.base}/api/v1/live/join/{cfg['code']}", json=body) as r:
                        data = await r.json(content_type=None)
                        if r.status in (200, 201):
                            phone.player, phone.token = data["player_id"], data["token"]
                            phone.sheet, phone.sheet_token = data["sheet"]["attempt_id"], data["sheet"]["token"]
                            return
                        self.errors.append(f"join {r.status}: {str(data)[:200]}")
                except Exception as exc:  # noqa: BLE001 - retried, then counted
                    self.errors.append(f"join: {exc!r}")
                await asyncio.sleep(0.5 * (attempt + 1))

    async def stream(self, session, phone: Phone) -> None:
        url = f"{self.base}/live/{self.cfg['contest']}/stream?token={phone.token}"
        last_id = None
        while True:
            headers = {"Accept": "text/event-stream"}
            if last_id:
                headers["Last-Event-ID"] = last_id
            try:
                async with session.get(url, headers=headers) as response:
                    if response.status != 200:
                        self.errors.append(f"stream {response.status}")
                        await asyncio.sleep(2)
                        continue
                    buffer = b""
                    async for chunk in response.content.iter_any():
                        received = time.time()  # when these bytes were read, before any parsing
                        frames = (buffer + chunk).split(b"\n\n")
                        buffer = frames.pop()  # an incomplete frame waits for the rest of its bytes
                        for frame in frames:
                            event, data = None, []
                            for line in frame.decode().split("\n"):
                                if line.startswith("data: "):
                                    data.append(line[6:])
                                elif line.startswith("event: "):
                                    event = line[7:]
                                elif line.startswith("id: "):
                                    last_id = line[4:]
                            if event == "state" and data:
                                self.on_state(phone, loads("\n".join(data)), received)
            except asyncio.CancelledError:
                return
            except Exception as exc:  # noqa: BLE001 - reconnect as EventSource would
                self.errors.append(f"stream: {exc!r}")
            await asyncio.sleep(2)

    async def pinger(self, session, phone: Phone) -> None:
        """As the phone page does (static/live/phone.js): GET /live/clock five times a second apart,
        then every 5 s while a round with a buzzer runs and every 20 s otherwise, never while a buzz
        race is on; the latest seven round trips go with the phone's buzz."""
        await asyncio.sleep(self.rnd.uniform(0, 1))
        count = 0
        while True:
            every = 1.0 if count < 5 else 5.0 if phone.buzzer_round else 20.0
            if not phone.racing:
                count += 1
                self.pings["sent"] += 1
                started = time.perf_counter()
                try:
                    async with session.get(f"{self.base}/live/clock") as r:
                        await r.read()
                        if r.status == 200:
                            phone.rtts = (phone.rtts + [round((time.perf_counter() - started) * 1000, 1)])[-7:]
                        else:
                            self.pings["failed"] += 1
                except asyncio.CancelledError:
                    return
                except Exception:  # noqa: BLE001 - counted
                    self.pings["failed"] += 1
            await asyncio.sleep(every)

    def on_state(self, phone: Phone, state: dict, now: float) -> None:
        phone.frames += 1
        phone.connected.set()
        question = state.get("question")
        phone.buzzer_round = bool((state.get("round") or {}).get("type") in ("buzzer", "tiebreak")
                                  or (question or {}).get("buzzer"))
        phone.racing = bool(question and question.get("buzzer") and question["status"] == "open"
                            and question.get("started_at"))
        if not question:
            return
        qid = question["id"]
        if question["status"] in ("closed", "revealed") and qid not in phone.closed_at:
            phone.closed_at[qid] = now
        if question["status"] == "open" and question.get("started_at") and qid not in phone.acted \
                and not state["contest"]["paused"]:
            phone.acted.add(qid)
            phone.started_at[qid] = now
            if question.get("phones"):
                delay = self.rnd.uniform(0, self.cfg["answer_window"])
                task = asyncio.create_task(self.answer(phone, qid, question["question_id"], delay))
            elif question.get("buzzer") and self.buzzes_from(phone):
                task = asyncio.create_task(self.buzz(phone, qid, self.rnd.uniform(0, 0.5)))
            else:
                self.acted_on(qid)
                return
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    def buzzes_from(self, phone: Phone) -> bool:
        """Teams: the first --buzzers-per-team phones of each team buzz; individuals: every phone."""
        teams = len(self.cfg["team_codes"])
        return not teams or phone.index // teams < self.cfg["buzzers_per_team"]

    async def answer(self, phone: Phone, qid: int, question_id: int, delay: float) -> None:
        await asyncio.sleep(delay)
        response = self.rnd.choice(LETTERS)
        try:
            async with self.api.put(f"{self.base}/api/v1/attempts/{phone.sheet}/answers/{question_id}",
                                    json={"response": response},
                                    headers={"Authorization": f"Bearer {phone.sheet_token}"}) as r:
                await r.read()
                if r.status == 200:
                    self.answers.append((phone.sheet, question_id, response))
                else:
                    self.refused["answer"] += 1
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"answer: {exc!r}")
        phone.done_at[qid] = time.time()
        self.acted_on(qid)

    async def buzz(self, phone: Phone, qid: int, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            async with self.api.post(f"{self.base}/api/v1/live/{self.cfg['contest']}/buzz",
                                     json={"rtt": phone.rtts} if phone.rtts else None,
                                     headers={"Authorization": f"Bearer {phone.token}"}) as r:
                data = await r.json(content_type=None)
                if r.status == 200 and data.get("accepted"):
                    self.buzzes.append((phone.player, qid))
                else:
                    self.refused["buzz"] += 1
        except Exception as exc:  # noqa: BLE001
            self.errors.append(f"buzz: {exc!r}")
        phone.done_at[qid] = time.time()
        self.acted_on(qid)

    def acted_on(self, qid: int) -> None:
        self.done[qid] = self.done.get(qid, 0) + 1
        if self.done[qid] == len([p for p in self.phones if p.token]):
            self.pipe.send(("acted", qid))


def client_main(pipe, cfg: dict, first: int, count: int) -> None:
    import gc

    crowd = Crowd(cfg, first, count)
    crowd.pipe = pipe
    # the simulator's own collections (2,500 phones' streams per process) delay its reads: record
    # them (as the servers log theirs) and, unless --client-gc default, tune them like the servers
    if cfg["client_gc"] != "default":
        gc.set_threshold(*(int(n) for n in cfg["client_gc"].split(",")))
    started = [0.0]

    def timed(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        elif time.perf_counter() - started[0] >= 0.02:
            took = time.perf_counter() - started[0]
            crowd.gc_pauses.append({"at": time.time() - took, "generation": info["generation"], "ms": took * 1000})

    gc.callbacks.append(timed)
    try:
        asyncio.run(crowd.run(pipe))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        pipe.send(("failed", repr(exc)))


# ====================================================================== one layout
def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))]


def run_layout(layout: str, args, tmp: Path) -> dict:
    from bench_load import cpu_seconds

    info = prepare(args.database_url, args.redis_url, args)
    servers, ports = [], ([APP_PORTS[0]] if layout == "single" else list(APP_PORTS))
    proxy = None
    children = []
    try:
        for port in ports:
            servers.append(gunicorn(port, args.database_url, args.redis_url, args.workers,
                                    tmp / f"gunicorn-{port}.log"))
        for port, server in zip(ports, servers):
            wait_ready(port, server, args.workers)
        port = ports[0]
        if layout == "nginx":
            proxy = nginx(tmp / "nginx")
            wait_ready(NGINX_PORT, proxy, 1)
            port = NGINX_PORT
        base = f"http://127.0.0.1:{port}"
        server_pids = lambda: [pid for s in servers for pid in s.pids()]  # noqa: E731
        cfg = {"base": base, "contest": info["contest"], "code": info["code"], "answer_window": args.answer_window,
               "connect_rate": args.connect_rate / args.clients, "buzzers_per_team": args.buzzers_per_team,
               "team_codes": info["team_codes"], "pings": not args.no_pings, "client_gc": args.client_gc}
        share = [args.phones // args.clients + (1 if i < args.phones % args.clients else 0)
                 for i in range(args.clients)]
        context = mp.get_context("spawn")
        pipes = []
        first = 0
        t_join = time.time()
        for i, count in enumerate(share):
            parent, child = context.Pipe()
            seated = info["phones"][first:first + count] if info["phones"] else None
            process = context.Process(target=client_main, args=(child, {**cfg, "address": f"127.0.0.{11 + i}",
                                                                        "seated": seated, "first": first},
                                                                 first, count), daemon=True)
            process.start()
            children.append(process)
            pipes.append(parent)
            first += count

        stash: dict[int, list] = {i: [] for i in range(len(pipes))}

        def expect(kind: str, timeout: float, key=None, required: bool = True) -> list:
            """One message of `kind` (and `key`) from each client process."""
            out, end = [], time.monotonic() + timeout
            waiting = set(range(len(pipes)))
            for i in list(waiting):
                for message in stash[i]:
                    if message[0] == kind and (key is None or message[1] == key):
                        stash[i].remove(message)
                        out.append(message[1])
                        waiting.discard(i)
                        break
            while waiting and time.monotonic() < end:
                for i in list(waiting):
                    if pipes[i].poll(0.02):
                        message = pipes[i].recv()
                        if message[0] == "failed":
                            raise RuntimeError(f"client {i} failed: {message[1]}")
                        if message[0] == kind and (key is None or message[1] == key):
                            out.append(message[1])
                            waiting.discard(i)
                        else:
                            stash[i].append(message)
            if waiting and required:
                raise RuntimeError(f"clients {sorted(waiting)} did not report {kind} within {timeout:.0f} s")
            return out

        joined = sum(expect("joined", 600))
        join_seconds = time.time() - t_join
        peak = {"rss": 0.0}
        connected = sum(expect("connected", 300))
        connect_seconds = time.time() - t_join - join_seconds
        spread = None
        if layout == "nginx":
            spread = {p: established(p) for p in ports}
        rss_connected = rss_mb(server_pids())
        time.sleep(args.lobby)  # the hall settles (phones' first pings) while the host introduces the contest
        cpu0 = cpu_seconds(server_pids())
        host = Host(base, info["contest"], info["token"])
        closes = []
        sampler_stop = False

        import threading

        def sampler():
            while not sampler_stop:
                peak["rss"] = max(peak["rss"], rss_mb(server_pids()))
                if proxy is not None:
                    peak["nginx"] = max(peak.get("nginx", 0.0), rss_mb(proxy.pids()))
                time.sleep(0.5)

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        t_play = time.time()
        total = args.all_questions + args.buzzer_questions
        state = host.command("open")
        for number in range(total):
            question = state["question"]
            qid = question["id"]
            t_start = time.time()
            host.command("start")

            reported = expect("acted", args.answer_window + 20, key=qid, required=False)
            if len(reported) < len(pipes):
                print(f"   question {qid}: not every phone acted within {args.answer_window + 20:.0f} s; closing",
                      flush=True)
            t_close = time.time()
            if question["phones"]:
                state = host.command("close")
            else:
                try:
                    state = host.command("judge", right=True)
                except RuntimeError:  # nobody's buzz got through in time: the host just closes
                    state = host.command("close")
            closes.append({"question": qid, "kind": "all" if question["phones"] else "buzzer", "at": t_close,
                           "request_ms": (time.time() - t_close) * 1000, "started": t_start})
            time.sleep(args.pause)
            if number < total - 1:
                state = host.command("next")
        play_seconds = time.time() - t_play
        time.sleep(1.0)
        cpu1 = cpu_seconds(server_pids())
        rss_end = rss_mb(server_pids())
        sampler_stop = True
        thread.join()
        for pipe in pipes:
            pipe.send("stop")
        results = expect("result", 120)
        builds = count_builds(tmp, ports)
        deliveries, pauses = server_timings(tmp, ports)
    finally:
        for process in children:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
        if proxy is not None:
            proxy.stop()
        for server in servers:
            server.stop()

    # latency from each close to each phone
    per_phone, last = [], []
    missing_phone_states = 0
    for close in closes:
        times = []
        for result in results:
            for _index, closed_at in result["closed"].items():
                at = closed_at.get(close["question"]) or closed_at.get(str(close["question"]))
                if at is None:
                    missing_phone_states += 1
                else:
                    times.append((at - close["at"]) * 1000)
        per_phone.extend(times)
        close["last_ms"] = max(times) if times else float("nan")
        last.append(close["last_ms"])
        # the server's share: each process's delivery of the host's command whose event came first
        # after the close was sent, and the collections that ran while phones waited for it
        end = close["at"] + max(close["last_ms"], close["request_ms"]) / 1000 + 0.05
        mine = {}
        for d in deliveries:
            if close["at"] <= d["event_at"] <= end and d["pid"] not in mine:
                mine[d["pid"]] = d
        close["server"] = {"processes": len(mine),
                           "event_ms": max(((d["event_at"] - close["at"]) * 1000 for d in mine.values()), default=None),
                           "built_ms": max((d["built_ms"] for d in mine.values()), default=None),
                           "build_ms": max((d["build_ms"] for d in mine.values()), default=None),
                           "last_write_ms": max(((d["event_at"] - close["at"]) * 1000 + d["last_write_ms"]
                                                 for d in mine.values() if d["last_write_ms"] >= 0), default=None)}
        close["gc_ms"] = round(sum(g["ms"] for g in pauses if close["at"] <= g["at"] <= end), 1)
        close["client_gc_ms"] = round(max((sum(g["ms"] for g in r["gc_pauses"] if close["at"] <= g["at"] <= end)
                                           for r in results), default=0.0), 1)
    start_to_phone, acting = [], {"all": [], "buzzer": []}
    for close in closes:
        seen = [at - close["started"] for r in results for by_q in r["started"].values()
                for q, at in by_q.items() if q == close["question"]]
        done = [at - close["started"] for r in results for by_q in r["done"].values()
                for q, at in by_q.items() if q == close["question"]]
        start_to_phone.extend(t * 1000 for t in seen)
        close["acted"] = len(done)
        close["last_acted_s"] = max(done) if done else None
        acting[close["kind"]].append((len(done), max(done) if done else 0.0))
    answers = [tuple(a) for r in results for a in r["answers"]]
    buzzes = [tuple(b) for r in results for b in r["buzzes"]]
    lost_answers, lost_buzzes = check(args.database_url, answers, buzzes)
    return {
        "layout": layout, "phones": args.phones, "join": args.join, "joined": joined, "connected": connected,
        "mode": args.mode, "teams": args.teams if args.mode == "teams" else None, "workers": args.workers,
        "servers": len(ports), "spread": spread,
        "join_seconds": round(join_seconds, 1), "connect_seconds": round(connect_seconds, 1),
        "play_seconds": round(play_seconds, 1), "questions": len(closes),
        "close_to_phone_ms": {"p50": percentile(per_phone, 50), "p99": percentile(per_phone, 99),
                              "max": max(per_phone) if per_phone else None},
        "close_to_last_phone_ms": {"p50": percentile(last, 50), "p99": percentile(last, 99), "max": max(last)},
        "start_to_phone_ms": {"p50": percentile(start_to_phone, 50), "p99": percentile(start_to_phone, 99),
                              "max": max(start_to_phone) if start_to_phone else None},
        "acting": {kind: {"questions": len(v), "acted_per_question": round(sum(n for n, _ in v) / len(v)) if v else 0,
                          "seconds_to_last_p50": percentile([t for _, t in v], 50) if v else None,
                          "seconds_to_last_max": max(t for _, t in v) if v else None} for kind, v in acting.items()},
        "close_request_ms": {"p50": percentile([c["request_ms"] for c in closes], 50),
                             "max": max(c["request_ms"] for c in closes)},
        "closes": [{k: (round(v, 1) if isinstance(v, float) and k != "at" else v) for k, v in c.items() if k != "at"}
                   for c in closes],
        "gc_pauses": {"count": len(pauses), "ms": round(sum(g["ms"] for g in pauses), 1),
                      "max_ms": max((g["ms"] for g in pauses), default=0.0),
                      "by_generation": {str(n): sum(1 for g in pauses if g["generation"] == n) for n in range(3)},
                      "list": pauses},
        "client_gc_pauses": {"count": sum(len(r["gc_pauses"]) for r in results),
                             "ms": round(sum(g["ms"] for r in results for g in r["gc_pauses"]), 1),
                             "by_generation": {str(n): sum(1 for r in results for g in r["gc_pauses"]
                                                           if g["generation"] == n) for n in range(3)}},
        "states_missing": missing_phone_states,
        "frames_received": sum(r["frames"] for r in results),
        "builds": builds,
        "answers_acknowledged": len(answers), "answers_refused": sum(r["refused"]["answer"] for r in results),
        "buzzes_accepted": len(buzzes), "buzzes_refused": sum(r["refused"]["buzz"] for r in results),
        "pings": sum(r["pings"]["sent"] for r in results), "pings_failed": sum(r["pings"]["failed"] for r in results),
        "lost_answers": lost_answers, "lost_buzzes": lost_buzzes,
        "client_errors": sum(r["error_count"] for r in results),
        "client_error_samples": [e for r in results for e in r["errors"]][:5],
        "rss_mb": {"connected": round(rss_connected, 1), "peak": round(peak["rss"], 1), "end": round(rss_end, 1),
                   "nginx_peak": round(peak.get("nginx", 0.0), 1) if proxy is not None else None},
        "server_cpu_seconds": round(cpu1 - cpu0, 1),
    }


def established(port: int) -> int:
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"], capture_output=True,
                         text=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


def count_builds(tmp: Path, ports) -> int | None:
    """States built by the server processes, at least: each logs every hundredth build of a
    contest ("live push: N states of contest C built in pid P"); the last count of each pid."""
    import re

    last: dict[str, int] = {}
    for port in ports:
        text = (tmp / f"gunicorn-{port}.log").read_text(errors="replace")
        for count, pid in re.findall(r"live push: (\d+) states of contest \d+ built in pid (\d+)", text):
            last[pid] = max(last.get(pid, 0), int(count))
    return sum(last.values()) if last else None


def server_timings(tmp: Path, ports) -> tuple[list[dict], list[dict]]:
    """The servers' own account (quiz/live_push.py "delivery" lines: a host command's event
    arriving, its state built, its last stream written; tools/gunicorn.conf.py "gc: pause"
    lines), in wall-clock seconds and ms."""
    import re

    deliveries, pauses = [], []
    for port in ports:
        text = (tmp / f"gunicorn-{port}.log").read_text(errors="replace")
        for at, built, build, write, streams, pid in re.findall(
                r"delivery contest=\d+ event_at=([\d.]+) built_ms=([\d.]+) build_ms=([\d.]+) "
                r"last_write_ms=(-?[\d.]+) streams=(\d+) pid=(\d+)", text):
            deliveries.append({"event_at": float(at), "built_ms": float(built), "build_ms": float(build),
                               "last_write_ms": float(write), "streams": int(streams), "pid": f"{port}:{pid}"})
        pause = r"gc: pause at=([\d.]+) generation=(\d) ms=([\d.]+) cpu_ms=([\d.]+) collected=\d+ pid=(\d+)"
        for at, generation, ms, cpu, pid in re.findall(pause, text):
            pauses.append({"at": float(at), "generation": int(generation), "ms": float(ms), "cpu_ms": float(cpu),
                           "pid": f"{port}:{pid}"})
    deliveries.sort(key=lambda d: d["event_at"])
    return deliveries, pauses


def check(url: str, answers: list, buzzes: list) -> tuple[int, int]:
    """Acknowledged answers and accepted buzzes that are not rows in the database."""
    from sqlalchemy import create_engine, text

    from quiz import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    with engine.connect() as conn:
        stored = {(a, q): r for a, q, r in conn.execute(text("SELECT attempt_id, question_id, response FROM answer"))}
        buzzed = set(conn.execute(text("SELECT player_id, live_question_id FROM live_buzz")).all())
    engine.dispose()

    def same(a, b) -> bool:
        return a == b or json.dumps(a, ensure_ascii=False) == b or a == (json.loads(b) if isinstance(b, str)
                                                                           and b[:1] in '["' else b)

    lost_answers = sum(1 for sheet, question, response in answers
                       if (sheet, question) not in stored or not same(response, stored[(sheet, question)]))
    lost_buzzes = sum(1 for player, question in buzzes if (player, question) not in buzzed)
    return lost_answers, lost_buzzes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL URL; its schema public is DROPPED")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4", help="flushed before each layout")
    parser.add_argument("--phones", type=int, default=5000)
    parser.add_argument("--mode", choices=("teams", "individuals"), default="teams")
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--all-questions", type=int, default=20)
    parser.add_argument("--buzzer-questions", type=int, default=10)
    parser.add_argument("--answer-window", type=float, default=3.0)
    parser.add_argument("--pause", type=float, default=1.5, help="seconds between a close and the next question")
    parser.add_argument("--workers", type=int, default=2, help="gevent workers per app server")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--buzzers-per-team", type=int, default=5, help="teams: phones of each team that buzz")
    parser.add_argument("--connect-rate", type=float, default=500, help="new streams per second, all clients")
    parser.add_argument("--join", choices=("service", "http"), default="service",
                        help="seat the phones through the join service before the run, or join over HTTP")
    parser.add_argument("--layouts", nargs="+", choices=("single", "nginx"), default=["single", "nginx"])
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--lobby", type=float, default=10.0,
                        help="seconds between the last phone connecting and the first question (0: at once, while "
                             "every phone still does its first pings)")
    parser.add_argument("--client-gc", default="50000,20,100",
                        help="gc thresholds of the client processes, as tools/gunicorn.conf.py sets the "
                             "servers' ('default': Python's)")
    parser.add_argument("--no-pings", action="store_true",
                        help="phones do not ping /live/clock (as the benchmark did before the phone page's pings were added)")
    args = parser.parse_args()
    if args.mode == "individuals":
        args.teams = 0
    os.environ["LIVE_PUSH_STATS"] = "1"
    figures = []
    status = 0
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        for layout in args.layouts:
            print(f"== {layout}: {args.phones} phones, {args.mode}"
                  f"{f' ({args.teams} teams)' if args.mode == 'teams' else ''}, {args.workers} gevent workers per "
                  f"server", flush=True)
            try:
                result = run_layout(layout, args, Path(tmp))
            except Exception as exc:  # noqa: BLE001 - report, go on with the next layout
                print(f"   failed: {exc}", flush=True)
                for log in Path(tmp).glob("gunicorn-*.log"):
                    print(f"--- {log.name} (tail)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))
                status = 1
                continue
            figures.append(result)
            report(result)
            if result["lost_answers"] or result["lost_buzzes"] or result["connected"] < args.phones:
                status = 1
    if args.json:
        Path(args.json).write_text(json.dumps(figures, ensure_ascii=False, indent=1))
    return status


def report(r: dict) -> None:
    c, last = r["close_to_phone_ms"], r["close_to_last_phone_ms"]
    print(f"   {'joined' if r['join'] == 'http' else 'phones'} {r['joined']} "
          f"{'in ' + str(r['join_seconds']) + ' s' if r['join'] == 'http' else ''}, {r['connected']} streams open "
          f"after "
          f"{r['connect_seconds']} s more" + (f", per server {r['spread']}" if r["spread"] else ""))
    print(f"   played {r['questions']} questions in {r['play_seconds']} s; states built by the servers: "
          f"{r['builds']} (counted in hundreds); states received by phones: {r['frames_received']}")
    print(f"   close → phone:      p50 {c['p50']:.0f} ms, p99 {c['p99']:.0f} ms, max {c['max']:.0f} ms "
          f"(phones × closes without the closed state: {r['states_missing']})")
    print(f"   close → last phone: p50 {last['p50']:.0f} ms, p99 {last['p99']:.0f} ms, max {last['max']:.0f} ms "
          f"(target < 1000 ms: {'met' if last['p99'] < 1000 else 'MISSED'})")
    st = r["start_to_phone_ms"]
    print(f"   start → phone:      p50 {st['p50']:.0f} ms, p99 {st['p99']:.0f} ms, max {st['max']:.0f} ms")
    for kind, a in r["acting"].items():
        if a["questions"]:
            label = "共答 answers" if kind == "all" else "抢答 buzzes"
            print(f"   {label}: {a['acted_per_question']} per question, the last "
                  f"acknowledged {a['seconds_to_last_p50']:.1f} s after the start (median; max "
                  f"{a['seconds_to_last_max']:.1f} s)")
    print(f"   host close request: p50 {r['close_request_ms']['p50']:.0f} ms, "
          f"max {r['close_request_ms']['max']:.0f} ms")
    print(f"   answers acknowledged {r['answers_acknowledged']} (refused {r['answers_refused']}), buzzes accepted "
          f"{r['buzzes_accepted']} (refused {r['buzzes_refused']}); missing from the database: "
          f"{r['lost_answers']} answers, {r['lost_buzzes']} buzzes; client errors {r['client_errors']}; "
          f"pings of /live/clock {r['pings']} ({r['pings_failed']} failed)")
    print(f"   RSS of the gunicorn processes: {r['rss_mb']['connected']} MB with every stream open, peak "
          f"{r['rss_mb']['peak']} MB" + (f"; nginx peak {r['rss_mb']['nginx_peak']} MB" if r["rss_mb"]["nginx_peak"]
                                        else "") + f"; server CPU during play {r['server_cpu_seconds']} s")
    gcp = r["gc_pauses"]
    print(f"   gc pauses of 20 ms or more in the servers: {gcp['count']} (by generation {gcp['by_generation']}), "
          f"{gcp['ms']:.0f} ms in all, the longest {gcp['max_ms']:.0f} ms")
    cgc = r["client_gc_pauses"]
    print(f"   the simulated phones' own gc pauses of 20 ms or more: {cgc['count']} (by generation "
          f"{cgc['by_generation']}), {cgc['ms']:.0f} ms in all")
    slow = sorted(r["closes"], key=lambda c: -c["last_ms"])[:3]
    for c in slow:
        srv = c["server"]
        fmt = lambda v: "?" if v is None else f"{v:.0f}"  # noqa: E731
        print(f"   slow close: question {c['question']} ({c['kind']}) last phone {c['last_ms']:.0f} ms; host request "
              f"{c['request_ms']:.0f} ms; on the servers ({srv['processes']} processes): event {fmt(srv['event_ms'])}"
              f" ms, state built {fmt(srv['built_ms'])} ms after it, last stream written {fmt(srv['last_write_ms'])} "
              f"ms after the close; gc pauses meanwhile {c['gc_ms']} ms (the simulated phones' own: "
              f"{c['client_gc_ms']} ms)")
    for sample in r["client_error_samples"]:
        print(f"   client error: {sample}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
