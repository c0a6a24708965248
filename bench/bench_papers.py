"""Benchmark: the paper a join builds, 统一试卷 (copy the stored paper) against 随机组卷 (a balanced
draw from the cached bank pool), alone and inside a whole join.

Usage:  python bench/bench_papers.py [--rows 2000] [--joins 1000] [--database-url URL]
Uses a throwaway SQLite file unless --database-url is given (THE DATABASE IS WIPED: on
PostgreSQL its schema `public` is dropped and rebuilt; never point it at a database in use).

Prints, per mode, the time to build one person's sheet (papers.paper_for_join: 统一试卷 reads the
stored paper under a key-share lock and personalises it; 随机组卷 draws by the rules' difficulty
mixes from the cached pool and personalises it), and the time of a whole join
(attempts.join: identify or create the person, build the sheet, insert it, commit).
Rules: 单选 20×2, 多选 10×3, 判断 10×1, 填空 5×2 (45 questions), questions and options shuffled.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quiz import create_app  # noqa: E402
from quiz.extensions import db  # noqa: E402

RULES = [{"type": "单选", "count": 20, "points": 2}, {"type": "多选", "count": 10, "points": 3},
         {"type": "判断", "count": 10, "points": 1}, {"type": "填空", "count": 5, "points": 2}]


def figures(label: str, seconds: list[float], cpu: float) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return (f"{label:<26} n={len(ms):<5} median {statistics.median(ms):7.3f} ms   p95 {p95:7.3f} ms   "
            f"total {sum(ms) / 1000:6.2f} s   CPU of this process {cpu / len(ms) * 1000:6.3f} ms each")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="questions in the bank")
    parser.add_argument("--joins", type=int, default=1000, help="joins per mode")
    parser.add_argument("--database-url")
    args = parser.parse_args()

    from bench_import import generate

    from quiz.cli import upgrade_schema
    from quiz.services import attempts, papers
    from quiz.services.importer import import_bank_file
    from quiz.services.quizzes import create_quiz
    from quiz.services.units import ensure_path

    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    now = datetime.now(timezone.utc)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        upgrade_schema()
        report = import_bank_file("压测题库", generate(args.rows, seed=7), "bench.csv", actor=None, now=now)
        ensure_path(["乔司街道", "三角村社区"], actor=None, now=now, headcount=args.joins)
        db.session.commit()
        print(f"database: {db.engine.dialect.name}; bank: {report.created} questions; rules: 45 questions")
        for mode, prefix in (("fixed", "139"), ("random", "138")):
            quiz = create_quiz({"title": f"压测 {mode}", "banks": ["压测题库"], "rules": RULES, "paper_mode": mode,
                                "duration_seconds": 1800, "shuffle_questions": True, "shuffle_options": True,
                                "attempts_allowed": 0}, actor=None, now=now)
            db.session.commit()
            rng = random.Random(1)
            papers.paper_for_join(quiz, rng)  # warm the pool cache as a running worker has it
            db.session.rollback()
            build, cpu = [], 0.0
            for _ in range(args.joins):
                quiz.banks, quiz.paper  # loaded, as in a join (quiz_by_code has the row)
                start, start_cpu = time.perf_counter(), time.process_time()
                papers.paper_for_join(quiz, rng)
                build.append(time.perf_counter() - start)
                cpu += time.process_time() - start_cpu
                db.session.rollback()  # as a join's transaction ends (releases the key-share lock)
            joins, join_cpu = [], time.process_time()
            for i in range(args.joins):
                start = time.perf_counter()
                attempts.join(quiz, name=f"压测{i}", phone=f"{prefix}{i:08d}", unit_path="乔司街道/三角村社区",
                              now=now + timedelta(seconds=i), rng=rng)
                db.session.commit()
                joins.append(time.perf_counter() - start)
            join_cpu = time.process_time() - join_cpu
            print(figures(f"{mode}: build the sheet", build, cpu))
            print(figures(f"{mode}: whole join", joins, join_cpu))


if __name__ == "__main__":
    main()
