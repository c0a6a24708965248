"""Attempts: joining (or resuming), saving answers before the server's deadline, grading and
submitting. Rules: DOMAIN.md "Papers and scoring".

- Time used is measured on the server from the attempt's start to its submission.
- Answers after the deadline are refused; an attempt not submitted by then is graded at the
  deadline with what was saved.
- The database holds one answer row per (attempt, question) and one open attempt per
  (quiz, participant); concurrent duplicates resolve to the same rows.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from quiz.errors import Conflict, Forbidden, Invalid, NotFound, QuizError
from quiz.extensions import db
from quiz.models import Answer, Attempt, Participant, Question, Quiz, Unit, User
from quiz.questions import LETTERS, AnswerError, get_type
from quiz.questions.blank import split_blanks
from quiz.services import scope
from quiz.services.papers import cached_pool, draw_paper
from quiz.services.people import normalise_name, normalise_phone
from quiz.services.units import find_unit


# ---------------------------------------------------------------- tokens
def attempt_token(attempt: Attempt) -> str:
    """The attempt's bearer token: an HMAC of its id and nonce (the same on every resume)."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"attempt:{attempt.id}:{attempt.nonce}".encode(), hashlib.sha256).hexdigest()
    return f"{attempt.id}.{digest[:40]}"


def check_token(attempt: Attempt, token: str | None) -> None:
    if not token or not token.isascii() or not hmac.compare_digest(attempt_token(attempt), token.strip()):
        raise QuizError(_("This answer sheet's token is missing or wrong."), status_code=401)


def get_attempt(attempt_id: int, token: str | None) -> Attempt:
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None:
        raise NotFound(_("Attempt %(id)s does not exist.", id=attempt_id))
    check_token(attempt, token)
    return attempt


# ---------------------------------------------------------------- joining
@dataclass
class JoinResult:
    attempt: Attempt
    resumed: bool


def _in_audience(quiz: Quiz, unit: Unit) -> bool:
    return not quiz.audience_units or any(unit.is_within(u) for u in quiz.audience_units)


def identify(quiz: Quiz, *, name: str, phone: str, unit_path: str | None, user: User | None,
             now: datetime) -> Participant:
    """The participant joining: from the roster (roster-only quizzes) or created/updated."""
    if user is not None and unit_path is None:
        person = db.session.execute(select(Participant).where(Participant.user_id == user.id)).scalar_one_or_none()
        if person is not None:
            if not _in_audience(quiz, person.unit):
                raise Forbidden(_("This quiz is not open to your unit."))
            return person
    name = normalise_name(name)
    phone = normalise_phone(phone)
    person = db.session.execute(select(Participant).where(Participant.phone == phone)).scalar_one_or_none()
    if quiz.roster_only:
        if person is None or not person.on_roster or not _in_audience(quiz, person.unit):
            raise Forbidden(_("%(name)s (%(phone)s) is not on this quiz's roster; please check the phone "
                              "number or contact the organiser.", name=name, phone=phone[:3] + "****" + phone[-4:]))
        if person.name != name:
            raise Forbidden(_("The name does not match the roster entry for this phone number."))
        if user is not None and person.user_id is None and not db.session.execute(
                select(Participant.id).where(Participant.user_id == user.id)).first():
            person.user_id = user.id
        return person
    unit = find_unit(unit_path) if unit_path else (person.unit if person else None)
    if unit is None:
        raise Invalid(_("unit: choose your unit from the list."))
    if not _in_audience(quiz, unit):
        raise Forbidden(_("This quiz is not open to “%(unit)s”.", unit=unit.path))
    if person is None:
        # an account already linked to another person (joined before with another phone) stays so
        link = user is not None and not db.session.execute(
            select(Participant.id).where(Participant.user_id == user.id)).first()
        person = Participant(name=name, phone=phone, unit_id=unit.id, on_roster=False, created_at=now,
                             updated_at=now, user_id=user.id if link else None)
        try:
            with db.session.begin_nested():
                db.session.add(person)
                db.session.flush()
        except IntegrityError:  # the same phone joined at the same moment
            if person in db.session:
                db.session.expunge(person)
            person = db.session.execute(select(Participant).where(Participant.phone == phone)).scalar_one()
    elif person.name != name:
        raise Forbidden(_("This phone number is registered under another name; please check it."))
    elif person.unit_id != unit.id and not person.on_roster:
        person.unit = unit
        person.updated_at = now
    if user is not None and person.user_id is None and not db.session.execute(
            select(Participant.id).where(Participant.user_id == user.id)).first():
        person.user_id = user.id  # a logged-in account joining links itself to this person
    return person


