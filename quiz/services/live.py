"""Live stage contests (现场赛): set-up, joining, the host's commands, buzzes, wagers, answers on
phones and the scoreboard (docs/rules.md "Live contests"; round rules in quiz/rounds/).

How state is kept:
- Everything is in the database: the contest row says which question is current and its phase;
  each question row has its times and its round type's small `state`; buzzes, wagers and the
  score ledger are rows. Host commands lock the contest row (FOR UPDATE) so they apply one after
  another; buzzes and joins take a shared key lock on it (they never wait for each other, and
  never cross a host command). After every change an event on channel "live:<id>" tells every
  process and host (quiz/events.py) and screens and phones are pushed a fresh snapshot
  (quiz/live_push.py); host commands and set-up changes also raise the contest's `version`.
  Joins and buzzes do not: an UPDATE of the contest row would make thousands of them queue
  behind one another (docs/benchmarks.md "Live contests").
- A buzz is timed by the server: when it arrived, minus half the round trip measured for that
  phone (pings while it waits), at most LIVE_BUZZ_CORRECTION_CAP_MS. Both times are kept and the
  host sees both; buzzes are ordered by the corrected time, so who answers is decided among the
  buzzes of the current race by that order.
- Answers given on phones (共答, 必答 on phones) are saves of an ordinary answer sheet of the
  contest's hidden quiz, through the one answer-save rule and the answer lane: each player has
  one sheet with every phone question on it. The contest row holds the answer window (which bank
  question takes answers, until when): `start` and `resume` open it, `close`, `pause` and
  `finish` cut it, each an update of that one row however many phones play, and the answer-save
  rule refuses an answer to any other question or after the cut. Host commands hold the contest
  row FOR UPDATE and saves take FOR KEY SHARE on it, so the cut, read from the clock once the
  lock is held, is clean: every save stored before it is scored, every later one refused; then
  the answers saved in the question's window are graded by their question type and scored by
  the round type.
- Scores are an append-only ledger (base, answers, early buzzes, stakes, speed and streak, host
  corrections, undos); an entrant's total is its base plus its events; entrants are ranked by
  `ranking.competition_rank` (equal totals share a rank, 1, 2, 2, 4).
"""
from __future__ import annotations

import random
import re
import secrets
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from flask import current_app, has_request_context
from flask_babel import gettext as _
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from quiz import events
from quiz.errors import Conflict, Invalid, NotFound, QuizError
from quiz.extensions import db
from quiz.models import Answer, Attempt, Bank, Participant, Question, Quiz, Unit, User
from quiz.models.live import (LiveBuzz, LiveContest, LiveEntrant, LivePlayer, LiveQuestion, LiveRound, LiveScore,
                              LiveWager)
from quiz.questions import get_type
from quiz.rounds import ROUND_TYPES, PhoneAnswer, get_round_type, round_type_from_label
from quiz.rounds.everyone import no_answer
from quiz.services import answers, scope
from quiz.services.papers import check_fillable, draw_questions, draws, hand_picked, load_pool, parse_rules
from quiz.services.people import normalise_name, normalise_phone
from quiz.services.ranking import competition_rank
from quiz.services.units import find_unit

MAX_ENTRANTS = 500
MAX_ROUNDS = 30
MAX_ROUND_QUESTIONS = 200
RTT_SAMPLES = 7  # pings whose median is a phone's round trip
TOKEN_KIND = "live-player"


def channel(contest_id: int) -> str:
    """The event channel of a contest: "live:<id>"."""
    return f"live:{int(contest_id)}"


def correction_cap() -> float:
    return float(current_app.config["LIVE_BUZZ_CORRECTION_CAP_MS"])


# ---------------------------------------------------------------- set-up
def _text(value, field: str, limit: int, *, required: bool = True) -> str:
    text = " ".join(str(value or "").split()) if not isinstance(value, (dict, list)) else ""
    if required and not text:
        raise Invalid(_("%(field)s: required.", field=field))
    if len(text) > limit:
        raise Invalid(_("%(field)s: at most %(n)d characters.", field=field, n=limit))
    return text


def _hidden_quiz(title: str, banks: list[Bank], unit: Unit | None, actor: User | None, now: datetime) -> Quiz:
    from quiz.services.quizzes import new_join_code

    quiz = Quiz(title=title[:190] + "（现场赛）", mode="live", join_code=new_join_code(), unit=unit,
                created_by_id=actor.id if actor else None, rules=[], paper_mode="fixed", paper=[],
                shuffle_questions=False, shuffle_options=False, attempts_allowed=1, created_at=now, updated_at=now)
    quiz.banks = banks
    db.session.add(quiz)
    db.session.flush()
    return quiz


def create_contest(payload: dict, *, actor: User | None, now: datetime, rng: random.Random | None = None) -> LiveContest:
    """A live contest from the set-up (POST /api/v1/live, the set-up page): title, mode, banks,
    entrants and rounds. Raises Invalid naming the field, Forbidden outside the actor's scope."""
    from quiz.services.quizzes import new_join_code, resolve_banks

    if not isinstance(payload, dict):
        raise Invalid(_("Send the contest as a JSON object."))
    scope.require_manager(actor)
    title = _text(payload.get("title"), "title", 200)
    mode = payload.get("mode") or "teams"
    if mode not in ("teams", "individuals"):
        raise Invalid(_("mode must be teams or individuals."))
    owner = actor.unit if actor is not None and not actor.is_admin else None
    if payload.get("unit"):
        owner = find_unit(str(payload["unit"]))
        if owner is None:
            raise Invalid(_("unit: “%(path)s” does not exist.", path=str(payload["unit"])[:100]))
        scope.require_unit(actor, owner)
    banks = resolve_banks(payload.get("banks"), actor)
    contest = LiveContest(title=title, description=_text(payload.get("description"), "description", 2000,
                                                         required=False),
                          mode=mode, unit=owner, created_by_id=actor.id if actor else None,
                          join_code=new_join_code(), status="setup", phase="lobby", sound=True, version=1,
                          created_at=now, updated_at=now)
    db.session.add(contest)
    db.session.flush()
    contest.quiz_id = _hidden_quiz(title, banks, owner, actor, now).id
    entrants = payload.get("entrants") or []
    if not isinstance(entrants, list) or len(entrants) > MAX_ENTRANTS:
        raise Invalid(_("entrants: a list of at most %(n)d teams or players.", n=MAX_ENTRANTS))
    for index, item in enumerate(entrants, start=1):
        with named(_item_label(_("Entrant %(n)d", n=index), item, "name")):
            add_entrant(contest, item, actor=actor, now=now)
    rounds = payload.get("rounds") or []
    if not isinstance(rounds, list) or not rounds or len(rounds) > MAX_ROUNDS:
        raise Invalid(_("rounds: give 1 to %(n)d rounds.", n=MAX_ROUNDS))
    rng = rng or draws()
    for index, item in enumerate(rounds, start=1):
        with named(_item_label(_("Round %(n)d", n=index), item, "title")):
            add_round(contest, item, actor=actor, now=now, rng=rng)
    db.session.flush()
    return contest


def _item_label(label: str, item, key: str) -> str:
    """"Round 2" or, when the item has a title or name, "Round 2 “抢答”" (what an error names)."""
    text = item.get(key) if isinstance(item, dict) else None
    if isinstance(text, str) and text.strip():
        return f"{label}“{' '.join(text.split())[:40]}”"
    return label


@contextmanager
def named(label: str):
    """Errors raised inside say where they are: "Round 2: Paper rule 1: …" (same kind and status)."""
    try:
        yield
    except QuizError as exc:
        raise type(exc)(_("%(field)s: %(error)s", field=label, error=exc.message), status_code=exc.status_code,
                        payload=exc.payload) from None


def add_entrant(contest: LiveContest, item, *, actor: User | None, now: datetime) -> LiveEntrant:
    """A team ({"name", "unit", "base_score", "members": [{"name", "phone"}]}) or a player."""
    require_contest(actor, contest)
    name, unit, base, members = _entrant_fields(item)
    if db.session.execute(select(LiveEntrant.id).where(LiveEntrant.contest_id == contest.id,
                                                       LiveEntrant.name == name)).first():
        raise Invalid(_("entrants: “%(name)s” is listed twice.", name=name))
    entrant = LiveEntrant(contest_id=contest.id, name=name, unit=unit, base_score=base, members=members,
                          team_code=_team_code(contest) if contest.mode == "teams" else None,
                          position=_count(LiveEntrant, contest), created_at=now)
    db.session.add(entrant)
    db.session.flush()
    _score(contest, entrant.id, None, "base", base, _("Base score"), action=_action(), actor=actor, now=now)
    return entrant


