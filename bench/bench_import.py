"""Benchmark: import a generated 10,000-question CSV into an empty bank, then re-import it.

Usage:  python bench/bench_import.py [--rows 10000] [--database-url URL] [--repeat 3]
Prints the wall time of parsing + writing (the target is under 3 s for 10,000 rows).
Uses a throwaway SQLite file unless --database-url is given (its tables are dropped!).
"""
from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quiz import create_app  # noqa: E402
from quiz.extensions import db  # noqa: E402

HEADER = ["题型", "题干", "选项A", "选项B", "选项C", "选项D", "选项E", "答案", "解析", "分值", "难度", "知识点"]
TAGS = ["枫桥经验", "共建共治共享", "五治融合", "党建引领", "共同缔造", "积分制", "网格化管理"]


def generate(rows: int, seed: int = 1) -> bytes:
    """A realistic bank: the four types in contest proportions, Chinese text, tags, explanations."""
    rnd = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for i in range(rows):
        kind = rnd.choices(["单选", "多选", "判断", "填空"], weights=[40, 25, 20, 15])[0]
        stem = f"第{i}题：关于{rnd.choice(TAGS)}，下列说法中{rnd.choice(['正确', '错误'])}的是（编号{rnd.random():.6f}）"
        options, answer = [""] * 5, ""
        if kind == "单选":
            options = [f"选项内容{j}-{i}" for j in range(4)] + [""]
            answer = rnd.choice("ABCD")
        elif kind == "多选":
            options = [f"选项内容{j}-{i}" for j in range(5)]
            answer = "、".join(sorted(rnd.sample("ABCDE", rnd.randint(2, 4))))
        elif kind == "判断":
            answer = rnd.choice(["正确", "错误", "对", "×"])
        else:
            stem += "，____与____。"
            answer = "共建;共同建设|共享"
        writer.writerow([kind, stem, *options, answer, f"解析{i}：依据相关文件精神。", rnd.choice(["", "2"]),
                         rnd.choice(["容易", "中等", "困难", ""]), ";".join(rnd.sample(TAGS, 2))])
    return out.getvalue().encode("utf-8-sig")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    from quiz.services.importer import import_bank_file
    from quiz.cli import upgrade_schema

    data = generate(args.rows)
    tmp = tempfile.mkdtemp()
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    now = datetime.now(timezone.utc)
    print(f"file: {args.rows} rows, {len(data) / 1e6:.1f} MB; database: {url.split('://')[0]}")
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        upgrade_schema()
        for attempt in range(args.repeat):
            name = f"bench-{attempt}"
            start = time.perf_counter()
            report = import_bank_file(name, data, "bench.csv", actor=None, now=now)
            db.session.commit()
            first = time.perf_counter() - start
            assert report.created == args.rows - report.duplicates and not report.rejected, report.as_dict()
            start = time.perf_counter()
            again = import_bank_file(name, data, "bench.csv", actor=None, now=now)
            db.session.commit()
            second = time.perf_counter() - start
            assert again.unchanged == report.created
            print(f"run {attempt + 1}: first import {first:.2f} s ({report.created} created), "
                  f"re-import {second:.2f} s ({again.unchanged} unchanged)")


if __name__ == "__main__":
    main()
