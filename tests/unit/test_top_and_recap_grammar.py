"""The grammar of `/papers top` and `/papers schedule recap`: what each line means, and a sentence for the rest."""

from __future__ import annotations

import pytest

from bot.commands import (
    HELP_TEXT,
    CommandError,
    Schedule,
    ScheduleRecap,
    Top,
    parse_command,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/papers top", Top("week")),
        ("/papers top week", Top("week")),
        ("/papers top MONTH", Top("month")),
        ("top all", Top("all")),
        ("/papers schedule recap friday", ScheduleRecap(4)),
        ("/papers schedule recap Mon", ScheduleRecap(0)),
        ("/papers schedule RECAP sundays", ScheduleRecap(6)),
        ("/papers schedule recap off", ScheduleRecap(None)),
        ("/papers schedule 09:00 Europe/Berlin", Schedule("09:00 Europe/Berlin")),
    ],
)
def test_top_and_recap_lines_map_to_commands(text: str, expected: object) -> None:
    assert parse_command(text) == expected


def test_top_is_posted_for_the_channel_and_a_recap_change_needs_a_manager() -> None:
    assert Top().private is False and Top().changes_channel is False
    assert ScheduleRecap(4).changes_channel is True and ScheduleRecap(None).changes_channel is True
    assert ScheduleRecap(4).private is False


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("/papers top year", "Top takes week, month or all, e.g. /papers top month; not 'year'."),
        ("/papers top day", "Top takes week, month or all, e.g. /papers top month; not 'day'."),
        (
            "/papers schedule recap",
            "Tell me the day of the weekly recap. Write /papers schedule recap friday (any day of the week), "
            "or /papers schedule recap off.",
        ),
        (
            "/papers schedule recap payday",
            "'payday' is not a day of the week. Write /papers schedule recap friday (any day of the week), "
            "or /papers schedule recap off.",
        ),
    ],
)
def test_a_wrong_top_or_recap_line_says_what_would_work(text: str, sentence: str) -> None:
    with pytest.raises(CommandError) as raised:
        parse_command(text)
    assert str(raised.value) == sentence


def test_help_names_top_and_the_recap() -> None:
    assert "/papers top [week|month|all]" in HELP_TEXT
    assert "/papers schedule recap <day> | recap off" in HELP_TEXT
