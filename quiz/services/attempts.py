"""Attempts: joining (or resuming), saving answers before the server's deadline, grading and
submitting. Rules: docs/rules.md "Scoring" and "Time, deadlines and closing".

- Time used is measured on the server from the attempt's start to its submission.
- Answers after the deadline are refused; an attempt not submitted by then is graded at the
  deadline with what was saved.
- The database holds one answer row per (attempt, question) and one open attempt per
  (quiz, participant); concurrent duplicates resolve to the same rows.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, text, update

from quiz import events
from quiz.errors import Conflict, Invalid, NotFound, QuizError
from quiz.extensions import db
from quiz.models import Answer, Attempt, Participant, Question, Quiz, User
from quiz.questions import LETTERS, AnswerError, get_type
from quiz.services import answers
from quiz.services.pictures import picture_url


# ---------------------------------------------------------------- tokens
def attempt_token(attempt: Attempt) -> str:
    """The sheet's bearer token (answers.sheet_token)."""
    return answers.sheet_token(attempt.id, attempt.nonce, current_app.config["SECRET_KEY"])


def check_token(attempt: Attempt, token: str | None) -> None:
    if not answers.token_matches(attempt.id, attempt.nonce, token, current_app.config["SECRET_KEY"]):
        raise QuizError(_("This answer sheet's token is missing or wrong."), status_code=401)


def get_attempt(attempt_id: int, token: str | None) -> Attempt:
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None:
        raise NotFound(_("Attempt %(id)s does not exist.", id=attempt_id))
    check_token(attempt, token)
    return attempt


def require_whole_sheet(attempt: Attempt) -> None:
    """A live contest's answer sheet holds every question answered on phones, shown one at a time
    by the host: while the contest runs it is never read or submitted as a whole (409)."""
    if attempt.quiz.is_live and attempt.status == "open":
        raise Conflict(_("This answer sheet belongs to a live contest: its questions are shown one at a time "
                         "on the contest's page."))


# ---------------------------------------------------------------- joining
@dataclass
class JoinResult:
    attempt: Attempt
    resumed: bool


def identify(quiz: Quiz, *, name: str, phone: str, unit_path: str | None, user: User | None,
             now: datetime, access_code: str | None = None) -> Participant:
    """The participant joining, checked as the quiz asks (the rules: services/joins.py identify)."""
    from quiz.services import joins

    db.session.flush()  # the rules read with Core statements: pending objects first
    user_id = user.id if user is not None else None
    found = joins.read_quiz(quiz.id, lock=False, phone=phone, user_id=user_id, unit_path=unit_path)
    person = joins.identify(found, name=name, phone=phone, unit_path=unit_path, user_id=user_id, now=now,
                            access_code=access_code)
    return db.session.get(Participant, person.id)


def join(quiz: Quiz, *, name: str = "", phone: str = "", unit_path: str | None = None,
         user: User | None = None, now: datetime, rng: random.Random | None = None,
         access_code: str | None = None) -> JoinResult:
    """Start an attempt, or resume the open one (same phone, before its deadline): services/joins.py
    join, with the attempt as an ORM object."""
    from quiz.services import joins

    db.session.flush()  # the rules read with Core statements: pending objects first
    user_id = user.id if user is not None else None
    found = joins.read_quiz(quiz.id, phone=phone, user_id=user_id, unit_path=unit_path)
    sheet = joins.join(found, name=name, phone=phone, unit_path=unit_path, user_id=user_id, now=now, rng=rng,
                       access_code=access_code)
    return JoinResult(db.session.get(Attempt, sheet.id), sheet.resumed)


def lock_quiz(quiz: Quiz, *, exclusive: bool) -> None:
    """Re-read the quiz with a row lock: joins take a shared key lock (they never wait for each
    other), closing and extending take the exclusive lock. A join therefore either finishes before
    a close takes its cut (and its new sheet is cut too) or sees the closed quiz afterwards."""
    stmt = select(Quiz).where(Quiz.id == quiz.id).execution_options(populate_existing=True)
    # the row must be fetched: the ORM refreshes the object (populate_existing) only from rows it reads
    db.session.execute(stmt.with_for_update() if exclusive else stmt.with_for_update(read=True, key_share=True)
                       ).scalar_one()


# ---------------------------------------------------------------- what a participant sees
def _entry(attempt: Attempt, question_id: int) -> dict:
    for entry in attempt.paper:
        if entry["q"] == question_id:
            return entry
    raise NotFound(_("Question %(id)s is not on this answer sheet.", id=question_id))