def join(quiz: Quiz, *, name: str = "", phone: str = "", unit_path: str | None = None,
         user: User | None = None, now: datetime, rng: random.Random | None = None) -> JoinResult:
    """Start an attempt, or resume the open one (same phone, before its deadline)."""
    if quiz.opens_at is not None and now < quiz.opens_at:
        raise Conflict(_("This quiz has not opened yet."))
    person = identify(quiz, name=name, phone=phone, unit_path=unit_path, user=user, now=now)
    open_attempt = _open_attempt(quiz, person)
    if open_attempt is not None:
        if open_attempt.deadline is not None and now > open_attempt.deadline:
            grade_attempt(open_attempt, at=open_attempt.deadline, auto=True)
        else:
            return JoinResult(open_attempt, True)
    if not quiz.is_open(now):
        raise Conflict(_("This quiz is closed."))
    used = db.session.scalar(select(db.func.count(Attempt.id)).where(
        Attempt.quiz_id == quiz.id, Attempt.participant_id == person.id)) or 0
    if quiz.attempts_allowed and used >= quiz.attempts_allowed:
        raise Conflict(ngettext("You have already used your %(num)d attempt for this quiz.",
                                "You have used all %(num)d attempts for this quiz.", quiz.attempts_allowed))
    paper = draw_paper(quiz, cached_pool([b.id for b in quiz.banks]), rng or random.Random(secrets.randbits(64)))
    deadline = None
    if quiz.duration_seconds and not quiz.is_practice:
        deadline = now + _seconds(quiz.duration_seconds)
        if quiz.closes_at is not None:
            deadline = min(deadline, quiz.closes_at)
    attempt = Attempt(quiz_id=quiz.id, participant_id=person.id, number=used + 1, nonce=secrets.token_hex(16),
                      status="open", open_slot=person.id, paper=paper, started_at=now, deadline=deadline,
                      max_score=round(sum(e["points"] for e in paper), 4), question_count=len(paper))
    try:
        with db.session.begin_nested():
            db.session.add(attempt)
            db.session.flush()
    except IntegrityError:  # a concurrent join created it first: resume that one
        if attempt in db.session:
            db.session.expunge(attempt)
        existing = _open_attempt(quiz, person)
        if existing is None:
            raise
        return JoinResult(existing, True)
    return JoinResult(attempt, False)


def _seconds(n: int):
    from datetime import timedelta
    return timedelta(seconds=n)


def _open_attempt(quiz: Quiz, person: Participant) -> Attempt | None:
    return db.session.execute(select(Attempt).where(
        Attempt.quiz_id == quiz.id, Attempt.open_slot == person.id)).scalar_one_or_none()


# ---------------------------------------------------------------- what a participant sees
def _entry(attempt: Attempt, question_id: int) -> dict:
    for entry in attempt.paper:
        if entry["q"] == question_id:
            return entry
    raise NotFound(_("Question %(id)s is not on this answer sheet.", id=question_id))


def shown_options(question: Question, order: list[int] | None) -> list[str]:
    options = question.options or []
    return [options[i] for i in order] if order else list(options)


def to_original(letters: str, order: list[int] | None) -> str:
    """Letters as shown → the bank's letters (sorted)."""
    if not order:
        return letters
    return "".join(sorted(LETTERS[order[LETTERS.index(c)]] for c in letters))


def to_shown(letters: str, order: list[int] | None) -> str:
    """The bank's letters → letters as shown to this participant (sorted)."""
    if not order:
        return letters
    return "".join(sorted(LETTERS[order.index(LETTERS.index(c))] for c in letters))


def questions_by_id(ids: list[int]) -> dict[int, Question]:
    return {q.id: q for q in db.session.execute(select(Question).where(Question.id.in_(ids))).scalars()} if ids else {}


