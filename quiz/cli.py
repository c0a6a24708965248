"""`quiz …` commands: thin wrappers over the services (a Flask CLI group over create_app)."""
from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from flask_babel import gettext as _

from quiz.errors import QuizError
from quiz.extensions import db
from quiz.models.base import utcnow
from quiz.models.users import ROLE_LABELS
from quiz.services.reports import RANK_BY

ROOT = Path(__file__).resolve().parent.parent


def _create_app():
    from quiz import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False,
             help="Contest engine for theory knowledge contests (quiz run, quiz init-db, quiz bank …).")
def main() -> None:
    pass


def _fail(error: QuizError) -> None:
    db.session.rollback()
    click.echo(error.message, err=True)
    sys.exit(1)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise click.ClickException(_("cannot read %(path)s: %(error)s", path=path, error=exc.strerror))


def _output_format(output: str) -> str:
    """The spreadsheet format an output file's suffix names (csv or xlsx), or a usage error on -o."""
    fmt = Path(output).suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        raise click.BadParameter(_("the output file must end in .csv or .xlsx"), param_hint="-o")
    return fmt


def _print_report(summary: str, report, as_json: bool, extra: dict | None = None) -> None:
    if as_json:
        body = report.as_dict()
        body.update(extra or {})
        click.echo(json.dumps(body, ensure_ascii=False))
        return
    click.echo(summary)
    for problem in report.rejected:
        click.echo(f"row {problem.row}: {problem.message}")


def _finish_row_import(report, summary: str, *, dry_run: bool, as_json: bool, skip_invalid: bool = False) -> None:
    """The end of `quiz unit import` and `quiz roster import`: commit what the import wrote (else
    roll back), print the report, exit 1 when the file was rejected (with --skip-invalid: when no
    row was good)."""
    if report.written:
        db.session.commit()
    else:
        db.session.rollback()
    _print_report(summary + (" " + _("(dry run: nothing written)") if dry_run else ""), report, as_json)
    nothing_good = report.created + report.updated + report.unchanged == 0
    sys.exit(1 if report.rejected and (not skip_invalid or nothing_good) else 0)


