"""Demo set-up: sample units, roster and banks, an admin and an organiser account, two sample
quizzes: a finished one with a few dozen answered sheets across the sample units (so boards,
reports and exports have something to show) and an open one to join from a phone, and a sample
live contest of four teams to open in three windows (host console, big screen, phone).

Every sheet of the finished quiz is made through the real services (join, save answers, submit)
with varied, plausible answers and times, from a fixed random seed. Quizzes and the live contest
are found again by title, so running the demo twice adds nothing."""
from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable

from flask_babel import gettext as _
from sqlalchemy import func, select

from quiz.extensions import db
from quiz.localtime import local_tz
from quiz.models import Attempt, Participant, Question, Quiz, User
from quiz.models.live import LiveContest
from quiz.questions import get_type
from quiz.services import attempts as attempt_service
from quiz.services.importer import find_bank, import_bank_file
from quiz.services.live import create_contest
from quiz.services.people import create_user, import_roster, set_password
from quiz.services.quizzes import create_quiz
from quiz.services.units import get_unit, import_units

FINISHED_TITLE = "应知应会知识竞赛（示例·已结束）"
OPEN_TITLE = "基层治理知识竞答（示例·进行中）"
LIVE_TITLE = "知识竞赛决赛（示例·现场赛）"
LIVE_TEAMS = [("三角村社区", "乔司街道/三角村社区"), ("永丰村", "乔司街道/永丰村"), ("朝阳社区", "乔司街道/朝阳社区"),
              ("五星村", "乔司街道/五星村")]
SEED = 2026
# Extra participants (besides the sample roster) who join the finished quiz themselves.
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭"
GIVEN = ["建国", "秀英", "丽", "军", "婷", "海燕", "志强", "桂兰", "明", "晓东", "玉梅", "国华", "欣怡", "浩",
         "春燕", "子涵", "文", "雪", "鹏", "慧"]
UNITS_JOINING = ["乔司街道/三角村社区", "乔司街道/永丰村", "乔司街道/朝阳社区", "乔司街道/五星村",
                 "乔司街道/机关各办/党政办", "乔司街道/机关各办/综治中心"]


@dataclass
class DemoResult:
    lines: list[str] = field(default_factory=list)
    accounts: list[tuple[str, str, str]] = field(default_factory=list)
    quizzes: list[Quiz] = field(default_factory=list)
    live: LiveContest | None = None


def load_demo(root: Path, *, now: datetime, password_factory: Callable[[], str]) -> DemoResult:
    """Load samples/ units and roster and every bank in question_banks/ (idempotent), and
    (re)set passwords of the demo accounts `admin` and `organiser`."""
    result = DemoResult()
    units_file = root / "samples" / "units.csv"
    report = import_units(units_file.read_bytes(), units_file.name, actor=None, now=now)
    result.lines.append(_("Units: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
                          created=report.created, updated=report.updated, unchanged=report.unchanged))
    roster_file = root / "samples" / "roster.csv"
    roster = import_roster(roster_file.read_bytes(), roster_file.name, actor=None, now=now)
    result.lines.append(_("Roster: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
                          created=roster.created, updated=roster.updated, unchanged=roster.unchanged))
    for path in sorted((root / "question_banks").glob("*")):
        if path.suffix.lower() not in (".csv", ".xlsx", ".zip"):  # .zip: a bank with its pictures (看图题)
            continue
        bank = import_bank_file(path.stem, path.read_bytes(), path.name, actor=None, now=now)
        # an administrators' bank shared down the whole tree, as a district's study bank is: every
        # organiser (the demo one too) may draw from it and save the sample quizzes and contest
        find_bank(path.stem).shared = True
        result.lines.append(_("Bank “%(bank)s”: %(created)d created, %(updated)d updated, %(unchanged)d unchanged, "
                              "%(duplicates)d duplicates merged, %(rejected)d rows rejected",
                              bank=path.stem, created=bank.created, updated=bank.updated,
                              unchanged=bank.unchanged, duplicates=bank.duplicates, rejected=len(bank.rejected)))
    for username, role, unit_path in (("admin", "admin", None), ("organiser", "organiser", "乔司街道")):
        password = password_factory()
        user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            unit = get_unit(unit_path) if unit_path else None
            create_user(username, role=role, password=password, unit=unit, now=now)
        else:
            set_password(user, password)
        result.accounts.append((username, password, role))
    banks = [p.stem for p in sorted((root / "question_banks").glob("*")) if p.suffix.lower() in (".csv", ".xlsx")]
    result.quizzes = sample_quizzes(now=now, banks=banks, lines=result.lines)
    result.live = sample_live_contest(now=now, banks=banks, lines=result.lines)
    return result


