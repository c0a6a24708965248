"""Paper rules and drawing: each participant gets their own draw (and, if set, their own
question and option order); a rule the banks cannot fill is refused when the quiz is saved."""
from __future__ import annotations

import random
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from quiz.errors import Invalid
from quiz.extensions import db
from quiz.models import Question, Quiz
from quiz.questions import QUESTION_TYPES, type_from_label
from quiz.services.importer import parse_difficulty
from quiz.questions.base import AnswerError

MAX_RULES = 20
MAX_QUESTIONS = 500


@dataclass
class Rule:
    """Draw `count` questions of `type` (optionally with any of `tags`, of `difficulty`) at
    `points` each."""

    type: str
    count: int
    points: float
    tags: list[str]
    difficulty: list[int]

    def as_dict(self) -> dict:
        return {"type": self.type, "count": self.count, "points": self.points, "tags": self.tags,
                "difficulty": self.difficulty}

    def matches(self, q: "QuestionRow") -> bool:
        if q.type != self.type:
            return False
        if self.tags and not any(f";{t};" in q.tags_text for t in self.tags):
            return False
        return not self.difficulty or q.difficulty in self.difficulty


@dataclass
class QuestionRow:
    id: int
    type: str
    tags_text: str
    difficulty: int | None
    options_count: int


def parse_rules(raw) -> list[Rule]:
    """Validate paper rules as sent by a form or the API; raises Invalid naming the rule."""
    if not isinstance(raw, list) or not raw:
        raise Invalid(_("Paper rules: give at least one rule such as {\"type\": \"单选\", \"count\": 20, \"points\": 2}."))
    if len(raw) > MAX_RULES:
        raise Invalid(_("Paper rules: at most %(n)d rules.", n=MAX_RULES))
    rules = []
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise Invalid(_("Paper rule %(n)d is not an object.", n=index))
        qtype = type_from_label(item.get("type", ""))
        if qtype is None:
            raise Invalid(_("Paper rule %(n)d: question type “%(value)s” is not recognised (use 单选, 多选, 判断 or 填空).",
                            n=index, value=item.get("type", "")))
        try:
            count = int(item.get("count"))
            points = float(item.get("points"))
        except (TypeError, ValueError):
            raise Invalid(_("Paper rule %(n)d: count and points must be numbers.", n=index))
        if not (1 <= count <= MAX_QUESTIONS) or not (0 < points <= 1000):
            raise Invalid(_("Paper rule %(n)d: count must be 1–%(max)d and points more than 0 and at most 1000.",
                            n=index, max=MAX_QUESTIONS))
        tags = item.get("tags") or []
        if isinstance(tags, str):
            tags = [t for t in tags.replace("；", ";").split(";") if t.strip()]
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise Invalid(_("Paper rule %(n)d: tags must be a list of strings.", n=index))
        difficulty = item.get("difficulty")
        if difficulty in (None, "", []):
            levels: list[int] = []
        else:
            values = difficulty if isinstance(difficulty, list) else [difficulty]
            try:
                levels = sorted({parse_difficulty(str(v)) for v in values})
            except AnswerError as exc:
                raise Invalid(_("Paper rule %(n)d: %(error)s", n=index, error=str(exc)))
        rules.append(Rule(qtype, count, points, [t.strip() for t in tags if t.strip()], levels))
    if sum(r.count for r in rules) > MAX_QUESTIONS:
        raise Invalid(_("A paper can have at most %(n)d questions.", n=MAX_QUESTIONS))
    return rules


def rules_from_quiz(quiz: Quiz) -> list[Rule]:
    return [Rule(r["type"], r["count"], r["points"], r.get("tags") or [], r.get("difficulty") or [])
            for r in quiz.rules]


POOL_TTL = 30.0  # seconds a process reuses a bank pool when drawing papers
_pools: dict[tuple[int, ...], tuple[float, list[QuestionRow]]] = {}


def invalidate_pools() -> None:
    """Forget cached pools (after an import, edit or retirement in this process; other
    processes see the change within POOL_TTL)."""
    _pools.clear()


def cached_pool(bank_ids: list[int]) -> list[QuestionRow]:
    """load_pool, reused for POOL_TTL seconds: every join draws from it, so a busy start of a
    contest does not reload the whole bank per person."""
    import time

    key = tuple(sorted(bank_ids))
    hit = _pools.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < POOL_TTL:
        return hit[1]
    pool = load_pool(list(key))
    _pools[key] = (now, pool)
    return pool


def load_pool(bank_ids: list[int]) -> list[QuestionRow]:
    """Active questions of the banks (ids, type, tags, difficulty, option count)."""
    if not bank_ids:
        return []
    rows = db.session.execute(
        select(Question.id, Question.type, Question.tags_text, Question.difficulty, Question.options)
        .where(Question.bank_id.in_(bank_ids), Question.retired.is_(False))
        .order_by(Question.id)
    )
    return [QuestionRow(r.id, r.type, r.tags_text, r.difficulty, len(r.options or [])) for r in rows]


def check_fillable(rules: list[Rule], pool: list[QuestionRow]) -> None:
    """Raise Invalid naming the first rule the pool cannot fill (rules draw without overlap)."""
    taken: set[int] = set()
    for index, rule in enumerate(rules, start=1):
        available = [q.id for q in pool if q.id not in taken and rule.matches(q)]
        if len(available) < rule.count:
            label = QUESTION_TYPES[rule.type].label
            raise Invalid(_("Paper rule %(n)d asks for %(count)d %(type)s questions%(filter)s but the banks have "
                            "only %(available)d.", n=index, count=rule.count, type=label,
                            available=len(available), filter=_describe_filter(rule)))
        taken.update(available[:rule.count])


def _describe_filter(rule: Rule) -> str:
    parts = []
    if rule.tags:
        parts.append(_("tags %(tags)s", tags="、".join(rule.tags)))
    if rule.difficulty:
        parts.append(_("difficulty %(levels)s", levels="、".join(str(d) for d in rule.difficulty)))
    return _(" (%(details)s)", details=_("; ").join(parts)) if parts else ""


def draw_paper(quiz: Quiz, pool: list[QuestionRow], rng: random.Random) -> list[dict]:
    """One participant's paper: questions per rule (random draw), then shuffled if the quiz says
    so, with a per-question option order when options are shuffled."""
    rules = rules_from_quiz(quiz)
    taken: set[int] = set()
    paper: list[dict] = []
    for rule in rules:
        candidates = [q for q in pool if q.id not in taken and rule.matches(q)]
        if len(candidates) < rule.count:
            raise Invalid(_("The question banks no longer have enough questions for this quiz; "
                            "please tell the organiser."))
        chosen = rng.sample(candidates, rule.count)
        chosen.sort(key=lambda q: q.id)
        for q in chosen:
            taken.add(q.id)
            order = None
            if quiz.shuffle_options and q.type in ("single", "multi") and q.options_count > 1:
                order = list(range(q.options_count))
                rng.shuffle(order)
            # type and option count ride along so answer saves need no question lookup
            paper.append({"q": q.id, "points": rule.points, "order": order, "t": q.type, "n": q.options_count})
    if quiz.shuffle_questions:
        rng.shuffle(paper)
    return paper
