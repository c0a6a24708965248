"""Generate a finished contest at scale: units, a bank, a quiz, participants, submitted attempts
and their answers (default 100,000 attempts from 200 units), for bench/bench_reports.py.

Usage:
    python bench/gen_attempts.py --database-url postgresql://postgres@127.0.0.1/quizbench
    python bench/gen_attempts.py --database-url sqlite:////tmp/quizbench.sqlite3
    python bench/gen_attempts.py --database-url ... --attempts 3000 --units 20 --verify

THE DATABASE IS WIPED: on PostgreSQL its schema `public` is dropped and rebuilt, a SQLite file is
deleted first. Never point it at a database somebody else uses.

What it makes (all through quiz.services except the bulk rows):
- a unit tree: `--streets` 街道 (default units/25), each with villages and communities (…村,
  …社区) and an office group 机关各办/… (depth 3, to exercise the roll-up), `--units` leaf units
  in total, each with a realistic 应参人数 (villages 200–1,400, offices 10–60);
- a bank of `--bank-rows` generated questions (bench_import.generate), imported with
  import_bank_file;
- a quiz made with create_quiz: 单选 10×5, 多选 4×5 (half marks for a strict subset), 判断 4×5,
  填空 2×5 = 100 marks, pass 60, excellent 90, 20 minutes, 2 attempts allowed (best counts),
  questions and options shuffled, open for 7 days ending at generation time;
- participants spread over the leaf units (participation 45–105 % of the headcount), about 5 %
  of them with a second attempt;
- one submitted attempt per (participant, number): a paper drawn by the quiz's rules (same
  shape as papers.draw_paper; the quiz is 随机组卷, drawn per type without its difficulty mix),
  per-question answers from a per-person ability, a time used
  (log-normal around 7 minutes, some auto-submitted at the 20-minute deadline, some flagged
  fast under 60 s), submissions spread over the 7 days with daytime and evening peaks;
- answer rows graded with the question types' own grade(), so answer.earned/correct add up to
  attempt.score/correct_count exactly as grade_attempt would store them (about 1 % of questions
  are left unanswered: no answer row, as the engine does).

Rows are written with COPY on PostgreSQL (psycopg) and executemany on SQLite, then the
sequences are moved past the explicit ids (PostgreSQL: then VACUUM ANALYZE, as autovacuum would;
SQLite: no ANALYZE, as in a deployed file). Checks afterwards: an SQL
aggregate (sum of earned = score, count of correct = correct_count, question_count rows, one
counted attempt per participant) on every attempt, and with --verify quiz.services.verify's
verify_quiz (recomputes every score and rank in Python; minutes at 100k, so use it on a small
run) or --verify-sample N (regrade N random attempts from their stored answers).
"""
from __future__ import annotations

import argparse
import io
import json
import math
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DEFAULT_URL = "postgresql://postgres@127.0.0.1/quizbench"
QUIZ_TITLE = "2026年基层治理理论知识竞赛（压测数据）"
BANK_NAME = "压测题库（大规模）"
RULES = [{"type": "单选", "count": 10, "points": 5}, {"type": "多选", "count": 4, "points": 5},
         {"type": "判断", "count": 4, "points": 5}, {"type": "填空", "count": 2, "points": 5}]
DURATION = 20 * 60
MIN_SECONDS = 60
CONTEST_DAYS = 7
LETTERS = "ABCDEFGH"

STREETS = ["乔司街道", "伦教街道", "临平街道", "南苑街道", "东湖街道", "星桥街道", "勒流街道", "大良街道",
           "容桂街道", "北滘镇", "陈村镇", "均安镇", "杏坛镇", "龙江镇", "乐从镇", "运河街道"]
OFFICES = ["党政办", "综治办", "平安办", "社会事务办", "经济发展办", "城建办", "党群服务中心", "应急管理办"]
PLACE_A = list("东西南北上下前后新老大小长永兴和安丰福宁平庆康泰华荣富盛昌隆家青石金龙凤朝阳光明翠")
PLACE_B = list("湖塘桥庄湾溪山坊园岗林埠港圩沙洲田河浦坝口营塘水泉亭村角")
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
            "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强海燕玉兰红梅晓东丹丹婷婷俊杰"
         "文博子轩浩然雨涵欣怡梓涵一诺思远嘉怡振华国庆春花秋菊卫东立新永红淑珍凤英金凤德明")