def _entrant_fields(item) -> tuple[str, Unit | None, float, list[dict]]:
    """An entrant's name, unit, base score and members, checked; Invalid names the field."""
    if not isinstance(item, dict):
        raise Invalid(_("entrants: each entrant is an object such as {\"name\": \"三角村社区\", \"base_score\": 100}."))
    name = _text(item.get("name"), "entrants.name", 100)
    unit = None
    if item.get("unit"):
        unit = find_unit(str(item["unit"]))
        if unit is None:
            raise Invalid(_("entrants: unit “%(path)s” does not exist.", path=str(item["unit"])[:100]))
    from quiz.inputs import finite_number

    base = finite_number(item.get("base_score", 0) or 0, "entrants.base_score")
    if not -100_000 <= base <= 100_000:
        raise Invalid(_("entrants.base_score must be between -100000 and 100000."))
    members = []
    for member in item.get("members") or []:
        if not isinstance(member, dict):
            raise Invalid(_("entrants.members: each member is {\"name\", \"phone\"}."))
        try:
            members.append({"name": normalise_name(member.get("name")), "phone": normalise_phone(member.get("phone"))})
        except Invalid as exc:
            raise Invalid(_("entrants.members (%(team)s): %(error)s", team=name, error=exc.message))
    return name, unit, base, members


def _count(model, contest: LiveContest) -> int:
    """How many rows of `model` the contest has (its relationships may not know new ones yet)."""
    return db.session.scalar(select(func.count(model.id)).where(model.contest_id == contest.id)) or 0


def _team_code(contest: LiveContest) -> str:
    from quiz.services.quizzes import JOIN_ALPHABET

    taken = set(db.session.execute(select(LiveEntrant.team_code).where(LiveEntrant.contest_id == contest.id)).scalars())
    while True:
        code = "".join(secrets.choice(JOIN_ALPHABET) for _ in range(4))
        if code not in taken:
            return code


def add_round(contest: LiveContest, item, *, actor: User | None, now: datetime,
              rng: random.Random | None = None) -> LiveRound:
    """A round: {"type": "抢答", "title", "settings": {…}, "rules": [quiz paper rules] or
    "questions": [ids or {"id", "points"}]}. Questions come from the contest's banks and are never
    used twice in one contest."""
    require_contest(actor, contest)
    if contest.status != "setup":
        raise Conflict(_("Rounds can only be added before the contest starts."))
    if not isinstance(item, dict):
        raise Invalid(_("rounds: each round is an object such as {\"type\": \"抢答\", \"rules\": [...]}."))
    key = round_type_from_label(item.get("type", ""))
    if key is None:
        raise Invalid(_("rounds: round type “%(value)s” is not known (use %(types)s).",
                        value=str(item.get("type", ""))[:20], types="、".join(str(t.label) for t in ROUND_TYPES.values())))
    kind = get_round_type(key)
    settings = kind.parse_settings(item.get("settings") if isinstance(item.get("settings"), dict) else {})
    if key == "tiebreak":
        settings["entrants"] = [e.id for e in _entrants_named(contest, item.get("entrants"))]
    position = _count(LiveRound, contest)
    live_round = LiveRound(contest_id=contest.id, position=position, type=key, settings=settings,
                           title=_text(item.get("title"), "rounds.title", 200, required=False) or str(kind.label))
    db.session.add(live_round)
    db.session.flush()
    quiz = db.session.get(Quiz, contest.quiz_id)
    used = set(db.session.execute(select(LiveQuestion.question_id).where(LiveQuestion.contest_id == contest.id))
               .scalars())
    if item.get("questions") not in (None, "", []):
        entries = hand_picked(item["questions"], banks=list(quiz.banks), rule_points={}, actor=actor) \
            if _all_have_points(item["questions"]) else hand_picked(
                item["questions"], banks=list(quiz.banks), rule_points=_points_for_all(settings), actor=actor)
        twice = [e["q"] for e in entries if e["q"] in used]
        if twice:
            raise Invalid(_("rounds: question %(id)d is already used in this contest.", id=twice[0]))
    else:
        rules = item.get("rules")
        if isinstance(rules, list):
            rules = [{**r, "points": r.get("points") or settings.get("points", 10)} if isinstance(r, dict) else r
                     for r in rules]
        parsed = parse_rules(rules)
        pool = [q for q in load_pool([b.id for b in quiz.banks]) if q.id not in used]
        check_fillable(parsed, pool)
        entries = draw_questions(parsed, pool, rng or draws())
    if len(entries) > MAX_ROUND_QUESTIONS:
        raise Invalid(_("rounds: at most %(n)d questions in a round.", n=MAX_ROUND_QUESTIONS))
    for index, entry in enumerate(entries):
        db.session.add(LiveQuestion(contest_id=contest.id, round_id=live_round.id, position=index,
                                    question_id=entry["q"], points=entry["points"], status="pending", state={}))
    if kind.phone_answers(settings):
        quiz.paper = list(quiz.paper or []) + [{"q": e["q"], "points": e["points"], "t": e["t"], "n": e["n"]}
                                              for e in entries]
        sync_sheets(contest, quiz, now=now)
    db.session.flush()
    db.session.refresh(live_round)
    return live_round


def _all_have_points(items) -> bool:
    return all(isinstance(i, dict) and i.get("points") not in (None, "") for i in items)


def _points_for_all(settings: dict) -> dict:
    from quiz.questions import QUESTION_TYPES

    return {key: settings.get("points", 10) for key in QUESTION_TYPES}


def _entrants_named(contest: LiveContest, names) -> list[LiveEntrant]:
    if names in (None, "", []):
        return []
    if not isinstance(names, list):
        raise Invalid(_("rounds.entrants: a list of entrant names."))
    by_name = {e.name: e for e in contest.entrants}
    out = []
    for name in names:
        entrant = by_name.get(str(name))
        if entrant is None:
            raise Invalid(_("rounds.entrants: no entrant is called “%(name)s”.", name=str(name)[:50]))
        out.append(entrant)
    return out


_MEMBER_SPLIT = re.compile(r"[;；、\n]+")
_WORDS = re.compile(r"[\s,，]+")


def parse_members(text: str | None, *, default_name: str = "") -> list[dict]:
    """Members as the set-up page takes them: "name phone" each, one per line or separated by ;
    (a phone alone is `default_name`'s: an individual player's own phone) → [{"name", "phone"}]
    (checked when the entrant is added)."""
    members = []
    for number, chunk in enumerate(_MEMBER_SPLIT.split(text or ""), start=1):
        words = [w for w in _WORDS.split(chunk.strip()) if w]
        if not words:
            continue
        if len(words) == 1 and not default_name:
            raise Invalid(_("members: “%(text)s” needs a name and a mobile phone number, such as “张三 13800000001”.",
                            text=chunk.strip()[:40]))
        members.append({"name": " ".join(words[:-1]) or default_name, "phone": words[-1]})
    return members


def parse_entrant_list(text: str | None, *, base_score: float = 0, individuals: bool = False) -> list[dict]:
    """A pasted list of entrants, one per line (from Excel: cells separated by tabs; or by commas):
    name, unit path, base score (empty: `base_score`), members ("name phone", separated by ;).
    Raises Invalid naming the line."""
    entrants = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        cells = [c.strip() for c in (line.split("\t") if "\t" in line else re.split(r"[,，]", line))]
        with named(_("Pasted list, line %(n)d", n=number)):
            name = cells[0]
            if not name:
                raise Invalid(_("the first column is the name of the team or player."))
            base = cells[2] if len(cells) > 2 and cells[2] else base_score
            try:
                base = float(base)
            except ValueError:
                raise Invalid(_("the third column is the base score, a number (not “%(value)s”).",
                                value=str(base)[:20])) from None
            members = parse_members(";".join(cells[3:]), default_name=name if individuals else "")
            entrants.append({"name": name, "unit": cells[1] if len(cells) > 1 else "", "base_score": base,
                             "members": members})
    return entrants