def paper_payload(attempt: Attempt) -> list[dict]:
    """The questions as shown, without answers, explanations or anything that gives them away."""
    questions = questions_by_id([e["q"] for e in attempt.paper])
    out = []
    for entry in attempt.paper:
        q = questions[entry["q"]]
        item = {"id": q.id, "type": q.type, "stem": q.stem,
                "options": [{"key": LETTERS[i], "text": t} for i, t in enumerate(shown_options(q, entry["order"]))],
                "blanks": len(split_blanks(q.answer)) if q.type == "blank" else 0,
                "points": entry["points"]}
        out.append(item)
    return out


def response_for_client(question_type: str, stored: str, order: list[int] | None):
    """A saved answer as the client sent it: shown letters, 正确/错误, or a list of strings."""
    if question_type == "blank":
        return json.loads(stored)
    if question_type in ("single", "multi"):
        return to_shown(stored, order)
    return stored


def saved_answers(attempt: Attempt) -> dict[str, object]:
    rows = db.session.execute(select(Answer.question_id, Answer.response).where(Answer.attempt_id == attempt.id))
    types = {e["q"]: e for e in attempt.paper}
    kinds = dict(db.session.execute(select(Question.id, Question.type).where(
        Question.id.in_(list(types)))).all()) if types else {}
    return {str(qid): response_for_client(kinds[qid], resp, types[qid]["order"]) for qid, resp in rows}


def join_payload(attempt: Attempt) -> dict:
    return {
        "attempt_id": attempt.id,
        "token": attempt_token(attempt),
        "deadline": attempt.deadline.isoformat() if attempt.deadline else None,
        "questions": paper_payload(attempt),
        "answers": saved_answers(attempt),
    }


# ---------------------------------------------------------------- answering
def _upsert_answer(attempt_id: int, question_id: int, response: str, now: datetime) -> None:
    dialect = db.engine.dialect.name
    values = {"attempt_id": attempt_id, "question_id": question_id, "response": response, "saved_at": now}
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover
        raise RuntimeError(f"unsupported database {dialect}")
    stmt = insert(Answer).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=["attempt_id", "question_id"],
                                      set_={"response": stmt.excluded.response, "saved_at": stmt.excluded.saved_at})
    db.session.execute(stmt)


def ensure_writable(attempt: Attempt, now: datetime) -> None:
    """Raise Conflict (409) once the attempt is submitted or its deadline has passed."""
    if attempt.status != "open":
        raise Conflict(_("This answer sheet has already been submitted; the answer was not saved."))
    if attempt.deadline is not None and now > attempt.deadline:
        grade_attempt(attempt, at=attempt.deadline, auto=True)
        raise Conflict(_("Time is up: the answer was not saved, and the sheet was submitted with the answers "
                         "saved before the deadline."))


def save_answer(attempt: Attempt, question_id: int, response, *, now: datetime) -> dict:
    """Save (or clear, with null/empty) the response to one question; the last write before the
    deadline wins. In practice mode the result says at once whether it is right."""
    ensure_writable(attempt, now)
    entry = _entry(attempt, question_id)
    question = db.session.get(Question, question_id)
    kind = get_type(question.type)
    if response is None or response == "" or response == [] or (
            isinstance(response, list) and all(isinstance(x, str) and not x.strip() for x in response)):
        db.session.execute(delete(Answer).where(Answer.attempt_id == attempt.id, Answer.question_id == question_id))
        return {"saved": True, "response": None}
    try:
        canonical = kind.normalise_response(response, len(question.options or []))
    except AnswerError as exc:
        raise Invalid(str(exc))
    if question.type in ("single", "multi"):
        canonical = to_original(canonical, entry["order"])
    _upsert_answer(attempt.id, question_id, canonical, now)
    result = {"saved": True, "response": response_for_client(question.type, canonical, entry["order"])}
    if attempt.quiz.is_practice:
        fraction = kind.grade(question.answer, canonical, attempt.quiz.multi_partial)
        result.update({"correct": fraction == 1, "earned": round(entry["points"] * fraction, 4),
                       "answer": _shown_answer(question, entry["order"]),
                       "explanation": question.explanation})
    return result


