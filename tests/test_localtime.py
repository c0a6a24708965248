"""The local time zone is one setting, BABEL_DEFAULT_TIMEZONE (quiz/localtime.py): times typed
without a zone, points-board periods and dates in exports all follow it."""
import csv
import io
from datetime import datetime, timezone

from quiz.localtime import local_tz
from quiz.services import exports
from quiz.services.points import period_bounds
from quiz.services.quizzes import parse_time
from tests.quizdata import make_quiz
from tests.test_reports import _sit

LATE_UTC = datetime(2026, 11, 22, 18, 30, tzinfo=timezone.utc)  # 02:30 on the 23rd in Beijing


def test_default_is_beijing_time(app, ctx):
    assert app.config["BABEL_DEFAULT_TIMEZONE"] == "Asia/Shanghai" and local_tz().key == "Asia/Shanghai"
    assert parse_time("2026-12-01T09:00", "opens_at") == datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)


def test_changing_the_setting_changes_a_parsed_time(app, ctx):
    app.config["BABEL_DEFAULT_TIMEZONE"] = "Europe/Berlin"  # UTC+1 in December
    assert local_tz().key == "Europe/Berlin"
    assert parse_time("2026-12-01T09:00", "opens_at") == datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
    # a time with its own zone is not moved
    assert parse_time("2026-12-01T09:00+08:00", "opens_at") == datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)


def test_changing_the_setting_changes_export_dates(app, ctx, tree, now):
    quiz = make_quiz(title="应知应会知识竞赛")
    _sit(quiz, now, "13800000001", "张三", "乔司街道/三角村社区")  # submitted 2026-11-23 08:01 UTC
    beijing_title = exports.title_line(quiz, now=LATE_UTC, organiser=None)
    _sheet, header, rows = exports.export_table("answers", quiz, now=now)
    column = 6  # Submitted at
    assert beijing_title.endswith("2026-11-23") and rows[0][column] == "2026-11-23 16:01:00"
    app.config["BABEL_DEFAULT_TIMEZONE"] = "America/New_York"  # UTC-5 in November
    assert exports.title_line(quiz, now=LATE_UTC, organiser=None).endswith("2026-11-22")
    _sheet, header, rows = exports.export_table("answers", quiz, now=now)
    assert rows[0][column] == "2026-11-23 03:01:00"
    data = exports.write_table("csv", header, rows, sheet="答题")
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1][column] == "2026-11-23 03:01:00"


def test_changing_the_setting_moves_the_points_periods(app, ctx):
    start, end = period_bounds("week", LATE_UTC)  # Monday 23 November in Beijing
    assert start == datetime(2026, 11, 22, 16, 0, tzinfo=timezone.utc)
    app.config["BABEL_DEFAULT_TIMEZONE"] = "UTC"  # still Sunday 22 November
    start, end = period_bounds("week", LATE_UTC)
    assert (start, end) == (datetime(2026, 11, 16, tzinfo=timezone.utc), datetime(2026, 11, 23, tzinfo=timezone.utc))
