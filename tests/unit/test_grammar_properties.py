"""Property tests: whatever a person types, the query language, the /papers grammar and the schedule grammar
answer (a result, or a sentence that says what would work) and never raise anything else."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.commands import WEEKDAYS, CommandError, ScheduleRecap, ShowHelp, Top, parse_command
from bot.domain import ChannelRef, ChannelSettings
from bot.query import QueryError, parse_query, validate_query
from bot.schedule import ScheduleError, apply_change, due_local_date, next_run, parse_schedule_args

# Fast and repeatable in CI: a modest number of examples, no timing deadline (a loaded machine is slow), and no
# example database written into the working tree.
QUICK = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def sentences_from(words: list[str]) -> st.SearchStrategy[str]:
    """Lines made of the grammar's own words mixed with arbitrary text: they reach deeper than random text."""
    token = st.one_of(st.sampled_from(words), st.text(max_size=12))
    return st.lists(token, max_size=8).map(" ".join)


QUERY_WORDS = [
    "matryoshka",
    '"nested representations"',
    '"open',
    "-vision",
    '-"a b"',
    "author:Kusupati",
    'author:"Aditya Kusupati"',
    "author:",
    "cat:cs.CL",
    "cat:..",
    "org:Google",
    "since:2024-05-01",
    "since:yesterday",
    "foo:bar",
    "-",
    ":",
    '"',
]
COMMAND_WORDS = [
    "/papers",
    "papers",
    "search",
    "trending",
    "week",
    "paper",
    "2205.13147",
    "cite",
    "similar",
    "subscribe",
    "unsubscribe",
    "topics",
    "schedule",
    "digest",
    "vote",
    "upvote",
    "unvote",
    "help",
    "top",
    "month",
    "all",
    "recap",
    "friday",
    "sun",
    "off",
]
SCHEDULE_WORDS = [
    "09:00",
    "9am",
    "12pm",
    "13pm",
    "24:00",
    "7",
    "Europe/Berlin",
    "utc",
    "America/New_York",
    "Mars/Olympus",
    "weekdays",
    "daily",
    "papers",
    "papers=10",
    "size:30",
    "10",
    "off",
    "on",
    "pause",
    "resume",
]
NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # the night Europe's clocks go forward


@QUICK
@given(st.one_of(st.text(max_size=600), sentences_from(QUERY_WORDS)))
def test_any_text_is_a_query_or_one_sentence_saying_what_would_work(text: str) -> None:
    query = parse_query(text)
    try:
        validate_query(query)
    except QueryError as error:
        assert str(error).strip()
        return
    # A query that runs reads back as itself: topics compare and echo by this form.
    assert parse_query(query.describe()).describe() == query.describe()
    assert query.has_positive_clause


@QUICK
@given(st.one_of(st.text(max_size=300), sentences_from(COMMAND_WORDS + QUERY_WORDS + SCHEDULE_WORDS)))
def test_any_line_is_a_command_or_one_sentence_saying_what_would_work(text: str) -> None:
    for line in (text, f"/papers {text}"):
        try:
            command = parse_command(line)
        except CommandError as error:
            assert str(error).strip()
            continue
        if isinstance(command, ShowHelp) and command.preface:
            assert command.preface.startswith("I don't know ")


@QUICK
@given(st.one_of(st.text(max_size=200), sentences_from(SCHEDULE_WORDS)))
def test_any_schedule_line_is_a_schedule_or_one_sentence_and_a_schedule_always_runs(text: str) -> None:
    try:
        change = parse_schedule_args(text)
    except ScheduleError as error:
        assert str(error).strip()
        return
    settings_after = apply_change(ChannelSettings(ChannelRef("console", "local", "general")), change)
    assert 0 <= settings_after.hour <= 23 and 0 <= settings_after.minute <= 59
    # Whatever was accepted can be scheduled: the zone loads, and the next run is within a week.
    due_local_date(settings_after, NOW)
    upcoming = next_run(settings_after, NOW)
    assert settings_after.paused or upcoming is not None


@QUICK
@given(st.one_of(st.text(max_size=60), sentences_from(["week", "month", "all", "day", "top", "TOP"])))
def test_any_top_line_is_a_leaderboard_window_or_one_sentence(text: str) -> None:
    try:
        command = parse_command(f"/papers top {text}")
    except CommandError as error:
        assert str(error).startswith("Top takes week, month or all")
        return
    assert isinstance(command, Top) and command.window in ("week", "month", "all")


@QUICK
@given(st.one_of(st.text(max_size=60), sentences_from([*WEEKDAYS, "fri", "MON", "off", "on", "recap"])))
def test_any_recap_line_is_a_day_off_or_one_sentence(text: str) -> None:
    try:
        command = parse_command(f"/papers schedule recap {text}")
    except CommandError as error:
        assert "/papers schedule recap" in str(error)
        return
    assert isinstance(command, ScheduleRecap)
    assert command.day is None or 0 <= command.day <= 6
