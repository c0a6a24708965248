"""Read path under a crowd: the public board (JSON, page, big screen) and joining, each beside a
bare Flask hello-world served by its own gunicorn with the same worker settings, in one run.

Usage:
    .venv/bin/python bench/bench_boards.py --database-url sqlite            # throwaway SQLite file
    .venv/bin/python bench/bench_boards.py --database-url postgresql://postgres@127.0.0.1/test_boards
        [--sheets 300] [--workers 2] [--worker-class gthread|sync|gevent] [--threads 8]
        [--connections 32] [--seconds 8] [--redis-url redis://127.0.0.1:6379/7 | --no-redis]
        [--only board-json board-page …] [--modes keep-alive close] [--surge 5000] [--no-join-lane] [--no-join-group]

What one run does:
 1. Prepares the database exactly as bench_load.py does (a PostgreSQL URL's schema `public` is
    DROPPED and rebuilt; `sqlite` is a temp file), then seats --sheets people through the
    services (join, answer a random share of the questions right, submit), so the board has that
    many submitted sheets with spread scores and times.
 2. Starts two gunicorns with the same worker settings: the app (`quiz:create_app()`, REDIS_URL
    set unless --no-redis) and bench/hello_app.py (a bare Flask hello-world).
 3. For each endpoint and connection mode runs wrk (`apt-get install wrk`) for --seconds with
    --connections in flight: keep-alive, and `Connection: close` (what nginx sends upstream by
    default). The hello-world runs first and last in each mode; every ratio is against the mean of
    the two. CPU seconds of the gunicorn workers (and PostgreSQL, Redis) during each run are read
    from /proc and divided by the requests served: CPU time per request is the figure to compare
    when other work on the machine makes wall time noisy.
      hello       GET /                              (bare Flask, its own gunicorn)
      ping        GET /api/v1/ping                   (the app's own cheapest route)
      board-json  GET /api/v1/quizzes/<id>/leaderboard
      board-page  GET /board/<id>
      screen      GET /board/<id>/screen
      join        POST /api/v1/join/<code>          (a new phone number per request)
 With --surge N, first N new people join at once (--connections in flight, keep-alive) and the time
    until the last is in is printed: the start-of-contest surge (issue 9: 5,000 in under 30 s).
    Every join comes from 127.0.0.1, so JOIN_LIMIT_PER_ADDRESS is raised for the run
    (--join-limit-per-address); it is still counted on every join.
 4. Prints one table (req/s, ratio to hello-world, p50/p90/p99, non-2xx, socket errors, CPU ms
    per request) and the targets: board reads ≥ 50 % of hello-world with p99 < 50 ms; join
    ≥ 15 % of hello-world with p99 < 300 ms (keep-alive rows).

All traffic goes to 127.0.0.1; each wrk run is bounded by --seconds; both gunicorns are always
stopped. Exit status 1 if the run could not be set up.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_load import (CLK, GUNICORN_CONF, Server, cpu_seconds, postgres_pids,  # noqa: E402
                        prepare_database)

ENDPOINTS = ("ping", "board-json", "board-page", "screen", "join")
JOIN_UNITS = ("乔司街道/三角村社区", "乔司街道/永丰村", "伦教街道/荔村")

JOIN_LUA = r"""
-- one new participant per request: phone 1<prefix 2 digits><thread 1 digit><counter 7 digits>
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  prefix = tonumber(args[1]) or 10
  limit = tonumber(args[2]) or 0  -- with --surge: this thread's share of the joins, then stop
  counter = 0
  answered = 0
end
function request()
  counter = counter + 1
  local phone = string.format("1%02d%d%07d", prefix, tid % 10, counter)
  local body = '{"name":"压测' .. tid .. '_' .. counter .. '","phone":"' .. phone ..
               '","unit":"%UNIT%"}'
  return wrk.format("POST", wrk.path, {["Content-Type"] = "application/json",
                                       ["Accept"] = "application/json"}, body)
end
"""
# With --surge only: each wrk thread stops after its share. A script with a response() makes wrk
# hand every response's headers and body to Lua, client CPU taken from the same two cores: the timed
# runs use the script without it.
JOIN_LUA_STOP = r"""
function response(status, headers, body)
  answered = answered + 1
  if limit > 0 and answered >= limit then
    wrk.thread:stop()
  end