# ====================================================================== plan (pure Python)
def plan_units(rng: random.Random, leaves: int, streets: int) -> list[dict]:
    """[{"path", "headcount"}] in creation order: streets, office groups, leaves."""
    streets = max(1, min(streets, len(STREETS)))
    per_street = [leaves // streets + (1 if i < leaves % streets else 0) for i in range(streets)]
    units: list[dict] = []
    for s, count in enumerate(per_street):
        street = STREETS[s]
        units.append({"path": street, "headcount": 0})
        offices = min(len(OFFICES), max(0, count // 5)) if count >= 4 else 0
        if offices:
            units.append({"path": f"{street}/机关各办", "headcount": 0})
            for name in OFFICES[:offices]:
                units.append({"path": f"{street}/机关各办/{name}", "headcount": rng.randint(10, 60), "leaf": True})
        seen: set[str] = set()
        while len(seen) < count - offices:
            kind = rng.choices(["村", "社区"], weights=[55, 45])[0]
            name = rng.choice(PLACE_A) + rng.choice(PLACE_B) + kind
            if name in seen:
                continue
            seen.add(name)
            low, high = (200, 1400) if kind == "村" else (300, 1200)
            units.append({"path": f"{street}/{name}", "headcount": rng.randint(low, high), "leaf": True})
    return units


def spread_participants(rng: random.Random, leaves: list[dict], total: int) -> list[int]:
    """Participants per leaf unit: participation 45–105 % of a headcount scaled so the sum is `total`."""
    rates = [rng.uniform(0.45, 1.05) for _ in leaves]
    expected = sum(u["headcount"] * r for u, r in zip(leaves, rates))
    scale = total / expected
    for unit in leaves:  # headcounts scale with the wanted size (at least 1 person per unit)
        unit["headcount"] = max(1, round(unit["headcount"] * scale))
    raw = [u["headcount"] * r for u, r in zip(leaves, rates)]
    norm = total / sum(raw)
    counts = [int(x * norm) for x in raw]
    remainders = sorted(range(len(raw)), key=lambda i: -(raw[i] * norm - counts[i]))
    for i in remainders[: total - sum(counts)]:
        counts[i] += 1
    return counts


def person_name(rng: random.Random) -> str:
    given_len = rng.choices([1, 2], weights=[30, 70])[0]
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(given_len))


def start_moment(rng: random.Random, opens: datetime, closes: datetime) -> datetime:
    """A start time: more on the first days (the campaign push), peaks 9–11, 14–16 and 20–22
    Beijing time, never so late that the 20 minutes would pass the closing time."""
    days = (closes - opens).days
    day = rng.choices(range(days), weights=[max(1, 40 - 6 * d) for d in range(days)])[0]
    hour = rng.choices(range(24), weights=[1, 0, 0, 0, 0, 1, 2, 4, 8, 12, 12, 9, 5, 6, 10, 11, 9, 6, 5, 7, 11, 12,
                                           8, 3])[0]
    local_midnight = opens + timedelta(days=day) - timedelta(hours=(opens.hour + 8) % 24, minutes=opens.minute,
                                                              seconds=opens.second, microseconds=opens.microsecond)
    moment = local_midnight + timedelta(hours=hour, seconds=rng.uniform(0, 3600))
    if moment < opens:
        moment = opens + timedelta(seconds=rng.uniform(0, 3600))
    latest = closes - timedelta(seconds=DURATION + 1)
    if moment > latest:
        moment = latest - timedelta(seconds=rng.uniform(0, 6 * 3600))
    return moment.replace(microsecond=rng.randrange(1_000_000))


class Paper:
    """Draws papers like papers.draw_paper (per rule a random sample sorted by id, option orders
    for choice questions, then shuffled) and answers them for a given ability."""

    def __init__(self, quiz, questions: dict[int, dict]):
        from quiz.questions import get_type

        self.quiz = quiz
        self.questions = questions
        self.rules = []
        for rule in quiz.rules:
            ids = sorted(q for q, row in questions.items() if row["type"] == rule["type"])
            self.rules.append((rule, ids))
        self.graders = {k: get_type(k) for k in ("single", "multi", "judge", "blank")}

    def draw(self, rng: random.Random) -> list[dict]:
        paper = []
        for rule, ids in self.rules:
            for qid in sorted(rng.sample(ids, rule["count"])):
                q = self.questions[qid]
                order = None
                if self.quiz.shuffle_options and q["type"] in ("single", "multi") and q["options"] > 1:
                    order = list(range(q["options"]))
                    rng.shuffle(order)
                paper.append({"q": qid, "points": rule["points"], "order": order})
        if self.quiz.shuffle_questions:
            rng.shuffle(paper)
        return paper

    def respond(self, rng: random.Random, qid: int, ability: float) -> str:
        """A stored response (bank letters / 正确 / JSON list), right with a type-dependent chance."""
        q = self.questions[qid]
        kind, answer = q["type"], q["answer"]
        chance = {"single": ability, "multi": ability ** 1.6, "judge": ability ** 0.6, "blank": ability ** 1.3}[kind]
        right = rng.random() < chance
        if kind == "single":
            return answer if right else rng.choice([c for c in LETTERS[: q["options"]] if c != answer])
        if kind == "judge":
            return answer if right else ("错误" if answer == "正确" else "正确")
        if kind == "multi":
            if right:
                return answer
            if len(answer) > 1 and rng.random() < 0.45:  # a strict subset: half marks
                return "".join(sorted(rng.sample(answer, rng.randint(1, len(answer) - 1))))
            letters = LETTERS[: q["options"]]
            while True:
                pick = "".join(sorted(rng.sample(letters, rng.randint(1, len(letters)))))
                if pick != answer and not set(pick) < set(answer):
                    return pick
        # blank: canonical "a;b|c" → one alternative per blank, some blanks wrong
        blanks = [alt.split(";") for alt in answer.split("|")]
        given = [rng.choice(alts) if (right or rng.random() < 0.5) else "不知道" for alts in blanks]
        if not right and all(g != "不知道" for g in given):
            given[-1] = "共治"
        return json.dumps(given, ensure_ascii=False)

    def grade(self, qid: int, response: str) -> float:
        q = self.questions[qid]
        return self.graders[q["type"]].grade(q["answer"], response, self.quiz.multi_partial)


# ====================================================================== writing rows
def pg_text(value) -> str:
    """One field in PostgreSQL COPY text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def sqlite_value(value):
    if isinstance(value, datetime):  # SQLAlchemy's SQLite DATETIME storage format, naive UTC
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


class Writer:
    """Bulk rows into one table: COPY on PostgreSQL, executemany on SQLite; times the database part."""

    def __init__(self, conn, dialect: str):
        self.conn = conn
        self.dialect = dialect
        self.seconds: dict[str, float] = {}
        self.rows: dict[str, int] = {}

    def write(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        start = time.perf_counter()
        if self.dialect == "postgresql":
            raw = self.conn.connection.driver_connection
            buffer = io.StringIO()
            for row in rows:
                buffer.write("\t".join(pg_text(v) for v in row))
                buffer.write("\n")
            data = buffer.getvalue().encode("utf-8")
            build = time.perf_counter()
            with raw.cursor() as cur:
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    copy.write(data)
            start = build  # count only the COPY itself as database time
        else:
            marks = ", ".join("?" for _ in columns)
            self.conn.exec_driver_sql(f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks})',
                                      [tuple(sqlite_value(v) for v in row) for row in rows])
        self.seconds[table] = self.seconds.get(table, 0.0) + time.perf_counter() - start
        self.rows[table] = self.rows.get(table, 0) + len(rows)


PARTICIPANT_COLUMNS = ["id", "name", "phone", "unit_id", "user_id", "on_roster", "created_at", "updated_at"]
ATTEMPT_COLUMNS = ["id", "quiz_id", "participant_id", "number", "nonce", "status", "open_slot", "paper",
                   "started_at", "deadline", "submitted_at", "auto_submitted", "score", "max_score",
                   "correct_count", "question_count", "time_used_ms", "tab_switches", "flagged_fast"]
ANSWER_COLUMNS = ["id", "attempt_id", "question_id", "response", "saved_at", "earned", "correct"]


# ====================================================================== main steps
def prepare(args, now: datetime) -> dict:
    """Schema, units, bank and quiz through the services. Returns what the bulk part needs."""
    from quiz.cli import upgrade_schema
    from quiz.extensions import db
    from quiz.models import Question, Unit
    from quiz.services.importer import import_bank_file
    from quiz.services.quizzes import create_quiz
    from quiz.services.units import ensure_path, split_path
    from sqlalchemy import select

    from bench_import import generate

    rng = random.Random(args.seed)
    if db.engine.dialect.name == "postgresql":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    upgrade_schema()

    units = plan_units(rng, args.units, args.streets or max(1, round(args.units / 25)))
    leaves = [u for u in units if u.get("leaf")]
    second = round(args.attempts * args.second_share / (1 + args.second_share))
    people = args.attempts - second
    counts = spread_participants(rng, leaves, people)
    cache: dict = {}
    for unit in units:
        ensure_path(split_path(unit["path"]), actor=None, now=now, headcount=unit["headcount"], cache=cache)
    db.session.commit()
    unit_ids = dict(db.session.execute(select(Unit.path, Unit.id)).all())

    data = generate(args.bank_rows, seed=args.seed)
    report = import_bank_file(BANK_NAME, data, "bench.csv", actor=None, now=now)
    db.session.commit()
    if not report.created or report.rejected:
        raise SystemExit(f"bank import failed: {report.as_dict()}")
    questions = {r.id: {"type": r.type, "answer": r.answer, "options": len(r.options or [])}
                 for r in db.session.execute(select(Question.id, Question.type, Question.answer, Question.options))}

    closes = now.replace(microsecond=0)
    opens = closes - timedelta(days=CONTEST_DAYS)
    quiz = create_quiz({
        "title": QUIZ_TITLE, "banks": [BANK_NAME], "rules": RULES, "duration_seconds": DURATION,
        "opens_at": opens, "closes_at": closes,
        "audience": {"units": [u["path"] for u in units if "/" not in u["path"]]},
        "paper_mode": "random",  # the attempts below are per-person draws (随机组卷)
        "attempts_allowed": 2, "attempt_policy": "best", "shuffle_questions": True, "shuffle_options": True,
        "multi_partial": "half", "pass_score": 60, "excellent_score": 90, "min_seconds": MIN_SECONDS,
        "show_answers": "after_close",
    }, actor=None, now=opens - timedelta(days=1))
    db.session.commit()
    return {"quiz": quiz, "questions": questions, "leaves": leaves, "counts": counts, "unit_ids": unit_ids,
            "people": people, "second": second, "opens": opens, "closes": closes, "units": units,
            "bank_rows": report.created}


def bulk(args, info: dict) -> dict:
    """Participants, attempts and answers in chunks; returns timings."""
    from quiz.extensions import db

    from types import SimpleNamespace

    rng = random.Random(args.seed * 7919 + 1)
    opens, closes = info["opens"], info["closes"]
    q = info["quiz"]
    quiz = SimpleNamespace(id=q.id, rules=q.rules, max_score=q.max_score, shuffle_options=q.shuffle_options,
                           shuffle_questions=q.shuffle_questions, multi_partial=q.multi_partial)
    db.session.rollback()  # end the session's transaction: on SQLite it holds the write lock
    paper_maker = Paper(quiz, info["questions"])
    dialect = db.engine.dialect.name
    # one participant per slot, units in turn
    unit_of = []
    for leaf, count in zip(info["leaves"], info["counts"]):
        unit_of.extend([info["unit_ids"][leaf["path"]]] * count)
    rng.shuffle(unit_of)
    seconders = set(rng.sample(range(len(unit_of)), info["second"]))
    phone_prefix = ["13", "15", "18", "17", "19"]
    timings = {"python": 0.0}
    attempt_id = answer_id = 0
    totals = {"participants": 0, "attempts": 0, "answers": 0, "unanswered": 0, "auto": 0, "fast": 0}
    started = time.perf_counter()
    with db.engine.begin() as conn:
        writer = Writer(conn, dialect)
        foreign_keys = []
        if dialect == "postgresql" and not args.keep_fk_checks:
            # FK triggers fire per row and cost about 2/3 of the answer COPY; drop them for the load
            # and add them back (same names and definitions) at the end, which checks every row once.
            foreign_keys = conn.exec_driver_sql(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE contype = 'f' AND conrelid::regclass::text IN ('participant', 'attempt', 'answer')").all()
            for table, name, _definition in foreign_keys:
                conn.exec_driver_sql(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        chunk = args.chunk
        for base in range(0, len(unit_of), chunk):
            t0 = time.perf_counter()
            p_rows, a_rows, s_rows = [], [], []
            for i in range(base, min(base + chunk, len(unit_of))):
                pid = i + 1
                phone = phone_prefix[i % 5] + f"{(i * 7919 + 12345) % 10 ** 9:09d}"
                name = person_name(rng)
                ability = rng.betavariate(5.0, 1.5)
                tries = 2 if i in seconders else 1
                previous_end = first_start = None
                for number in range(1, tries + 1):
                    attempt_id += 1
                    paper = paper_maker.draw(rng)
                    seconds = min(max(rng.lognormvariate(math.log(420), 0.55), 25.0), DURATION + 600)
                    if rng.random() < 0.01:
                        seconds = rng.uniform(20, MIN_SECONDS)  # the odd suspiciously fast sheet
                    auto = seconds >= DURATION
                    time_ms = DURATION * 1000 if auto else int(seconds * 1000)
                    if previous_end is None:
                        start = start_moment(rng, opens, closes)
                        if tries > 1 and start > closes - timedelta(days=1):
                            start -= timedelta(days=1)  # leave room for the second go
                        first_start = start
                    else:  # the second go: minutes to hours after the first submission
                        start = previous_end + timedelta(minutes=rng.uniform(2, 600))
                        if start > closes - timedelta(seconds=DURATION + 1):
                            start = previous_end + timedelta(seconds=rng.uniform(60, 600))
                    submitted = start + timedelta(milliseconds=time_ms)
                    previous_end = submitted
                    skill = min(0.995, ability + (0.05 if number == 2 else 0.0))
                    skip = 0.01 if not auto else 0.12
                    score, correct = 0.0, 0
                    for position, entry in enumerate(paper):
                        if rng.random() < skip:
                            totals["unanswered"] += 1
                            continue
                        response = paper_maker.respond(rng, entry["q"], skill)
                        fraction = paper_maker.grade(entry["q"], response)
                        earned = round(entry["points"] * fraction, 4)
                        score += earned
                        correct += fraction == 1
                        answer_id += 1
                        saved = start + timedelta(milliseconds=time_ms * (position + 1) / (len(paper) + 1))
                        s_rows.append((answer_id, attempt_id, entry["q"], response, saved, earned, fraction == 1))
                    fast = time_ms < MIN_SECONDS * 1000
                    totals["auto"] += auto
                    totals["fast"] += fast
                    a_rows.append((attempt_id, quiz.id, pid, number, f"{rng.getrandbits(128):032x}", "submitted",
                                   None, json.dumps(paper, separators=(", ", ": ")), start,
                                   start + timedelta(seconds=DURATION),
                                   submitted, auto, round(score, 4), quiz.max_score, correct, len(paper), time_ms,
                                   rng.choices([0, 1, 2, 3, 5], weights=[80, 10, 5, 3, 2])[0], fast))
                created = first_start - timedelta(seconds=rng.uniform(5, 120))  # registered on joining
                p_rows.append((pid, name, phone, unit_of[i], None, False, created, created))
            timings["python"] += time.perf_counter() - t0
            writer.write("participant", PARTICIPANT_COLUMNS, p_rows)
            writer.write("attempt", ATTEMPT_COLUMNS, a_rows)
            writer.write("answer", ANSWER_COLUMNS, s_rows)
            totals["participants"] += len(p_rows)
            totals["attempts"] += len(a_rows)
            totals["answers"] += len(s_rows)
            if not args.quiet:
                print(f"  {totals['attempts']:>7,} attempts, {totals['answers']:>9,} answers, "
                      f"{time.perf_counter() - started:6.1f} s", flush=True)
        start = time.perf_counter()
        for table, name, definition in foreign_keys:
            conn.exec_driver_sql(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
        if foreign_keys:
            timings["foreign keys"] = time.perf_counter() - start
            totals["foreign_keys"] = len(foreign_keys)
        if dialect == "postgresql":
            for table in ("participant", "attempt", "answer"):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))")
    timings["write"] = dict(writer.seconds)
    timings["total"] = time.perf_counter() - started
    start = time.perf_counter()
    if dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    # SQLite: no ANALYZE. A deployed SQLite file never gets one, and with sqlite_stat1 present
    # (one quiz, every attempt submitted) the planner scans `attempt` for finalise_overdue's
    # status = 'open' instead of using ix_attempt_ranking (51 ms instead of well under 1 ms).
    timings["analyze"] = time.perf_counter() - start
    totals.update(timings=timings)
    return totals


def sql_check(quiz_id: int) -> list[str]:
    """Every attempt against its answer rows, in one aggregate per figure."""
    from quiz.extensions import db
    from sqlalchemy import text

    problems = []
    bad = db.session.execute(text(
        "SELECT count(*) FROM attempt a LEFT JOIN (SELECT attempt_id, sum(earned) AS s, "
        "sum(CASE WHEN correct THEN 1 ELSE 0 END) AS c, count(*) AS n FROM answer GROUP BY attempt_id) x "
        "ON x.attempt_id = a.id WHERE a.quiz_id = :q AND (abs(coalesce(x.s, 0) - a.score) > 1e-6 "
        "OR coalesce(x.c, 0) <> a.correct_count OR coalesce(x.n, 0) > a.question_count)"), {"q": quiz_id}).scalar()
    if bad:
        problems.append(f"{bad} attempts whose answers do not add up to the stored score")
    dup = db.session.execute(text(
        "SELECT count(*) FROM (SELECT participant_id, number FROM attempt WHERE quiz_id = :q "
        "GROUP BY participant_id, number HAVING count(*) > 1) d"), {"q": quiz_id}).scalar()
    if dup:
        problems.append(f"{dup} duplicate (participant, number) pairs")
    return problems


def sample_check(quiz, n: int, seed: int) -> tuple[int, list[str]]:
    """Regrade n random attempts from their stored answers with the question types (as
    verify_quiz does for every attempt) and compare with the stored figures."""
    from quiz.extensions import db
    from quiz.models import Answer, Attempt
    from quiz.services.attempts import grade_paper, questions_by_id
    from sqlalchemy import select

    ids = db.session.execute(select(Attempt.id).where(Attempt.quiz_id == quiz.id)).scalars().all()
    chosen = random.Random(seed).sample(ids, min(n, len(ids)))
    attempts = db.session.execute(select(Attempt).where(Attempt.id.in_(chosen))).scalars().all()
    answers = {(a.attempt_id, a.question_id): a.response
               for a in db.session.execute(select(Answer).where(Answer.attempt_id.in_(chosen))).scalars()}
    questions = questions_by_id(list({e["q"] for a in attempts for e in a.paper}))
    problems = []
    for attempt in attempts:
        score, correct, _marks = grade_paper(
            attempt.paper, {e["q"]: answers[(attempt.id, e["q"])] for e in attempt.paper
                            if (attempt.id, e["q"]) in answers}, questions, quiz.multi_partial)
        if abs(score - attempt.score) > 1e-6 or correct != attempt.correct_count:
            problems.append(f"attempt {attempt.id}: stored {attempt.score}/{attempt.correct_count}, "
                            f"regraded {score}/{correct}")
        if attempt.time_used_ms != int(round((attempt.submitted_at - attempt.started_at).total_seconds() * 1000)):
            problems.append(f"attempt {attempt.id}: time used does not match start/submission")
    return len(attempts), problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help=f"default {DEFAULT_URL}; 'sqlite' = a temp file (WIPED either way)")
    parser.add_argument("--attempts", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=200, help="leaf units (villages, communities, offices)")
    parser.add_argument("--streets", type=int, default=0, help="街道 (default units/25)")
    parser.add_argument("--second-share", type=float, default=0.05, help="share of people with a 2nd attempt")
    parser.add_argument("--bank-rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--chunk", type=int, default=5000, help="participants per COPY batch")
    parser.add_argument("--keep-fk-checks", action="store_true",
                        help="PostgreSQL: keep the foreign keys during COPY (about 3x slower for answers)")
    parser.add_argument("--verify", action="store_true", help="run quiz.services.verify.verify_quiz (slow at 100k)")
    parser.add_argument("--verify-sample", type=int, default=1000, help="regrade N random attempts (0 = skip)")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--check-only", action="store_true",
                        help="generate nothing: run the checks on the newest quiz already in the database")
    args = parser.parse_args()

    from quiz import create_app
    from quiz.extensions import db

    url = args.database_url
    if url == "sqlite":
        import tempfile
        url = f"sqlite:///{tempfile.mkdtemp(prefix='quizbench-')}/bench.sqlite3"
    if url.startswith("sqlite:///") and not args.check_only:
        path = Path(url[len("sqlite:///"):])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    now = datetime.now(timezone.utc)
    with app.app_context(), app.test_request_context():
        dialect = db.engine.dialect.name
        shown = url if dialect == "sqlite" else db.engine.url.render_as_string(hide_password=True)
        print(f"database: {dialect} {shown}")
        t0 = time.perf_counter()
        if args.check_only:
            from quiz.models import Attempt, Quiz
            from sqlalchemy import func, select

            quiz = db.session.get(Quiz, db.session.scalar(select(func.max(Quiz.id))))
            totals = {"attempts": db.session.scalar(select(func.count()).select_from(Attempt)
                                                    .where(Attempt.quiz_id == quiz.id))}
            print(f"checking quiz {quiz.id} “{quiz.title}” ({totals['attempts']:,} attempts); nothing is generated")
        else:
            info = prepare(args, now)
            t1 = time.perf_counter()
            quiz = info["quiz"]
            print(f"schema, {len(info['units'])} units ({len(info['leaves'])} leaf), bank of {info['bank_rows']} "
                  f"questions, quiz {quiz.id} “{quiz.title}”: {t1 - t0:.1f} s")
            totals = bulk(args, info)
            t = totals["timings"]
            w = t["write"]
            print(f"rows: {totals['participants']:,} participants, {totals['attempts']:,} attempts "
                  f"({info['second']:,} second attempts, {totals['auto']:,} auto-submitted, "
                  f"{totals['fast']:,} flagged fast), "
                  f"{totals['answers']:,} answers ({totals['unanswered']:,} questions left unanswered)")
            print(f"bulk: {t['total']:.1f} s in all = Python generation {t['python']:.1f} s + "
                  + " + ".join(f"{k} {'COPY' if dialect == 'postgresql' else 'executemany'} {v:.1f} s"
                               for k, v in w.items())
                  + (f" + re-adding {totals['foreign_keys']} foreign keys {t['foreign keys']:.1f} s"
                     if "foreign keys" in t else "")
                  + (f" (+ commit); VACUUM ANALYZE {t['analyze']:.1f} s" if dialect == "postgresql" else ""))
            if "answer" in w:
                print(f"answers: {totals['answers']:,} rows written in {w['answer']:.1f} s "
                      f"({totals['answers'] / w['answer']:,.0f} rows/s)")
        db.session.expire_all()
        start = time.perf_counter()
        problems = sql_check(quiz.id)
        print(f"SQL check of all {totals['attempts']:,} attempts (answers add up to score/correct count): "
              f"{'OK' if not problems else problems} ({time.perf_counter() - start:.1f} s)")
        failed = bool(problems)
        if args.verify_sample:
            start = time.perf_counter()
            n, problems = sample_check(quiz, args.verify_sample, args.seed)
            print(f"regraded {n:,} random attempts from their answers: "
                  f"{'0 differences' if not problems else problems[:5]} ({time.perf_counter() - start:.1f} s)")
            failed |= bool(problems)
        if args.verify:
            from quiz.services.verify import verify_quiz

            start = time.perf_counter()
            try:
                report = verify_quiz(quiz, now=now)
            except Exception as exc:  # e.g. too many bound parameters at 100k attempts on PostgreSQL
                db.session.rollback()
                first = str(getattr(exc, "orig", exc)).splitlines()[0][:300]
                print(f"verify_quiz FAILED after {time.perf_counter() - start:.1f} s: {type(exc).__name__}: {first}")
                failed = True
                report = None
        if args.verify and report is not None:
            db.session.rollback()
            print(f"verify_quiz: {report.attempts:,} attempts, {report.entries:,} ranked entries, "
                  f"{len(report.differences)} differences ({time.perf_counter() - start:.1f} s)")
            for line in report.differences[:10]:
                print("   ", line)
            failed |= bool(report.differences)
        print(f"quiz id {quiz.id}, join code {quiz.join_code}; total {time.perf_counter() - t0:.1f} s")
        db.session.remove()
        db.engine.dispose()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