def parse_question_list(text: str | None) -> list:
    """Hand-picked questions as the set-up page takes them: ids in order, each "12" or "12:20"
    (20 points), separated by spaces, commas or lines → [12, {"id": 15, "points": 20}, …] for
    add_round (which checks every id)."""
    items: list = []
    for word in (w for w in re.split(r"[\s,，、;；]+", text or "") if w):
        qid, sep, points = word.replace("：", ":").partition(":")
        items.append({"id": qid, "points": points} if sep else qid)
    return items


def sync_sheets(contest: LiveContest, quiz: Quiz, *, now: datetime) -> None:
    """Phones that joined during set-up carry every question answered on phones: their open sheets
    get the contest's current list, and a phone that joined before there was any gets a sheet (it
    receives it when it joins again, e.g. on reload)."""
    paper = [{**e, "order": None} for e in quiz.paper or []]
    db.session.execute(update(Attempt).where(Attempt.quiz_id == quiz.id, Attempt.status == "open")
                       .values(paper=paper, question_count=len(paper),
                               max_score=round(sum(e["points"] for e in paper), 4)))
    if not paper:
        return
    with_sheet = select(Attempt.participant_id).where(Attempt.quiz_id == quiz.id)
    for player in db.session.execute(select(LivePlayer).where(
            LivePlayer.contest_id == contest.id, LivePlayer.participant_id.not_in(with_sheet))).scalars():
        _sheet(contest, quiz, player.participant, now)


def update_setup(contest: LiveContest, payload, *, actor: User | None, now: datetime,
                 rng: random.Random | None = None) -> LiveContest:
    """Change a contest that has not started, from the same payload create_contest takes: title,
    description, mode and banks; entrants given with their "id" are changed in place (a new base
    score is a base event for the difference: the ledger stays append-only), entrants left out
    are removed (not once a phone has joined them), entrants without an id are added; the rounds
    are replaced by the ones given (questions given by id stay the same, rules draw again).
    Raises Conflict once the contest has started, Invalid naming the field."""
    from quiz.services.quizzes import resolve_banks

    require_contest(actor, contest)
    if not isinstance(payload, dict):
        raise Invalid(_("Send the contest as a JSON object."))
    lock_contest(contest, exclusive=True)
    if contest.status != "setup":
        raise Conflict(_("This live contest has started; its set-up can no longer be changed."))
    title = _text(payload.get("title"), "title", 200)
    mode = payload.get("mode") or contest.mode
    if mode not in ("teams", "individuals"):
        raise Invalid(_("mode must be teams or individuals."))
    players = db.session.scalar(select(func.count(LivePlayer.id)).where(LivePlayer.contest_id == contest.id)) or 0
    if mode != contest.mode and players:
        raise Invalid(_("mode: phones have joined already, so teams or individuals can no longer change."))
    quiz = db.session.get(Quiz, contest.quiz_id)
    quiz.banks = resolve_banks(payload.get("banks"), actor)
    quiz.title, quiz.updated_at = title[:190] + "（现场赛）", now
    contest.title, contest.mode = title, mode
    contest.description = _text(payload.get("description"), "description", 2000, required=False)
    _update_entrants(contest, payload.get("entrants") or [], actor=actor, now=now)
    rounds = payload.get("rounds") or []
    if not isinstance(rounds, list) or not rounds or len(rounds) > MAX_ROUNDS:
        raise Invalid(_("rounds: give 1 to %(n)d rounds.", n=MAX_ROUNDS))
    for live_round in list(contest.rounds):
        db.session.delete(live_round)
    db.session.flush()
    db.session.expire(contest, ["rounds"])
    quiz.paper = []
    rng = rng or draws()
    for index, item in enumerate(rounds, start=1):
        with named(_item_label(_("Round %(n)d", n=index), item, "title")):
            add_round(contest, item, actor=actor, now=now, rng=rng)
    sync_sheets(contest, quiz, now=now)
    db.session.flush()
    db.session.expire(contest, ["rounds", "entrants"])
    bump(contest, now)
    return contest


def _update_entrants(contest: LiveContest, items, *, actor: User | None, now: datetime) -> None:
    """update_setup's entrants: in place by id, removed when left out, added without an id; the
    list's order is the entrants' order."""
    from quiz.inputs import parse_id

    if not isinstance(items, list) or len(items) > MAX_ENTRANTS:
        raise Invalid(_("entrants: a list of at most %(n)d teams or players.", n=MAX_ENTRANTS))
    existing = {e.id: e for e in db.session.execute(select(LiveEntrant).where(
        LiveEntrant.contest_id == contest.id)).scalars()}
    changes, names = [], set()
    for index, item in enumerate(items, start=1):
        with named(_item_label(_("Entrant %(n)d", n=index), item, "name")):
            fields = _entrant_fields(item)
            entrant = None
            if item.get("id") not in (None, ""):
                entrant = existing.get(parse_id(item["id"]))
                if entrant is None or any(entrant is e for e, _f, _i in changes):
                    raise Invalid(_("entrants: entrant %(id)s is not part of this contest.", id=str(item["id"])[:12]))
            if fields[0] in names:
                raise Invalid(_("entrants: “%(name)s” is listed twice.", name=fields[0]))
            names.add(fields[0])
            changes.append((entrant, fields, item))
    kept = {e.id for e, _f, _i in changes if e is not None}
    joined = set(db.session.execute(select(LivePlayer.entrant_id).where(LivePlayer.contest_id == contest.id)).scalars())
    for entrant in existing.values():
        if entrant.id not in kept:
            if entrant.id in joined:
                raise Conflict(_("entrants: phones have joined “%(name)s”, so it cannot be removed.",
                                 name=entrant.name))
            db.session.delete(entrant)
    for entrant, _fields, _item in changes:  # names may be swapped: free them first (unique per contest)
        if entrant is not None:
            entrant.name = f"#{entrant.id}#{secrets.token_hex(6)}"
    db.session.flush()
    action = _action()
    for position, (entrant, (name, unit, base, members), item) in enumerate(changes):
        if entrant is None:
            entrant = add_entrant(contest, item, actor=actor, now=now)
        else:
            entrant.name, entrant.unit, entrant.members = name, unit, members
            if base != entrant.base_score:
                _score(contest, entrant.id, None, "base", base - entrant.base_score,
                       _("Base score changed from %(old)s to %(new)s", old=f"{entrant.base_score:g}", new=f"{base:g}"),
                       action=action, actor=actor, now=now)
                entrant.base_score = base
        entrant.position = position
        if contest.mode == "teams" and not entrant.team_code:
            entrant.team_code = _team_code(contest)
        elif contest.mode == "individuals":
            entrant.team_code = None
        db.session.flush()


def summaries(contests: list[LiveContest]) -> dict[int, dict]:
    """For the organisers' list: per contest, how many entrants, phones, rounds and questions
    (and questions asked so far)."""
    ids = [c.id for c in contests]
    out = {i: {"entrants": 0, "players": 0, "rounds": 0, "questions": 0, "asked": 0} for i in ids}
    if not ids:
        return out
    for key, model in (("entrants", LiveEntrant), ("players", LivePlayer), ("rounds", LiveRound),
                       ("questions", LiveQuestion)):
        for contest_id, count in db.session.execute(select(model.contest_id, func.count(model.id))
                                                    .where(model.contest_id.in_(ids)).group_by(model.contest_id)):
            out[contest_id][key] = count
    for contest_id, count in db.session.execute(select(LiveQuestion.contest_id, func.count(LiveQuestion.id)).where(
            LiveQuestion.contest_id.in_(ids), LiveQuestion.status != "pending").group_by(LiveQuestion.contest_id)):
        out[contest_id]["asked"] = count
    return out


def get_contest(contest_id: int, *, actor: User | None, access: str = scope.MANAGE) -> LiveContest:
    contest = db.session.get(LiveContest, contest_id)
    if contest is None:
        raise NotFound(_("Live contest %(id)s does not exist.", id=contest_id))
    require_contest(actor, contest, access)
    return contest


