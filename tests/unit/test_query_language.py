from datetime import date

import pytest

from bot.query import MAX_QUERY_LENGTH, QueryError, parse_query, validate_query


def test_plain_words_phrases_exclusions_and_fields_are_recognised() -> None:
    query = parse_query(
        'matryoshka "nested representations" -vision author:Kusupati cat:cs.LG org:Google since:2022-01-01'
    )
    assert query.words == ["matryoshka"]
    assert query.phrases == ["nested representations"]
    assert query.excluded_words == ["vision"]
    assert query.authors == ["Kusupati"]
    assert query.categories == ["cs.LG"]
    assert query.orgs == ["Google"]
    assert query.since == date(2022, 1, 1)
    assert query.problems == []


def test_quoted_author_name_keeps_both_words() -> None:
    assert parse_query('author:"Aditya Kusupati"').authors == ["Aditya Kusupati"]


@pytest.mark.parametrize(
    "hostile",
    [
        '"',
        '"unclosed phrase',
        "NEAR(a b)",
        "a OR b",
        "*",
        "title:foo",
        ":::",
        "((()))",
        "-",
        '-"',
        "🙂 emoji",
        "a" * MAX_QUERY_LENGTH,
        "\x00\x01",
        "author:",
        "^~!?",
    ],
)
def test_any_input_parses_without_raising(hostile: str) -> None:
    query = parse_query(hostile)
    assert isinstance(query.describe(), str)


def test_index_operators_are_taken_as_plain_words() -> None:
    query = parse_query("NEAR(diffusion OR transformer) title:gaussian")
    assert query.words == ["NEAR", "diffusion", "OR", "transformer", "title", "gaussian"]


def test_open_quote_becomes_a_phrase_of_the_rest() -> None:
    assert parse_query('"gaussian splatting').phrases == ["gaussian splatting"]


def test_bad_since_date_is_reported_in_one_sentence() -> None:
    query = parse_query("since:yesterday")
    with pytest.raises(QueryError, match=r"since:2024-05-01"):
        validate_query(query)


def test_too_long_query_is_refused_with_the_limit() -> None:
    with pytest.raises(QueryError, match="500"):
        validate_query(parse_query("x" * (MAX_QUERY_LENGTH + 1)))


def test_query_of_only_exclusions_asks_what_to_look_for() -> None:
    with pytest.raises(QueryError, match="what to look for"):
        validate_query(parse_query("-vision"))
