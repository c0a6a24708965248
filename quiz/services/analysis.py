"""Item analysis of a quiz, over the attempts that count (one per person):

- accuracy: share of the people who got the question who earned full points (unanswered = wrong);
- facility: mean share of the question's points earned;
- most-chosen wrong option: the most frequent wrong response (choice questions, bank letters);
- discrimination: facility in the upper 27 % minus facility in the lower 27 % of people ranked
  by total score (only people who had the question count in each group);
- Cronbach's alpha over the questions every counted attempt had (None when fewer than two
  such questions or no score variance — papers drawn at random share few questions);
- mastery per tag: facility over every answer to questions with that tag;
- 易错题 (most-missed questions, `Analysis.most_missed`): the questions someone got wrong, i.e.
  accuracy below MISSED_BELOW (100 %), lowest accuracy first; a question everyone got right is
  never one of them.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from quiz.errors import Invalid
from quiz.extensions import db
from quiz.questions import get_type
from quiz.models import Answer, Attempt, Quiz, User
from quiz.services import scope
from quiz.services.attempts import questions_by_id
from quiz.services.ranking import counted_attempts

MISSED_BELOW = 1.0  # 易错题: accuracy below 100 %, i.e. at least one person got it wrong


@dataclass
class ItemStats:
    question_id: int
    type: str
    stem: str
    tags: list[str]
    answer: str
    seen: int = 0
    correct: int = 0
    facility: float | None = None
    accuracy: float | None = None
    discrimination: float | None = None
    wrong_choice: str | None = None
    wrong_choice_count: int = 0


@dataclass
class Analysis:
    attempts: int
    items: list[ItemStats]
    alpha: float | None
    alpha_items: int
    tags: dict[str, float] = field(default_factory=dict)

    def most_missed(self, limit: int = 10) -> list[ItemStats]:
        """易错题: questions with accuracy below MISSED_BELOW, lowest accuracy first (at most `limit`)."""
        missed = [i for i in self.items if i.seen and i.accuracy is not None and i.accuracy < MISSED_BELOW]
        return sorted(missed, key=lambda i: (i.accuracy, i.question_id))[:limit]


def analyse(quiz: Quiz, *, now: datetime, root=None) -> Analysis:
    """Item statistics for the quiz (definitions in the module docstring); with `root` (a Unit),
    over the people of that unit's subtree only."""
    counted = counted_attempts(quiz, root=root)
    attempts = db.session.execute(select(Attempt).where(Attempt.id.in_(select(counted.c.id)))).scalars().all()
    answers = defaultdict(dict)
    if attempts:
        for a in db.session.execute(select(Answer).where(Answer.attempt_id.in_(select(counted.c.id)))).scalars():
            answers[a.attempt_id][a.question_id] = a
    questions = questions_by_id(list({e["q"] for a in attempts for e in a.paper}))
    items = {qid: ItemStats(qid, q.type, q.stem, q.tags, q.answer) for qid, q in questions.items()}
    scores: dict[int, dict[int, float]] = {}  # attempt → question → share earned
    wrong = defaultdict(Counter)
    for attempt in attempts:
        scores[attempt.id] = {}
        for entry in attempt.paper:
            answer = answers[attempt.id].get(entry["q"])
            share = (answer.earned or 0) / entry["points"] if answer and entry["points"] else 0.0
            scores[attempt.id][entry["q"]] = share
            item = items[entry["q"]]
            item.seen += 1
            item.correct += bool(answer and answer.correct)
            choice = get_type(item.type).wrong_choice(answer.response) if answer and not answer.correct else None
            if choice is not None:
                wrong[entry["q"]][choice] += 1
    ranked = sorted(attempts, key=lambda a: -(a.score or 0))
    group = max(1, round(len(ranked) * 0.27)) if ranked else 0
    upper, lower = ranked[:group], ranked[-group:] if group else []
    for qid, item in items.items():
        if not item.seen:
            continue
        shares = [scores[a.id][qid] for a in attempts if qid in scores[a.id]]
        item.facility = sum(shares) / len(shares)
        item.accuracy = item.correct / item.seen
        up = [scores[a.id][qid] for a in upper if qid in scores[a.id]]
        low = [scores[a.id][qid] for a in lower if qid in scores[a.id]]
        if up and low and len(attempts) >= 2:
            item.discrimination = sum(up) / len(up) - sum(low) / len(low)
        if wrong[qid]:
            item.wrong_choice, item.wrong_choice_count = wrong[qid].most_common(1)[0]
    common = set.intersection(*(set(s) for s in scores.values())) if scores else set()
    alpha = cronbach_alpha([[scores[a][q] for q in sorted(common)] for a in scores]) if len(common) >= 2 else None
    tag_shares = defaultdict(list)
    for attempt_scores in scores.values():
        for qid, share in attempt_scores.items():
            for tag in items[qid].tags:
                tag_shares[tag].append(share)
    return Analysis(attempts=len(attempts), items=sorted(items.values(), key=lambda i: i.question_id),
                    alpha=alpha, alpha_items=len(common) if alpha is not None else 0,
                    tags={t: sum(v) / len(v) for t, v in sorted(tag_shares.items())})