def require_contest(actor: User | None, contest: LiveContest, access: str = scope.MANAGE) -> None:
    """Hosts are the contest's organisers (its unit's subtree) and admins (scope.require_live)."""
    scope.require_live(actor, contest, access)


def contest_by_code(code: str) -> LiveContest:
    contest = db.session.execute(select(LiveContest).where(
        LiveContest.join_code == (code or "").strip().upper()[:16])).scalar_one_or_none()
    if contest is None:
        raise NotFound(_("No live contest has the code “%(code)s”.", code=str(code)[:16]))
    return contest


# ---------------------------------------------------------------- players
def player_token(player: LivePlayer) -> str:
    return answers.signed_token(TOKEN_KIND, player.id, player.nonce, current_app.config["SECRET_KEY"])


def player_for_token(contest: LiveContest, token: str | None) -> LivePlayer:
    """The player a token opens (401 otherwise)."""
    try:
        player_id = int(str(token or "").split(".", 1)[0])
    except ValueError:
        player_id = 0
    player = db.session.get(LivePlayer, player_id) if 0 < player_id < 2 ** 31 else None
    if player is None or player.contest_id != contest.id or not answers.signed_token_matches(
            TOKEN_KIND, player.id, player.nonce, token, current_app.config["SECRET_KEY"]):
        raise QuizError(_("This phone's token is missing or wrong; please join again."), status_code=401)
    return player


@dataclass
class Joined:
    player: LivePlayer
    sheet: Attempt | None
    resumed: bool


def join(contest: LiveContest, *, name: str, phone: str, unit_path: str | None, team_code: str | None,
         user: User | None, now: datetime, access_code: str | None = None) -> Joined:
    """A phone joins (or rejoins: the same phone number keeps its entrant, score and place). Teams:
    a registered member's phone joins their team, others give the team code; individuals: each
    person is an entrant."""
    from quiz.services.attempts import identify

    lock_contest(contest, exclusive=False)
    if contest.status == "finished":
        raise Conflict(_("This live contest has finished."))
    quiz = db.session.get(Quiz, contest.quiz_id)
    person = identify(quiz, name=name, phone=phone, unit_path=unit_path, user=user, now=now, access_code=access_code)
    player = db.session.execute(select(LivePlayer).where(LivePlayer.contest_id == contest.id,
                                                         LivePlayer.participant_id == person.id)).scalar_one_or_none()
    resumed = player is not None
    if player is None:
        entrant = _entrant_for(contest, person, team_code, now)
        player = LivePlayer(contest_id=contest.id, entrant_id=entrant.id, participant_id=person.id,
                            nonce=secrets.token_hex(16), rtt_samples=[], joined_at=now, seen_at=now)
        db.session.add(player)
        db.session.flush()
    player.seen_at = now
    sheet = _sheet(contest, quiz, person, now) if quiz.paper else None
    bump(contest, now, "join", version=False)
    return Joined(player, sheet, resumed)


def _entrant_for(contest: LiveContest, person: Participant, team_code: str | None, now: datetime) -> LiveEntrant:
    entrants = db.session.execute(select(LiveEntrant).where(LiveEntrant.contest_id == contest.id)).scalars().all()
    if contest.mode == "individuals":
        for entrant in entrants:
            if any(m["phone"] == person.phone for m in entrant.members or []):
                return entrant
        entrant = LiveEntrant(contest_id=contest.id, name=_unique_name(person.name, {e.name for e in entrants}),
                              unit_id=person.unit_id, base_score=0, members=[{"name": person.name, "phone": person.phone}],
                              position=len(entrants), created_at=now)
        db.session.add(entrant)
        db.session.flush()
        return entrant
    for entrant in entrants:
        if any(m["phone"] == person.phone for m in entrant.members or []):
            return entrant
    code = (team_code or "").strip().upper()
    for entrant in entrants:
        if code and entrant.team_code == code:
            return entrant
    raise Invalid(_("team code: enter your team's code (ask the host), or join with the phone number your team "
                    "registered."))


def _unique_name(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}（{n}）" in taken:
        n += 1
    return f"{name}（{n}）"


def _sheet(contest: LiveContest, quiz: Quiz, person: Participant, now: datetime) -> Attempt:
    """The player's answer sheet for questions answered on phones: every phone question of the
    contest, writable for the question of the contest's answer window while it is open."""
    sheet = db.session.execute(select(Attempt).where(Attempt.quiz_id == quiz.id,
                                                     Attempt.participant_id == person.id)).scalar_one_or_none()
    if sheet is not None:
        return sheet
    sheet = Attempt(quiz_id=quiz.id, participant_id=person.id, number=1, nonce=secrets.token_hex(16), status="open",
                    open_slot=person.id, started_at=now, deadline=None,  # the contest's answer window rules
                    paper=[{**e, "order": None} for e in quiz.paper], question_count=len(quiz.paper),
                    max_score=round(sum(e["points"] for e in quiz.paper), 4))
    db.session.add(sheet)
    db.session.flush()
    return sheet


def record_ping(player: LivePlayer, rtt_ms, *, now: datetime) -> float | None:
    """A phone reports the round trip it measured for its last ping: the median of the last few
    is its connection's round trip (buzz times are corrected by half of it, capped)."""
    if rtt_ms not in (None, ""):
        value = _rtt_sample(rtt_ms)
        if value is not None:
            _set_rtt(player, list(player.rtt_samples or []) + [value])
    player.seen_at = now
    return player.rtt_ms


def server_clock(now: datetime) -> dict:
    """What GET /live/clock answers: phones and screens measure their round trip and their clock's
    offset against it (served in front of Flask by quiz/board_lane.py)."""
    return {"server_time": now.isoformat()}


def _rtt_sample(value) -> float | None:
    """One round trip in ms as a phone reports it (422 when not a number; ignored when outside
    0–60,000 ms)."""
    from quiz.inputs import finite_number

    number = finite_number(value, "rtt")
    return round(number, 1) if 0 <= number <= 60_000 else None


def _set_rtt(player: LivePlayer, samples: list[float]) -> None:
    samples = samples[-RTT_SAMPLES:]
    if samples:
        player.rtt_samples = samples
        player.rtt_ms = float(median(samples))


def record_rtt_samples(player: LivePlayer, samples) -> None:
    """The round trips a phone measured (its latest pings of /live/clock), sent with its buzz: they
    replace the player's samples, so pings need no write of their own (docs/rules.md "Fair
    timing"). Absent or empty: the samples recorded before stand."""
    if samples in (None, "", []):
        return
    if not isinstance(samples, list) or len(samples) > 50:
        raise Invalid(_("rtt: a list of round trips in milliseconds."))
    _set_rtt(player, [v for v in (_rtt_sample(x) for x in samples) if v is not None])


# ---------------------------------------------------------------- locking, versions, events
def lock_contest(contest: LiveContest, *, exclusive: bool) -> None:
    """Re-read the contest under a row lock: host commands exclusive, buzzes and joins shared."""
    stmt = select(LiveContest).where(LiveContest.id == contest.id).execution_options(populate_existing=True)
    db.session.execute(stmt.with_for_update() if exclusive else stmt.with_for_update(read=True, key_share=True)
                       ).scalar_one()


def bump(contest: LiveContest, now: datetime, kind: str = "state", *, version: bool = True) -> None:
    """The contest changed: a new version (unless `version` is False: joins and buzzes, which must
    not queue on the contest's row), and an event once the transaction commits."""
    if version:
        db.session.execute(update(LiveContest).where(LiveContest.id == contest.id)
                           .values(version=LiveContest.version + 1, updated_at=now))
    events.publish(channel(contest.id), kind, {"contest": contest.id})


def _action() -> str:
    return secrets.token_hex(8)


def _score(contest: LiveContest, entrant: int, question: int | None, kind: str, points: float, reason: str, *,
           action: str, actor: User | None, now: datetime, undoes: int | None = None) -> None:
    db.session.add(LiveScore(contest_id=contest.id, entrant_id=entrant, live_question_id=question, kind=kind,
                             points=round(float(points), 4), reason=reason, action=action, undoes=undoes,
                             user_id=actor.id if actor else None, created_at=now))


# ---------------------------------------------------------------- the host's commands
COMMANDS = ("open", "start", "close", "reveal", "next", "judge", "wager", "pause", "resume", "correct", "undo",
            "sound", "scoreboard", "podium", "finish")


