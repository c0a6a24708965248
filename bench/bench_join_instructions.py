"""Instructions per join, counted by valgrind (callgrind): a figure that does not move with the load
on a shared box.

Usage:
    .venv/bin/python bench/bench_join_instructions.py [--database-url postgresql://postgres@127.0.0.1/test]
        [--joins 200] [--warm 30] [--gc-freeze] [--keep FILE]

The wall and CPU times of bench_inprocess.py move by 10–30 % from one run to the next on a shared
machine, more than most single changes to the join are worth. This script runs the same in-process
join (`POST /api/v1/join/<code>` through the WSGI app, a new person each time, the join lane and
its group on, the per-address limit raised) under
`valgrind --tool=callgrind --instr-atstart=no`, switches the instruction counting on after `--warm`
joins (connections, caches, prepared statements) and off after `--joins` more, and prints the
instructions per join: the same code gives the same count within about 2 %.

It counts this process only (not PostgreSQL), and work on timers (the rate-limit store's sweep)
counts more than in real time, as the process runs about 50 times slower under valgrind.
`--gc-freeze` freezes the loaded app out of garbage collections first and sets the collection
thresholds, as tools/gunicorn.conf.py does in each worker (without it the interpreter's defaults
make allocations count several times over: a collection every 700). `--keep FILE` keeps callgrind's
output (`callgrind_annotate FILE`).

Like bench_load.py it DROPS and rebuilds the schema `public` of the PostgreSQL database it is given
(or uses a throwaway SQLite file with `--database-url sqlite`).
"""
from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_load import DEFAULT_PG, UNITS, prepare_database  # noqa: E402

SECRET = "bench-instructions-" + "x" * 24
CHILD = "BENCH_JOIN_INSTRUCTIONS_CHILD"


def child(url: str, joins: int, warm: int, freeze: bool, redis_url: str | None) -> None:
    """Under valgrind: the joins, with counting switched on around the measured ones."""
    from werkzeug.test import EnvironBuilder

    from quiz import create_app
    from quiz.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET,
                      "JOIN_LIMIT_PER_ADDRESS": "100000000/minute", **({"REDIS_URL": redis_url} if redis_url else {})})
    with app.app_context():
        code = db.session.execute(db.text("SELECT join_code FROM quiz ORDER BY id LIMIT 1")).scalar()
    requests = [EnvironBuilder(path=f"/api/v1/join/{code}", method="POST",
                               json={"name": f"计数{i}", "phone": f"136{i:08d}", "unit": UNITS[i % len(UNITS)]},
                               environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()
                for i in range(warm + joins)]
    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def run(batch) -> None:
        for environ in batch:
            b"".join(app(environ, start_response))

    run(requests[:warm])
    if freeze:
        import runpy

        gc.collect()
        gc.freeze()
        threshold = runpy.run_path(str(ROOT / "tools" / "gunicorn.conf.py"))["GC_THRESHOLD"]
        gc.set_threshold(*(int(n) for n in os.environ.get("GC_THRESHOLD", threshold).split(",")))
    control = ["callgrind_control", "-i"]
    subprocess.run([*control, "on", str(os.getpid())], check=True, capture_output=True)
    run(requests[warm:])
    subprocess.run([*control, "off", str(os.getpid())], check=True, capture_output=True)
    refused = [s for s in statuses if not s.startswith("201")]
    if refused:
        raise SystemExit(f"{len(refused)} joins were not created, e.g. {refused[0]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_PG,
                        help="PostgreSQL URL (schema public is dropped!) or 'sqlite'")
    parser.add_argument("--joins", type=int, default=200, help="joins counted")
    parser.add_argument("--warm", type=int, default=30, help="joins before counting starts")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() and the workers' thresholds after the warm-up, as the workers do")
    parser.add_argument("--keep", help="keep callgrind's output in this file")
    parser.add_argument("--redis-url", help="REDIS_URL for the app (events shared, as in production: the bank "
                                            "pool is then not re-read every second, which under valgrind is every "
                                            "few joins)")
    args = parser.parse_args()
    if os.environ.get(CHILD):
        child(args.database_url, args.joins, args.warm, args.gc_freeze, args.redis_url)
        return 0
    if not shutil.which("valgrind"):
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    url = args.database_url
    if url == "sqlite":
        url = "sqlite:///" + str(Path(tempfile.mkdtemp(prefix="bench_instructions-")) / "bench.sqlite3")
    info = prepare_database(url, "generated", 2000, 3600, SECRET)
    out = args.keep or str(Path(tempfile.mkdtemp(prefix="bench_instructions-")) / "callgrind.out")
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}", sys.executable,
           __file__, "--database-url", url, "--joins", str(args.joins), "--warm", str(args.warm),
           *(["--gc-freeze"] if args.gc_freeze else []), *(["--redis-url", args.redis_url] if args.redis_url else [])]
    result = subprocess.run(cmd, env={**os.environ, CHILD: "1"}, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout[-2000:], result.stderr[-3000:], file=sys.stderr)
        return result.returncode
    collected = re.search(r"Collected : (\d+)", result.stderr)
    if collected is None:
        print(result.stderr[-3000:], file=sys.stderr)
        return 1
    per_join = int(collected.group(1)) / args.joins
    print(f"database {info['dialect']}, REDIS_URL {args.redis_url or 'unset'}, {args.joins} joins after "
          f"{args.warm}, gc freeze "
          f"{'on' if args.gc_freeze else 'off'}: {per_join:,.0f} instructions per join"
          + (f" (callgrind output: {out})" if args.keep else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
