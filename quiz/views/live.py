"""Live stage contests on the web: the organiser's list and set-up, the host console, the big
screen, the phone (join and play), and the push stream (Server-Sent Events) they all listen to.

The stream: EventSource connects to /live/<id>/stream (a player adds ?token=…; a logged-in
organiser who may host the contest gets the host's view); it first gets the current state, then a
new state after every change (events on channel "live:<id>", from any process or host through
Redis; changes close together make one state), and the host also every second while a question
answered on phones runs (its "answered" counter). EventSource reconnects by itself (to any worker
or host) and gets the current state at once. Each process builds a state once per change however
many phones listen, encodes it once, and holds no database connection between states
(quiz/live_push.py; served by gunicorn's gevent workers, docs/deployment.md "Live contests").
"""
from __future__ import annotations

import re
from contextlib import nullcontext
from types import SimpleNamespace
from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from quiz import live_push
from quiz.errors import QuizError
from quiz.extensions import client_ip, db
from quiz.forms import EmptyForm, LiveContestForm, LiveEntrantForm, LiveRoundForm
from quiz.inputs import json_body, parse_bool
from quiz.models import Quiz
from quiz.models.base import utcnow
from quiz.models.live import LiveContest
from quiz.questions import LETTERS, QUESTION_TYPES, get_type
from quiz.rounds import ROUND_TYPES
from quiz.services import guards
from quiz.services import live as live_service
from quiz.services import scope
from quiz.services.exports import live_score_kinds
from quiz.slots import phone_slot
from quiz.urls import public_url
from quiz.views.auth import manager_required
from quiz.views.common import unit_choices
from quiz.views.play import audience_units
from quiz.views.quizzes import qr_svg

bp = Blueprint("live", __name__)


# ---------------------------------------------------------------- organiser pages
@bp.route("/live/")
@manager_required
def index():
    """The live contests the organiser may see, with links to host, screen, phones and exports."""
    contests = [c for c in db.session.execute(db.select(LiveContest).order_by(LiveContest.id.desc())).scalars()
                if _access(c) is not None]
    access = {c.id: _access(c) for c in contests}
    links = {c.id: public_url("live.join", code=c.join_code) for c in contests}
    return render_template("live/index.html", contests=contests, access=access, links=links,
                           qr={c.id: qr_svg(links[c.id]) for c in contests if access[c.id] == scope.MANAGE},
                           counts=live_service.summaries(contests))


def _access(contest: LiveContest) -> str | None:
    return scope.live_access(current_user, contest)


def _manages(contest: LiveContest) -> bool:
    return _access(contest) == scope.MANAGE


@bp.route("/live/new", methods=["GET", "POST"])
@manager_required
def create():
    """The set-up page: title, mode, banks, entrants, rounds → one create_contest call."""
    form = _setup_form()
    error = None
    if form.validate_on_submit():
        try:
            contest = live_service.create_contest(_payload(form), actor=current_user, now=utcnow())
        except QuizError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_("Live contest created. Phones join with the code %(code)s; open the big screen and start when "
                    "you are ready.", code=contest.join_code), "success")
            return redirect(url_for("live.host", contest_id=contest.id))
    return _setup_page(form, error, None)


@bp.route("/live/<int:contest_id>/edit", methods=["GET", "POST"])
@manager_required
def edit(contest_id: int):
    """The set-up page of a contest that has not started (entrants changed in place, rounds replaced)."""
    contest = live_service.get_contest(contest_id, actor=current_user)
    if contest.status != "setup":
        flash(_("This live contest has started; its set-up can no longer be changed."), "warning")
        return redirect(url_for("live.host", contest_id=contest.id))
    form = _setup_form(contest)
    error = None
    if form.validate_on_submit():
        try:
            live_service.update_setup(contest, _payload(form), actor=current_user, now=utcnow())
        except QuizError as exc:
            db.session.rollback()
            error = exc.message
        else:
            db.session.commit()
            flash(_("Set-up saved."), "success")
            return redirect(url_for("live.host", contest_id=contest.id))
    return _setup_page(form, error, contest)


def _setup_form(contest: LiveContest | None = None) -> LiveContestForm:
    """The set-up form: posted data, else the contest's set-up (editing), else defaults."""
    form = LiveContestForm(obj=None if request.method == "POST" or contest is None else _setup_values(contest))
    units = unit_choices()
    if current_user.is_admin:
        form.unit.choices = [("", _("(administrators)"))] + units
    else:
        form.unit.choices = units
        if request.method != "POST" and contest is None and current_user.unit is not None:
            form.unit.data = str(current_user.unit.id)
    form.banks.choices = [(str(b.id), b.name) for b in db.session.execute(scope.usable_banks(current_user)).scalars()]
    if contest is not None:  # the contest's banks stay listed (the save checks each one again)
        listed = {value for value, _label in form.banks.choices}
        form.banks.choices += [(str(b.id), b.name) for b in db.session.get(Quiz, contest.quiz_id).banks
                               if str(b.id) not in listed]
    if request.method != "POST" and contest is not None:
        for _extra in range(2):  # room to add entrants and a round
            form.entrants.append_entry()
        form.rounds.append_entry()
    for row in form.entrants:
        _entrant_choices(row.form, units)
    for row in form.rounds:
        _round_choices(row.form)
    return form