def command(contest: LiveContest, name: str, body: dict | None = None, *, actor: User | None,
            now: datetime | None = None, clock=None) -> None:
    """Run one host command (COMMANDS); raises Conflict when it does not fit the phase.

    Its time is `now`, or `clock()` read once the contest row is locked (the views pass the clock:
    every save stored before the lock was granted was then made before it, which the cut of a
    phone question needs)."""
    require_contest(actor, contest)
    if name not in COMMANDS:
        raise NotFound(_("Unknown host command “%(name)s”.", name=str(name)[:20]))
    body = body if isinstance(body, dict) else {}
    lock_contest(contest, exclusive=True)
    if now is None:
        now = clock()
    if contest.status == "finished" and name not in ("podium", "correct", "sound"):
        raise Conflict(_("This live contest has finished."))
    handler = globals()[f"_cmd_{name}"]
    handler(contest, body, actor=actor, now=now)
    bump(contest, now)


def _questions(contest: LiveContest) -> list[LiveQuestion]:
    return list(db.session.execute(select(LiveQuestion).join(LiveRound).where(LiveQuestion.contest_id == contest.id)
                                   .order_by(LiveRound.position, LiveQuestion.position)).scalars())


def _phone_question(question: LiveQuestion) -> bool:
    return get_round_type(question.round.type).phone_answers(question.round.settings)


def _set_phase(contest: LiveContest, phase: str, now: datetime) -> None:
    contest.phase = phase
    contest.phase_at = now


def _cmd_open(contest, body, *, actor, now):
    """Show the next pending question (or the one named by {"question": live question id})."""
    current = contest.current
    if current is not None and current.status == "open":
        raise Conflict(_("Close the current question first."))
    pending = [q for q in _questions(contest) if q.status == "pending" and not q.round.settings.get("skipped")]
    if body.get("question") not in (None, ""):
        wanted = [q for q in pending if str(q.id) == str(body["question"])]
        if not wanted:
            raise Conflict(_("That question has been asked already or does not exist."))
        question = wanted[0]
    elif pending:
        question = pending[0]
    else:
        raise Conflict(_("There are no more questions."))
    live_round = question.round
    kind = get_round_type(live_round.type)
    state: dict = {"race": 1}
    entrant_ids = [e.id for e in contest.entrants]
    if kind.takes_turns(live_round.settings):
        order = live_round.settings.get("order")
        if not order:  # fixed when the round's first question opens (风险题: by the scores then)
            totals = {row.entrant.id: row.total for row in standings(contest)}
            order = kind.turn_order(live_round.settings, entrant_ids, totals)
            live_round.settings = {**live_round.settings, "order": order}
        asked = sum(1 for q in live_round.questions if q.status != "pending")
        state["turn"] = order[asked % len(order)] if order else None
    if live_round.type == "tiebreak":
        state["eligible"] = _tiebreak_eligible(contest, live_round)
        state["out"] = _tiebreak_out(live_round)
    question.status, question.opened_at, question.state = "open", now, state
    question.started_at = question.deadline = question.closed_at = question.revealed_at = None
    contest.current_id, contest.status = question.id, "running"
    _set_phase(contest, "open", now)


def _tiebreak_eligible(contest: LiveContest, live_round: LiveRound) -> list[int]:
    """Who plays the 加赛: the entrants named in the round, else the highest group of tied entrants."""
    if live_round.settings.get("entrants"):
        return list(live_round.settings["entrants"])
    ranked = standings(contest)
    by_rank: dict[int, list[int]] = {}
    for row in ranked:
        by_rank.setdefault(row.rank, []).append(row.entrant.id)
    tied = [ids for _rank, ids in sorted(by_rank.items()) if len(ids) > 1]
    return tied[0] if tied else [row.entrant.id for row in ranked[:2]]


def _tiebreak_out(live_round: LiveRound) -> list[int]:
    out: set[int] = set()
    for q in live_round.questions:
        out |= set((q.state or {}).get("out", []))
    return sorted(out)


def _cmd_wager(contest, body, *, actor, now):
    question = _current(contest, "open")
    place_wager(contest, question, body.get("entrant"), body.get("value"), now=now)


def place_wager(contest: LiveContest, question: LiveQuestion, entrant_id, value, *, now: datetime) -> LiveWager:
    """风险题: the entrant whose turn it is stakes one of the round's values before the question shows."""
    from quiz.inputs import finite_number

    kind = get_round_type(question.round.type)
    if not kind.wager:
        raise Conflict(_("This round has no stakes."))
    if question.started_at is not None:
        raise Conflict(_("The stake is chosen before the question starts."))
    turn = (question.state or {}).get("turn")
    entrant = int(entrant_id) if str(entrant_id or "").isdigit() else turn
    if entrant != turn:
        raise Conflict(_("It is not this entrant's turn."))
    stake = finite_number(value, "value")
    if stake not in question.round.settings["values"]:
        raise Invalid(_("value: choose one of %(values)s.",
                        values="、".join(f"{v:g}" for v in question.round.settings["values"])))
    wager = db.session.execute(select(LiveWager).where(LiveWager.live_question_id == question.id,
                                                       LiveWager.entrant_id == entrant)).scalar_one_or_none()
    if wager is None:
        wager = LiveWager(live_question_id=question.id, entrant_id=entrant, value=stake, created_at=now)
        db.session.add(wager)
    else:
        wager.value = stake
    db.session.flush()
    return wager


def _current(contest: LiveContest, *statuses: str) -> LiveQuestion:
    question = contest.current
    if question is None or (statuses and question.status not in statuses):
        raise Conflict(_("No question is in the right state for this; open one first."))
    return question


def _cmd_start(contest, body, *, actor, now):
    """Start answering (and buzzing): the countdown runs from now."""
    question = _current(contest, "open")
    if question.started_at is not None and contest.phase != "open":
        raise Conflict(_("This question has started already."))
    kind = get_round_type(question.round.type)
    if kind.wager and not db.session.execute(select(LiveWager.id).where(LiveWager.live_question_id == question.id)).first():
        raise Conflict(_("The stake has not been chosen yet."))
    question.started_at = now
    question.deadline = now + timedelta(seconds=question.round.settings.get("time_seconds", 30))
    _set_phase(contest, "started", now)
    if _phone_question(question):
        _open_window(contest, question)


def _open_window(contest: LiveContest, question: LiveQuestion) -> None:
    """Phones may answer `question` until its deadline (the answer-save rule reads this one row)."""
    contest.window_question_id, contest.window_until = question.question_id, question.deadline


def _cut_window(contest: LiveContest) -> None:
    """The clean cut of a question answered on phones (as closing a quiz early): saves in flight
    finished before the command got the contest's lock; later ones are refused."""
    contest.window_question_id = contest.window_until = None


def window_question(quiz_id: int) -> int | None:
    """The bank question whose answer window the live contest behind `quiz_id` has open (None when
    it is cut), for the message of a refused save; whether a save is taken is the answer-save
    rule's alone (services/answers.py)."""
    return db.session.execute(select(LiveContest.window_question_id)
                              .where(LiveContest.quiz_id == quiz_id)).scalar()


def _cmd_pause(contest, body, *, actor, now):
    if contest.paused_at is not None:
        raise Conflict(_("The contest is paused already."))
    contest.paused_at = now
    _cut_window(contest)


def _cmd_resume(contest, body, *, actor, now):
    if contest.paused_at is None:
        raise Conflict(_("The contest is not paused."))
    question = contest.current
    if question is not None and question.status == "open" and question.deadline is not None:
        question.deadline = question.deadline + (now - contest.paused_at)
        if question.started_at is not None and _phone_question(question):
            _open_window(contest, question)
    contest.paused_at = None


def _race_buzzes(question: LiveQuestion) -> list[LiveBuzz]:
    """The valid buzzes of the question's current race, first (by corrected time) first."""
    race = (question.state or {}).get("race", 1)
    return list(db.session.execute(select(LiveBuzz).where(
        LiveBuzz.live_question_id == question.id, LiveBuzz.attempt == race, LiveBuzz.early.is_(False))
        .order_by(LiveBuzz.corrected_at, LiveBuzz.id)).scalars())


