from datetime import UTC, date, datetime

import pytest

from bot.domain import ChannelRef, ChannelSettings
from bot.schedule import ScheduleError, apply_change, due_local_date, next_run, parse_schedule_args

CHANNEL = ChannelRef("console", "local", "general")


def test_time_and_zone_are_parsed() -> None:
    change = parse_schedule_args("09:30 Europe/Berlin daily papers 15")
    assert (change.hour, change.minute, change.timezone, change.weekdays_only, change.digest_size) == (
        9,
        30,
        "Europe/Berlin",
        False,
        15,
    )


def test_zone_names_are_case_insensitive() -> None:
    assert parse_schedule_args("8am europe/paris").timezone == "Europe/Paris"


def test_unknown_zone_suggests_close_names() -> None:
    with pytest.raises(ScheduleError, match="Europe/Berlin"):
        parse_schedule_args("09:00 Europe/Berln")


@pytest.mark.parametrize("text", ["25:00", "9:75", "13pm", "papers 26", "papers 0", "whenever"])
def test_bad_schedule_words_get_an_example(text: str) -> None:
    with pytest.raises(ScheduleError, match=r"09:00|papers 10|HH:MM"):
        parse_schedule_args(text)


def test_off_and_on_pause_and_resume_clearing_the_reason() -> None:
    settings = ChannelSettings(CHANNEL, paused=True, pause_reason="bot removed")
    assert apply_change(settings, parse_schedule_args("on")).pause_reason is None
    assert apply_change(settings, parse_schedule_args("off")).paused


def test_due_only_after_the_local_hour_and_not_on_weekends() -> None:
    settings = ChannelSettings(CHANNEL, hour=9, timezone="Europe/Berlin", weekdays_only=True)
    # Thursday 2026-11-26: 07:59 UTC is 08:59 in Berlin, 08:00 UTC is 09:00.
    assert due_local_date(settings, datetime(2026, 11, 26, 7, 59, tzinfo=UTC)) is None
    assert due_local_date(settings, datetime(2026, 11, 26, 8, 0, tzinfo=UTC)) == date(2026, 11, 26)
    assert due_local_date(settings, datetime(2026, 11, 28, 12, 0, tzinfo=UTC)) is None  # Saturday


def test_next_run_skips_the_weekend_and_follows_daylight_saving() -> None:
    settings = ChannelSettings(CHANNEL, hour=9, timezone="Europe/Berlin", weekdays_only=True)
    friday_noon = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
    # Friday's digest not posted yet: it is due now; once posted, the next one is on Monday.
    assert next_run(settings, friday_noon) == datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    after_friday = next_run(settings, friday_noon, done_today=True)
    assert after_friday is not None
    # Monday 30 March 2026 is after the switch to summer time: 09:00 CEST is 07:00 UTC.
    assert after_friday.date() == date(2026, 3, 30)
    assert after_friday.astimezone(UTC).hour == 7


def test_a_wall_time_skipped_by_daylight_saving_still_runs_that_day() -> None:
    settings = ChannelSettings(CHANNEL, hour=2, minute=30, timezone="Europe/Berlin", weekdays_only=False)
    # 29 March 2026 02:30 does not exist in Berlin; the clock jumps an hour, so the digest runs at 03:30 CEST.
    assert due_local_date(settings, datetime(2026, 3, 29, 1, 30, tzinfo=UTC)) == date(2026, 3, 29)
    assert due_local_date(settings, datetime(2026, 3, 29, 1, 29, tzinfo=UTC)) is None
