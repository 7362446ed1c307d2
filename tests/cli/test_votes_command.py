"""`paperboy votes --user REF` as an operator runs it: one person's reading list in their workspace, as text or
JSON, newest vote first; a malformed REF or window gets one sentence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain import Vote
from storage.sql import SqlStore, open_store
from tests.cli.test_startup import NOT_FOR_SEARCH, modules_loaded_by
from tests.cli.test_top_command import paperboy
from tests.clock import FixedClock
from tests.storage.factories import full_paper, make_paper

MATRYOSHKA = "2205.13147"


async def reading_lists(tmp_path: Path) -> datetime:
    """Ada votes in lab T1 for three papers (one 40 days ago) and in lab T2 for another; Bob votes once.

    Returns when Ada's newest vote was cast.
    """
    store = await open_store(f"sqlite:///{tmp_path / 'top.db'}")
    now = datetime.now(UTC).replace(microsecond=0)
    try:
        await store.upsert_papers(
            [full_paper(), *(make_paper(f"2611.0000{n}", hf_upvotes=n) for n in (1, 2))]
        )
        old = SqlStore(store.engine, clock=FixedClock(now - timedelta(days=40)))
        await old.cast_vote(Vote("slack", "T1", "U-ada", "2611.00001"))
        recent = SqlStore(store.engine, clock=FixedClock(now - timedelta(days=2)))
        await recent.cast_vote(Vote("slack", "T1", "U-ada", MATRYOSHKA))
        newest = SqlStore(store.engine, clock=FixedClock(now - timedelta(hours=1)))
        await newest.cast_vote(Vote("slack", "T1", "U-ada", "2611.00002"))
        await store.cast_vote(Vote("slack", "T1", "U-bob", MATRYOSHKA))
        await store.cast_vote(Vote("slack", "T2", "U-ada", "2611.00001"))
        await store.cast_vote(Vote("discord", "T1", "U-ada", "2611.00002"))
    finally:
        await store.close()
    return now - timedelta(hours=1)


async def test_votes_prints_one_persons_reading_list_as_json(tmp_path: Path) -> None:
    newest = await reading_lists(tmp_path)

    code, out, err = await paperboy(tmp_path, "votes", "--user", "slack:T1:U-ada", "--json")

    assert code == 0, err
    listed = json.loads(out)
    assert [(p["arxiv_id"], p["chat_votes"]) for p in listed] == [
        ("2611.00002", 1),
        (MATRYOSHKA, 2),  # Ada's and Bob's in T1; votes of other workspaces are not counted
        ("2611.00001", 1),
    ]
    assert datetime.fromisoformat(listed[0]["voted_at"]) == newest
    # Each paper as `paperboy paper --json` shows it, plus when the person voted.
    _, shown, _ = await paperboy(tmp_path, "paper", MATRYOSHKA, "--json")
    whole = {**json.loads(shown), "chat_votes": 2}
    assert {k: v for k, v in listed[1].items() if k != "voted_at"} == whole

    code, out, err = await paperboy(
        tmp_path, "votes", "--user", "slack:T1:@U-ada", "--json", "--window", "week"
    )
    assert code == 0, err
    assert [p["arxiv_id"] for p in json.loads(out)] == ["2611.00002", MATRYOSHKA]
    code, out, err = await paperboy(tmp_path, "votes", "--user", "slack:T2:U-ada", "--json")
    assert [(p["arxiv_id"], p["chat_votes"]) for p in json.loads(out)] == [("2611.00001", 1)]
    code, out, err = await paperboy(tmp_path, "votes", "--user", "slack:T3:U-ada", "--json")
    assert (code, json.loads(out)) == (0, [])


async def test_votes_prints_the_reading_list_as_text(tmp_path: Path) -> None:
    await reading_lists(tmp_path)

    code, out, err = await paperboy(tmp_path, "votes", "--user", "slack:T1:U-ada", "--window", "month")

    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "Papers U-ada in slack:T1 voted for in the last month (2), newest first"
    assert lines[1].startswith("1. Paper 2611.00002 [2611.00002] — voted ") and lines[1].endswith(" UTC")
    assert lines[2].startswith(f"2. Matryoshka Representation Learning [{MATRYOSHKA}] — voted ")
    code, out, err = await paperboy(tmp_path, "votes", "--user", "discord:T1:U-bob")
    assert (code, out.strip()) == (0, "U-bob in discord:T1 has not voted for a paper.")


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (
            ["--user", "U-ada"],
            "--user takes platform:workspace:user, e.g. slack:T123:U456, discord:G1:U2 or console:local:ada; "
            "not 'U-ada'.",
        ),
        (["--user", "irc:T1:U-ada"], "--user takes platform:workspace:user"),
        (["--user", "slack:T1:U-ada:extra"], "--user takes platform:workspace:user"),
        (["--user", "slack:T1:@"], "--user names no user after the workspace in 'slack:T1:@'."),
        (["--user", "slack:T1:U-ada", "--window", "year"], "--window takes week, month or all, not 'year'."),
    ],
)
async def test_a_malformed_reference_or_window_gets_one_sentence(
    tmp_path: Path, args: list[str], sentence: str
) -> None:
    code, out, err = await paperboy(tmp_path, "votes", *args)

    assert code == 1 and out == ""
    assert err.strip().startswith(sentence) and err.count("\n") == 1, err
    assert "Traceback" not in err


async def test_votes_loads_nothing_a_read_on_sqlite_does_not_use(tmp_path: Path) -> None:
    await reading_lists(tmp_path)
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'top.db'}", "PAPERBOY_SEMANTIC_MODEL": "off"}

    code, modules = modules_loaded_by(tmp_path, "votes", "--user", "slack:T1:U-ada", "--json", env=env)

    assert code == 0
    assert sorted(modules.intersection(NOT_FOR_SEARCH)) == []