def _entrant_choices(form, units: list[tuple[str, str]]) -> None:
    form.unit.choices = [("", _("(none)"))] + units


def _round_choices(form) -> None:
    form.type.choices = [("", _("— no round —"))] + [(k, str(t.label)) for k, t in ROUND_TYPES.items()]


def _setup_values(contest: LiveContest) -> SimpleNamespace:
    """A contest's set-up as the form's values: its rounds as hand-picked question lists, so saving
    unchanged keeps every question."""
    entrants = [SimpleNamespace(id=str(e.id), unit=str(e.unit_id) if e.unit_id else "", name=e.name,
                                base_score=e.base_score,
                                members="\n".join(f"{m['name']} {m['phone']}" for m in e.members or []))
                for e in contest.entrants]
    names = {e.id: e.name for e in contest.entrants}
    rounds = []
    for live_round in contest.rounds:
        settings = live_round.settings or {}
        default_points = settings.get("points", 10)
        values = {"type": live_round.type, "title": live_round.title, "source": "pick",
                  "questions": " ".join(str(q.question_id) if q.points == default_points
                                        else f"{q.question_id}:{q.points:g}" for q in live_round.questions),
                  "entrants": "; ".join(names.get(e, "") for e in settings.get("entrants") or [])}
        for name in ROUND_TYPES[live_round.type].DEFAULTS:
            if name in settings:
                value = settings[name]
                values[f"s_{live_round.type}_{name}"] = ", ".join(f"{v:g}" for v in value) \
                    if isinstance(value, list) else value
        rounds.append(SimpleNamespace(**values))
    quiz = db.session.get(Quiz, contest.quiz_id)
    return SimpleNamespace(title=contest.title, description=contest.description, mode=contest.mode,
                           unit=str(contest.unit_id) if contest.unit_id else "",
                           banks=[str(b.id) for b in quiz.banks], base_score=None, entrants=entrants, pasted="",
                           rounds=rounds)


def _payload(form: LiveContestForm) -> dict:
    """The set-up form as the payload create_contest / update_setup take (the API's shape)."""
    units = {str(u.id): u for u in db.session.execute(scope.visible_units(current_user)).scalars()}
    # individuals: players who join on their phones start from 0, so registered ones do too unless a row says
    default_base = form.base_score.data if form.base_score.data is not None and form.mode.data == "teams" else 0
    entrants = []
    for row in form.entrants:
        f = row.form
        unit = units.get(f.unit.data or "")
        name = (f.name.data or "").strip() or (unit.name if unit else "")
        if not name and not (f.members.data or "").strip():
            continue  # an empty row
        with live_service.named(_("Entrant “%(name)s”", name=name) if name else _("Entrant")):
            members = live_service.parse_members(f.members.data,
                                                 default_name=name if form.mode.data == "individuals" else "")
        entrants.append({"id": f.id.data or None, "name": name, "unit": unit.path if unit else None,
                         "base_score": f.base_score.data if f.base_score.data is not None else default_base,
                         "members": members})
    entrants += live_service.parse_entrant_list(form.pasted.data, base_score=default_base,
                                                individuals=form.mode.data == "individuals")
    rounds = []
    for row in form.rounds:
        f = row.form
        key = f.type.data
        if not key:
            continue  # a row left empty
        item = {"type": key, "title": (f.title.data or "").strip()}
        if key in ROUND_TYPES:
            item["settings"] = {name: getattr(f, f"s_{key}_{name}").data for name in ROUND_TYPES[key].DEFAULTS
                                if getattr(f, f"s_{key}_{name}").data not in (None, "")}
        if f.source.data == "pick":
            item["questions"] = live_service.parse_question_list(f.questions.data)
        else:
            item["rules"] = [{"type": qtype, "count": getattr(f, f"draw_{qtype}").data or 0, "tags": f.tags.data or ""}
                             for qtype in QUESTION_TYPES]
        if key == "tiebreak" and (f.entrants.data or "").strip():
            item["entrants"] = [n.strip() for n in re.split(r"[;；]", f.entrants.data) if n.strip()]
        rounds.append(item)
    unit = units.get(form.unit.data or "")
    return {"title": form.title.data, "description": form.description.data or "", "mode": form.mode.data,
            "unit": unit.path if unit else None, "banks": list(form.banks.data or []), "entrants": entrants,
            "rounds": rounds}


