"""Attempts: joining (or resuming), saving answers before the server's deadline, grading and
submitting. Rules: docs/rules.md "Scoring" and "Time, deadlines and closing".

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
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from quiz import events
from quiz.errors import Conflict, Forbidden, IdentityMismatch, Invalid, NotFound, QuizError
from quiz.extensions import db
from quiz.models import Answer, Attempt, Participant, Question, Quiz, Unit, User
from quiz.questions import LETTERS, AnswerError, get_type
from quiz.questions.blank import split_blanks
from quiz.services import hotpath
from quiz.services.papers import paper_for_join
from quiz.services.people import access_code_matches, normalise_access_code, normalise_name, normalise_phone
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
             now: datetime, access_code: str | None = None) -> Participant:
    """The participant joining, checked as the quiz asks (Quiz.identity_check):

    - none: name + phone number; a new phone number creates a person in the chosen unit;
    - roster: a person on the roster, with the roster's name;
    - code: as roster, plus the person's personal access code.

    Details that do not identify the person raise IdentityMismatch with one message whatever did
    not match (docs/deployment.md "Joining"). A person's unit is never changed by joining: someone
    who picks another unit joins under their registered unit (only an organiser moves people,
    with their past results).
    """
    if user is not None and unit_path is None:  # a logged-in account linked to a person: no code needed
        person = db.session.execute(select(Participant).where(Participant.user_id == user.id)).scalar_one_or_none()
        if person is not None:
            if quiz.roster_only and not person.on_roster:
                raise Forbidden(_("This quiz is only for the people on its roster; please contact the organiser."))
            if not _in_audience(quiz, person.unit):
                raise Forbidden(_("This quiz is not open to your unit."))
            return person
    name = normalise_name(name)
    phone = normalise_phone(phone)
    person = db.session.execute(select(Participant).where(Participant.phone == phone)).scalar_one_or_none()
    if quiz.access_code_required and not normalise_access_code(access_code):
        raise Invalid(_("access code: enter the personal access code the organiser gave you."))
    if quiz.roster_only:
        matches = person is not None and person.on_roster and person.name == name
        if quiz.access_code_required:
            matches = matches and access_code_matches(person, access_code)
            if not matches:
                raise IdentityMismatch(_("The name, phone number and access code do not match this quiz's "
                                         "roster; please check them or contact the organiser."))
        elif not matches:
            raise IdentityMismatch(_("The name and phone number do not match this quiz's roster; please check "
                                     "them or contact the organiser."))
    elif person is not None and person.name != name:
        raise IdentityMismatch(_("The name and phone number do not match; please check them or contact "
                                 "the organiser."))
    if person is not None:
        if not _in_audience(quiz, person.unit):
            raise Forbidden(_("This quiz is not open to your registered unit “%(unit)s”; if you have moved, "
                              "please ask the organiser to update your details.", unit=person.unit.path))
    else:
        unit = find_unit(unit_path) if unit_path else None
        if unit is None:
            raise Invalid(_("unit: choose your unit from the list."))
        if not _in_audience(quiz, unit):
            raise Forbidden(_("This quiz is not open to “%(unit)s”.", unit=unit.path))
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
            if person.name != name:
                raise IdentityMismatch(_("The name and phone number do not match; please check them or "
                                         "contact the organiser."))
    if user is not None and person.user_id is None and not db.session.execute(
            select(Participant.id).where(Participant.user_id == user.id)).first():
        person.user_id = user.id  # a logged-in account joining links itself to this person
    return person


def join(quiz: Quiz, *, name: str = "", phone: str = "", unit_path: str | None = None,
         user: User | None = None, now: datetime, rng: random.Random | None = None,
         access_code: str | None = None) -> JoinResult:
    """Start an attempt, or resume the open one (same phone, before its deadline)."""
    lock_quiz(quiz, exclusive=False)
    if quiz.opens_at is not None and now < quiz.opens_at:
        raise Conflict(_("This quiz has not opened yet."))
    person = identify(quiz, name=name, phone=phone, unit_path=unit_path, user=user, now=now,
                      access_code=access_code)
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
    paper = paper_for_join(quiz, rng or random.Random(secrets.randbits(64)))  # 统一试卷: a copy; 随机组卷: a draw
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


def lock_quiz(quiz: Quiz, *, exclusive: bool) -> None:
    """Re-read the quiz with a row lock: joins take a shared key lock (they never wait for each
    other), closing and extending take the exclusive lock. A join therefore either finishes before
    a close takes its cut (and its new sheet is cut too) or sees the closed quiz afterwards."""
    stmt = select(Quiz).where(Quiz.id == quiz.id).execution_options(populate_existing=True)
    # the row must be fetched: the ORM refreshes the object (populate_existing) only from rows it reads
    db.session.execute(stmt.with_for_update() if exclusive else stmt.with_for_update(read=True, key_share=True)
                       ).scalar_one()


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
def ensure_writable(attempt: Attempt, now: datetime) -> None:
    """Raise Conflict (409) once the attempt is submitted or its deadline has passed."""
    if attempt.status != "open":
        raise Conflict(_("This answer sheet has already been submitted; the answer was not saved."))
    if attempt.deadline is not None and now > attempt.deadline:
        grade_attempt(attempt, at=attempt.deadline, auto=True)
        raise Conflict(_("Time is up: the answer was not saved, and the sheet was submitted with the answers "
                         "saved before the deadline."))


def _store(attempt: Attempt, question_id: int, response: str | None, now: datetime) -> None:
    """Write (or clear) one answer through the guarded statement; a sheet closed since
    ensure_writable looked at it (an organiser's close, a submission) refuses with 409."""
    if not hotpath.store_in_session(db.session, attempt.id, question_id, response, now):
        db.session.refresh(attempt)
        ensure_writable(attempt, now)
        raise Conflict(_("This answer sheet has already been submitted; the answer was not saved."))


def save_answer(attempt: Attempt, question_id: int, response, *, now: datetime) -> dict:
    """Save (or clear, with null/empty) the response to one question; the last write before the
    deadline wins. In practice mode the result says at once whether it is right."""
    ensure_writable(attempt, now)
    entry = _entry(attempt, question_id)
    question = db.session.get(Question, question_id)
    kind = get_type(question.type)
    if response is None or response == "" or response == [] or (
            isinstance(response, list) and all(isinstance(x, str) and not x.strip() for x in response)):
        _store(attempt, question_id, None, now)
        return {"saved": True, "response": None}
    try:
        canonical = kind.normalise_response(response, len(question.options or []))
    except AnswerError as exc:
        raise Invalid(str(exc))
    if question.type in ("single", "multi"):
        canonical = to_original(canonical, entry["order"])
    _store(attempt, question_id, canonical, now)
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


_CLOCK_SQL = text("SELECT status, deadline, auto_submitted FROM attempt WHERE id = :id").columns(
    Attempt.status, Attempt.deadline, Attempt.auto_submitted)


def sheet_clock(attempt_id: int, token: str | None, *, now: datetime) -> dict:
    """What a phone on the answer sheet polls: {"status", "reason", "deadline", "server_time"}.

    Read-only and cheap (the token is checked against the cached sheet, one small row is read):
    a sheet past its deadline reads as "closed" without being graded here; the write paths
    (saving, submitting, the result page) grade it. `reason` says why a sheet is no longer open:
    "time_up" (past its deadline), "closed" (submitted when the quiz closed or time ran out) or
    "submitted" (submitted by the participant)."""
    from quiz.services import hotpath

    meta = hotpath.sheet(db.engine, attempt_id)
    if meta is None:
        raise NotFound(_("Attempt %(id)s does not exist.", id=attempt_id))
    if not hotpath.token_ok(meta, token, current_app.config["SECRET_KEY"]):
        raise QuizError(_("This answer sheet's token is missing or wrong."), status_code=401)
    conn = db.engine.connect()  # outside the request's ORM session: one small read
    if db.engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")  # no BEGIN/ROLLBACK round trips
    with conn:
        row = conn.execute(_CLOCK_SQL, {"id": attempt_id}).one()
    status, reason = row.status, None
    if status == "open" and row.deadline is not None and now > row.deadline:
        status, reason = "closed", "time_up"
    elif status != "open":
        reason = "closed" if row.auto_submitted else "submitted"
    return {"status": status, "reason": reason,
            "deadline": row.deadline.isoformat() if row.deadline else None, "server_time": now.isoformat()}


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
    """Grade every saved answer and close the attempt at `at` (its submission time; never later than
    its deadline, which is then an automatic submission).

    The sheet's row is locked first (FOR UPDATE on PostgreSQL) and re-read: answer saves in flight
    finish before the answers are read, later ones wait and are then refused, so the grade covers
    exactly the answers that were acknowledged (see hotpath._WRITABLE)."""
    if attempt.status != "open":
        return attempt
    db.session.execute(select(Attempt).where(Attempt.id == attempt.id).with_for_update()
                       .execution_options(populate_existing=True)).scalar_one()  # fetched: refreshes `attempt`
    if attempt.status != "open":
        return attempt
    if attempt.deadline is not None and at > attempt.deadline:
        at, auto = attempt.deadline, True
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
    events.sheet_graded(attempt)
    return attempt


def submit(attempt: Attempt, *, now: datetime) -> Attempt:
    """Submit now (or at the deadline if it has passed); submitting again changes nothing."""
    if attempt.status == "open":
        if attempt.deadline is not None and now > attempt.deadline:
            grade_attempt(attempt, at=attempt.deadline, auto=True)
        else:
            grade_attempt(attempt, at=now)
    return attempt


def _overdue_ids(quiz: Quiz, now: datetime) -> list[int]:
    return list(db.session.execute(select(Attempt.id).where(
        Attempt.quiz_id == quiz.id, Attempt.status == "open", Attempt.deadline.is_not(None),
        Attempt.deadline < now).order_by(Attempt.id)).scalars())


def close_overdue(quiz: Quiz, *, now: datetime) -> int:
    """Grade every open attempt of the quiz whose deadline has passed, at its deadline, each in its
    own short transaction (committed here), so that closing a quiz with thousands of open sheets
    never holds one long transaction or lock over all of them. Returns how many were graded.

    The one function that closes overdue sheets: run by the write paths that need it (closing a
    quiz) and by `quiz close-overdue`, which a timer runs every minute (docs/deployment.md).
    Reads never grade: until then a sheet past its deadline is simply not submitted yet, and
    every board, report and points board leaves it out alike."""
    graded = 0
    for attempt_id in _overdue_ids(quiz, now):
        attempt = db.session.get(Attempt, attempt_id)
        if attempt is not None and attempt.status == "open":
            grade_attempt(attempt, at=now, auto=True)
            graded += attempt.status == "submitted"
        db.session.commit()
    return graded


def close_all_overdue(*, now: datetime) -> int:
    """close_overdue for every quiz with an open sheet past its deadline. Returns how many sheets
    were graded."""
    quiz_ids = list(db.session.execute(select(Attempt.quiz_id).where(
        Attempt.status == "open", Attempt.deadline.is_not(None), Attempt.deadline < now).distinct()).scalars())
    db.session.commit()
    return sum(close_overdue(db.session.get(Quiz, quiz_id), now=now) for quiz_id in quiz_ids)


def is_overdue(attempt: Attempt, now: datetime) -> bool:
    """Open, but past its deadline: it counts as closed, and is graded by the next write path or
    `quiz close-overdue` (reads never grade it)."""
    return attempt.status == "open" and attempt.deadline is not None and now > attempt.deadline


def passed(attempt: Attempt) -> bool | None:
    if attempt.quiz.pass_score is None or attempt.score is None:
        return None
    return attempt.score >= attempt.quiz.pass_score


def result_level(score: float | None, *, pass_score: float | None, excellent_score: float | None) -> str | None:
    """The result's level: "excellent" at or above the excellent mark, "pass" at or above the pass
    mark, else "fail"; None without a score, or below an excellent mark when there is no pass mark."""
    if score is None:
        return None
    if excellent_score is not None and score >= excellent_score:
        return "excellent"
    if pass_score is None:
        return None
    return "pass" if score >= pass_score else "fail"


def result_label(level: str | None) -> str | None:
    """The level as people read it: 优秀, 及格, 不及格."""
    return {"excellent": _("Excellent"), "pass": _("Passed"), "fail": _("Not passed")}.get(level or "")


def attempt_level(attempt: Attempt) -> str | None:
    return result_level(attempt.score, pass_score=attempt.quiz.pass_score,
                        excellent_score=attempt.quiz.excellent_score)


def result_payload(attempt: Attempt, *, now: datetime) -> dict:
    from quiz.services.ranking import rank_of

    return {
        "score": attempt.score,
        "max_score": attempt.max_score,
        "correct_count": attempt.correct_count,
        "question_count": attempt.question_count,
        "time_used_seconds": attempt.time_used_seconds,
        "passed": passed(attempt),
        "level": attempt_level(attempt),
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