def _shown_answer(question: Question, order: list[int] | None):
    if question.type in ("single", "multi"):
        return to_shown(question.answer, order)
    if question.type == "blank":
        return [b for b in split_blanks(question.answer)]
    return question.answer


def record_event(attempt: Attempt, kind: str, *, now: datetime) -> int:
    """Count a tab/app switch (shown to the organiser; never changes the score by itself)."""
    if kind not in ("blur", "hidden", "switch"):
        raise Invalid(_("Unknown event type “%(kind)s”.", kind=kind))
    if attempt.status == "open":
        db.session.execute(update(Attempt).where(Attempt.id == attempt.id)
                           .values(tab_switches=Attempt.tab_switches + 1))
        db.session.refresh(attempt)
    return attempt.tab_switches


# ---------------------------------------------------------------- grading
def grade_paper(paper: list[dict], responses: dict[int, str], questions: dict, multi_partial: str
                ) -> tuple[float, int, dict[int, tuple[float, bool]]]:
    """The grading rule every path shares (submission, `quiz verify`, regrade): a sheet's score
    (rounded to 4 places), its number of fully right answers, and per answered question
    (earned points, fully right). `responses` maps question id → stored response."""
    score, correct, marks = 0.0, 0, {}
    for entry in paper:
        response = responses.get(entry["q"])
        if response is None:
            continue
        question = questions[entry["q"]]
        fraction = get_type(question.type).grade(question.answer, response, multi_partial)
        earned, right = round(entry["points"] * fraction, 4), fraction == 1
        marks[entry["q"]] = (earned, right)
        score += earned
        correct += right
    return round(score, 4), correct, marks


def grade_attempt(attempt: Attempt, *, at: datetime, auto: bool = False) -> Attempt:
    """Grade every saved answer and close the attempt at `at` (its submission time)."""
    if attempt.status != "open":
        return attempt
    quiz = attempt.quiz
    answers = {a.question_id: a for a in db.session.execute(
        select(Answer).where(Answer.attempt_id == attempt.id)).scalars()}
    questions = questions_by_id([e["q"] for e in attempt.paper])
    score, correct, marks = grade_paper(attempt.paper, {q: a.response for q, a in answers.items()}, questions,
                                        quiz.multi_partial)
    for question_id, (earned, right) in marks.items():
        answers[question_id].earned, answers[question_id].correct = earned, right
    attempt.score = score
    attempt.correct_count = correct
    attempt.question_count = len(attempt.paper)
    attempt.max_score = round(sum(e["points"] for e in attempt.paper), 4)
    attempt.submitted_at = at
    attempt.time_used_ms = max(0, int(round((at - attempt.started_at).total_seconds() * 1000)))
    attempt.status = "submitted"
    attempt.open_slot = None
    attempt.auto_submitted = auto
    attempt.flagged_fast = bool(quiz.min_seconds) and attempt.time_used_ms < quiz.min_seconds * 1000
    db.session.flush()
    return attempt


def submit(attempt: Attempt, *, now: datetime) -> Attempt:
    """Submit now (or at the deadline if it has passed); submitting again changes nothing."""
    if attempt.status == "open":
        if attempt.deadline is not None and now > attempt.deadline:
            grade_attempt(attempt, at=attempt.deadline, auto=True)
        else:
            grade_attempt(attempt, at=now)
    return attempt


def finalise_overdue(quiz: Quiz, *, now: datetime) -> int:
    """Grade every open attempt whose deadline has passed, at its deadline. Returns how many."""
    overdue = db.session.execute(select(Attempt).where(
        Attempt.quiz_id == quiz.id, Attempt.status == "open", Attempt.deadline.is_not(None),
        Attempt.deadline < now)).scalars().all()
    for attempt in overdue:
        grade_attempt(attempt, at=attempt.deadline, auto=True)
    return len(overdue)


def passed(attempt: Attempt) -> bool | None:
    if attempt.quiz.pass_score is None or attempt.score is None:
        return None
    return attempt.score >= attempt.quiz.pass_score