def _setup_page(form: LiveContestForm, error: str | None, contest: LiveContest | None):
    """The set-up page, with blank rows (prefix "…-__i__-") that static/live/setup.js adds."""
    entrant_template = LiveEntrantForm(prefix="entrants-__i__-")
    _entrant_choices(entrant_template, unit_choices())
    round_template = LiveRoundForm(prefix="rounds-__i__-")
    _round_choices(round_template)
    return render_template("live/setup.html", form=form, error=error, contest=contest, round_types=ROUND_TYPES,
                           question_types=QUESTION_TYPES, problems=_form_problems(form),
                           entrant_template=entrant_template, round_template=round_template)


def _form_problems(form) -> list[str]:
    """Every field error of the set-up form as "where: what" (rows named by their number)."""
    out = []
    for field in form:
        if field.type == "CSRFTokenField":
            if field.errors:
                out.append(_("The form expired or was sent from elsewhere; reload the page and try again."))
        elif field.type == "FieldList":
            for index, row in enumerate(field, start=1):
                where = _("Entrant %(n)d", n=index) if field.name == "entrants" else _("Round %(n)d", n=index)
                out += [_("%(field)s: %(error)s", field=f"{where} · {sub.label.text}", error=e)
                        for sub in row.form for e in sub.errors]
        else:
            out += [_("%(field)s: %(error)s", field=field.label.text, error=e) for e in field.errors]
    return out


@bp.route("/live/questions.json")
@manager_required
def question_search():
    """Questions of the organiser's usable banks for the set-up page's picker: ?q=text&type=&bank=id…"""
    from quiz.services.banks import question_filter

    banks = db.session.execute(scope.usable_banks(current_user)).scalars().all()
    wanted = set(request.args.getlist("bank"))
    chosen = [b for b in banks if str(b.id) in wanted] or banks
    qtype = request.args.get("type", "")
    stmt = question_filter(chosen, q=request.args.get("q", "")[:200], qtype=qtype if qtype in QUESTION_TYPES else "",
                           tag=request.args.get("tag", "")[:200]).limit(50)
    names = {b.id: b.name for b in chosen}
    return jsonify([{"id": q.id, "type": str(get_type(q.type).label), "stem": q.stem, "bank": names.get(q.bank_id),
                     "answer": get_type(q.type).display_answer(q.answer, q.options)}
                    for q in db.session.execute(stmt).scalars()])


@bp.route("/live/<int:contest_id>/host")
@manager_required
def host(contest_id: int):
    """The host's console (run sheet, commands, buzz order with raw and corrected times, ledger)."""
    contest = live_service.get_contest(contest_id, actor=current_user)
    join_url = public_url("live.join", code=contest.join_code)
    return render_template("live/host.html", contest=contest, form=EmptyForm(),
                           state=live_service.public_state(contest, now=utcnow(), host=True),
                           join_url=join_url, qr=qr_svg(join_url), types=QUESTION_TYPES, letters=LETTERS,
                           shortcuts=SHORTCUTS, round_types=ROUND_TYPES, kinds=live_score_kinds(),
                           cap=live_service.correction_cap())


# Keyboard shortcuts of the host console (static/live/host.js reads them from the page).
SHORTCUTS = (("o", "open", _l("Open the next question")), ("s", "start", _l("Start answering / buzzing")),
             ("c", "close", _l("Close the question")), ("r", "reveal", _l("Reveal the answer")),
             ("n", "next", _l("Next question")), ("y", "right", _l("Judge: right")), ("x", "wrong", _l("Judge: wrong")),
             ("p", "pause", _l("Pause / resume")), ("u", "undo", _l("Undo the last judging")),
             ("b", "scoreboard", _l("Show the scoreboard")), ("m", "sound", _l("Sound on / off")))


# ---------------------------------------------------------------- exports (hosts)
@bp.route("/live/<int:contest_id>/export/<kind>.<fmt>")
@manager_required
def export(contest_id: int, kind: str, fmt: str):
    """kind: standings | ledger; fmt: xlsx | csv (the existing export writer, formula-safe)."""
    from quiz.services import exports

    contest = live_service.get_contest(contest_id, actor=current_user)
    if fmt not in exports.CONTENT_TYPES or kind not in exports.LIVE_EXPORT_KINDS:
        abort(404)
    now = utcnow()
    sheet, header, rows = exports.live_export_table(kind, contest, now=now)
    title = exports.title_line(contest, now=now, organiser=_organiser(contest))
    data = exports.write_table(fmt, header, rows, title=title, sheet=sheet)
    return _attachment(data, exports.CONTENT_TYPES[fmt], f"{contest.title}-{sheet}.{fmt}", f"export.{fmt}")