def early_buzzers(question: LiveQuestion) -> set[int]:
    return set(db.session.execute(select(LiveBuzz.entrant_id).where(
        LiveBuzz.live_question_id == question.id, LiveBuzz.early.is_(True))).scalars())


def _effective_state(question: LiveQuestion) -> dict:
    """The question's state with the entrants an early buzz locked out (buzz rows, not the state
    itself, record those: buzzes never take the contest's exclusive lock)."""
    state = dict(question.state or {})
    settings = question.round.settings
    if settings.get("early_lockout"):
        state["locked"] = sorted(set(state.get("locked", [])) | early_buzzers(question))
    return state


def answering(question: LiveQuestion) -> LiveBuzz | None:
    """Who answers now: the first buzz of the race by an entrant that may answer."""
    kind = get_round_type(question.round.type)
    state = _effective_state(question)
    for buzz in _race_buzzes(question):
        if kind.may_answer(question.round.settings, state, buzz.entrant_id):
            return buzz
    return None


def _cmd_judge(contest, body, *, actor, now):
    """{"right": true|false, "entrant": id (default: whoever answers now)}."""
    question = _current(contest, "open")
    if question.started_at is None:
        raise Conflict(_("Start the question first."))
    if not isinstance(body.get("right"), bool):
        raise Invalid(_("right: true or false."))
    live_round = question.round
    kind = get_round_type(live_round.type)
    if kind.phone_answers(live_round.settings):
        raise Conflict(_("This question is answered on phones: close it to score the answers."))
    state = _effective_state(question)
    if body.get("entrant") not in (None, ""):
        entrant = int(body["entrant"]) if str(body["entrant"]).isdigit() else 0
    elif kind.buzzer:
        first = answering(question)
        if first is None:
            raise Conflict(_("Nobody has buzzed."))
        entrant = first.entrant_id
    else:
        entrant = state.get("turn")
    if entrant not in {e.id for e in contest.entrants} or not kind.may_answer(live_round.settings, state, entrant):
        raise Conflict(_("This entrant may not answer now."))
    wager = db.session.execute(select(LiveWager.value).where(LiveWager.live_question_id == question.id,
                                                             LiveWager.entrant_id == entrant)).scalar_one_or_none()
    outcome = kind.judge(live_round.settings, state, entrant, body["right"], points=question.points, wager=wager)
    action = _action()
    history = list((question.state or {}).get("history", []))
    history.append({"action": action, "state": {k: v for k, v in (question.state or {}).items() if k != "history"},
                    "phase": contest.phase, "closed": False, "round_over": False})
    for score in outcome.scores:
        _score(contest, score.entrant, question.id, score.kind, score.points, score.reason, action=action,
               actor=actor, now=now)
    new_state = {k: v for k, v in outcome.state.items() if k != "history"}
    new_state["history"] = history
    if outcome.done:
        new_state["judged"] = {"entrant": entrant, "right": body["right"]}
        question.state = new_state
        _close(contest, question, now=now, actor=actor)
        history[-1]["closed"] = True
        if outcome.round_over:
            live_round.settings = {**live_round.settings, "skipped": True}
            history[-1]["round_over"] = True
    else:  # a new race among the others, with a fresh countdown
        new_state["race"] = new_state.get("race", 1) + 1
        question.state = new_state
        question.deadline = now + timedelta(seconds=live_round.settings.get("time_seconds", 30))
        _set_phase(contest, "started", now)


def _cmd_close(contest, body, *, actor, now):
    question = _current(contest, "open")
    _close(contest, question, now=now, actor=actor)


def _close(contest: LiveContest, question: LiveQuestion, *, now: datetime, actor: User | None) -> None:
    """No more answers or buzzes. A question answered on phones is cut cleanly (at `now`, read
    under the contest's lock) and scored."""
    _cut_window(contest)
    if question.started_at is not None and _phone_question(question):
        _score_phone_answers(contest, question, now, actor=actor)
    question.status, question.closed_at = "closed", now
    _set_phase(contest, "closed", now)


def _score_phone_answers(contest: LiveContest, question: LiveQuestion, cut: datetime, *, actor: User | None) -> None:
    """Grade the answers saved in the question's window and write their points to the ledger
    (teams: a team earns the mean of its answering members' points).

    5,000 phones at a close: players and answers are read as rows, not objects, and the question
    type grades each distinct response once (grading is a pure function of the answer and the
    response)."""
    live_round = question.round
    kind = get_round_type(live_round.type)
    bank_question = db.session.get(Question, question.question_id)
    qtype = get_type(bank_question.type)
    started = question.started_at
    read = db.session.connection().execute  # Core rows: no ORM bookkeeping per row
    players = {participant: (player, entrant) for participant, player, entrant in _rows(read(
        select(LivePlayer.participant_id, LivePlayer.id, LivePlayer.entrant_id)
        .where(LivePlayer.contest_id == contest.id)))}
    given: dict[int, PhoneAnswer] = {}
    responses: list[str] = []
    grades: dict[str, float] = {}  # each distinct response graded once by the question type
    for participant_id, response, saved_at in _rows(read(
            select(Attempt.participant_id, Answer.response, Answer.saved_at)
            .join(Answer, Answer.attempt_id == Attempt.id)
            .where(Attempt.quiz_id == contest.quiz_id, Answer.question_id == question.question_id,
                   Answer.saved_at >= started, Answer.saved_at <= cut))):
        responses.append(response)
        player = players.get(participant_id)
        if player is None:
            continue
        fraction = grades.get(response)
        if fraction is None:
            fraction = grades[response] = qtype.grade(bank_question.answer, response, "none")
        given[player[0]] = PhoneAnswer(player[0], player[1], fraction, (saved_at - started).total_seconds())
    all_answers = [given.get(p) or no_answer(p, e) for p, e in players.values()]
    streaks = _previous_streaks(question)
    scored = kind.score_answers(live_round.settings, all_answers, points=question.points, streaks=streaks)
    question.state = {**(question.state or {}), "streaks": {str(k): v for k, v in streaks.items()},
                      "answered": len(given), "distribution": _distribution(bank_question, responses)}
    per_entrant: dict[int, dict[str, list[float]]] = {}
    for answer, parts in scored:
        if answer.player not in given:
            continue
        bucket = per_entrant.setdefault(answer.entrant, {})
        for score_kind, points in parts:
            bucket.setdefault(score_kind, []).append(points)
    action = _action()
    rows_out = []
    for entrant, kinds in per_entrant.items():
        for score_kind, values in kinds.items():
            points = sum(values) if contest.mode == "individuals" else sum(values) / len(values)
            if points:
                rows_out.append({"contest_id": contest.id, "entrant_id": entrant, "live_question_id": question.id,
                                 "kind": score_kind, "points": round(points, 4), "reason": "",
                                 "action": action, "user_id": actor.id if actor else None, "created_at": cut})
    if rows_out:
        db.session.execute(insert(LiveScore), rows_out)


def _rows(result, size: int = 500):
    """A result's rows as plain tuples, a few hundred Row objects at a time. The garbage collector
    stops tracking a plain tuple of plain values once it has seen it, never a Row: 5,000 Rows alive
    through a close would be moved to its oldest generation and bring the next full collection
    (tens of ms in a process holding thousands of streams) closer."""
    for batch in result.partitions(size):
        yield from map(tuple, batch)


def _distribution(question: Question, responses: list[str]) -> dict[str, int]:
    """How many chose each answer (choice letters, 正确/错误; fill-in answers are not listed)."""
    if get_type(question.type).widget == "blanks":
        return {}
    return dict(Counter(responses))


def _previous_streaks(question: LiveQuestion) -> dict[int, int]:
    """The players' streaks after the round's previous asked question (only that question's state
    is read: every closed question of a 共答 round carries one streak per phone)."""
    state = db.session.execute(select(LiveQuestion.state).where(
        LiveQuestion.round_id == question.round_id, LiveQuestion.position < question.position,
        LiveQuestion.status != "pending").order_by(LiveQuestion.position.desc()).limit(1)).scalar()
    return {int(k): v for k, v in (state or {}).get("streaks", {}).items()}


def _cmd_reveal(contest, body, *, actor, now):
    question = _current(contest, "closed")
    question.status, question.revealed_at = "revealed", now
    _set_phase(contest, "revealed", now)


