"""`paperboy top` as an operator runs it: the leaderboard of one workspace (or all), as text or JSON."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.domain import SHOWN_AS_CARD, ChannelRef, Vote
from storage.sql import SqlStore, open_store
from tests.clock import FixedClock
from tests.storage.factories import make_paper

PAPERBOY = str(Path(sys.executable).with_name("paperboy"))


async def paperboy(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """Run the command line on the test's store; return the exit code, stdout and stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOY_", "SLACK_", "DISCORD_"))}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'top.db'}", PAPERBOY_INDEX_DIR=str(tmp_path / "index"))
    process = await asyncio.create_subprocess_exec(
        PAPERBOY, *args, env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def votes_in_two_labs(tmp_path: Path) -> None:
    """Lab T1 votes for two papers this week and one long ago; lab T2 votes heavily for another."""
    store = await open_store(f"sqlite:///{tmp_path / 'top.db'}")
    try:
        await store.upsert_papers([make_paper(f"2611.0000{n}", hf_upvotes=n) for n in range(1, 5)])
        for arxiv_id, users in (("2611.00001", 3), ("2611.00002", 1)):
            for n in range(users):
                await store.cast_vote(Vote("slack", "T1", f"U{n}", arxiv_id))
        old = SqlStore(store.engine, clock=FixedClock(datetime.now(UTC) - timedelta(days=40)))
        for n in range(5):
            await old.cast_vote(Vote("slack", "T1", f"U{n}", "2611.00003"))
        for n in range(9):
            await store.cast_vote(Vote("slack", "T2", f"W{n}", "2611.00004"))
        await store.remember_message(ChannelRef("slack", "T1", "C1"), "ts1", "2611.00001", via=SHOWN_AS_CARD)
    finally:
        await store.close()


async def test_top_prints_one_workspaces_week_as_json(tmp_path: Path) -> None:
    await votes_in_two_labs(tmp_path)

    code, out, err = await paperboy(tmp_path, "top", "--workspace", "slack:T1", "--json")

    assert code == 0, err
    assert [(p["arxiv_id"], p["votes"]) for p in json.loads(out)] == [("2611.00001", 3), ("2611.00002", 1)]
    first = json.loads(out)[0]
    assert first["shown"] == [{"channel": "C1", "via": "card"}]
    assert set(first) >= {"arxiv_id", "title", "authors", "votes", "hf_upvotes", "url", "shown"}


async def test_top_all_adds_old_votes_and_without_a_workspace_counts_every_one(tmp_path: Path) -> None:
    await votes_in_two_labs(tmp_path)

    _, all_time, _ = await paperboy(tmp_path, "top", "--workspace", "slack:T1:C1", "--window", "all")
    _, everywhere, _ = await paperboy(tmp_path, "top", "--window", "month")

    assert all_time.splitlines()[:2] == [
        "Most voted papers of all time in slack:T1",
        "1. Paper 2611.00003 [2611.00003] — 5 votes",
    ]
    assert everywhere.splitlines()[:2] == [
        "Most voted papers of the month in every workspace",
        "1. Paper 2611.00004 [2611.00004] — 9 votes",
    ]


async def test_a_wrong_window_or_workspace_is_one_sentence(tmp_path: Path) -> None:
    bad_window = await paperboy(tmp_path, "top", "--window", "year")
    bad_workspace = await paperboy(tmp_path, "top", "--workspace", "teams:T1")

    assert bad_window[0] != 0 and "--window takes week, month or all, not 'year'." in bad_window[2]
    assert bad_workspace[0] != 0 and "--workspace takes platform:workspace" in bad_workspace[2]