class _progress:
    """A click progress bar on stderr for long work, only when stderr is a terminal."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and sys.stderr.isatty()
        self.bar = None
        self.done = 0

    def __enter__(self):
        return self.update if self.enabled else None

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=_("Checking rows"), file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


def upgrade_schema() -> None:
    """Create or upgrade the schema through the migrations (safe to repeat), then add the rows of
    newly registered question types (models/banks.py: a new type needs no migration)."""
    from flask_migrate import upgrade

    from quiz.models.banks import sync_question_types

    upgrade(directory=str(ROOT / "migrations"))
    sync_question_types()
    db.session.commit()


@click.command("init-db", help="Create or upgrade the database schema (safe to run twice).")
@with_appcontext
def init_db_command() -> None:
    upgrade_schema()
    click.echo(_("Database ready: %(url)s", url=db.engine.url.render_as_string(hide_password=True)))


# ---------------------------------------------------------------- units
unit_cli = click.Group("unit", help="Units (单位): the organisation tree with headcounts.")


@unit_cli.command("import", help="Create or update units from a CSV/XLSX with 单位 (path) and 应参人数.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Report without writing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def unit_import(file: str, dry_run: bool, as_json: bool) -> None:
    from quiz.services.units import import_units

    report = import_units(_read(file), file, actor=None, now=utcnow(), dry_run=dry_run)
    _finish_row_import(report, _(
        "Units: %(created)d created, %(updated)d updated, %(unchanged)d unchanged, %(rejected)d rejected rows",
        created=report.created, updated=report.updated, unchanged=report.unchanged, rejected=len(report.rejected)),
        dry_run=dry_run, as_json=as_json)


@unit_cli.command("list", help="Print the unit tree with headcounts.")
@with_appcontext
def unit_list() -> None:
    from quiz.services.scope import visible_units

    for unit in db.session.execute(visible_units(None)).scalars():
        click.echo(f"{'  ' * unit.depth}{unit.name}\t{unit.headcount}\t{unit.path}")


# ---------------------------------------------------------------- users
user_cli = click.Group("user", help="Accounts: admin, organiser (scoped to a unit), judge, participant.")


@user_cli.command("create", help="Create an account.")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "organiser", "judge", "participant"]), required=True)
@click.option("--unit", "unit_path", help="Unit path, e.g. 乔司街道/三角村社区 (required for organisers).")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default="", help="Display name.")
@with_appcontext
def user_create(username: str, role: str, unit_path: str | None, password: str, display_name: str) -> None:
    from quiz.services.people import create_user
    from quiz.services.units import get_unit

    try:
        unit = get_unit(unit_path) if unit_path else None
        user = create_user(username, role=role, password=password, unit=unit,
                           display_name=display_name, now=utcnow())
    except QuizError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(_("Created %(role)s %(name)s (%(unit)s)", role=ROLE_LABELS[user.role], name=user.username,
                 unit=unit.path if unit else "—"))


@user_cli.command("password", help="Set a user's password.")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def user_password(username: str, password: str) -> None:
    from quiz.services.people import find_user, set_password

    try:
        set_password(find_user(username), password)
    except QuizError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(_("Password changed for %(name)s", name=username))


token_cli = click.Group("token", help="API tokens (Authorization: Bearer TOKEN).")


@token_cli.command("create", help="Create an API token for a user and print it.")
@click.argument("username")
@click.option("--label", default="cli", help="A note on what the token is for.")
@with_appcontext
def token_create(username: str, label: str) -> None:
    from quiz.services.people import create_token, find_user

    try:
        secret = create_token(find_user(username), label=label, now=utcnow())
    except QuizError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(secret)


# ---------------------------------------------------------------- rosters
roster_cli = click.Group("roster", help="Rosters (参赛名单): participants with 姓名, 手机号, 单位.")


@roster_cli.command("import", help="Create or update participants from a CSV/XLSX (姓名, 手机号, 单位).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--skip-invalid", is_flag=True, help="Import the good rows and report the bad ones.")
@click.option("--dry-run", is_flag=True, help="Report without writing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_appcontext
def roster_import(file: str, skip_invalid: bool, dry_run: bool, as_json: bool) -> None:
    from quiz.services.people import import_roster

    report = import_roster(_read(file), file, actor=None, now=utcnow(), skip_invalid=skip_invalid,
                           dry_run=dry_run)
    _finish_row_import(report, _(
        "Roster: %(created)d created, %(updated)d updated, %(unchanged)d unchanged, %(rejected)d rejected rows",
        created=report.created, updated=report.updated, unchanged=report.unchanged, rejected=len(report.rejected)),
        dry_run=dry_run, as_json=as_json, skip_invalid=skip_invalid)


@roster_cli.command("codes", help="Make personal access codes for a unit's roster and write the list (XLSX/CSV).")
@click.option("--unit", "unit_path", required=True, help="Unit path; sub-units are included.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.xlsx or FILE.csv")
@click.option("--missing-only", is_flag=True, help="Only give codes to people without one (others keep theirs).")
@click.option("--list-only", is_flag=True, help="Make no codes; write the current list.")
@with_appcontext
def roster_codes(unit_path: str, output: str, missing_only: bool, list_only: bool) -> None:
    from quiz.services import exports
    from quiz.services.people import access_code_table, generate_access_codes
    from quiz.services.units import get_unit

    fmt = _output_format(output)
    try:
        unit = get_unit(unit_path)
        made = 0 if list_only else generate_access_codes(unit, actor=None, now=utcnow(), missing_only=missing_only)
        header, rows = access_code_table(unit, actor=None)
    except QuizError as exc:
        _fail(exc)
    title = _("Personal access codes: %(unit)s", unit=unit.path)
    data = exports.write_table(fmt, header, rows, title=title, sheet=_("Access codes"))
    try:  # the list first: new codes that nobody can read would lock people out
        Path(output).write_bytes(data)
    except OSError as exc:
        db.session.rollback()
        raise click.ClickException(_("cannot write %(path)s: %(error)s", path=output, error=exc.strerror))
    db.session.commit()
    click.echo(_("%(made)d new access codes; %(listed)d people listed in %(path)s",
                 made=made, listed=len(rows), path=output))


# ---------------------------------------------------------------- banks
bank_cli = click.Group("bank", help="Question banks (题库): import, export, list.")


@bank_cli.command("import", help="Import a CSV/XLSX question file, or a ZIP of one with its pictures, into a bank.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--bank", "bank_name", required=True, help="Bank name.")
@click.option("--skip-invalid", is_flag=True, help="Import the good rows and report the bad ones.")
@click.option("--dry-run", is_flag=True, help="Report the same without writing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--unit", "unit_path", help="Owner unit for a new bank (default: admins only).")
@click.option("--sheet", help="XLSX sheet name (default: the first sheet).")
@with_appcontext
def bank_import(path: str, bank_name: str, skip_invalid: bool, dry_run: bool, as_json: bool,
                unit_path: str | None, sheet: str | None) -> None:
    from quiz.services.importer import import_bank_file
    from quiz.services.units import get_unit

    try:
        unit = get_unit(unit_path) if unit_path else None
        with _progress(enabled=not as_json) as progress:
            report = import_bank_file(bank_name, _read(path), path, actor=None, now=utcnow(),
                                      skip_invalid=skip_invalid, dry_run=dry_run, unit=unit, sheet=sheet,
                                      progress=progress)
    except QuizError as exc:
        _fail(exc)
    if report.written:
        db.session.commit()
    else:
        db.session.rollback()
    if not report.accepted:
        summary = _("Rejected: nothing was imported into “%(bank)s” (%(n)d problems).",
                    bank=report.bank, n=len(report.rejected))
    else:
        summary = _("Bank “%(bank)s”: %(created)d created, %(updated)d updated, %(unchanged)d unchanged, "
                    "%(duplicates)d duplicates merged, %(rejected)d rows rejected",
                    bank=report.bank, created=report.created, updated=report.updated,
                    unchanged=report.unchanged, duplicates=report.duplicates,
                    rejected=len(report.rejected))
        if dry_run:
            summary += " " + _("(dry run: nothing written)")
    _print_report(summary, report, as_json)
    sys.exit(0 if report.accepted else 1)


@bank_cli.command("export", help="Write a bank in the canonical template (CSV with BOM, XLSX, or a ZIP with pictures).")
@click.argument("name")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="FILE.csv, FILE.xlsx, or FILE.zip (the spreadsheet and the pictures)")
@click.option("--include-retired", is_flag=True, help="Also export retired questions.")
@click.option("--sheet-format", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True,
              help="The spreadsheet inside a .zip.")
@with_appcontext
def bank_export(name: str, output: str, include_retired: bool, sheet_format: str) -> None:
    from quiz.services.banks import export_bank_file, get_bank

    zipped = Path(output).suffix.lower() == ".zip"
    if not zipped and Path(output).suffix.lower() not in (".csv", ".xlsx"):
        raise click.BadParameter(_("the output file must end in .csv, .xlsx or .zip"), param_hint="-o")
    fmt = sheet_format if zipped else _output_format(output)
    try:
        exported = export_bank_file(get_bank(name, actor=None), fmt, include_retired=include_retired,
                                    bundle=True if zipped else None)
    except QuizError as exc:
        _fail(exc)
    if exported.extension == "zip" and not zipped:
        raise click.BadParameter(_("this bank has questions with pictures: export it to a .zip file "
                                   "(the spreadsheet and the pictures)"), param_hint="-o")
    Path(output).write_bytes(exported.data)
    click.echo(_("Wrote %(path)s", path=output))


@bank_cli.command("share", help="Share a bank (read-only) with the organisers below its owner unit, or stop.")
@click.argument("name")
@click.option("--off", is_flag=True, help="Stop sharing.")
@with_appcontext
def bank_share(name: str, off: bool) -> None:
    from quiz.services.banks import get_bank, set_shared

    try:
        bank = get_bank(name, actor=None)
        set_shared(bank, not off, actor=None, now=utcnow())
    except QuizError as exc:
        _fail(exc)
    db.session.commit()
    click.echo(_("“%(bank)s” is no longer shared.", bank=bank.name) if off else
               _("“%(bank)s” is shared with the organisers below %(unit)s (read-only).", bank=bank.name,
                 unit=bank.unit.path if bank.unit else _("administrators")))


@bank_cli.command("list", help="List banks with their question counts.")
@with_appcontext
def bank_list() -> None:
    from quiz.services.banks import bank_counts
    from quiz.services.scope import visible_banks

    for bank in db.session.execute(visible_banks(None)).scalars():
        counts = bank_counts(bank)
        click.echo(f"{bank.name}\t{sum(counts.values())}\t"
                   + " ".join(f"{k}={v}" for k, v in sorted(counts.items())) + ("\tshared" if bank.shared else ""))


# ---------------------------------------------------------------- demo
@click.command("demo", help="Set up a demo on this database (sample units, banks, accounts, quizzes, a live contest) "
                            "and serve it.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 lets phones on the same network join (LAN address printed).")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Only set up; do not start the server.")
@with_appcontext
def demo_command(host: str, port: int, no_serve: bool) -> None:
    from quiz.services.demo import lan_addresses, load_demo
    from quiz.urls import join_url, public_base_url, public_url

    upgrade_schema()
    result = load_demo(ROOT, now=utcnow(), password_factory=lambda: secrets.token_urlsafe(9))
    db.session.commit()
    for line in result.lines:
        click.echo(line)
    click.echo("")
    for username, password, role in result.accounts:
        click.echo(_("Log in as %(user)s / %(password)s (%(role)s)", user=username, password=password,
                     role=ROLE_LABELS[role]))
    app: Flask = current_app._get_current_object()
    lan = lan_addresses() if host in ("0.0.0.0", "::", "") else []
    if not public_base_url():
        # join links and QR codes must open on a phone: use the address phones can reach
        if lan:
            app.config["PUBLIC_BASE_URL"] = f"http://{lan[0]}:{port}"
        elif host not in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""):
            app.config["PUBLIC_BASE_URL"] = f"http://{host}:{port}"
    base = public_base_url() or f"http://127.0.0.1:{port}"
    click.echo("")
    for quiz in result.quizzes:
        if quiz.is_open(utcnow()):
            code = quiz.join_code
            url = join_url(quiz) if public_base_url() else f"{base}/j/{code}"
            click.echo(_("Join the open sample quiz from a phone: %(url)s (code %(code)s)", url=url, code=code))
    if result.live is not None:
        def link(endpoint: str, **values) -> str:
            return public_url(endpoint, **values) if public_base_url() else \
                base + app.url_map.bind("localhost").build(endpoint, values)

        contest = result.live
        click.echo(_("Sample live contest “%(title)s”, in three windows:", title=contest.title))
        click.echo("  " + _("host console (log in as organiser): %(url)s",
                            url=link("live.host", contest_id=contest.id)))
        click.echo("  " + _("big screen: %(url)s", url=link("live.screen", contest_id=contest.id)))
        click.echo("  " + _("phones: %(url)s (code %(code)s; each team joins with its team code)",
                            url=link("live.join", code=contest.join_code), code=contest.join_code))
    if len(lan) > 1:
        click.echo(_("This machine's other network addresses: %(list)s (set PUBLIC_BASE_URL to choose one)",
                     list=", ".join(f"http://{a}:{port}" for a in lan[1:])))
    if host in ("127.0.0.1", "localhost", "::1") and not public_base_url():
        click.echo(_("Phones cannot open 127.0.0.1. To join from a phone on the same Wi-Fi, run "
                     "`quiz demo --host 0.0.0.0` (and allow the port through the firewall)."))
    if no_serve:
        return
    click.echo(_("Open %(url)s/ in a browser; press Ctrl+C to stop.", url=base))
    from werkzeug.serving import run_simple

    # the links above read the sample objects again, which began a transaction; on SQLite every
    # transaction takes the write lock (BEGIN IMMEDIATE), so end it before serving
    db.session.rollback()
    db.session.remove()

    _start_overdue_timer(app)  # the demo is one process: it runs `quiz close-overdue` itself
    # app.run() is a no-op inside a `flask` CLI command, so serve with Werkzeug directly.
    run_simple(host, port, app, use_reloader=False, use_debugger=False, threaded=True)


def _start_overdue_timer(app: Flask, every: float = 60.0) -> None:
    """A daemon thread doing what the production timer does (docs/deployment.md): grade the answer
    sheets past their deadline every minute."""
    import threading

    from quiz.services.attempts import close_all_overdue

    def loop():
        while True:
            with app.app_context():
                try:
                    close_all_overdue(now=utcnow())
                except Exception:  # noqa: BLE001 - logged; the next round tries again
                    db.session.rollback()
                    app.logger.exception("closing overdue answer sheets failed")
            stop.wait(every)

    stop = threading.Event()
    threading.Thread(target=loop, name="close-overdue", daemon=True).start()


@click.command("close-overdue", help="Grade every answer sheet past its deadline (run every minute by a timer).")
@with_appcontext
def close_overdue_command() -> None:
    from quiz.services.attempts import close_all_overdue

    graded = close_all_overdue(now=utcnow())
    click.echo(_("%(n)d answer sheets past their deadline were submitted and graded.", n=graded))


@click.command("verify", help="Recompute every score and rank of a quiz from the stored answers and report differences.")
@click.argument("quiz_id", type=int)
@with_appcontext
def verify_command(quiz_id: int) -> None:
    from quiz.services.attempts import close_overdue
    from quiz.services.quizzes import get_quiz
    from quiz.services.verify import verify_quiz

    try:
        quiz = get_quiz(quiz_id, actor=None)
        close_overdue(quiz, now=utcnow())  # a sheet past its deadline is graded before it is checked
        report = verify_quiz(quiz, now=utcnow())
    except QuizError as exc:
        _fail(exc)
    for line in report.differences:
        click.echo(line)
    click.echo(_("Checked %(attempts)d answer sheets and %(entries)d ranking entries: %(n)d differences.",
                 attempts=report.attempts, entries=report.entries, n=len(report.differences)))
    sys.exit(1 if report.differences else 0)


export_cli = click.Group("export", help="Published tables (公示表): leaderboard and unit report as XLSX or CSV; "
                                        "posters; live contests' standings, ledger and podium.")


LEVEL_HELP = ("Level of the unit tree to rank: 1 = top units, 2 = their sub-units … "
              "(default: the first level with more than one unit, as on the report page).")

# Options a published table may take, in the order --help lists them.
_TABLE_OPTIONS = {
    "organiser": click.option("--organiser", help="Organiser shown in the title row."),
    "rank_by": click.option("--rank-by", type=click.Choice(list(RANK_BY)), default="average",
                            show_default=True, help="Which figure ranks the units."),
    "level": click.option("--level", type=click.IntRange(1, 999), help=LEVEL_HELP),
}


def _table_command(kind: str, help: str, *options: str) -> None:
    """`quiz export KIND QUIZ_ID -o FILE [options]`: one implementation for every published table
    (exports.EXPORT_KINDS), the same table and writer as the report page's download."""

    def command(quiz_id: int, output: str, organiser: str | None = None, rank_by: str = "average",
                level: int | None = None) -> None:
        from quiz.services import exports
        from quiz.services.quizzes import get_quiz

        fmt = _output_format(output)
        now = utcnow()
        try:
            quiz = get_quiz(quiz_id, actor=None)
            sheet, header, rows = exports.export_table(kind, quiz, now=now, rank_by=rank_by,
                                                       level=None if level is None else level - 1)
        except QuizError as exc:
            _fail(exc)
        db.session.commit()
        title = exports.title_line(quiz, now=now, organiser=organiser)
        Path(output).write_bytes(exports.write_table(fmt, header, rows, title=title, sheet=sheet))
        click.echo(_("Wrote %(path)s", path=output))

    command.__name__ = f"export_{kind}"
    for name in reversed(options):
        command = _TABLE_OPTIONS[name](command)
    command = click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
                           help="FILE.xlsx or FILE.csv")(command)
    command = click.argument("quiz_id", type=int)(command)
    export_cli.command(kind, help=help)(with_appcontext(command))