def _cmd_next(contest, body, *, actor, now):
    question = contest.current
    if question is not None and question.status == "open":
        _close(contest, question, now=now, actor=actor)
    if question is not None and question.status == "closed":
        question.status, question.revealed_at = "revealed", now
    try:
        _cmd_open(contest, {}, actor=actor, now=now)
    except Conflict:
        _set_phase(contest, "podium", now)


def _cmd_scoreboard(contest, body, *, actor, now):
    _set_phase(contest, "scoreboard", now)


def _cmd_podium(contest, body, *, actor, now):
    _set_phase(contest, "podium", now)


def _cmd_sound(contest, body, *, actor, now):
    contest.sound = bool(body.get("on", not contest.sound))


def _cmd_correct(contest, body, *, actor, now):
    """{"entrant": id, "points": ±n, "reason": "…"}: a correction, with its reason in the ledger."""
    from quiz.inputs import finite_number

    entrant = int(body["entrant"]) if str(body.get("entrant") or "").isdigit() else 0
    if entrant not in {e.id for e in contest.entrants}:
        raise Invalid(_("entrant: choose a team or player of this contest."))
    points = finite_number(body.get("points"), "points")
    if points == 0 or abs(points) > 100_000:
        raise Invalid(_("points: a correction is a non-zero number of points."))
    reason = _text(body.get("reason"), _("reason"), 500)
    _score(contest, entrant, contest.current_id, "correction", points, reason, action=_action(), actor=actor, now=now)


def _cmd_undo(contest, body, *, actor, now):
    """Undo the last judging: its points are cancelled (new events) and the question goes back."""
    question = contest.current
    history = list((question.state or {}).get("history", [])) if question is not None else []
    if not history:
        raise Conflict(_("There is no judging to undo on the current question."))
    last = history.pop()
    undo_action = _action()
    for event in db.session.execute(select(LiveScore).where(LiveScore.contest_id == contest.id,
                                                            LiveScore.action == last["action"])).scalars().all():
        _score(contest, event.entrant_id, question.id, "undo", -event.points,
               _("Undo: %(reason)s", reason=event.reason), action=undo_action, actor=actor, now=now, undoes=event.id)
    question.state = {**last["state"], "history": history}
    if last.get("closed"):
        question.status, question.closed_at, question.revealed_at = "open", None, None
        if last.get("round_over"):
            question.round.settings = {k: v for k, v in question.round.settings.items() if k != "skipped"}
    _set_phase(contest, last["phase"], now)


def _cmd_finish(contest, body, *, actor, now):
    question = contest.current
    if question is not None and question.status == "open":
        _close(contest, question, now=now, actor=actor)
    contest.status = "finished"
    _cut_window(contest)
    _set_phase(contest, "podium", now)
    db.session.execute(update(Attempt).where(Attempt.quiz_id == contest.quiz_id, Attempt.status == "open")
                       .values(status="submitted", open_slot=None, submitted_at=now, score=0, correct_count=0))


# ---------------------------------------------------------------- buzzes (phones)
def buzz(contest: LiveContest, player: LivePlayer, *, now: datetime, rtt_samples=None) -> dict:
    """A phone buzzes (with the round trips it measured, `rtt_samples`, when it sends them). Before
    the start it is an early buzz (penalised as the round says); while buzzing is open it joins
    the race, ordered by its corrected time. Never takes the contest's exclusive lock: buzzes of
    different phones never wait for each other."""
    record_rtt_samples(player, rtt_samples)
    lock_contest(contest, exclusive=False)
    question = contest.current
    if question is None or question.status != "open" or contest.paused_at is not None:
        raise Conflict(_("Buzzing is not open."))
    kind = get_round_type(question.round.type)
    if not kind.buzzer:
        raise Conflict(_("This round has no buzzer."))
    state = _effective_state(question)
    if not kind.may_answer(question.round.settings, state, player.entrant_id):
        raise Conflict(_("You may not buzz on this question."))
    rtt = player.rtt_ms
    correction = min((rtt or 0) / 2, correction_cap())
    early = question.started_at is None
    if not early and question.deadline is not None and now > question.deadline:
        raise Conflict(_("Time is up."))
    record = LiveBuzz(live_question_id=question.id, entrant_id=player.entrant_id, player_id=player.id,
                      attempt=0 if early else state.get("race", 1), received_at=now, rtt_ms=rtt,
                      corrected_at=now - timedelta(milliseconds=correction), early=early)
    try:
        with db.session.begin_nested():
            db.session.add(record)
            db.session.flush()
    except IntegrityError:  # the entrant buzzed already in this race (unique): the first buzz stands
        return {"accepted": False, "early": early}
    if early:
        outcome = kind.early_buzz(question.round.settings, state, player.entrant_id)
        for score in outcome.scores:
            _score(contest, score.entrant, question.id, score.kind, score.points, score.reason, action=_action(),
                   actor=None, now=now)
    bump(contest, now, "buzz", version=False)
    return {"accepted": True, "early": early, "received_at": now.isoformat(),
            "corrected_at": record.corrected_at.isoformat()}


# ---------------------------------------------------------------- reading
@dataclass
class Standing:
    rank: int
    entrant: LiveEntrant
    total: float
    previous_rank: int | None
    last: float  # points of the latest scored action


def standings(contest: LiveContest) -> list[Standing]:
    """Entrants by total (base + ledger), ranked with the one competition ranking; the previous
    rank is the rank before the most recent scoring action (for animating the change)."""
    entrants = db.session.execute(select(LiveEntrant).where(LiveEntrant.contest_id == contest.id)
                                  .order_by(LiveEntrant.position, LiveEntrant.id)
                                  .options(selectinload(LiveEntrant.unit))).scalars().all()  # units: one query
    totals = dict(db.session.execute(select(LiveScore.entrant_id, func.sum(LiveScore.points))
                                     .where(LiveScore.contest_id == contest.id).group_by(LiveScore.entrant_id)).all())
    last_action = db.session.execute(select(LiveScore.action).where(
        LiveScore.contest_id == contest.id, LiveScore.kind != "base").order_by(LiveScore.id.desc()).limit(1)).scalar()
    last = dict(db.session.execute(select(LiveScore.entrant_id, func.sum(LiveScore.points)).where(
        LiveScore.contest_id == contest.id, LiveScore.action == last_action).group_by(LiveScore.entrant_id)).all()) \
        if last_action else {}
    now_ranked = competition_rank(entrants, key=lambda e: -round(totals.get(e.id, 0.0), 4))
    before = {e.id: rank for rank, e in competition_rank(
        entrants, key=lambda e: -round(totals.get(e.id, 0.0) - last.get(e.id, 0.0), 4))}
    return [Standing(rank, e, round(totals.get(e.id, 0.0), 4), before.get(e.id), round(last.get(e.id, 0.0), 4))
            for rank, e in now_ranked]


PUBLIC_TOP = 20  # entrants on the public scoreboard of an individuals contest


def _run_sheet(contest: LiveContest) -> list:
    """The contest's questions as rows in each round's order: id, round_id, position, status,
    points and the bank question's stem, type and picture. One query, without the questions' states
    (every closed 共答 question carries a streak per phone) and without loading each bank question."""
    return db.session.execute(
        select(LiveQuestion.id, LiveQuestion.round_id, LiveQuestion.position, LiveQuestion.status,
               LiveQuestion.points, Question.stem, Question.type, Question.picture)
        .join(Question, Question.id == LiveQuestion.question_id).where(LiveQuestion.contest_id == contest.id)
        .order_by(LiveQuestion.round_id, LiveQuestion.position)).all()