def cronbach_alpha(matrix: list[list[float]]) -> float | None:
    """α = k/(k−1) · (1 − Σ item variances / variance of totals); rows are people, columns items."""
    if len(matrix) < 2 or not matrix[0] or len(matrix[0]) < 2:
        return None
    k = len(matrix[0])

    def variance(values):
        mean = sum(values) / len(values)
        return sum((v - mean) ** 2 for v in values) / (len(values) - 1)

    total_var = variance([sum(row) for row in matrix])
    if total_var == 0 or math.isnan(total_var):
        return None
    item_var = sum(variance([row[j] for row in matrix]) for j in range(k))
    return k / (k - 1) * (1 - item_var / total_var)


def practice_from_missed(quiz: Quiz, question_ids: list[int], *, actor: User | None, now: datetime) -> Quiz:
    """Turn chosen (most-missed) questions into a practice quiz: they are copied into a bank
    named after the quiz, and a practice quiz draws all of them."""
    from quiz.models import Bank, Question
    from quiz.services.quizzes import create_quiz

    scope.require_quiz(actor, quiz)
    if not question_ids:
        raise Invalid(_("Choose at least one question."))
    questions = questions_by_id(question_ids)
    quiz_banks = {b.id for b in quiz.banks}
    foreign = sorted(set(question_ids) - {qid for qid, q in questions.items() if q.bank_id in quiz_banks})
    if foreign:  # ids come from a form: only this quiz's own questions may be copied
        raise Invalid(_("Questions %(ids)s are not on this quiz's papers.", ids=", ".join(map(str, foreign[:10]))))
    name = _("%(title)s · most-missed questions", title=quiz.title)[:200]
    bank = db.session.execute(select(Bank).where(Bank.name == name)).scalar_one_or_none()
    if bank is None:
        bank = Bank(name=name, unit=quiz.unit, created_at=now, updated_at=now)
        db.session.add(bank)
        db.session.flush()
    existing = set(db.session.execute(select(Question.fingerprint).where(Question.bank_id == bank.id)).scalars())
    for q in questions.values():
        if q.fingerprint not in existing:
            db.session.add(Question(bank_id=bank.id, type=q.type, stem=q.stem, options=list(q.options),
                                    answer=q.answer, explanation=q.explanation, points=q.points,
                                    difficulty=q.difficulty, tags_text=q.tags_text, fingerprint=q.fingerprint,
                                    created_at=now, updated_at=now))
    db.session.flush()
    counts = Counter(q.type for q in questions.values())
    return create_quiz({"title": name, "mode": "practice", "banks": [bank.id],
                        "rules": [{"type": t, "count": n, "points": 1} for t, n in counts.items()],
                        "audience": {"units": [u.path for u in quiz.audience_units]}},
                       actor=actor, now=now)