end
"""


def seat_sheets(url: str, secret: str, quiz_id: int, sheets: int, seed: int) -> None:
    """`sheets` people join, answer a random share of their questions right and submit."""
    from quiz import create_app
    from quiz.extensions import db
    from quiz.models import Quiz
    from quiz.services import attempts as svc
    from quiz.questions import get_type
    from quiz.questions.blank import split_blanks
    from quiz.services.attempts import questions_by_id

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret})
    rnd = random.Random(seed)
    start = datetime.now(timezone.utc) - timedelta(minutes=30)
    with app.app_context(), app.test_request_context():
        quiz = db.session.get(Quiz, quiz_id)
        for i in range(sheets):
            t0 = start + timedelta(seconds=rnd.randint(0, 600))
            attempt = svc.join(quiz, name=f"选手{i:05d}", phone=f"137{i:08d}", unit_path=rnd.choice(JOIN_UNITS),
                               now=t0, rng=random.Random(seed + i)).attempt
            questions = questions_by_id([e["q"] for e in attempt.paper])
            ability = rnd.random()
            for entry in attempt.paper:
                q = questions[entry["q"]]
                if rnd.random() > ability:
                    continue
                if q.type in ("single", "multi"):
                    response = get_type(q.type).to_shown(q.answer, entry["order"])
                elif q.type == "blank":
                    response = [b.split(";")[0] if isinstance(b, str) else b[0] for b in split_blanks(q.answer)]
                else:
                    response = q.answer
                svc.save_answer(attempt, q.id, response, now=t0 + timedelta(seconds=5))
            svc.submit(attempt, now=t0 + timedelta(seconds=rnd.randint(60, 1200)))
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


def surge_span(url: str) -> tuple[int, float]:
    """(sheets started by surge phones 190…, seconds from the first start to the last)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        row = conn.execute(text("SELECT count(*), min(a.started_at), max(a.started_at) FROM attempt a "
                                "JOIN participant p ON p.id = a.participant_id WHERE p.phone LIKE '190%'")).one()
    engine.dispose()
    first, last = (datetime.fromisoformat(str(v)) if v is not None else None for v in row[1:])
    return row[0], (last - first).total_seconds() if first and last else float("nan")