def result_payload(attempt: Attempt, *, now: datetime) -> dict:
    from quiz.services.ranking import rank_of

    return {
        "score": attempt.score,
        "max_score": attempt.max_score,
        "correct_count": attempt.correct_count,
        "question_count": attempt.question_count,
        "time_used_seconds": attempt.time_used_seconds,
        "passed": passed(attempt),
        "rank": None if attempt.quiz.is_practice else rank_of(attempt, now=now),
    }


def answers_visible(quiz: Quiz, now: datetime) -> bool:
    """May participants see right answers and explanations now (the quiz's setting)?"""
    if quiz.is_practice or quiz.show_answers == "after_submit":
        return True
    if quiz.show_answers == "after_close":
        return quiz.closes_at is not None and now >= quiz.closes_at
    return False


def review_payload(attempt: Attempt, *, now: datetime) -> list[dict] | None:
    """Each question with the participant's answer and, if allowed, the right one."""
    if attempt.status != "submitted":
        return None
    reveal = answers_visible(attempt.quiz, now)
    questions = questions_by_id([e["q"] for e in attempt.paper])
    answers = {a.question_id: a for a in db.session.execute(
        select(Answer).where(Answer.attempt_id == attempt.id)).scalars()}
    out = []
    for number, entry in enumerate(attempt.paper, start=1):
        q = questions[entry["q"]]
        a = answers.get(q.id)
        item = {"number": number, "id": q.id, "type": q.type, "stem": q.stem,
                "options": [{"key": LETTERS[i], "text": t} for i, t in enumerate(shown_options(q, entry["order"]))],
                "points": entry["points"],
                "response": response_for_client(q.type, a.response, entry["order"]) if a else None,
                "earned": a.earned if a else 0, "correct": bool(a and a.correct)}
        if reveal:
            item["answer"] = _shown_answer(q, entry["order"])
            item["explanation"] = q.explanation
        out.append(item)
    return out


# ---------------------------------------------------------------- 错题本
def wrong_questions(person: Participant, *, now: datetime) -> list[dict]:
    """Questions this person got wrong, or left unanswered, in submitted attempts whose answers may
    be shown; newest attempt first, each question once."""
    attempts = db.session.execute(
        select(Attempt).where(Attempt.participant_id == person.id, Attempt.status == "submitted")
        .order_by(Attempt.submitted_at.desc())).scalars().all()
    attempts = [a for a in attempts if answers_visible(a.quiz, now)]
    if not attempts:
        return []
    answers = {(a.attempt_id, a.question_id): a for a in db.session.execute(
        select(Answer).where(Answer.attempt_id.in_([a.id for a in attempts]))).scalars()}
    questions = questions_by_id(list({e["q"] for a in attempts for e in a.paper}))
    seen: set[int] = set()
    out = []
    for attempt in attempts:
        for entry in attempt.paper:
            question = questions[entry["q"]]
            answer = answers.get((attempt.id, question.id))
            if question.id in seen or (answer is not None and answer.correct):
                continue
            seen.add(question.id)
            out.append({"id": question.id, "type": question.type, "stem": question.stem,
                        "options": [{"key": LETTERS[i], "text": t} for i, t in enumerate(question.options or [])],
                        "blanks": len(split_blanks(question.answer)) if question.type == "blank" else 0,
                        "your_answer": response_for_client(question.type, answer.response, None) if answer else None,
                        "answer": _shown_answer(question, None), "explanation": question.explanation,
                        "quiz": attempt.quiz.title})
    return out


def check_practice(person: Participant, question_id: int, response, *, now: datetime) -> dict:
    """Practise a question from the person's 错题本: is this response right now?"""
    if question_id not in {q["id"] for q in wrong_questions(person, now=now)}:
        raise NotFound(_("This question is not in your wrong-answer book."))
    question = db.session.get(Question, question_id)
    kind = get_type(question.type)
    try:
        canonical = kind.normalise_response(response, len(question.options or []))
    except AnswerError as exc:
        raise Invalid(str(exc))
    return {"correct": kind.grade(question.answer, canonical) == 1, "answer": _shown_answer(question, None),
            "explanation": question.explanation}


def participant_scope_check(actor: User | None, attempt: Attempt) -> None:
    """Organisers see attempts of people in their subtree only."""
    scope.require_participant(actor, attempt.participant)