def _question_view(question: LiveQuestion, contest: LiveContest, sheet: list, *, host: bool) -> dict | None:
    """The current question as screens and phones see it: nothing of an unopened question, and
    for a 风险题 nothing until it starts (the stake comes first); the answer only once revealed.
    `sheet`: the contest's _run_sheet (the round's number of questions)."""
    from quiz.services.attempts import question_view

    if question is None or question.status == "pending":
        return None
    live_round = question.round
    kind = get_round_type(live_round.type)
    bank_question = question.question
    hidden = kind.wager and question.started_at is None and not host
    view = {"id": question.id, "number": question.position + 1,
            "of": sum(1 for q in sheet if q.round_id == live_round.id),
            "points": question.points, "status": question.status, "hidden": hidden,
            "opened_at": _iso(question.opened_at), "started_at": _iso(question.started_at),
            "deadline": _iso(question.deadline), "time_seconds": live_round.settings.get("time_seconds"),
            "phones": kind.phone_answers(live_round.settings), "buzzer": kind.buzzer, "wager": kind.wager}
    if not hidden:
        view.update(question_view(bank_question, None))
        view["id"] = question.id  # the live question's id (question_view gave the bank's)
        view["question_id"] = bank_question.id
    state = question.state or {}
    names = {e.id: e.name for e in contest.entrants}
    view["turn"] = {"id": state["turn"], "name": names.get(state["turn"])} if state.get("turn") else None
    view["eligible"] = [names.get(e) for e in state.get("eligible", [])] if state.get("eligible") else None
    view["out"] = [names.get(e) for e in state.get("out", [])]
    stake = db.session.execute(select(LiveWager.value).where(LiveWager.live_question_id == question.id)).scalar()
    view["stake"] = stake
    if kind.buzzer:
        buzzes = _race_buzzes(question)
        first = answering(question)
        view["answering"] = {"id": first.entrant_id, "name": names.get(first.entrant_id)} if first else None
        view["buzzes"] = [{"entrant": names.get(b.entrant_id), "entrant_id": b.entrant_id, "order": i + 1,
                           **({"received_at": _iso(b.received_at), "corrected_at": _iso(b.corrected_at),
                               "rtt_ms": b.rtt_ms} if host else {})}
                          for i, b in enumerate(buzzes)]
        view["early"] = sorted(names.get(e, "") for e in early_buzzers(question))
    if state.get("judged"):
        view["judged"] = {"name": names.get(state["judged"]["entrant"]), "right": state["judged"]["right"]}
    if question.status == "revealed" or host:
        kind_q = get_type(bank_question.type)
        view["answer"] = kind_q.shown_answer(bank_question.answer, None)
        view["explanation"] = bank_question.explanation
        view["distribution"] = state.get("distribution")
        view["answered"] = state.get("answered")
    return view


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@dataclass
class StateReads:
    """What every view of a contest's state reads, read once when one build makes several views:
    the standings, the run sheet (_run_sheet) and the number of phones."""

    board: list[Standing]
    sheet: list
    players: int


def state_reads(contest: LiveContest) -> StateReads:
    """The reads of public_state, made once."""
    players = db.session.scalar(select(func.count(LivePlayer.id)).where(LivePlayer.contest_id == contest.id))
    return StateReads(standings(contest), _run_sheet(contest), players or 0)


def public_state(contest: LiveContest, *, now: datetime, host: bool = False,
                 reads: StateReads | None = None) -> dict:
    """What the big screen and phones show (the host's console sees more with host=True); `reads`:
    the contest's state_reads when the caller has them already."""
    from quiz.services.pictures import picture_url
    from quiz.urls import public_url

    question = contest.current
    rounds = contest.rounds
    live_round = question.round if question is not None else None
    reads = state_reads(contest) if reads is None else reads
    board, sheet, players = reads.board, reads.sheet, reads.players
    shown = board if contest.mode == "teams" or host else board[:PUBLIC_TOP]
    state = {
        "contest": {"id": contest.id, "title": contest.title, "mode": contest.mode, "status": contest.status,
                    "phase": contest.phase, "version": contest.version, "sound": contest.sound,
                    "paused": contest.paused_at is not None, "paused_at": _iso(contest.paused_at),
                    "code": contest.join_code,
                    # outside a request (the push stream's states) the stream adds the link itself
                    "join_url": public_url("live.join", code=contest.join_code) if has_request_context() else None,
                    "players": players, "entrants": len(board)},
        "server_time": now.isoformat(),
        "round": {"index": live_round.position + 1, "of": len(rounds), "title": live_round.title,
                  "type": live_round.type, "label": str(get_round_type(live_round.type).label)} if live_round else None,
        "question": _question_view(question, contest, sheet, host=host),
        "scores": [{"rank": s.rank, "previous_rank": s.previous_rank, "entrant_id": s.entrant.id, "name": s.entrant.name,
                    "unit": s.entrant.unit.path if s.entrant.unit else None, "total": s.total, "last": s.last,
                    **({"team_code": s.entrant.team_code} if host else {})} for s in shown],
    }
    if host:
        state["run_sheet"] = [{"round": r.position + 1, "title": r.title, "type": r.type,
                               "label": str(get_round_type(r.type).label), "settings": r.settings,
                               "skipped": bool(r.settings.get("skipped")),
                               "questions": [{"id": q.id, "number": q.position + 1, "status": q.status,
                                              "points": q.points, "stem": q.stem, "type": q.type,
                                              "image": picture_url(q.picture)}  # the host's preview
                                             for q in sheet if q.round_id == r.id]}
                              for r in rounds]
        state["ledger"] = [{"id": s.id, "entrant": s.entrant.name, "kind": s.kind, "points": s.points,
                            "reason": s.reason, "at": _iso(s.created_at),
                            "by": (s.user.display_name or s.user.username) if s.user else None}
                           for s in db.session.execute(select(LiveScore).where(LiveScore.contest_id == contest.id)
                                                       .order_by(LiveScore.id.desc()).limit(30)).scalars()]
        state["can_undo"] = bool(question is not None and (question.state or {}).get("history"))
        if question is not None and question.started_at is not None and _phone_question(question) \
                and question.status == "open":
            state["question"]["answered"] = answered_count(contest, question)
    return state


def answered_count(contest: LiveContest, question: LiveQuestion) -> int:
    """Phones that have answered the running question (saves in its window)."""
    return db.session.scalar(select(func.count(Answer.id)).join(Attempt, Attempt.id == Answer.attempt_id).where(
        Attempt.quiz_id == contest.quiz_id, Answer.question_id == question.question_id,
        Answer.saved_at >= question.started_at)) or 0


def player_state(contest: LiveContest, player: LivePlayer, *, now: datetime) -> dict:
    """The public state plus the player's own: entrant, total, rank, last points, what they may do."""
    return snapshot(contest, now=now).for_player(player)


@dataclass
class Snapshot:
    """Everything the push stream sends, built once per change per process: the public state,
    the host's, and per entrant its standing and what it may do now."""

    version: int
    running: bool  # a question answered on phones is running: its counter changes every second
    public: dict
    host: dict
    mine: dict[int, dict]

    @property
    def phone(self) -> dict:
        """A phone's part of the public state: without the scoreboard (its own standing is "me"),
        which with 100 teams is most of the bytes that 5,000 phones would otherwise get on every
        change."""
        return {k: v for k, v in self.public.items() if k != "scores"}

    def for_player(self, player: LivePlayer) -> dict:
        return {**self.phone, "me": {"player": player.id, **self.mine.get(player.entrant_id, {})}}


def snapshot(contest: LiveContest, *, now: datetime) -> Snapshot:
    """The contest's state for every kind of viewer (quiz/views/live.py caches it per change)."""
    reads = state_reads(contest)  # once for the three views
    board = reads.board
    public = public_state(contest, now=now, reads=reads)
    host = public_state(contest, now=now, host=True, reads=reads)
    question = contest.current
    kind = get_round_type(question.round.type) if question is not None else None
    open_now = question is not None and question.status == "open" and contest.paused_at is None
    state = _effective_state(question) if open_now else {}
    mine = {}
    for row in board:
        entrant = row.entrant
        allowed = open_now and kind.may_answer(question.round.settings, state, entrant.id)
        may_wager = bool(allowed and kind.wager and question.started_at is None)
        mine[entrant.id] = {"entrant_id": entrant.id, "entrant": entrant.name, "total": row.total, "rank": row.rank,
                            "previous_rank": row.previous_rank, "last": row.last, "of": len(public["scores"]) if
                            contest.mode == "teams" else public["contest"]["entrants"],
                            "may_buzz": bool(allowed and kind.buzzer), "may_wager": may_wager,
                            "values": question.round.settings.get("values") if may_wager else None}
    running = bool(open_now and question.started_at is not None and _phone_question(question))
    return Snapshot(contest.version, running, public, host, mine)
