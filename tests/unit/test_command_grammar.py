import pytest

from bot.commands import (
    CastVote,
    CommandError,
    ListTopics,
    PostDigest,
    Schedule,
    Search,
    ShowHelp,
    ShowPaper,
    Trending,
    Unsubscribe,
    parse_command,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/papers search matryoshka", Search("matryoshka")),
        ("search  gaussian splatting ", Search("gaussian splatting")),
        ("/papers trending", Trending("day")),
        ("/papers trending WEEK", Trending("week")),
        ("/papers paper 2205.13147", ShowPaper("2205.13147")),
        ("/papers unsubscribe 2", Unsubscribe("2")),
        ("/papers topics", ListTopics()),
        ("/papers schedule 09:00 Europe/Berlin", Schedule("09:00 Europe/Berlin")),
        ("/papers digest", PostDigest()),
        ("/papers vote 2205.13147", CastVote("2205.13147")),
        ("/papers", ShowHelp()),
        ("", ShowHelp()),
    ],
)
def test_the_grammar_maps_to_commands(text: str, expected: object) -> None:
    assert parse_command(text) == expected


def test_unknown_word_answers_with_help_naming_the_word() -> None:
    command = parse_command("/papers serch x")
    assert isinstance(command, ShowHelp)
    assert command.preface is not None and "serch" in command.preface


@pytest.mark.parametrize("verb", ["search", "paper", "cite", "subscribe", "unsubscribe", "vote", "unvote"])
def test_missing_argument_says_what_would_work(verb: str) -> None:
    with pytest.raises(CommandError, match="/papers"):
        parse_command(f"/papers {verb}")


def test_bad_trending_window_names_the_choices() -> None:
    with pytest.raises(CommandError, match="day, week or month"):
        parse_command("/papers trending year")
