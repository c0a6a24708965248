"""Row imports share one report, one reading of the table, one write and one number-cell parser
(quiz/services/rows.py): units, rosters and question banks report the same way, and 分值 and
应参人数 cells are read by the same rules."""
import pytest
from sqlalchemy import func, select

from quiz.errors import Invalid
from quiz.extensions import db
from quiz.models import Participant, Unit
from quiz.questions import AnswerError
from quiz.services.importer import ImportReport, import_bank_file, parse_points
from quiz.services.people import find_user, import_roster
from quiz.services.rows import RowReport
from quiz.services.units import import_units, parse_headcount
from tests.conftest import HEADER, csv_bytes


@pytest.mark.parametrize("raw, points, headcount", [
    ("", None, None),
    ("  ", None, None),
    ("2", 2.0, 2),
    ("１２０", 120.0, 120),      # full-width digits are folded
    ("2.0", 2.0, 2),
    ("1e2", 100.0, 100),
    ("0.5", 0.5, "out of range"),   # a headcount is a whole number
    ("0", "out of range", 0),       # points must be more than 0, a headcount may be 0
    ("1001", "out of range", 1001),
    ("-1", "out of range", "out of range"),
    ("20000000", "out of range", "out of range"),
    ("1_0", "not a number", "not a number"),   # float() would read 10
    ("nan", "not a number", "not a number"),
    ("inf", "not a number", "not a number"),
    ("1e999", "not a number", "not a number"),
    ("两分", "not a number", "not a number"),
])
def test_points_and_headcount_cells_are_read_by_one_parser(ctx, raw, points, headcount):
    for parse, expected, error in ((parse_points, points, AnswerError), (parse_headcount, headcount, Invalid)):
        if isinstance(expected, str):
            with pytest.raises(error) as caught:
                parse(raw)
            message = str(caught.value) if error is AnswerError else caught.value.message
            assert raw.strip() in message  # names the cell as typed
            assert ("不是" in message) == (expected == "not a number"), message  # 不是数字 / 不是有效的…整数
        else:
            assert parse(raw) == expected and type(parse(raw)) is type(expected)


def test_a_long_cell_is_shortened_in_the_message(ctx):
    with pytest.raises(Invalid) as caught:
        parse_headcount("一" * 50)
    assert "一" * 20 + "…" in caught.value.message and "一" * 21 not in caught.value.message


def test_units_rosters_and_banks_return_the_one_report(ctx, tree, now):
    units = import_units(csv_bytes([["单位", "应参人数"], ["乔司街道/新村", "30"]]), "u.csv", actor=None, now=now)
    roster = import_roster(csv_bytes([["姓名", "手机号", "单位"], ["张三", "13800138000", "乔司街道/新村"]]),
                           "r.csv", actor=None, now=now)
    bank = import_bank_file("题库", csv_bytes([HEADER, ["判断", "题", "", "", "", "", "对", "", "", "", ""]]),
                            "b.csv", actor=None, now=now)
    assert type(units) is RowReport and type(roster) is RowReport and isinstance(bank, ImportReport)
    assert isinstance(bank, RowReport)
    for report in (units, roster, bank):
        assert (report.created, report.written, report.rejected) == (1, True, [])
        assert {"created", "updated", "unchanged", "rejected"} <= set(report.as_dict())


def test_a_rejected_roster_reports_nothing_written_in_a_dry_run_too(ctx, tree, now):
    """A row the organiser may not write (a phone of someone in another street) rejects the file; a
    dry run reports what the real run would do: nothing, as for units and banks."""
    from quiz.services.people import create_user, save_participant

    save_participant(name="乔一", phone="13800000001", unit=db.session.get(Unit, tree["乔司街道/永丰村"]), actor=None,
                     now=now)
    create_user("lunjiao", role="organiser", password="secret-pass", unit=db.session.get(Unit, tree["伦教街道"]),
                now=now)
    rows = csv_bytes([["姓名", "手机号", "单位"], ["伦一", "13900000001", "伦教街道/常教社区"],
                      ["被挪走", "13800000001", "伦教街道/常教社区"]])
    for dry_run in (True, False):
        report = import_roster(rows, "r.csv", actor=find_user("lunjiao"), now=now, dry_run=dry_run)
        assert [p.row for p in report.rejected] == [3] and "13800000001" in report.rejected[0].message
        assert (report.created, report.updated, report.unchanged, report.written) == (0, 0, 0, False)
    assert db.session.scalar(select(func.count(Participant.id))) == 1
    report = import_roster(rows, "r.csv", actor=find_user("lunjiao"), now=now, skip_invalid=True)
    assert (report.created, [p.row for p in report.rejected], report.written) == (1, [3], True)


def test_units_report_repeats_and_bad_cells_by_row(ctx, tree, now):
    rows = [["单位", "应参人数"], ["乔司街道/新村", "30"], [""], ["乔司街道 / 新村", "31"], ["乔司街道/旧村", "1_0"]]
    report = import_units(csv_bytes(rows), "u.csv", actor=None, now=now)
    assert [p.row for p in report.rejected] == [4, 5]
    assert "2" in report.rejected[0].message and "1_0" in report.rejected[1].message
    assert (report.created, report.written) == (0, False)
    assert db.session.execute(select(Unit).where(Unit.path == "乔司街道/新村")).first() is None