def questions_by_id(ids: list[int]) -> dict[int, Question]:
    return {q.id: q for q in db.session.execute(select(Question).where(Question.id.in_(ids))).scalars()} if ids else {}


def paper_payload(attempt: Attempt) -> list[dict]:
    """The questions as shown, without answers, explanations or anything that gives them away
    (services/joins.py paper_views: cached per language and option order)."""
    from quiz.services.joins import paper_views

    return paper_views(attempt.paper)


def question_view(q: Question, order: list[int] | None) -> dict:
    """A question as a sheet shows it (never its answer): its type, how to show it (`widget`,
    the type's label), the stem, the options in the order shown, the number of blanks, and for a
    picture question `image`, the signed URL of its picture (services/pictures.py)."""
    return view_in_order(view_parts(q), order)


ViewParts = tuple[dict, list[list[dict]]]


def view_parts(q: Question) -> ViewParts:
    """question_view in two parts that do not depend on the option order, built once per question
    and language (services/joins.py caches them): the view without "options", and each option as
    shown at each place, cells[j][i] = {"key": LETTERS[i], "text": option j}."""
    kind = get_type(q.type)
    base = {"id": q.id, "type": q.type, "widget": kind.widget, "label": str(kind.label), "stem": q.stem,
            "blanks": kind.blank_count(q.answer)}
    if q.picture:
        base["image"] = picture_url(q.picture)
    options = q.options or []
    return base, [[{"key": LETTERS[i], "text": text} for i in range(len(options))] for text in options]


def view_in_order(parts: ViewParts, order: list[int] | None, **extra) -> dict:
    """The view of view_parts with the options in `order` (the sheet's; None: the bank's), plus
    `extra` fields (a paper's points). The option cells are shared between views: read, never changed."""
    base, cells = parts
    return {**base, "options": [cells[j][i] for i, j in enumerate(order if order else range(len(cells)))],
            **extra}


def saved_answers(attempt: Attempt) -> dict[str, object]:
    """The sheet's saved answers as the client sent them ({question id: response})."""
    from quiz.services.joins import saved_answers as saved

    return saved(attempt.id, attempt.paper)


def join_payload(attempt: Attempt, *, new: bool = False) -> dict:
    """What a phone gets on joining or resuming (services/joins.py payload): the token, the
    deadline, the questions as shown and the saved answers (none on a `new` sheet)."""
    from quiz.services.joins import Sheet, payload

    return payload(Sheet.of(attempt, resumed=not new))


# ---------------------------------------------------------------- answering
def _refuse(attempt: Attempt, now: datetime, question_id: int | None = None):
    """The sheet is not writable (answers.writable said so): 409 saying why. A sheet past its
    deadline is graded at the deadline on the way (this is a write path)."""
    db.session.refresh(attempt)
    if attempt.quiz.is_live and attempt.status == "open":  # a live contest's sheet: not this question now
        from quiz.services.live import window_question

        running = window_question(attempt.quiz_id)
        if running is not None and running != question_id:
            raise Conflict(_("This question does not take answers now; the answer was not saved. Answer "
                             "the question on the screen."))
        raise Conflict(_("No question is open for answers now; wait for the host to start the next one."))
    if attempt.status == "open" and attempt.deadline is not None and now > attempt.deadline:
        grade_attempt(attempt, at=attempt.deadline, auto=True)
        raise Conflict(_("Time is up: the answer was not saved, and the sheet was submitted with the answers "
                         "saved before the deadline."))
    raise Conflict(_("This answer sheet has already been submitted; the answer was not saved."))


