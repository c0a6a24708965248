"""In-process cost of answer-save against the hello-world endpoint (no HTTP server, no client).

Usage:
    .venv/bin/python bench/bench_inprocess.py [--database-url postgresql://postgres@127.0.0.1/test | sqlite]
        [--requests 3000] [--rounds 3] [--no-fast-lane] [--profile join|answer]

bench_load.py measures the whole participant path under gunicorn, where the load generator,
gunicorn, the workers and PostgreSQL share the machine's two cores, so its figures move with
everything else on the box. This script isolates the application: it calls the WSGI app directly
(`app(environ, start_response)`) in one thread and reports, per request, the wall time and the
CPU time of this process for

  ping    GET /api/v1/ping (the hello-world baseline),
  answer  PUT /api/v1/attempts/<id>/answers/<qid> with a valid token, rotating over 12 answer
          sheets (the per-sheet rate limit is still checked on every save, but raised to
          1,000,000/minute here so thousands of saves a second are not refused),
  clock   GET /api/v1/attempts/<id>/clock, what every open answer sheet polls every 3–5 s.
  join    POST /api/v1/join/<code>, a new person (phone) per request (the join lane unless
          --no-join-lane; the per-address join limit is raised, as every request comes from one
          address), with the SQL statements per join counted.

The answer's wall time includes the round trip and durable commit in the database; its CPU time
is what a worker spends. With --no-fast-lane every save goes through Flask (ANSWER_FAST_LANE off);
with --no-join-lane every join does (JOIN_LANE off). --redis-url sets REDIS_URL (events shared, as in
production: the bank pool is then not re-validated every second).

Like bench_load.py, it DROPS and rebuilds the schema `public` of the PostgreSQL database it is
given (or uses a throwaway SQLite file with `--database-url sqlite`).
"""
from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_load import DEFAULT_PG, UNITS, prepare_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_PG, help="PostgreSQL URL (schema public is dropped!) or 'sqlite'")
    parser.add_argument("--requests", type=int, default=3000, help="requests per endpoint and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-fast-lane", action="store_true", help="send every save through Flask")
    parser.add_argument("--no-join-lane", action="store_true", help="send every join through Flask")
    parser.add_argument("--redis-url", default=None, help="REDIS_URL for the app (e.g. redis://127.0.0.1:6379/7)")
    parser.add_argument("--profile", choices=("join", "answer"),
                        help="after the rounds, profile one more round of this endpoint (cProfile, CPU clock) "
                             "and print the top functions")
    args = parser.parse_args()

    url = args.database_url
    if url == "sqlite":
        url = "sqlite:///" + str(Path(tempfile.mkdtemp(prefix="bench_inprocess-")) / "bench.sqlite3")
    secret = "bench-inprocess-" + "x" * 24
    info = prepare_database(url, "generated", 2000, 3600, secret)

    from werkzeug.test import EnvironBuilder

    from quiz import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret,
                      "ANSWER_FAST_LANE": not args.no_fast_lane, "ANSWER_LIMIT": "1000000/minute",
                      "JOIN_LANE": not args.no_join_lane, "JOIN_LIMIT_PER_ADDRESS": "100000000/minute",
                      **({"REDIS_URL": args.redis_url} if args.redis_url else {})})
    client = app.test_client()
    rnd = random.Random(7)
    sheets = []
    for i in range(12):
        response = client.post(f"/api/v1/join/{info['join_code']}",
                               json={"name": f"测试{i}", "phone": f"1390000{i:04d}", "unit": UNITS[i % len(UNITS)]})
        if response.status_code not in (200, 201):
            raise SystemExit(f"join failed: {response.status_code} {response.json}")
        body = response.json
        question = next(q for q in body["questions"] if q["type"] == "single")
        sheets.append((body["attempt_id"], body["token"], question["id"]))

    def environ(method: str, path: str, body=None, headers=None):
        env = EnvironBuilder(path=path, method=method, json=body, headers=headers or {},
                             environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()
        return env, (env["wsgi.input"].read() if body is not None else b"")

    def start_response(status, headers, exc_info=None):
        start_response.status = status

    def run(requests: list, n: int, created: bool = False) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            env, raw = requests[i % len(requests)]
            env = dict(env)
            env["wsgi.input"] = io.BytesIO(raw)
            b"".join(app(env, start_response))
            if not start_response.status.startswith("201" if created else "200"):
                raise SystemExit(f"unexpected {start_response.status} for {env['PATH_INFO']}")
        return (time.perf_counter() - wall) / n * 1000, (time.process_time() - cpu) / n * 1000

    pings = [environ("GET", "/api/v1/ping")]
    answers = [environ("PUT", f"/api/v1/attempts/{aid}/answers/{qid}", {"response": rnd.choice("ABCD")},
                       {"Authorization": f"Bearer {token}"}) for aid, token, qid in sheets]
    clocks = [environ("GET", f"/api/v1/attempts/{aid}/clock", headers={"Authorization": f"Bearer {token}"})
              for aid, token, _qid in sheets]
    joins = [environ("POST", f"/api/v1/join/{info['join_code']}",
                     {"name": f"压测{i}", "phone": f"13{i:09d}", "unit": UNITS[i % len(UNITS)]})
             for i in range((args.rounds + 1) * args.requests + 200)]
    statements = [0]
    from sqlalchemy import event

    from quiz.extensions import db

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute",
                     lambda *a: statements.__setitem__(0, statements[0] + 1))

    def run_joins(n: int) -> tuple[float, float]:
        batch, joins[:] = joins[:n], joins[n:]
        before = statements[0]
        wall, cpu = run(batch, n, created=True)
        figures_statements.append((statements[0] - before) / n)
        return wall, cpu

    figures_statements: list[float] = []
    run(pings, 200)
    run(answers, 60)  # warm: caches, prepared statements
    run(clocks, 60)
    run_joins(100)
    figures_statements.clear()
    figures = {"ping": [], "answer": [], "clock": [], "join": []}
    for _ in range(args.rounds):
        figures["ping"].append(run(pings, args.requests))
        figures["answer"].append(run(answers, args.requests))
        figures["clock"].append(run(clocks, args.requests))
        figures["join"].append(run_joins(args.requests))

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        if args.profile == "join":
            run_joins(args.requests)
        else:
            run(answers, args.requests)
        profiler.disable()
        stats = pstats.Stats(profiler)
        for order in ("tottime", "cumulative"):
            stats.sort_stats(order).print_stats(35)

    print(f"database {info['dialect']}, fast lane {'off' if args.no_fast_lane else 'on'}, "
          f"join lane {'off' if args.no_join_lane else 'on'}, REDIS_URL {args.redis_url or 'unset'}, "
          f"{args.rounds} rounds × {args.requests} requests each")
    print(f"{'endpoint':<10}{'wall ms/req':>14}{'CPU ms/req':>13}   (median of rounds; all rounds: wall / CPU)")
    for name, rows in figures.items():
        walls, cpus = [w for w, _ in rows], [c for _, c in rows]
        print(f"{name:<10}{statistics.median(walls):>14.3f}{statistics.median(cpus):>13.3f}   "
              + ", ".join(f"{w:.3f}/{c:.3f}" for w, c in rows))
    ping_cpu = statistics.median(c for _, c in figures["ping"])
    answer_cpu = statistics.median(c for _, c in figures["answer"])
    print(f"answer-save CPU = {answer_cpu / ping_cpu:.2f} × ping CPU")
    clock_cpu = statistics.median(c for _, c in figures["clock"])
    print(f"sheet clock CPU = {clock_cpu / ping_cpu:.2f} × ping CPU")
    join_cpu = statistics.median(c for _, c in figures["join"])
    print(f"join CPU = {join_cpu / ping_cpu:.2f} × ping CPU; SQL statements per join (rounds): "
          + ", ".join(f"{n:.1f}" for n in figures_statements))
    return 0


if __name__ == "__main__":
    sys.exit(main())
