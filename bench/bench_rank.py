"""The board snapshot and the rank on the result page at scale (issue 9), in one process.

Usage:
    .venv/bin/python bench/gen_attempts.py --database-url URL            # first: 100,000 sheets
    REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/bench_rank.py --database-url URL
        [--repeat 200] [--surge 300]

On the newest quiz of the database (bench/gen_attempts.py makes one with 100,000 sheets) it times,
each with its median / p95 wall time and median CPU time per call:
  snapshot_build     building the quiz's board snapshot from the database (what a process pays once,
                     and after a regrade, an exclusion, a freeze or a close)
  board_read         a public board read once the response is stored (what every phone pays):
                     the snapshot lookup and the stored bytes (ranking.peek_snapshot, get_rendered)
  board_render       the first read after a change: the top 100 from the snapshot as JSON
  rank_of            ranking.rank_of(a sheet in the middle) from the snapshot: every submit's result
  rank_of_sql        the same in SQL (a count over the counted sheets: the code before issue 9)
  board_version      ranking.board_version: one Redis GET with REDIS_URL, else the count query
  board_version_sql  the count query itself (what every board read paid before issue 9)
and then a surge: --surge people sit the quiz again (it is reopened for an hour: THE DATABASE IS
CHANGED) and submit one after another, each submit timed as the submit endpoint runs it (grade,
commit, events, result with rank_of); the snapshot takes each sheet in place (no rebuild).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(fn, repeat: int) -> dict:
    walls, cpus = [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    walls.sort()
    return {"median": statistics.median(walls) * 1000, "p95": walls[int(0.95 * (len(walls) - 1))] * 1000,
            "cpu": statistics.median(cpus) * 1000, "n": repeat}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--surge", type=int, default=300, help="people who sit again and submit (0: none)")
    args = parser.parse_args()

    from sqlalchemy import func, select

    from quiz import create_app, events
    from quiz.extensions import db
    from quiz.models import Attempt, Quiz
    from quiz.services import attempts as svc
    from quiz.services import ranking

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url, "SECRET_KEY": "bench"})
    results: dict[str, dict] = {}
    with app.app_context(), app.test_request_context():
        hub = events.get_hub()
        deadline = time.monotonic() + 10
        while os.environ.get("REDIS_URL") and not hub.shared() and time.monotonic() < deadline:
            time.sleep(0.05)
        quiz_id = db.session.scalar(select(func.max(Quiz.id)))
        quiz = db.session.get(Quiz, quiz_id)
        sheets = db.session.scalar(select(func.count()).select_from(Attempt).where(
            Attempt.quiz_id == quiz_id, Attempt.status == "submitted"))
        print(f"{db.engine.dialect.name}: quiz {quiz_id}, {sheets:,} submitted sheets; events "
              f"{'Redis, listener connected' if hub.shared() else type(hub).__name__}", flush=True)
        middle = db.session.scalar(select(Attempt.id).where(Attempt.quiz_id == quiz_id, Attempt.status == "submitted")
                                   .order_by(Attempt.score.desc()).offset(sheets // 2).limit(1))
        attempt = db.session.get(Attempt, middle)

        def build():
            ranking._store().clear()
            ranking.board_snapshot(quiz_id)

        results["snapshot_build"] = measure(build, max(3, args.repeat // 40))
        snapshot = ranking.board_snapshot(quiz_id)
        now = datetime.now(timezone.utc)
        key = snapshot.rendered_key(now, "json", "zh_CN", "")

        def render():
            entries, _n = snapshot.entries(datetime.now(timezone.utc), limit=100)
            return app.json.dumps({"entries": entries}, default=str).encode()

        snapshot.put_rendered(key, ("application/json", render()))

        def read():
            found = ranking.peek_snapshot(app, quiz_id)
            assert found.get_rendered(found.rendered_key(now, "json", "zh_CN", "")) is not None

        results["board_read"] = measure(read, args.repeat * 10)
        results["board_render"] = measure(render, args.repeat)
        assert ranking.rank_of(attempt, now=now) is not None
        results["rank_of"] = measure(lambda: ranking.rank_of(attempt, now=now), args.repeat)

        def rank_sql():
            counted = ranking.counted_attempts(quiz)
            db.session.scalar(select(func.count()).select_from(counted).where(
                counted.c.participant_id != attempt.participant_id, ranking.beats(counted, attempt)))

        results["rank_of_sql"] = measure(rank_sql, max(5, args.repeat // 20))
        results["board_version"] = measure(lambda: ranking.board_version(quiz, None), args.repeat)
        shared = hub.shared
        hub.shared = lambda: False
        results["board_version_sql"] = measure(lambda: ranking.board_version(quiz, None), max(5, args.repeat // 10))
        hub.shared = shared
        db.session.rollback()

        surge = {}
        if args.surge:
            quiz.closes_at = datetime.now(timezone.utc) + timedelta(hours=1)
            quiz.attempts_allowed = 0
            db.session.commit()
            people = list(db.session.execute(select(Attempt.participant_id).where(
                Attempt.quiz_id == quiz_id).group_by(Attempt.participant_id).limit(args.surge)).scalars())
            from quiz.models import Participant

            opened = []
            for pid in people:
                person = db.session.get(Participant, pid)
                opened.append(svc.join(quiz, name=person.name, phone=person.phone, unit_path=None,
                                       now=datetime.now(timezone.utc)).attempt.id)
                db.session.commit()
            builds_before = snapshot_builds = []
            real = ranking._build_snapshot
            ranking._build_snapshot = lambda row: snapshot_builds.append(1) or real(row)
            walls, cpus, ranks = [], [], []
            for attempt_id in opened:
                c0, t0 = time.process_time(), time.perf_counter()
                sheet = db.session.get(Attempt, attempt_id)
                svc.submit(sheet, now=datetime.now(timezone.utc))
                db.session.commit()
                payload = svc.result_payload(sheet, now=datetime.now(timezone.utc))
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
                assert payload["rank"] is not None
                r0 = time.perf_counter()
                assert ranking.rank_of(sheet, now=datetime.now(timezone.utc)) == payload["rank"]
                ranks.append(time.perf_counter() - r0)
                db.session.remove()
            ranking._build_snapshot = real
            surge = {"n": len(opened), "submit": statistics.median(walls) * 1000,
                     "submit_p95": sorted(walls)[int(0.95 * (len(walls) - 1))] * 1000,
                     "cpu": statistics.median(cpus) * 1000, "rank": statistics.median(ranks) * 1000,
                     "rank_p95": sorted(ranks)[int(0.95 * (len(ranks) - 1))] * 1000,
                     "rebuilds": len(builds_before)}
        db.session.remove()

    print("\n| operation | median ms | p95 ms | CPU ms (median) | calls |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['median']:.3f} | {r['p95']:.3f} | {r['cpu']:.3f} | {r['n']} |")
    if surge:
        print(f"\nsurge: {surge['n']} submits one after another: submit (grade + commit + events + result) median "
              f"{surge['submit']:.1f} ms (p95 {surge['submit_p95']:.1f}, CPU {surge['cpu']:.1f}); rank_of alone "
              f"median {surge['rank']:.3f} ms (p95 {surge['rank_p95']:.3f}); snapshot rebuilds during the surge: "
              f"{surge['rebuilds']}")
    ok = results["rank_of"]["median"] < 5 and results["board_read"]["median"] < 5
    print(f"\ntargets at this size: rank_of < 5 ms ({results['rank_of']['median']:.3f}) and a board read < 5 ms "
          f"({results['board_read']['median']:.3f}): {'PASS' if ok else 'MISS'}")
    print(f"load average: {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
