"""Benchmark: leaderboard, unit report and the XLSX 公示表 on a big contest (issue 4, "Scale").

Usage:
    python bench/gen_attempts.py  --database-url URL          # first: 100,000 attempts, 200 units
    python bench/bench_reports.py --database-url URL [--repeat 5] [--profile DIR]

Targets (on this machine, 100,000 attempts from 200 units): leaderboard top-100 < 50 ms, unit
report < 2 s, XLSX 公示表 < 10 s. Each operation is called exactly as the views and `quiz export`
call it: one untimed warm-up call, then --repeat timed calls, each in a fresh ORM session (the
quiz is loaded before the clock starts). min / median / max are printed with the number of SQL
statements and the time spent in them. A target is PASS when the median is under it. If
quiz.services.ranking keeps a process cache (clear_board_cache), the "…_cold" rows empty it before
every call: that is what the first call after any score change costs.

On PostgreSQL the ranking SQL leaderboard() really sent is captured and run again under
EXPLAIN (ANALYZE, BUFFERS). (The --what-if mode that timed a proposed index and query is gone:
both are now the app's own, migration 0005 and ranking.top_entries; docs/benchmarks.md keeps
its figures.)
--profile DIR runs every missed target once more under cProfile (DIR/<name>.prof and .txt).
Nothing is written to the database.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql://postgres@127.0.0.1/quizbench"


class SqlMeter:
    """Counts statements and the time spent between before/after_cursor_execute."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.count = 0
        self.seconds = 0.0
        self.capture: list[tuple[str, object]] | None = None
        self._start: list[float] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._start.append(time.perf_counter())
        if self.capture is not None:
            self.capture.append((statement, parameters))

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        self.seconds += time.perf_counter() - self._start.pop()
        self.count += 1

    def reset(self):
        self.count, self.seconds = 0, 0.0


def timed(name, fn, meter, repeat, prepare, before=None):
    """Run fn(quiz) `repeat` times, each in a fresh session, after one untimed warm-up call;
    `before` (untimed) runs before each timed call, e.g. to empty a cache. Returns a dict."""
    from quiz.extensions import db

    db.session.remove()
    fn(prepare())  # warm-up: imports, statement caches, and a process cache if there is one
    db.session.rollback()
    times, cpu, sql, stmts, out = [], [], [], [], None
    for _ in range(repeat):
        db.session.remove()
        quiz = prepare()
        if before is not None:
            before()
        meter.reset()
        start, cpu_start = time.perf_counter(), time.process_time()
        out = fn(quiz)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
        sql.append(meter.seconds)
        stmts.append(meter.count)
        db.session.rollback()
    return {"name": name, "min": min(times), "median": statistics.median(times), "max": max(times),
            "sql_median": statistics.median(sql), "cpu_median": statistics.median(cpu), "statements": stmts[-1],
            "result": out, "times": times}