def sample_live_contest(*, now: datetime, banks: list[str], lines: list[str]) -> LiveContest:
    """The sample live contest, created once (found again by title): four teams of 乔司街道's units
    with a base score of 100, and the four usual rounds (必答, 抢答, 风险题, 共答) drawn from the
    sample banks. Its organisers (乔司街道, so the demo organiser too) host it."""
    contest = db.session.execute(select(LiveContest).where(LiveContest.title == LIVE_TITLE)
                                 .order_by(LiveContest.id).limit(1)).scalar_one_or_none()
    if contest is None:
        contest = create_contest({
            "title": LIVE_TITLE, "mode": "teams", "unit": "乔司街道", "banks": banks,
            "description": "示例现场赛：主持人在主持台出题，大屏展示题目和比分，各队用手机抢答、选分值、作答。",
            "entrants": [{"name": name, "unit": path, "base_score": 100} for name, path in LIVE_TEAMS],
            "rounds": [
                {"type": "必答", "title": "第一轮 必答题", "rules": [{"type": "单选", "count": len(LIVE_TEAMS)}],
                 "settings": {"points": 10, "time_seconds": 30}},
                {"type": "抢答", "title": "第二轮 抢答题",
                 "rules": [{"type": "判断", "count": 2}, {"type": "单选", "count": 2}],
                 "settings": {"points": 20, "deduct": 10, "early_penalty": 10, "time_seconds": 20}},
                {"type": "风险题", "title": "第三轮 风险题", "rules": [{"type": "单选", "count": len(LIVE_TEAMS)}],
                 "settings": {"values": [10, 20, 30], "time_seconds": 30}},
                {"type": "共答", "title": "第四轮 共答题", "rules": [{"type": "单选", "count": 2}, {"type": "判断", "count": 1}],
                 "settings": {"points": 10, "time_seconds": 20, "speed": True}},
            ],
        }, actor=None, now=now, rng=random.Random(SEED))
    lines.append(_("Sample live contest “%(title)s”: %(teams)s.", title=contest.title,
                   teams="、".join(f"{e.name}（{_('team code')} {e.team_code}）" for e in contest.entrants)))
    return contest


def _quiz_titled(title: str) -> Quiz | None:
    return db.session.execute(select(Quiz).where(Quiz.title == title).order_by(Quiz.id).limit(1)).scalar_one_or_none()


def sample_quizzes(*, now: datetime, banks: list[str], lines: list[str]) -> list[Quiz]:
    """The finished sample quiz (with its sheets) and the open one, each created once."""
    finished = _quiz_titled(FINISHED_TITLE)
    if finished is None:
        finished = _finished_quiz(now, banks)
    open_quiz = _quiz_titled(OPEN_TITLE)
    if open_quiz is None:
        open_quiz = create_quiz({
            "title": OPEN_TITLE, "banks": banks, "unit": "乔司街道",
            "description": "示例竞赛：用手机扫码或输入参赛码参加，限时15分钟，每人可答3次，以最高分为准。",
            "rules": [{"type": "单选", "count": 10, "points": 4}, {"type": "多选", "count": 5, "points": 6},
                      {"type": "判断", "count": 10, "points": 2}, {"type": "填空", "count": 2, "points": 5}],
            "duration_seconds": 15 * 60, "opens_at": now - timedelta(hours=1), "attempts_allowed": 3,
            "attempt_policy": "best", "shuffle_questions": True, "shuffle_options": True, "multi_partial": "half",
            "pass_score": 60, "excellent_score": 90, "show_answers": "after_submit", "min_seconds": 60,
        }, actor=None, now=now - timedelta(hours=1))
    submitted = db.session.scalar(select(func.count(Attempt.id)).where(
        Attempt.quiz_id == finished.id, Attempt.status == "submitted"))
    lines.append(_("Sample quiz “%(title)s” (finished): %(n)d answer sheets.", title=finished.title, n=submitted))
    lines.append(_("Sample quiz “%(title)s” (open): join code %(code)s.", title=open_quiz.title,
                   code=open_quiz.join_code))
    return [finished, open_quiz]


def _local(day, hour: int) -> datetime:
    """`hour` o'clock local time (quiz.localtime) on `day`, in UTC."""
    return datetime.combine(day, time(hour), tzinfo=local_tz()).astimezone(timezone.utc)


