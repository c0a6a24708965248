"""The host's `close` of a 共答 question with thousands of phones, in process (no HTTP server).

Usage:
    .venv/bin/python bench/bench_live_close.py --database-url postgresql://postgres@127.0.0.1/bench_close \\
        [--phones 5000] [--teams 100 | --mode individuals] [--questions 5] [--via api|console] [--profile]
    .venv/bin/python bench/bench_live_close.py --database-url sqlite

bench_live.py measures the whole push (gunicorn, 5,000 SSE streams, clients); its "host's close
request" figure is one HTTP request of the host, and it moves with everything else on the box. This
script isolates that request:

 1. Builds one live contest with bench_live.py's `build_contest` and `seat` (its contest layout:
    a 共答 round of 20 single-choice questions with speed scoring and a 抢答 round of 10, mode teams
    with --teams teams), and seats --phones phones through the join service (bench_live.seat).
    **The schema `public` of a PostgreSQL URL is DROPPED and rebuilt**; `sqlite` is a throwaway
    file. Events stay in the process (no REDIS_URL).
 2. For each of --questions 共答 questions: the host's `next` (opens it) and `start`, through the
    Flask test client; then one answer per phone, stored through the answer-save rule
    (services/answers.py `store`, in one transaction per question; a random letter per phone, so
    about a quarter are right), committed; then the host's `close`, timed: wall time and CPU time
    of this process (the database server's CPU is not in it), and the SQL statements the request
    sent. The reply is checked (status 200, the question closed, "answered" = phones).
 3. Prints each close and the median; with --profile, a cProfile top list of the closes. The
    time spent in Python's garbage collector during each close is shown apart ("gc", and how many
    full collections): a full collection walks every object this process holds, so it lands on
    whichever request happens to allocate at that moment.

--via api: POST /api/v1/live/<id>/host/close with a bearer token (as bench_live.py's host);
--via console: POST /live/<id>/host/close with the session cookie and X-CSRFToken header, as the
host console (static/live/host.js) sends it. Both views run the same service and reply with the
same build (quiz/live_push.py `host_state`).
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_live import LETTERS, SECRET, build_contest, seat  # noqa: E402

ALL_QUESTIONS, BUZZER_QUESTIONS = 20, 10  # bench_live.py's defaults


def build(app, args) -> dict:
    """bench_live.py's contest (build_contest: fresh schema, units, bank, admin with an API token and
    a password, the contest), with the phones seated through the join service (bench_live.seat)."""
    args.all_questions, args.buzzer_questions = ALL_QUESTIONS, BUZZER_QUESTIONS
    info = build_contest(app, args)
    info["phones"] = seat(app, info["contest"], args, info["team_codes"])
    return info


class Host:
    """The host's commands through the Flask test client, as the API or the console sends them."""

    def __init__(self, app, contest_id: int, token: str, via: str):
        self.client = app.test_client()
        self.contest_id, self.via = contest_id, via
        if via == "api":
            self.url = f"/api/v1/live/{contest_id}/host/"
            self.headers = {"Authorization": f"Bearer {token}"}
        else:
            page = self.client.get("/login").get_data(as_text=True)
            form_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
            response = self.client.post("/login", data={"username": "bench-admin", "password": "bench-pass-123",
                                                        "csrf_token": form_token})
            if response.status_code != 302:
                raise SystemExit(f"log-in failed: {response.status_code}")
            page = self.client.get(f"/live/{contest_id}/host").get_data(as_text=True)
            csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
            self.url = f"/live/{contest_id}/host/"
            self.headers = {"Accept": "application/json", "X-CSRFToken": csrf}

    def command(self, name: str) -> dict:
        response = self.client.post(self.url + name, json={}, headers=self.headers)
        if response.status_code != 200:
            raise SystemExit(f"host {name}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        return response.get_json()


def store_answers(app, contest_id: int, phones: list[dict], rnd: random.Random) -> int:
    """One answer per phone to the running question, through the answer-save rule (`store`, which
    checks the sheet and the contest's answer window in its statement), in one transaction."""
    from quiz.extensions import db
    from quiz.models import Question
    from quiz.models.live import LiveContest
    from quiz.models.base import utcnow
    from quiz.services import answers

    with app.app_context():
        contest = db.session.get(LiveContest, contest_id)
        question = db.session.get(Question, contest.window_question_id)
        options = len(question.options)
        stored = 0
        for phone in phones:
            response = answers.canonical(question.type, options, None, rnd.choice(LETTERS[:options]))
            stored += answers.store(db.session, phone["sheet"], question.id, response, utcnow(), live=True)
        db.session.commit()
        db.session.remove()
    return stored


class Collections:
    """Time this process spent in the garbage collector while `on` is set, and its full (oldest
    generation) collections: their cost grows with everything the process holds, so they are
    reported apart from the request's own work."""

    def __init__(self):
        self.on, self.seconds, self.full, self._started = False, 0.0, 0, 0.0
        gc.callbacks.append(self._seen)

    def _seen(self, phase: str, info: dict) -> None:
        if not self.on:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.full += info["generation"] == 2


class Statements:
    """Counts the SQL statements sent on an engine while `on` is set."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.on, self.count = False, 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args) -> None:
        if self.on:
            self.count += 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True,
                        help="PostgreSQL URL (its schema public is DROPPED and rebuilt) or 'sqlite' (a throwaway file)")
    parser.add_argument("--phones", type=int, default=5000)
    parser.add_argument("--mode", choices=("teams", "individuals"), default="teams")
    parser.add_argument("--teams", type=int, default=100)
    parser.add_argument("--questions", type=int, default=5, help=f"共答 questions closed (at most {ALL_QUESTIONS})")
    parser.add_argument("--via", choices=("api", "console"), default="api")
    parser.add_argument("--profile", action="store_true", help="print a cProfile top list of the closes")
    parser.add_argument("--top", type=int, default=30, help="lines of the profile")
    args = parser.parse_args()
    if args.mode == "individuals":
        args.teams = 0
    args.questions = max(1, min(args.questions, ALL_QUESTIONS))

    from quiz import create_app
    from quiz.extensions import db

    url = args.database_url
    if url == "sqlite":
        url = "sqlite:///" + str(Path(tempfile.mkdtemp(prefix="bench_live_close-")) / "bench.sqlite3")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET, "REDIS_URL": None})
    started = time.time()
    info = build(app, args)
    print(f"built the contest ({args.phones} phones, {args.mode}"
          f"{f', {args.teams} teams' if args.mode == 'teams' else ''}) in {time.time() - started:.0f} s "
          f"on {url.split(':', 1)[0]}; closes through the {args.via} view", flush=True)
    host = Host(app, info["contest"], info["token"], args.via)
    with app.app_context():
        statements = Statements(db.engine)
    collections = Collections()
    profiler = cProfile.Profile() if args.profile else None
    rnd = random.Random(7)
    rows = []
    for number in range(1, args.questions + 1):
        host.command("next")
        host.command("start")
        stored = store_answers(app, info["contest"], info["phones"], rnd)
        statements.count, statements.on = 0, True
        collections.seconds, collections.full, collections.on = 0.0, 0, True
        if profiler:
            profiler.enable()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        state = host.command("close")
        wall, cpu = (time.perf_counter() - wall0) * 1000, (time.process_time() - cpu0) * 1000
        if profiler:
            profiler.disable()
        statements.on = collections.on = False
        question = state["question"]
        if question["status"] != "closed" or question["answered"] != stored or stored != args.phones:
            raise SystemExit(f"question {number}: closed state wrong ({question['status']}, answered "
                             f"{question['answered']}, stored {stored} of {args.phones})")
        rows.append((wall, cpu, statements.count, collections.seconds * 1000, collections.full))
        print(f"  close {number:2d}: wall {wall:7.1f} ms  cpu {cpu:7.1f} ms  statements {statements.count:4d}  "
              f"gc {collections.seconds * 1000:5.1f} ms ({collections.full} full)  (answers {stored})", flush=True)
    wall, cpu, count, in_gc = (statistics.median(r[i] for r in rows) for i in range(4))
    own = statistics.median(r[0] - r[3] for r in rows)
    print(f"median of {len(rows)} closes: wall {wall:.1f} ms, cpu {cpu:.1f} ms, {count:.0f} statements, "
          f"gc {in_gc:.1f} ms; wall without gc {own:.1f} ms; max wall {max(r[0] for r in rows):.1f} ms; "
          f"a full collection in {sum(1 for r in rows if r[4])} of them")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
        print(out.getvalue())
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