def explain(sql_and_params, dialect) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of captured statements on PostgreSQL; returns the plan lines."""
    from quiz.extensions import db

    lines = []
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, params in sql_and_params:
            with raw.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
                lines.extend(row[0] for row in cur.fetchall())
        conn.rollback()
    return lines


def summarise_plan(lines: list[str]) -> list[str]:
    """The nodes that matter: scans, sorts (method, memory/disk), window aggregates, joins, totals."""
    keep = re.compile(r"(Scan|Sort|WindowAgg|Join|Limit|Hash|Execution Time|Planning Time|Incremental|Gather)")
    out = []
    for line in lines:
        if keep.search(line) or "Sort Method" in line or "Rows Removed" in line:
            out.append(line.rstrip())
    return out


def profile(name, fn, prepare, directory: Path, before=None) -> list[str]:
    from quiz.extensions import db

    db.session.remove()
    quiz = prepare()
    if before is not None:
        before()
    prof = cProfile.Profile()
    prof.enable()
    fn(quiz)
    prof.disable()
    db.session.rollback()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.prof"
    prof.dump_stats(str(path))
    buffer = io.StringIO()
    stats = pstats.Stats(prof, stream=buffer)
    stats.sort_stats("cumulative").print_stats(25)
    buffer.write("\n--- by own time ---\n")
    stats.sort_stats("tottime").print_stats(15)
    text = buffer.getvalue()
    (directory / f"{name}.txt").write_text(text)
    return [str(path), text]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--quiz-id", type=int, help="default: the newest quiz")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--search", default="王", help="name search for the filtered board (default 王)")
    parser.add_argument("--unit", help="unit path for the filtered board (default: the first 街道)")
    parser.add_argument("--profile", type=Path, help="cProfile every missed target into this directory")
    parser.add_argument("--profile-all", action="store_true", help="profile every operation, not only misses")
    parser.add_argument("--save", type=Path, help="write the two XLSX files here to look at")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--skip-xlsx", action="store_true")
    args = parser.parse_args()

    from sqlalchemy import func, select

    from quiz import create_app
    from quiz.extensions import db
    from quiz.models import Attempt, Quiz, Unit
    from quiz.services import exports
    from quiz.services.ranking import leaderboard, leaderboard_size, rank_of
    from quiz.services.reports import unit_report

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url, "SECRET_KEY": "bench"})
    now = datetime.now(timezone.utc)
    with app.app_context(), app.test_request_context():
        dialect = db.engine.dialect.name
        quiz_id = args.quiz_id or db.session.scalar(select(func.max(Quiz.id)))
        if quiz_id is None:
            raise SystemExit("no quiz in this database: run bench/gen_attempts.py first")
        attempts = db.session.scalar(select(func.count()).select_from(Attempt).where(Attempt.quiz_id == quiz_id))
        people = db.session.scalar(select(func.count(func.distinct(Attempt.participant_id))).where(
            Attempt.quiz_id == quiz_id, Attempt.status == "submitted"))
        units = db.session.scalar(select(func.count()).select_from(Unit))
        unit_path = args.unit or db.session.scalar(
            select(Unit.path).where(Unit.parent_id.is_(None)).order_by(Unit.id))
        print(f"database: {dialect}; quiz {quiz_id}: {attempts:,} attempts, {people:,} people on the board, "
              f"{units} units; now = {now.isoformat(timespec='seconds')}")
        meter = SqlMeter(db.engine)

        def load_quiz():
            return db.session.get(Quiz, quiz_id)

        def load_unit():
            return db.session.execute(select(Unit).where(Unit.path == unit_path)).scalar_one()

        middle = people // 2
        sample_attempt = db.session.scalar(select(Attempt.id).where(Attempt.quiz_id == quiz_id).order_by(Attempt.id)
                                           .offset(attempts // 2).limit(1))
        db.session.remove()

        def lb_xlsx(quiz):
            entries = leaderboard(quiz, now=now, limit=10 ** 9)
            header, rows = exports.leaderboard_table(quiz, entries)
            return exports.to_xlsx(exports.title_line(quiz, now=now, organiser="临平区委政法委"), header, rows,
                                   sheet="公示榜")

        def unit_xlsx(quiz):
            _sheet, header, rows = exports.export_table("units", quiz, now=now)  # one level, as downloaded
            return exports.to_xlsx(exports.title_line(quiz, now=now, organiser="临平区委政法委"), header, rows,
                                   sheet="单位排名")

        ops = [
            # name, callable, target seconds or None, description
            ("leaderboard_top100", lambda q: leaderboard(q, now=now, limit=100), 0.050,
             "leaderboard(quiz, now, limit=100): the top-100 query"),
            ("leaderboard_top100_public", lambda q: leaderboard(q, now=now, limit=100, public=True), 0.050,
             "same, public=True (what the public/big-screen board calls)"),
            ("leaderboard_search_unit", lambda q: leaderboard(q, now=now, limit=50, search=args.search,
                                                              unit=load_unit()), None,
             f"limit=50, search “{args.search}”, unit {unit_path} (the organiser page with filters)"),
            ("leaderboard_page_deep", lambda q: leaderboard(q, now=now, limit=50, offset=middle), None,
             f"limit=50, offset={middle:,} (a page in the middle)"),
            ("leaderboard_size", lambda q: leaderboard_size(q, now=now), None, "leaderboard_size(quiz, now)"),
            ("leaderboard_size_filtered", lambda q: leaderboard_size(q, now=now, search=args.search,
                                                                     unit=load_unit()), None,
             "leaderboard_size with the same search and unit"),
            ("rank_of_one_attempt", lambda q: rank_of(db.session.get(Attempt, sample_attempt), now=now), None,
             "ranking.rank_of(attempt): what every submit's result page computes"),
            ("unit_report", lambda q: unit_report(q, now=now), 2.0, "reports.unit_report(quiz, now)"),
            ("unit_report_mix", lambda q: unit_report(q, now=now, rank_by="mix"), 2.0,
             "unit_report(rank_by='mix')"),
        ]
        if not args.skip_xlsx:
            ops += [
                ("xlsx_leaderboard", lb_xlsx, 10.0,
                 "公示表: leaderboard(limit=10**9) + leaderboard_table + title_line + to_xlsx"),
                ("xlsx_unit_report", unit_xlsx, 10.0, "export_table('units') + to_xlsx"),
            ]
        # A process cache of the ranking (quiz.services.ranking.clear_board_cache, if present) makes
        # repeated calls hits; the "cold" rows empty it before every call, which costs what the
        # first call after any score change costs (a submission during a live contest).
        from quiz.services import ranking as ranking_module
        clear = getattr(ranking_module, "clear_board_cache", None)
        if clear is not None:
            cold = {"leaderboard_top100": "leaderboard_top100_cold",
                    "leaderboard_search_unit": "leaderboard_search_unit_cold",
                    "xlsx_leaderboard": "xlsx_leaderboard_cold"}
            extra = []
            for name, fn, target, description in ops:
                extra.append((name, fn, target, description + " [process cache warm]", None))
                if name in cold:
                    extra.append((cold[name], fn, target,
                                  description + " [cache emptied before each call: first call after a score change]",
                                  clear))
            ops = extra
            if hasattr(ranking_module, "board_version"):
                ops.append(("board_version_check", lambda q: ranking_module.board_version(q, None), None,
                            "ranking.board_version(quiz): the cache's version query, run on every call", None))
        else:
            ops = [(*op, None) for op in ops]
        results = []
        for name, fn, target, description, before in ops:
            print(f"  {name} …", end="", flush=True)
            r = timed(name, fn, meter, args.repeat, load_quiz, before)
            r.update(target=target, description=description)
            results.append(r)
            print(f" median {r['median'] * 1000:,.1f} ms", flush=True)

        # where the XLSX time goes (one run, stage by stage)
        stages = {}
        if not args.skip_xlsx:
            db.session.remove()
            quiz = load_quiz()
            t0 = time.perf_counter()
            entries = leaderboard(quiz, now=now, limit=10 ** 9)
            t1 = time.perf_counter()
            header, rows = exports.leaderboard_table(quiz, entries)
            t2 = time.perf_counter()
            data = exports.to_xlsx(exports.title_line(quiz, now=now, organiser="临平区委政法委"), header, rows,
                                   sheet="公示榜")
            t3 = time.perf_counter()
            stages = {"leaderboard(limit=10**9)": t1 - t0, "leaderboard_table": t2 - t1, "to_xlsx": t3 - t2,
                      "rows": len(rows), "bytes": len(data)}
            db.session.rollback()
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                (args.save / "leaderboard.xlsx").write_bytes(data)
                (args.save / "units.xlsx").write_bytes(unit_xlsx(load_quiz()))
                db.session.rollback()
            from openpyxl import load_workbook
            book = load_workbook(io.BytesIO(data), read_only=True)
            sheet_rows = sum(1 for _ in book.active.iter_rows())
            assert sheet_rows == len(rows) + 2, (sheet_rows, len(rows))

        # the table
        print()
        print(f"load average at the end: {' / '.join(f'{x:.1f}' for x in os.getloadavg())} "
              f"(this process's CPU time is what a quiet machine's wall time would be, SQL aside)")
        print("| operation | min ms | median ms | max ms | CPU ms (median) | SQL ms (median) | statements | target "
              "| result |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in results:
            target = r["target"]
            verdict = "" if target is None else ("PASS" if r["median"] < target else "MISS")
            r["verdict"] = verdict
            print(f"| {r['name']} | {r['min'] * 1000:,.1f} | {r['median'] * 1000:,.1f} | {r['max'] * 1000:,.1f} | "
                  f"{r['cpu_median'] * 1000:,.1f} | {r['sql_median'] * 1000:,.1f} | {r['statements']} | "
                  f"{'' if target is None else f'< {target * 1000:,.0f} ms'} | {verdict} |")
        print()
        for r in results:
            print(f"  {r['name']}: {r['description']}")
        if stages:
            print("\nXLSX 公示表 stages (one run): " + ", ".join(
                f"{k} {v:.2f} s" for k, v in stages.items() if isinstance(v, float))
                  + f"; {stages['rows']:,} rows, {stages['bytes'] / 1e6:.1f} MB; openpyxl reads it back OK")

        plan_lines: list[str] = []
        if dialect == "postgresql":
            db.session.remove()
            quiz = load_quiz()
            if clear is not None:
                clear()
            meter.capture = []
            leaderboard(quiz, now=now, limit=100)
            captured = [c for c in meter.capture if "rank()" in c[0].lower() or "row_number" in c[0].lower()]
            meter.capture = None
            db.session.rollback()
            plan_lines = explain(captured, dialect)
            print("\nEXPLAIN (ANALYZE, BUFFERS) of the ranking query leaderboard(limit=100) sent, main nodes:")
            for line in summarise_plan(plan_lines):
                print("  " + line)

        profiles = {}
        if args.profile:
            for (name, fn, target, _d, before), r in zip(ops, results):
                if args.profile_all or r["verdict"] == "MISS":
                    path, text = profile(name, fn, load_quiz, args.profile, before)
                    profiles[name] = path
                    print(f"\ncProfile of {name} → {path}")
                    print("\n".join(text.splitlines()[:45]))

        if args.json:
            args.json.write_text(json.dumps({
                "dialect": dialect, "quiz_id": quiz_id, "attempts": attempts, "people": people, "units": units,
                "results": [{k: v for k, v in r.items() if k != "result"} for r in results],
                "xlsx_stages": stages, "plan": plan_lines, "profiles": profiles,
            }, indent=2, ensure_ascii=False, default=str))
        missed = [r["name"] for r in results if r["verdict"] == "MISS"]
        print(f"\n{'all targets met' if not missed else 'MISSED: ' + ', '.join(missed)}")
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
