"""Cost of the input guards (quiz/inputs.py) per request, in microseconds of CPU.

Usage:
    .venv/bin/python bench/bench_inputs.py [--number 100000]

Prints, for typical bodies, json.loads against the guarded parser the app and the answer-save fast
lane use (nesting limit, NUL/surrogate and finite-number checks), and the before_request check of
the path, query string and form on a few typical requests. No database is touched (a throwaway
SQLite file is named but never opened). Compare with bench_inprocess.py's per-request CPU: an
answer save costs about 300 µs, the hello-world endpoint about 140 µs.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quiz import create_app  # noqa: E402
from quiz.inputs import check_request  # noqa: E402

BODIES = {
    "answer {'response': 'A'}": b'{"response": "A"}',
    "answer, two blanks": '{"response": ["共建", "共同建设"]}'.encode(),
    "join": '{"name": "张三", "phone": "13800138000", "unit": "乔司街道/三角村社区"}'.encode(),
    "create quiz (3 rules)": json.dumps({
        "title": "应知应会", "banks": ["题库"], "duration_seconds": 1800,
        "rules": [{"type": "单选", "count": 20, "points": 2, "tags": ["枫桥经验"]}] * 3,
        "audience": {"units": ["乔司街道"], "roster_only": False}}, ensure_ascii=False).encode(),
}
REQUESTS = {
    "GET /api/v1/ping": dict(path="/api/v1/ping"),
    "GET /board/1?q=…&unit=…&page=2": dict(path="/board/1?q=张三&unit=乔司街道&page=2"),
    "POST /j/<code> (3-field form)": dict(path="/j/ABCDEF", method="POST",
                                          data={"name": "张三", "phone": "13800138000", "unit": "乔司街道"}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000, help="calls per measurement")
    args = parser.parse_args()
    n = args.number
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "SECRET_KEY": "bench",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/unused.sqlite3"})
        print(f"{'JSON body':32} {'bytes':>5} {'json.loads µs':>14} {'guarded µs':>11} {'added µs':>9}")
        for name, body in BODIES.items():
            plain = timeit.timeit(lambda: json.loads(body), number=n) / n * 1e6
            guarded = timeit.timeit(lambda: app.json.loads(body), number=n) / n * 1e6
            print(f"{name:32} {len(body):5d} {plain:14.2f} {guarded:11.2f} {guarded - plain:9.2f}")
        print(f"\n{'before_request text check':32} {'µs':>5}")
        for name, request in REQUESTS.items():
            with app.test_request_context(request.pop("path"), **request):
                cost = timeit.timeit(check_request, number=n) / n * 1e6
            print(f"{name:32} {cost:5.2f}")


if __name__ == "__main__":
    main()