def save_answer(attempt: Attempt, question_id: int, response, *, now: datetime) -> dict:
    """Save (or clear, with null/empty) the response to one question, by the rules in
    services/answers.py: the last write before the deadline wins; a closed sheet answers 409
    before an unreadable response answers 422. In practice mode the result says at once whether
    it is right."""
    live = attempt.quiz.is_live
    if not answers.writable(db.session, attempt.id, now, question_id=question_id, live=live):
        _refuse(attempt, now, question_id)
    entry = _entry(attempt, question_id)
    question = db.session.get(Question, question_id)
    kind = get_type(question.type)
    stored = None
    if not kind.is_empty(response):
        try:
            stored = answers.canonical(question.type, len(question.options or []), entry["order"], response)
        except AnswerError as exc:
            raise Invalid(str(exc))
    if not answers.store(db.session, attempt.id, question_id, stored, now, live=live):
        _refuse(attempt, now, question_id)
    if stored is None:
        return {"saved": True, "response": None}
    result = {"saved": True, "response": kind.for_client(stored, entry["order"])}
    if attempt.quiz.is_practice:
        fraction = kind.grade(question.answer, stored, attempt.quiz.multi_partial)
        result.update({"correct": fraction == 1, "earned": round(entry["points"] * fraction, 4),
                       "answer": kind.shown_answer(question.answer, entry["order"]),
                       "explanation": question.explanation})
    return result


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
    meta = answers.sheet(db.engine, attempt_id)
    if meta is None:
        raise NotFound(_("Attempt %(id)s does not exist.", id=attempt_id))
    if not answers.token_ok(meta, token, current_app.config["SECRET_KEY"]):
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
    exactly the answers that were acknowledged (see services/answers.py)."""
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
    """Submit now (at the deadline, as an automatic submission, once it has passed: grade_attempt
    clamps); submitting again changes nothing."""
    return grade_attempt(attempt, at=now)


def _overdue_ids(quiz: Quiz, now: datetime) -> list[int]:
    if quiz.is_live:  # its sheets stay open between questions; the contest's finish submits them
        return []
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
    quiz_ids = list(db.session.execute(select(Attempt.quiz_id).join(Quiz, Quiz.id == Attempt.quiz_id).where(
        Attempt.status == "open", Attempt.deadline.is_not(None), Attempt.deadline < now,
        Quiz.mode != "live").distinct()).scalars())  # a live sheet's deadline follows the running question
    db.session.commit()
    return sum(close_overdue(db.session.get(Quiz, quiz_id), now=now) for quiz_id in quiz_ids)


def is_overdue(attempt: Attempt, now: datetime) -> bool:
    """Open, but past its deadline: it counts as closed, and is graded by the next write path or
    `quiz close-overdue` (reads never grade it). A live contest's sheet never is."""
    return attempt.status == "open" and attempt.deadline is not None and now > attempt.deadline \
        and not attempt.quiz.is_live


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
    saved = {a.question_id: a for a in db.session.execute(
        select(Answer).where(Answer.attempt_id == attempt.id)).scalars()}
    out = []
    for number, entry in enumerate(attempt.paper, start=1):
        q = questions[entry["q"]]
        a = saved.get(q.id)
        kind = get_type(q.type)
        item = {"number": number, **question_view(q, entry["order"]), "points": entry["points"],
                "response": kind.for_client(a.response, entry["order"]) if a else None,
                "earned": a.earned if a else 0, "correct": bool(a and a.correct)}
        if reveal:
            item["answer"] = kind.shown_answer(q.answer, entry["order"])
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
    saved = {(a.attempt_id, a.question_id): a for a in db.session.execute(
        select(Answer).where(Answer.attempt_id.in_([a.id for a in attempts]))).scalars()}
    questions = questions_by_id(list({e["q"] for a in attempts for e in a.paper}))
    seen: set[int] = set()
    out = []
    for attempt in attempts:
        for entry in attempt.paper:
            question = questions[entry["q"]]
            answer = saved.get((attempt.id, question.id))
            if question.id in seen or (answer is not None and answer.correct):
                continue
            seen.add(question.id)
            kind = get_type(question.type)  # practised in the bank's own option order
            out.append({**question_view(question, None),
                        "your_answer": kind.for_client(answer.response, None) if answer else None,
                        "answer": kind.shown_answer(question.answer, None), "explanation": question.explanation,
                        "quiz": attempt.quiz.title})
    return out


def check_practice(person: Participant, question_id: int, response, *, now: datetime) -> dict:
    """Practise a question from the person's 错题本: is this response right now?"""
    if question_id not in {q["id"] for q in wrong_questions(person, now=now)}:
        raise NotFound(_("This question is not in your wrong-answer book."))
    question = db.session.get(Question, question_id)
    kind = get_type(question.type)
    try:
        stored = answers.canonical(question.type, len(question.options or []), None, response)
    except AnswerError as exc:
        raise Invalid(str(exc))
    return {"correct": kind.grade(question.answer, stored) == 1, "answer": kind.shown_answer(question.answer, None),
            "explanation": question.explanation}
