"""Benchmark: posters (templates/posters/ laid out by WeasyPrint; the PNG rasterised by PDFium).

Usage:
    python bench/bench_posters.py [--repeat 5]

Renders the honour roll (top 10 and a full 300 rows) and the unit ranking (50 units) as PNG and
PDF, exactly as the report page and `quiz export poster` do (quiz.services.posters), with made-up
names and units that look like real ones (CJK, long unit paths, ties). One untimed warm-up
render (fonts, templates), then --repeat timed renders; min / median / max seconds, the size of
the output and its pixels or pages are printed. Target: a poster in a second or two (median
under 2 s for top 10 and 50 units). Nothing is written to any database.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗欧阳"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英䶮堃喆"
VILLAGES = ["三角村社区", "永丰村", "杭州市临平区乔司街道办事处综合行政执法队（综合执法办公室）", "常教社区", "翁梅社区"]


def entries(count: int) -> list[dict]:
    rows = []
    for i in range(count):
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)] + GIVEN[(i * 3) % len(GIVEN)]
        rows.append({"rank": i + 1 - (i % 4 == 2), "name": name, "unit": f"乔司街道/{VILLAGES[i % len(VILLAGES)]}",
                     "score": 100 - i * 0.25, "time_used_seconds": 95.4 + i * 3.1})
    return rows


def unit_rows(count: int):
    from quiz.services.reports import UnitRow

    rows = []
    for i in range(count):
        took_part = i < count - 5
        rows.append(UnitRow(unit_id=i, path=f"乔司街道/{VILLAGES[i % len(VILLAGES)]}{i}", name=f"单位{i}", depth=1,
                            participants=20 + i if took_part else 0,
                            participation_rate=0.95 - i / 200 if took_part else None,
                            average_score=92 - i / 3 if took_part else None, rank=i + 1 if took_part else None))
    return rows


def measure(render, repeat: int) -> tuple[list[float], bytes]:
    data = render()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        data = render()
        times.append(time.perf_counter() - start)
    return times, data


def describe(fmt: str, data: bytes) -> str:
    if fmt == "png":
        from PIL import Image

        image = Image.open(io.BytesIO(data))
        return f"{image.width}x{image.height} px"
    import pypdfium2

    pdf = pypdfium2.PdfDocument(data)
    try:
        return f"{len(pdf)} A4 page(s)"
    finally:
        pdf.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from quiz import create_app
    from quiz.services import posters

    folder = tempfile.mkdtemp(prefix="bench-posters-")
    app = create_app({"TESTING": True, "SECRET_KEY": "bench",
                      "SQLALCHEMY_DATABASE_URI": "sqlite:///" + os.path.join(folder, "unused.sqlite3")})
    quiz = SimpleNamespace(title="2026年乔司街道“学习二十届四中全会精神”应知应会知识竞赛")
    now = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
    cases = [
        ("honour top 10", lambda fmt: posters.honour_poster(quiz, entries(10), fmt=fmt, now=now,
                                                             organiser="乔司街道党工委", top=10), 2.0),
        ("units 50", lambda fmt: posters.unit_poster(quiz, unit_rows(50), fmt=fmt, now=now,
                                                     organiser="乔司街道党工委", level=1), 2.0),
        ("honour 300 rows", lambda fmt: posters.honour_poster(quiz, entries(300), fmt=fmt, now=now,
                                                               organiser="乔司街道党工委", top=300), None),
    ]
    print(f"{'poster':<18} {'fmt':<4} {'min s':>7} {'median':>7} {'max s':>7} {'size':>9}  output        target")
    failed = False
    with app.app_context():
        for name, render, target in cases:
            for fmt in ("png", "pdf"):
                times, data = measure(lambda: render(fmt), args.repeat)
                median = statistics.median(times)
                verdict = "—" if target is None else ("PASS" if median < target else "MISS") + f" < {target:g} s"
                failed |= verdict.startswith("MISS")
                print(f"{name:<18} {fmt:<4} {min(times):7.3f} {median:7.3f} {max(times):7.3f} "
                      f"{len(data) / 1024:8.0f}K  {describe(fmt, data):<13} {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