def _finished_quiz(now: datetime, banks: list[str]) -> Quiz:
    """A quiz that ran for two days last week, answered by the sample roster of 乔司街道 and two
    dozen others who joined themselves; every sheet through join → save answers → submit."""
    rng = random.Random(SEED)
    day = (now.astimezone(local_tz()) - timedelta(days=7)).date()
    opens, closes = _local(day, 9), _local(day + timedelta(days=2), 9)
    quiz = create_quiz({
        "title": FINISHED_TITLE, "banks": banks, "unit": "乔司街道", "audience": {"units": ["乔司街道"]},
        "description": "示例：乔司街道应知应会知识竞赛，已结束。可查看排行榜、单位统计、试题分析和导出。",
        "rules": [{"type": "单选", "count": 20, "points": 2}, {"type": "多选", "count": 10, "points": 3},
                  {"type": "判断", "count": 10, "points": 2}, {"type": "填空", "count": 5, "points": 2}],
        "duration_seconds": 20 * 60, "opens_at": opens, "closes_at": closes, "attempts_allowed": 1,
        "shuffle_questions": True, "shuffle_options": True, "multi_partial": "half", "pass_score": 60,
        "excellent_score": 90, "show_answers": "after_close", "min_seconds": 300,
    }, actor=None, now=opens - timedelta(days=1))
    people = [(p.name, p.phone, None) for p in db.session.execute(
        select(Participant).where(Participant.on_roster.is_(True)).order_by(Participant.phone)).scalars()
        if p.unit.path.startswith("乔司街道")]
    for i in range(24):
        name = SURNAMES[(i * 7) % len(SURNAMES)] + GIVEN[(i * 3) % len(GIVEN)]
        people.append((name, f"1390571{i:04d}", UNITS_JOINING[i % len(UNITS_JOINING)]))
    for index, (name, phone, unit) in enumerate(people):
        start = opens + timedelta(minutes=rng.randint(0, 36 * 60))
        _sit(quiz, rng, name=name, phone=phone, unit=unit, start=start, lazy=index % 13 == 5)
    attempt_service.close_overdue(quiz, now=now)
    db.session.flush()
    return quiz


def _sit(quiz: Quiz, rng: random.Random, *, name: str, phone: str, unit: str | None, start: datetime,
         lazy: bool) -> None:
    """One person's sheet: a skill level decides how many answers are right; a few questions are
    skipped; answers are saved over the time used; `lazy` people let the time run out."""
    attempt = attempt_service.join(quiz, name=name, phone=phone, unit_path=unit, now=start, rng=rng).attempt
    skill = rng.uniform(0.45, 0.97)
    used = rng.uniform(4 * 60, 19 * 60) if not lazy else quiz.duration_seconds + 60
    questions = attempt_service.questions_by_id([e["q"] for e in attempt.paper])
    step = min(used, quiz.duration_seconds - 5) / (len(attempt.paper) + 1)
    for number, entry in enumerate(attempt.paper, start=1):
        if rng.random() < 0.03:
            continue  # left blank
        question = questions[entry["q"]]
        response = _response(question, entry, right=rng.random() < skill, rng=rng)
        attempt_service.save_answer(attempt, question.id, response, now=start + timedelta(seconds=step * number))
    if rng.random() < 0.15:
        attempt_service.record_event(attempt, "hidden", now=start + timedelta(seconds=30))
    if not lazy:
        attempt_service.submit(attempt, now=start + timedelta(seconds=used))


def _response(question: Question, entry: dict, *, right: bool, rng: random.Random):
    """A right answer, or a plausible wrong one, in the letters this person saw."""
    shown = len(question.options or [])
    letters = "ABCDEFGH"[:shown]
    key = get_type(question.type).to_shown(question.answer, entry["order"])
    if question.type == "single":
        return key if right else rng.choice([c for c in letters if c != key])
    if question.type == "multi":
        if right:
            return key
        if len(key) > 1 and rng.random() < 0.6:  # missed one (half points with the `half` policy)
            missing = rng.choice(key)
            return key.replace(missing, "")
        extra = [c for c in letters if c not in key]
        return "".join(sorted(key + rng.choice(extra))) if extra else key[:1]
    if question.type == "judge":
        return question.answer if right else ("错误" if question.answer == "正确" else "正确")
    blanks = [b.split(";")[0] for b in question.answer.split("|")]
    if right:
        return blanks
    wrong = list(blanks)
    wrong[rng.randrange(len(wrong))] = rng.choice(["不清楚", "民主", "法治", "服务", "发展"])
    return wrong


def lan_addresses() -> list[str]:
    """This machine's private IPv4 addresses (192.168.x, 10.x, 172.16–31.x), best guess first:
    what phones on the same Wi-Fi can reach when the demo serves on 0.0.0.0."""
    import ifaddr

    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if not isinstance(ip.ip, str):
                continue  # IPv6
            address = ipaddress.ip_address(ip.ip)
            if address.is_private and not address.is_loopback and not address.is_link_local:
                found.append(ip.ip)
    order = {"192": 0, "10.": 1, "172": 2}
    return sorted(dict.fromkeys(found), key=lambda a: order.get(a[:3], 3))