@bp.route("/live/<int:contest_id>/poster.<fmt>")
@manager_required
def poster(contest_id: int, fmt: str):
    """The podium poster (final standings): PNG 1080 px wide, or A4 PDF."""
    from quiz.services import posters

    contest = live_service.get_contest(contest_id, actor=current_user)
    if fmt not in posters.FORMATS:
        abort(404)
    data = posters.podium_poster(contest, live_service.standings(contest), fmt=fmt, now=utcnow(),
                                 organiser=_organiser(contest))
    return _attachment(data, POSTER_TYPES[fmt], f"{contest.title}-{_('Final standings')}.{fmt}", f"poster.{fmt}")


POSTER_TYPES = {"png": "image/png", "pdf": "application/pdf"}


def _organiser(contest: LiveContest) -> str | None:
    """The organiser named under a title: the contest's unit, else the user's."""
    unit = contest.unit or current_user.unit
    return unit.name if unit else None


def _attachment(data: bytes, mimetype: str, filename: str, fallback: str) -> Response:
    response = Response(data, content_type=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
    return response


@bp.post("/live/<int:contest_id>/host/<command>")
@manager_required
def host_command(contest_id: int, command: str):
    """A host command from the console (session and CSRF token, like every form) → the host's state."""
    contest = live_service.get_contest(contest_id, actor=current_user)
    body = json_body() if request.is_json else request.form.to_dict()
    for key in ("right", "on"):
        if isinstance(body.get(key), str):  # form posts send words
            body[key] = parse_bool(body[key], key)
    live_service.command(contest, command, body, actor=current_user, clock=utcnow)
    contest_id, join_url = contest.id, public_url("live.join", code=contest.join_code)
    db.session.commit()
    return jsonify(live_push.host_state(contest_id, join_url))  # the streams' build (quiz/live_push.py)


@bp.route("/live/<int:contest_id>/screen")
def screen(contest_id: int):
    """The big screen (public, no interaction): it shows what the stream sends (the public view,
    even in an organiser's browser), starting from the state embedded in the page."""
    contest = db.get_or_404(LiveContest, contest_id)
    join_url = public_url("live.join", code=contest.join_code)
    return render_template("live/screen.html", contest=contest, join_url=join_url, qr=qr_svg(join_url),
                           state=live_service.public_state(contest, now=utcnow()))


@bp.route("/live/clock")
def clock():
    """The server's time, for screens and phones to measure their clock's offset (countdowns)."""
    return jsonify(live_service.server_clock(utcnow())), 200, {"Cache-Control": "no-store"}  # also quiz/board_lane.py


# ---------------------------------------------------------------- phones
@bp.route("/l/<code>")
def join(code: str):
    """The phone's page: join (name, phone, unit or team code), then wait, answer, buzz. The code
    is guarded like a quiz's join code (wrong guesses are counted per address)."""
    contest = guards.live_for_code(code, address=client_ip())
    quiz = db.session.get(Quiz, contest.quiz_id)
    return render_template("live/phone.html", contest=contest, units=audience_units(quiz),
                           access_code=bool(quiz.access_code_required))


# ---------------------------------------------------------------- the stream
@bp.route("/live/<int:contest_id>/stream")
def stream(contest_id: int):
    """Server-Sent Events (quiz/live_push.py): the current state at once, then one after each change.
    A phone (?token=) gets its own standing in "me"; an organiser who may host the contest, the
    host's state; anyone else (and ?view=screen) the big screen's. Reconnecting costs no database query when this
    process knows the contest and the phone already. A phone's stream opens in a phone slot
    (quiz/slots.py), the host's and the screens' never wait for one."""
    token = request.args.get("token")
    with phone_slot() if token else nullcontext():
        return _stream(contest_id, token)


def _stream(contest_id: int, token: str | None):
    pushed = live_push.feeds()
    feed = pushed.feed(contest_id)
    state = feed.current()
    if state is None:
        pushed.forget(contest_id)
        abort(404)
    role, player = "screen", None
    if token:
        role, player = "player", pushed.player(contest_id, token)
    elif current_user.is_authenticated and request.args.get("view") != "screen":
        # the host's state (every question's answer) only for the contest's hosts; ?view=screen
        # asks for the public one (the big screen opened in an organiser's browser)
        contest = db.session.get(LiveContest, contest_id)
        if contest is not None and _manages(contest):
            role = "host"
    join_url = public_url("live.join", code=state.snap.public["contest"]["code"])
    frames = live_push.frames(feed, role=role, join_url=join_url, player_id=player.id if player else None,
                              entrant_id=player.entrant_id if player else None)
    db.session.remove()  # the stream holds no database connection while it waits
    headers = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}
    return Response(frames, mimetype="text/event-stream", headers=headers)