_table_command("leaderboard", "The quiz ranking as a 公示表.", "organiser")
_table_command("units", "The per-unit report (participation, averages, pass rates, ranks).",
               "organiser", "rank_by", "level")
_table_command("answers", "Every answer of every submitted sheet (for archives; includes phone numbers).")
_table_command("analysis", "Item analysis: accuracy, facility, discrimination, most-chosen wrong option.")


@export_cli.command("poster", help="A poster (PNG 1080 px wide, or PDF): the honour roll (top N) or the unit ranking.")
@click.argument("quiz_id", type=int)
@click.option("--kind", type=click.Choice(["honour", "units"]), default="honour", show_default=True)
@click.option("--top", default=10, show_default=True, type=click.IntRange(1, 300), help="Honour roll: top N.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.png or FILE.pdf")
@click.option("--organiser", help="Organiser shown under the title.")
@click.option("--level", type=click.IntRange(1, 999), help="Units poster: " + LEVEL_HELP)
@click.option("--rank-by", type=click.Choice(["average", "participation", "mix"]), default="average",
              show_default=True, help="Units poster: which figure ranks the units.")
@with_appcontext
def export_poster(quiz_id: int, kind: str, top: int, output: str, organiser: str | None, level: int | None,
                  rank_by: str) -> None:
    from quiz.services import posters
    from quiz.services.quizzes import get_quiz
    from quiz.services.ranking import leaderboard
    from quiz.services.reports import unit_report

    fmt = Path(output).suffix.lower().lstrip(".")
    if fmt not in ("png", "pdf"):
        raise click.BadParameter(_("The poster format must be PNG or PDF."), param_hint="-o")
    now = utcnow()
    try:
        quiz = get_quiz(quiz_id, actor=None)
        if kind == "honour":
            entries = [e for e in leaderboard(quiz, now=now, limit=top * 2, public=True) if e["rank"] <= top]
            data = posters.honour_poster(quiz, entries, fmt=fmt, now=now, organiser=organiser, top=top)
        else:
            data = posters.unit_poster(quiz, unit_report(quiz, now=now, rank_by=rank_by), fmt=fmt, now=now,
                                       organiser=organiser, level=None if level is None else level - 1)
    except QuizError as exc:
        _fail(exc)
    db.session.commit()
    Path(output).write_bytes(data)
    click.echo(_("Wrote %(path)s", path=output))