def redis_pids() -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip().startswith("redis-server"):
                    out.append(int(entry))
            except OSError:
                pass
    return out


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def run_wrk(port: int, path: str, *, connections: int, seconds: float, threads: int, close: bool,
            script: str | None = None, script_args: tuple[str, ...] = ()) -> dict:
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, int(seconds))}s", "--latency", "--timeout", "10s"]
    if close:
        cmd += ["-H", "Connection: close"]
    if script:
        cmd += ["-s", script]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    if script_args:
        cmd += ["--", *script_args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    result = {"requests": 0, "rps": 0.0, "non2xx": 0, "socket": "", "raw": out}
    for line in out.splitlines():
        line = line.strip()
        m = re.match(r"(50|75|90|99)%\s+(\S+)", line)
        if m:
            result[f"p{m.group(1)}"] = _ms(m.group(2))
        elif line.startswith("Requests/sec:"):
            result["rps"] = float(line.split()[1])
        elif re.match(r"\d+ requests in", line):
            result["requests"] = int(line.split()[0])
        elif line.startswith("Non-2xx or 3xx responses:"):
            result["non2xx"] = int(line.split(":")[1])
        elif line.startswith("Socket errors:"):
            result["socket"] = line.split(":", 1)[1].strip()
    return result


class Cpu:
    """CPU seconds of a server's workers, PostgreSQL and Redis, sampled around a wrk run."""

    def __init__(self, server: Server, postgres: bool):
        self.server, self.postgres = server, postgres

    def sample(self) -> dict:
        return {"workers": cpu_seconds(self.server.worker_pids()),
                "postgres": cpu_seconds(postgres_pids()) if self.postgres else 0.0,
                "redis": cpu_seconds(redis_pids())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--database-url", default="sqlite",
                        help="'sqlite' (a temp file) or a PostgreSQL URL whose schema public is DROPPED")
    parser.add_argument("--sheets", type=int, default=300, help="submitted sheets on the board (300)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--gunicorn-conf", default=str(GUNICORN_CONF),
                        help="gunicorn config file of both servers (the deployment's; '' for none)")
    parser.add_argument("--connections", "-c", type=int, default=32, help="requests in flight (32)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=8, help="length of each wrk run (8)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7",
                        help="REDIS_URL for the app (events and caches across workers)")
    parser.add_argument("--no-redis", action="store_true", help="run the app without REDIS_URL")
    parser.add_argument("--no-lane", action="store_true",
                        help="BOARD_LANE off: every board read goes through Flask (as with a session cookie)")
    parser.add_argument("--no-join-lane", action="store_true",
                        help="JOIN_LANE off: every join goes through Flask (as with a session cookie)")
    parser.add_argument("--no-join-group", action="store_true",
                        help="JOIN_GROUP_COMMIT off: the lane commits each join alone")
    parser.add_argument("--join-limit-per-address", default="1000000/minute",
                        help="JOIN_LIMIT_PER_ADDRESS for the run (every join comes from 127.0.0.1)")
    parser.add_argument("--surge", type=int, default=0,
                        help="first, N new people join with --connections in flight; prints how long it took")
    parser.add_argument("--only", nargs="+", choices=ENDPOINTS, default=list(ENDPOINTS))
    parser.add_argument("--modes", nargs="+", choices=("keep-alive", "close"), default=["keep-alive", "close"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="print the wrk output of every run")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1

    secret = "bench-" + os.urandom(8).hex()
    tmp = Path(tempfile.mkdtemp(prefix="bench_boards-"))
    url = f"sqlite:///{tmp}/bench.sqlite3" if args.database_url == "sqlite" else args.database_url
    print(f"preparing {url.split('://')[0]}: bank, units, an open quiz and {args.sheets} submitted sheets …",
          flush=True)
    started = time.perf_counter()
    info = prepare_database(url, "generated", 2000, 7200, secret)
    seat_sheets(url, secret, info["quiz_id"], args.sheets, args.seed)
    print(f"  ready in {time.perf_counter() - started:.0f} s: quiz {info['quiz_id']}, join code {info['join_code']}",
          flush=True)

    extra = {} if args.no_redis else {"REDIS_URL": args.redis_url}
    # wrk sends every join from 127.0.0.1: the per-address join limit (5,000/minute, for one office
    # NAT) would refuse most of them; it is raised, and still counted on every join
    extra["FLASK_JOIN_LIMIT_PER_ADDRESS"] = args.join_limit_per_address
    if args.no_join_lane:
        extra["FLASK_JOIN_LANE"] = "false"
    if args.no_join_group:
        extra["FLASK_JOIN_GROUP_COMMIT"] = "false"
    if args.no_lane:
        extra["FLASK_BOARD_LANE"] = "false"
    app = Server(url, secret, args.workers, args.worker_class, args.threads, tmp / "app.log", extra,
                 conf=args.gunicorn_conf)
    hello = Server(url, secret, args.workers, args.worker_class, args.threads, tmp / "hello.log", {},
                   app="bench.hello_app:app", ready_path="/", conf=args.gunicorn_conf)
    script = tmp / "join.lua"
    script.write_text(JOIN_LUA.replace("%UNIT%", JOIN_UNITS[0]))
    surge_script = tmp / "join_surge.lua"
    surge_script.write_text(JOIN_LUA.replace("%UNIT%", JOIN_UNITS[0]) + JOIN_LUA_STOP)
    quiz_id = info["quiz_id"]
    paths = {"hello": "/", "ping": "/api/v1/ping", "board-json": f"/api/v1/quizzes/{quiz_id}/leaderboard",
             "board-page": f"/board/{quiz_id}", "screen": f"/board/{quiz_id}/screen",
             "join": f"/api/v1/join/{info['join_code']}"}
    rows: list[dict] = []
    join_runs = 0
    try:
        app.wait_ready(args.workers)
        hello.wait_ready(args.workers, )
        postgres = info["dialect"] == "postgresql"
        meters = {"app": Cpu(app, postgres), "hello": Cpu(hello, postgres)}
        # warm-up (not measured): workers, connections, the board snapshot, template caches
        for name in ("board-json", "board-page", "screen", "ping"):
            run_wrk(app.port, paths[name], connections=4, seconds=1, threads=1, close=False)
        run_wrk(hello.port, "/", connections=4, seconds=1, threads=1, close=False)
        print(f"gunicorn ×2: {' '.join(app.cmd[2:-1])}; app env: {extra or 'no REDIS_URL'}", flush=True)
        if args.surge:
            # N people join at once (--connections in flight) on a fresh quiz state: how long until
            # every one of them is in (wrk stops each thread after its share)
            before = meters["app"].sample()
            share = -(-args.surge // args.wrk_threads)
            # wrk runs for its whole -d even when every thread has stopped: the time the surge took is read
            # from the sheets (first and last start of a surge phone, 190…)
            r = run_wrk(app.port, paths["join"], connections=args.connections, seconds=60, threads=args.wrk_threads,
                        close=False, script=str(surge_script), script_args=("90", str(share)))
            after = meters["app"].sample()
            joined, elapsed = surge_span(url)
            surge = {"requests": joined, "elapsed": elapsed, "p99": r.get("p99"), "non2xx": r["non2xx"],
                     "cpu": {k: (after[k] - before[k]) * 1000 / max(joined, 1) for k in after}}
            print(f"  surge: {surge['requests']} joins in {elapsed:.1f} s ({surge['requests'] / elapsed:.0f}/s), "
                  f"p99 {surge['p99']:.1f} ms, non-2xx {surge['non2xx']}, CPU/join workers "
                  f"{surge['cpu']['workers']:.3f} ms, PostgreSQL {surge['cpu']['postgres']:.3f} ms", flush=True)
        for mode in args.modes:
            plan = ["hello", *args.only, "hello"]
            for name in plan:
                server = hello if name == "hello" else app
                meter = meters["hello" if name == "hello" else "app"]
                script_args: tuple[str, ...] = ()
                if name == "join":
                    join_runs += 1
                    script_args = (str(30 + join_runs),)
                before = meter.sample()
                r = run_wrk(server.port, paths[name], connections=args.connections, seconds=args.seconds,
                            threads=args.wrk_threads, close=mode == "close",
                            script=str(script) if name == "join" else None, script_args=script_args)
                after = meter.sample()
                served = max(r["requests"], 1)
                r.update(endpoint=name, mode=mode,
                         cpu_ms={k: (after[k] - before[k]) * 1000 / served for k in after})
                rows.append(r)
                print(f"  {mode:<10} {name:<11} {r['rps']:8.0f} req/s  p50 {r.get('p50', float('nan')):7.2f} ms  "
                      f"p99 {r.get('p99', float('nan')):7.2f} ms  non-2xx {r['non2xx']}  {r['socket']}  "
                      f"CPU/req workers {r['cpu_ms']['workers']:.3f} ms", flush=True)
                if args.keep:
                    print(r["raw"])
    except Exception as exc:  # noqa: BLE001
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
        for server in (app, hello):
            if server.log_path.exists():
                print(server.log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
        return 1
    finally:
        app.stop()
        hello.stop()

    errors_in_log = [line for line in (tmp / "app.log").read_text(errors="replace").splitlines()
                     if "Traceback" in line or "[ERROR]" in line or "WORKER TIMEOUT" in line]
    print()
    print("| mode | endpoint | req/s | ratio to hello-world | p50 ms | p90 ms | p99 ms | non-2xx | socket errors "
          "| CPU ms/request: workers / PostgreSQL / Redis |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    hello_rps = {}
    for mode in args.modes:
        runs = [r["rps"] for r in rows if r["mode"] == mode and r["endpoint"] == "hello"]
        hello_rps[mode] = sum(runs) / len(runs) if runs else 0.0
    for r in rows:
        ratio = r["rps"] / hello_rps[r["mode"]] if hello_rps[r["mode"]] else 0.0
        r["ratio"] = ratio
        c = r["cpu_ms"]
        print(f"| {r['mode']} | {r['endpoint']} | {r['rps']:,.0f} | {ratio:.0%} | {r.get('p50', float('nan')):.2f} | "
              f"{r.get('p90', float('nan')):.2f} | {r.get('p99', float('nan')):.2f} | {r['non2xx']} | "
              f"{r['socket'] or '0'} | {c['workers']:.3f} / {c['postgres']:.3f} / {c['redis']:.3f} |")
    print()
    print("targets (keep-alive rows; hello-world = the mean of its two runs in the same mode):")
    for r in rows:
        if r["mode"] != "keep-alive" or r["endpoint"] in ("hello", "ping"):
            continue
        if r["endpoint"] == "join":
            ok = r["ratio"] >= 0.15 and r.get("p99", 1e9) < 300 and not r["non2xx"]
            text = f"join ≥ 15 % of hello-world ({r['ratio']:.0%}), p99 < 300 ms ({r.get('p99', float('nan')):.1f})"
        else:
            ok = r["ratio"] >= 0.5 and r.get("p99", 1e9) < 50 and not r["non2xx"]
            text = (f"{r['endpoint']} ≥ 50 % of hello-world ({r['ratio']:.0%}), p99 < 50 ms "
                    f"({r.get('p99', float('nan')):.1f}), all 2xx ({r['non2xx']} not)")
        print(f"  {'PASS' if ok else 'MISS'}  {text}")
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end: {load} ({os.cpu_count()} cores); CPU ms/request counts the server's "
          f"workers only (the client, wrk, shares the cores); clock ticks {CLK}/s")
    print(f"({info['dialect']}, {args.sheets} sheets, {args.workers} × {args.worker_class}"
          f"{' × %d threads' % args.threads if args.worker_class == 'gthread' else ''}, {args.connections} "
          f"connections, {args.seconds:g} s per run; logs in {tmp})")
    if errors_in_log:
        print(f"app log: {len(errors_in_log)} error lines, e.g. {errors_in_log[0][:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
