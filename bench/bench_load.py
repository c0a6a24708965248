"""Load benchmark of the participant path (join → save every answer → submit) under gunicorn.

Usage:
    .venv/bin/python bench/bench_load.py [--participants 200] [--concurrency 16]
        [--database-url postgresql://postgres@127.0.0.1/test | --database-url sqlite]
        [--bank generated|csv] [--workers 2] [--worker-class gthread|sync|gevent] [--threads 8]
        [--ping-requests N] [--time-limit 600]
        [--profile-dir DIR [--py-spy PATH]]

What it does, in one run:
 1. Prepares the database: PostgreSQL by default (its schema `public` is DROPPED and rebuilt
    through the migrations!), or a throwaway SQLite file with `--database-url sqlite`; loads a
    bank (generated like bench_import.py, or question_banks/基层治理理论知识题库.csv), a small
    unit tree and a timed quiz (单选 10×2, 多选 4×3, 判断 4×1, 填空 2×2; shuffled questions and
    options) through quiz.services.
 2. Starts gunicorn (2 workers, `-k gthread --threads 8` as in docs/deployment.md, or
    `--worker-class sync|gevent`) on 127.0.0.1:<free port> against `quiz:create_app()` with DATABASE_URL and
    SECRET_KEY in its environment. Rate limits stay as configured (ON): every simulated phone comes
    from 127.0.0.1, like an office behind NAT. On PostgreSQL it first runs CHECKPOINT, so the
    timed checkpoint (every 5 min, writing for about a minute) does not fall inside the run.
 3. Closed-loop load with the same client concurrency for every phase; every request says
    `Connection: close`, as nginx does towards its upstream (--keep-alive to keep connections):
      ping   – N × GET /api/v1/ping (the hello-world baseline),
      join   – P × POST /api/v1/join/<code>,
      answer – one PUT /api/v1/attempts/<id>/answers/<qid> per question and participant, plus
               a changed answer to ~10 % of the questions (last write wins),
      submit – P × POST /api/v1/attempts/<id>/submit,
      ping2  – the baseline again; the target compares answer-save with the mean of both pings.
    Each participant's requests are sequential; participants run in parallel. The client uses
    stdlib http.client in threads (cheap per request; gunicorn's sync workers close the
    connection after every response anyway). CPU time of the client, the gunicorn workers and
    PostgreSQL is recorded per phase to show who the bottleneck was.
 4. Integrity check in the database: every acknowledged (2xx) answer is stored with its last
    acknowledged value; every submitted attempt is 'submitted' with the score it reported.
 5. Prints a table (req/s, p50/p95/p99, errors) and the targets (answer-save ≥ 50 % of ping
    throughput, answer-save p99 < 100 ms, 0 errors, all acknowledged answers present).
 6. Stops gunicorn (always).

Exit status: 1 if the integrity check fails (or the run could not be set up); missing a speed
target only prints MISS. All traffic goes to 127.0.0.1; the run is bounded by --time-limit.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DEFAULT_PG = "postgresql://postgres@127.0.0.1/test"
RULES = [{"type": "单选", "count": 10, "points": 2}, {"type": "多选", "count": 4, "points": 3},
         {"type": "判断", "count": 4, "points": 1}, {"type": "填空", "count": 2, "points": 2}]
UNITS = ["乔司街道/三角村社区", "乔司街道/永丰村", "乔司街道/朝阳社区", "乔司街道/五星村",
         "乔司街道/机关各办/党政办", "伦教街道/常教社区", "伦教街道/荔村", "伦教街道/鸡洲社区"]
AUDIENCE = ["乔司街道", "伦教街道"]
PHASES = ("ping", "join", "answer", "submit", "ping2")
LETTERS = "ABCDEFGH"


# ====================================================================== database preparation
def prepare_database(url: str, bank: str, rows: int, duration: int, secret: str, checkpoint: bool = True) -> dict:
    """Fresh schema, a bank, units and a quiz. Returns {"join_code", "quiz_id", "questions"}."""
    from quiz import create_app
    from quiz.cli import upgrade_schema
    from quiz.extensions import db
    from quiz.services.importer import import_bank_file
    from quiz.services.quizzes import create_quiz
    from quiz.services.units import ensure_path, split_path

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret})
    now = datetime.now(timezone.utc)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        upgrade_schema()
        if bank == "csv":
            path = ROOT / "question_banks" / "基层治理理论知识题库.csv"
            data, name = path.read_bytes(), path.name
        else:
            from bench_import import generate
            data, name = generate(rows, seed=7), "bench.csv"
        report = import_bank_file("压测题库", data, name, actor=None, now=now)
        db.session.commit()
        if not report.created or report.rejected:
            raise SystemExit(f"bank import failed: {report.as_dict()}")
        cache: dict = {}
        for path in UNITS:
            ensure_path(split_path(path), actor=None, now=now, headcount=50, cache=cache)
        db.session.commit()
        quiz = create_quiz({
            "title": "压测：基层治理应知应会知识竞赛", "banks": ["压测题库"], "rules": RULES,
            "duration_seconds": duration, "audience": {"units": AUDIENCE}, "attempts_allowed": 1,
            "shuffle_questions": True, "shuffle_options": True, "multi_partial": "half",
            "pass_score": 24, "show_answers": "after_submit",
        }, actor=None, now=now)
        db.session.commit()
        info = {"join_code": quiz.join_code, "quiz_id": quiz.id, "questions": report.created,
                "dialect": db.engine.dialect.name, "checkpoint": None}
        db.session.remove()
        if db.engine.dialect.name == "postgresql" and checkpoint:
            # PostgreSQL checkpoints every checkpoint_timeout (5 min) and spreads the writes over
            # about a minute; saves during that minute were measured 20-40 % slower (more WAL per
            # commit). Checkpointing now puts the next timed one after the run, so runs compare.
            try:
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("CHECKPOINT")
                info["checkpoint"] = "done before the run"
            except Exception as exc:  # noqa: BLE001 - needs superuser or pg_checkpoint
                info["checkpoint"] = f"not possible ({type(exc).__name__}); timed checkpoints may fall inside the run"
        db.engine.dispose()
    return info


# ====================================================================== gunicorn
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


GUNICORN_CONF = ROOT / "tools" / "gunicorn.conf.py"  # what docs/deployment.md runs the workers with


class Server:
    """gunicorn in its own process group; stop() is safe to call twice. `conf`: a gunicorn config
    file (the deployment's, tools/gunicorn.conf.py, unless told otherwise; "" for none)."""

    def __init__(self, url: str, secret: str, workers: int, worker_class: str, threads: int,
                 log_path: Path, extra_env: dict[str, str], app: str = "quiz:create_app()",
                 ready_path: str = "/api/v1/ping", conf: str | Path = GUNICORN_CONF):
        self.port = free_port()
        self.ready_path = ready_path
        env = dict(os.environ, DATABASE_URL=url, SECRET_KEY=secret, **extra_env)
        cmd = [sys.executable, "-m", "gunicorn", *(["-c", str(conf)] if conf else []), "-w", str(workers),
               "-k", worker_class, "-b", f"127.0.0.1:{self.port}", "--graceful-timeout", "10", app]
        if worker_class == "gthread":
            cmd[-1:-1] = ["--threads", str(threads)]
        self.cmd = cmd
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, workers: int, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", self.ready_path)
                ok = conn.getresponse().status == 200
                conn.close()
                if ok and len(self.worker_pids()) >= workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        return children_of(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: workers finish their request
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if not self.log.closed:
            self.log.close()


# ====================================================================== CPU accounting (/proc)
CLK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from 3 (state) on


def children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields and int(fields[1]) == pid:
                out.append(int(entry))
    return sorted(out)


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLK


def postgres_pids() -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() in ("postgres", "postmaster"):
                    out.append(int(entry))
            except OSError:
                pass
    return out


class CpuMeter:
    """CPU seconds used by the client (this process), the gunicorn workers and PostgreSQL."""

    def __init__(self, server: Server, with_postgres: bool):
        self.server = server
        self.with_postgres = with_postgres

    def sample(self) -> dict[str, float]:
        t = os.times()
        pg = cpu_seconds(postgres_pids()) if self.with_postgres else 0.0
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / CLK  # all CPUs, minus idle and iowait
        return {"client": t.user + t.system, "server": cpu_seconds(self.server.worker_pids()), "postgres": pg,
                "busy": busy, "wall": time.perf_counter()}


# ====================================================================== client
@dataclass
class Sample:
    endpoint: str
    status: int  # 0 = transport error
    seconds: float


@dataclass
class Participant:
    index: int
    phone: str
    name: str
    unit: str
    attempt_id: int | None = None
    token: str | None = None
    questions: list[dict] = field(default_factory=list)
    # question id → list of (expected value as the server shows it, acknowledged?)
    writes: dict[int, list[tuple[object, bool]]] = field(default_factory=lambda: defaultdict(list))
    echo_mismatch: list[tuple[int, object, object]] = field(default_factory=list)
    submitted: dict | None = None


class Client:
    """One http.client connection per thread. By default every request says `Connection: close`,
    as nginx does towards its upstream unless told otherwise, so each request is accepted afresh
    and the kernel spreads them over the workers. With keep_alive the threads keep their
    connections, which pins each one to the worker that accepted it (sync workers close anyway)."""

    def __init__(self, port: int, samples: list[Sample], keep_alive: bool = False):
        self.port = port
        self.samples = samples
        self.keep_alive = keep_alive
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        return conn

    def call(self, endpoint: str, method: str, path: str, body: dict | None = None,
             token: str | None = None) -> tuple[int, dict | None]:
        headers = {"Accept": "application/json"}
        if not self.keep_alive:
            headers["Connection"] = "close"
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn = self._conn()
        start = time.perf_counter()
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            self.local.conn = None
            self.samples.append(Sample(endpoint, 0, time.perf_counter() - start))
            return 0, None
        self.samples.append(Sample(endpoint, status, time.perf_counter() - start))
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, None


def run_pool(concurrency: int, items: list, work, deadline: float) -> tuple[float, float, int]:
    """Run work(item) for every item on `concurrency` threads. Returns (start, end, items left)."""
    q: queue.Queue = queue.Queue()
    for item in items:
        q.put(item)
    errors: list[BaseException] = []

    def loop() -> None:
        while time.monotonic() < deadline:
            try:
                item = q.get_nowait()
            except queue.Empty:
                return
            try:
                work(item)
            except BaseException as exc:  # a client bug must not hang the run
                errors.append(exc)
                return

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(1.0, deadline - time.monotonic() + 35))
    end = time.perf_counter()
    if errors:
        raise errors[0]
    return start, end, q.qsize()


def response_for(question: dict, rnd: random.Random, avoid=None):
    """A valid response for a question as shown: (what is sent, what the server must store/show)."""
    for _ in range(20):
        kind = question["type"]
        if kind == "single":
            letter = LETTERS[rnd.randrange(len(question["options"]))]
            sent, shown = (letter, letter) if rnd.random() < 0.8 else (letter.lower(), letter)
        elif kind == "multi":
            keys = rnd.sample(LETTERS[:len(question["options"])], rnd.randint(2, min(3, len(question["options"]))))
            shown = "".join(sorted(keys))
            sent = keys if rnd.random() < 0.5 else "".join(keys)
        elif kind == "judge":
            value = rnd.random() < 0.5
            shown = "正确" if value else "错误"
            sent = value if rnd.random() < 0.5 else shown
        else:
            shown = [rnd.choice(["共建", "共同建设", "共享", "网格", "群众"]) for _ in range(max(1, question["blanks"]))]
            sent = list(shown)
        if shown != avoid:
            return sent, shown
    return sent, shown


# ====================================================================== statistics
def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def summarise(name: str, samples: list[Sample], start: float, end: float) -> dict:
    latencies = sorted(s.seconds for s in samples)
    errors = Counter(s.status for s in samples if not 200 <= s.status < 300)
    wall = max(end - start, 1e-9)
    return {"phase": name, "requests": len(samples), "wall": wall, "rps": len(samples) / wall,
            "p50": percentile(latencies, 50) * 1000, "p95": percentile(latencies, 95) * 1000,
            "p99": percentile(latencies, 99) * 1000, "max": (latencies[-1] * 1000) if latencies else float("nan"),
            "errors": sum(errors.values()), "by_status": dict(errors)}


# ====================================================================== profiling (optional)
class Profiler:
    """py-spy record (raw collapsed stacks, --idle so waits on PostgreSQL show) on each worker."""

    def __init__(self, binary: str, out_dir: Path, pids: list[int], phase: str, rate: int = 250):
        self.files = []
        self.procs = []
        out_dir.mkdir(parents=True, exist_ok=True)
        for pid in pids:
            out = out_dir / f"{phase}-worker-{pid}.txt"
            self.files.append(out)
            self.procs.append(subprocess.Popen(
                [binary, "record", "--pid", str(pid), "--format", "raw", "--idle", "--rate", str(rate),
                 "--nonblocking", "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        time.sleep(1.0)  # let py-spy attach

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def report(self, top: int = 30) -> str:
        """Shares of the wall time spent serving requests: inclusive per function (from the WSGI
        call down; line numbers dropped) and self per leaf line."""
        inclusive: Counter = Counter()
        own: Counter = Counter()
        total = 0
        for path in self.files:
            if not path.exists():
                continue
            for line in path.read_text(errors="replace").splitlines():
                stack, _sep, count = line.rpartition(" ")
                if not count.isdigit():
                    continue
                frames = stack.split(";")
                if not any("handle_request" in f for f in frames):
                    continue  # idle in gunicorn's accept loop: not serving a request
                n = int(count)
                total += n
                own[frames[-1]] += n
                inside = [f for f in frames if not any(skip in f for skip in ("gunicorn/", "<frozen runpy>"))]
                for f in {re.sub(r":\d+\)$", ")", f) for f in inside}:
                    inclusive[f] += n
        if not total:
            return "  (no samples)"
        lines = [f"  {total} samples while a worker was serving a request (wall clock, waits included)",
                 "  inclusive (function, all lines):"]
        for f, n in inclusive.most_common(top):
            lines.append(f"    {100 * n / total:5.1f} %  {f}")
        lines.append("  self (leaf line):")
        for f, n in own.most_common(12):
            lines.append(f"    {100 * n / total:5.1f} %  {f}")
        return "\n".join(lines)


# ====================================================================== integrity check
def check_integrity(url: str, secret: str, people: list[Participant]) -> list[str]:
    """Problems found comparing the client's acknowledged writes with the database."""
    from sqlalchemy import select

    from quiz import create_app
    from quiz.extensions import db
    from quiz.models import Answer, Attempt, Question
    from quiz.questions import get_type

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret})
    problems: list[str] = []
    stats = Counter()
    with app.app_context():
        ids = [p.attempt_id for p in people if p.attempt_id]
        attempts = {a.id: a for a in db.session.execute(select(Attempt).where(Attempt.id.in_(ids))).scalars()} \
            if ids else {}
        rows: dict[tuple[int, int], str] = {}
        stored_for: dict[int, set[int]] = defaultdict(set)
        for chunk in range(0, len(ids), 500):
            for a in db.session.execute(select(Answer.attempt_id, Answer.question_id, Answer.response)
                                        .where(Answer.attempt_id.in_(ids[chunk:chunk + 500]))):
                rows[(a.attempt_id, a.question_id)] = a.response
                stored_for[a.attempt_id].add(a.question_id)
        kinds = dict(db.session.execute(select(Question.id, Question.type)).all())
        for p in people:
            if not p.attempt_id:
                continue
            attempt = attempts.get(p.attempt_id)
            if attempt is None:
                problems.append(f"attempt {p.attempt_id} (acknowledged join) is missing")
                continue
            order = {e["q"]: e["order"] for e in attempt.paper}
            for qid, writes in p.writes.items():
                acked = [i for i, (_v, ok) in enumerate(writes) if ok]
                if not acked:
                    continue
                last = acked[-1]
                allowed = [writes[last][0]] + [v for v, ok in writes[last + 1:] if not ok]
                stats["acknowledged"] += 1
                stored = rows.get((p.attempt_id, qid))
                if stored is None:
                    problems.append(f"attempt {p.attempt_id} question {qid}: acknowledged answer missing")
                    continue
                shown = get_type(kinds[qid]).for_client(stored, order.get(qid))
                if shown not in allowed:
                    problems.append(f"attempt {p.attempt_id} question {qid}: stored {shown!r}, "
                                    f"last acknowledged {writes[last][0]!r}")
                else:
                    stats["matching"] += 1
            for qid, sent, echoed in p.echo_mismatch:
                problems.append(f"attempt {p.attempt_id} question {qid}: sent {sent!r}, server echoed {echoed!r}")
            extra = stored_for[p.attempt_id] - set(p.writes)
            if extra:
                problems.append(f"attempt {p.attempt_id}: answers stored for questions never sent {sorted(extra)}")
            if p.submitted is not None:
                stats["submitted"] += 1
                if attempt.status != "submitted" or attempt.score is None:
                    problems.append(f"attempt {p.attempt_id}: submit acknowledged but status={attempt.status} "
                                    f"score={attempt.score}")
                elif abs(attempt.score - (p.submitted.get("score") or 0)) > 1e-6:
                    problems.append(f"attempt {p.attempt_id}: score {attempt.score} in the database, "
                                    f"{p.submitted.get('score')} reported")
        db.session.remove()
        db.engine.dispose()
    problems.insert(0, f"checked {stats['acknowledged']} acknowledged answers ({stats['matching']} match), "
                       f"{stats['submitted']} submitted attempts")
    return problems


# ====================================================================== main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--participants", "-p", type=int, default=200, help="simulated participants (200)")
    parser.add_argument("--concurrency", "-c", type=int, default=16,
                        help="client threads = requests in flight, the same for every phase (16)")
    parser.add_argument("--ping-requests", type=int, default=None,
                        help="baseline requests (default: as many as answer PUTs)")
    parser.add_argument("--database-url", default=DEFAULT_PG,
                        help=f"PostgreSQL URL (schema public is dropped!) or 'sqlite' (default {DEFAULT_PG})")
    parser.add_argument("--bank", choices=["generated", "csv"], default="generated",
                        help="generated bank (like bench_import.py) or the real 45-question CSV")
    parser.add_argument("--bank-rows", type=int, default=2000, help="size of the generated bank (2000)")
    parser.add_argument("--rewrite", type=float, default=0.1, help="share of answers changed later (0.1)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread",
                        help="gunicorn worker class (gthread, as in docs/deployment.md; also sync, or gevent after pip install gevent)")
    parser.add_argument("--no-checkpoint", action="store_true",
                        help="do not CHECKPOINT PostgreSQL before the run (then a timed checkpoint may fall inside it)")
    parser.add_argument("--keep-alive", action="store_true",
                        help="keep client connections open between requests (default: Connection: close, like nginx)")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker with --worker-class gthread (8)")
    parser.add_argument("--gunicorn-conf", default=str(GUNICORN_CONF),
                        help="gunicorn config file (the deployment's; '' for none)")
    parser.add_argument("--ratelimit-storage", default=None,
                        help="set FLASK_RATELIMIT_STORAGE_URI for the server (default: the app's memory://)")
    parser.add_argument("--time-limit", type=float, default=600, help="stop issuing requests after this (s)")
    parser.add_argument("--profile-dir", default=None, help="py-spy record the workers during each phase")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy", help="py-spy binary")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    secret = "bench-" + os.urandom(8).hex()
    tmp = Path(tempfile.mkdtemp(prefix="bench_load-"))
    url = args.database_url
    if url == "sqlite":
        url = f"sqlite:///{tmp}/bench.sqlite3"
    n_questions = sum(r["count"] for r in RULES)
    deadline = time.monotonic() + args.time_limit
    duration = int(args.time_limit) + 3600  # no attempt may expire during the run

    print(f"preparing {url.split('://')[0]} ({args.bank} bank) …", flush=True)
    info = prepare_database(url, args.bank, args.bank_rows, duration, secret, checkpoint=not args.no_checkpoint)
    print(f"bank: {info['questions']} questions; quiz {info['quiz_id']} join code {info['join_code']}; "
          f"{n_questions} questions per paper; checkpoint: {info['checkpoint'] or 'skipped'}", flush=True)

    extra_env = {}
    if args.ratelimit_storage:
        extra_env["FLASK_RATELIMIT_STORAGE_URI"] = args.ratelimit_storage
    server = Server(url, secret, args.workers, args.worker_class, args.threads, tmp / "gunicorn.log", extra_env,
                    conf=args.gunicorn_conf)
    results: dict[str, dict] = {}
    cpu: dict[str, dict] = {}
    profiles: dict[str, str] = {}
    rnd = random.Random(args.seed)
    people = [Participant(i, f"139{i:08d}", f"压测{i:05d}", rnd.choice(UNITS)) for i in range(args.participants)]
    try:
        server.wait_ready(args.workers)
        workers = server.worker_pids()
        print(f"gunicorn: {' '.join(server.cmd[2:])}  (master {server.proc.pid}, workers {workers})", flush=True)
        meter = CpuMeter(server, info["dialect"] == "postgresql")
        samples: list[Sample] = []
        client = Client(server.port, samples, keep_alive=args.keep_alive)

        # warm-up (not measured): every worker and connection gets going
        warm = Client(server.port, [])
        run_pool(args.concurrency, list(range(args.concurrency * 10)),
                 lambda _i: warm.call("ping", "GET", "/api/v1/ping"), deadline)

        def ping(_i):
            client.call("ping", "GET", "/api/v1/ping")

        def join(p: Participant):
            status, body = client.call("join", "POST", f"/api/v1/join/{info['join_code']}",
                                       {"name": p.name, "phone": p.phone, "unit": p.unit})
            if 200 <= status < 300 and body:
                p.attempt_id, p.token, p.questions = body["attempt_id"], body["token"], body["questions"]

        def answer(p: Participant):
            if not p.attempt_id:
                return
            prnd = random.Random(args.seed * 100_003 + p.index)
            plan = list(p.questions)
            plan += [q for q in p.questions if prnd.random() < args.rewrite]  # changed answers, at the end
            last: dict[int, object] = {}
            for q in plan:
                if time.monotonic() > deadline:
                    return
                sent, shown = response_for(q, prnd, avoid=last.get(q["id"]))
                status, body = client.call("answer", "PUT", f"/api/v1/attempts/{p.attempt_id}/answers/{q['id']}",
                                           {"response": sent}, token=p.token)
                ok = 200 <= status < 300
                p.writes[q["id"]].append((shown, ok))
                last[q["id"]] = shown
                if ok and (body or {}).get("response") != shown:
                    p.echo_mismatch.append((q["id"], shown, (body or {}).get("response")))

        def submit(p: Participant):
            if not p.attempt_id:
                return
            status, body = client.call("submit", "POST", f"/api/v1/attempts/{p.attempt_id}/submit", {},
                                       token=p.token)
            if 200 <= status < 300:
                p.submitted = body or {}

        ping_n = args.ping_requests or int(args.participants * n_questions * (1 + args.rewrite))
        # the baseline runs before and after the participant path, so a machine that speeds up or
        # slows down during the run (other tenants) biases neither way; the target uses the mean
        plan = [("ping", list(range(ping_n)), ping), ("join", people, join),
                ("answer", people, answer), ("submit", people, submit), ("ping2", list(range(ping_n)), ping)]
        for phase, items, work in plan:
            if time.monotonic() > deadline:
                print(f"time limit reached before {phase}", flush=True)
                break
            profiler = None
            if args.profile_dir:
                profiler = Profiler(args.py_spy, Path(args.profile_dir), server.worker_pids(), phase)
            before = meter.sample()
            del samples[:]
            start, end, left = run_pool(args.concurrency, items, work, deadline)
            after = meter.sample()
            if profiler:
                profiler.stop()
                profiles[phase] = profiler.report()
            results[phase] = summarise(phase, list(samples), start, end)
            results[phase]["left"] = left
            wall = after["wall"] - before["wall"]
            cpu[phase] = {k: (after[k] - before[k]) / wall * 100 for k in ("client", "server", "postgres", "busy")}
            cpu[phase]["other"] = max(0.0, cpu[phase]["busy"] - cpu[phase]["client"] - cpu[phase]["server"]
                                      - cpu[phase]["postgres"])
            r = results[phase]
            print(f"  {phase:<7} {r['requests']:>6} requests in {r['wall']:6.2f} s  {r['rps']:7.0f} req/s  "
                  f"p99 {r['p99']:6.1f} ms  errors {r['errors']}"
                  + (f" {r['by_status']}" if r["errors"] else "") + (f"  ({left} not run)" if left else ""),
                  flush=True)
    except Exception as exc:
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
        server.stop()
        tail = server.log_path.read_text(errors="replace")[-3000:] if server.log_path.exists() else ""
        print(tail, file=sys.stderr)
        return 1
    finally:
        server.stop()

    errors_in_log = [line for line in server.log_path.read_text(errors="replace").splitlines()
                     if "Traceback" in line or "[ERROR]" in line or "WORKER TIMEOUT" in line]

    # ---------------------------------------------------------------- report
    print()
    print(f"{'endpoint':<28}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'errors':>8}   CPU % client/gunicorn/postgres/other")
    labels = {"ping": "GET  /api/v1/ping", "join": "POST /join/<code>",
              "answer": "PUT  /attempts/…/answers/…", "submit": "POST /attempts/…/submit",
              "ping2": "GET  /api/v1/ping (again)"}
    for phase in PHASES:
        if phase not in results:
            continue
        r, c = results[phase], cpu[phase]
        print(f"{labels[phase]:<28}{r['requests']:>9}{r['rps']:>9.0f}{r['p50']:>9.1f}{r['p95']:>9.1f}"
              f"{r['p99']:>9.1f}{r['max']:>9.1f}{r['errors']:>8}   "
              f"{c['client']:.0f}/{c['server']:.0f}/{c['postgres']:.0f}/{c['other']:.0f}")
    for phase in PHASES:
        if results.get(phase, {}).get("errors"):
            print(f"  {phase} errors by status (0 = connection error): {results[phase]['by_status']}")
    if errors_in_log:
        print(f"gunicorn log: {len(errors_in_log)} error lines, e.g. {errors_in_log[0][:200]} ({server.log_path})")
    for phase, text in profiles.items():
        print(f"\npy-spy, {phase} phase (throughput above is lowered by the sampling):\n{text}")

    problems = check_integrity(url, secret, people)
    print(f"\nintegrity: {problems[0]}")
    for line in problems[1:21]:
        print(f"  PROBLEM {line}")
    if len(problems) > 21:
        print(f"  … and {len(problems) - 21} more")
    joined = sum(1 for p in people if p.attempt_id)
    integrity_ok = len(problems) == 1
    unfinished = [phase for phase in PHASES if phase not in results or results[phase]["left"]]
    if unfinished:
        print(f"  time limit: phases not (fully) run: {', '.join(unfinished)}")
    if joined != args.participants:
        print(f"  only {joined} of {args.participants} participants could join")

    total_errors = sum(r["errors"] for r in results.values())
    pings = [results[phase]["rps"] for phase in ("ping", "ping2") if phase in results]
    ping_rps = sum(pings) / len(pings) if pings else 0
    ans = results.get("answer", {})
    ratio = ans.get("rps", 0) / ping_rps if ping_rps else 0
    targets = [
        (f"answer-save throughput ≥ 50 % of ping ({ans.get('rps', 0):.0f} / {ping_rps:.0f} = {ratio:.0%}; ping is "
         f"the mean of {' and '.join(f'{x:.0f}' for x in pings)} req/s, before and after)", ratio >= 0.5),
        (f"answer-save p99 < 100 ms ({ans.get('p99', float('nan')):.1f} ms)", ans.get("p99", 1e9) < 100),
        (f"0 errors ({total_errors})", total_errors == 0),
        ("every acknowledged answer in the database, submitted attempts graded", integrity_ok),
    ]
    print("\ntargets:")
    for text, ok in targets:
        print(f"  {'PASS' if ok else 'MISS'}  {text}")
    print(f"\nCPU % is of one core ({os.cpu_count()} cores = {100 * (os.cpu_count() or 1)} %); 'other' = every "
          "other process on the machine (should be near 0 for a clean run).")
    print(f"(participants {args.participants}, concurrency {args.concurrency}, {args.workers} × {args.worker_class} "
          f"workers{' × %d threads' % args.threads if args.worker_class == 'gthread' else ''}, "
          f"{'keep-alive' if args.keep_alive else 'Connection: close'}, database {info['dialect']}, "
          f"bank {args.bank}; log {server.log_path})")
    return 0 if integrity_ok else 1


if __name__ == "__main__":
    sys.exit(main())