def _live_contest(contest_id: int):
    from quiz.services.live import get_contest

    return get_contest(contest_id, actor=None)


def _live_table_command(kind: str, help: str) -> None:
    """`quiz export live-KIND CONTEST_ID -o FILE`: a live contest's table, as the host console downloads it."""

    def command(contest_id: int, output: str, organiser: str | None) -> None:
        from quiz.services import exports

        fmt = _output_format(output)
        now = utcnow()
        try:
            contest = _live_contest(contest_id)
            sheet, header, rows = exports.live_export_table(kind, contest, now=now)
        except QuizError as exc:
            _fail(exc)
        title = exports.title_line(contest, now=now, organiser=organiser)
        Path(output).write_bytes(exports.write_table(fmt, header, rows, title=title, sheet=sheet))
        click.echo(_("Wrote %(path)s", path=output))

    command.__name__ = f"export_live_{kind}"
    command = _TABLE_OPTIONS["organiser"](command)
    command = click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
                           help="FILE.xlsx or FILE.csv")(command)
    command = click.argument("contest_id", type=int)(command)
    export_cli.command(f"live-{kind}", help=help)(with_appcontext(command))


_live_table_command("standings", "A live contest's final standings (rank, team or player, base score, total).")
_live_table_command("ledger", "A live contest's score ledger: every score event, corrections and undos included.")


@export_cli.command("live-poster", help="A live contest's podium poster (PNG 1080 px wide, or PDF).")
@click.argument("contest_id", type=int)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="FILE.png or FILE.pdf")
@click.option("--organiser", help="Organiser shown under the title.")
@with_appcontext
def export_live_poster(contest_id: int, output: str, organiser: str | None) -> None:
    from quiz.services import posters
    from quiz.services.live import standings

    fmt = Path(output).suffix.lower().lstrip(".")
    if fmt not in posters.FORMATS:
        raise click.BadParameter(_("The poster format must be PNG or PDF."), param_hint="-o")
    try:
        contest = _live_contest(contest_id)
        data = posters.podium_poster(contest, standings(contest), fmt=fmt, now=utcnow(), organiser=organiser)
    except QuizError as exc:
        _fail(exc)
    Path(output).write_bytes(data)
    click.echo(_("Wrote %(path)s", path=output))


def register_commands(app: Flask) -> None:
    for command in (init_db_command, unit_cli, user_cli, token_cli, roster_cli, bank_cli, demo_command,
                    verify_command, close_overdue_command, export_cli):
        app.cli.add_command(command)
