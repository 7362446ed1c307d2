"""The issue's "done when", step by step, only through what a Discord user does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.discord.client import DiscordRunner
from bot.core import Paperboy
from storage.search.index import open_index
from storage.sql import SqlStore
from tests.discord.conftest import World, discord_core
from tests.fakes.discord import FakeDiscord


@pytest.fixture
async def paperboy(store: SqlStore, tmp_path: Path, fake: FakeDiscord) -> AsyncIterator[Paperboy]:
    """Here the core runs on both databases (the shared `store` fixture: SQLite and PostgreSQL)."""
    index = await open_index(tmp_path / "index")
    try:
        async with discord_core(fake, store, index) as app:
            yield app
    finally:
        await index.close()


async def test_search_subscribe_digest_and_a_reaction_vote_end_to_end(
    world: World, bot: DiscordRunner
) -> None:
    fake = world.fake

    searched = await fake.answered(await fake.slash(world.guild, world.channel, "search", query="matryoshka"))
    assert searched["embeds"][0]["fields"][0]["name"] == "1. Matryoshka Representation Learning"

    await fake.answered(
        await fake.slash(world.guild, world.channel, "subscribe", topic="matryoshka", manage=True)
    )
    posted = await fake.answered(await fake.slash(world.guild, world.channel, "digest", manage=True))
    assert posted["content"].startswith("Posted the digest")
    [thread] = fake.threads_of(world.channel)
    papers = fake.messages_in(int(thread["id"]))
    assert len(papers) >= 2
    assert all(len(m["embeds"]) == 1 for m in papers)

    matryoshka = next(
        m for m in papers if m["embeds"][0]["title"].endswith("Matryoshka Representation Learning")
    )
    await fake.react(world.guild, int(thread["id"]), int(matryoshka["id"]), "👍", user_id=501)

    # The reaction has no answer of its own: ask trending until it shows the vote.
    async with asyncio.timeout(10):
        while True:
            trending = await fake.answered(
                await fake.slash(world.guild, world.channel, "trending", window="month")
            )
            fields = trending["embeds"][0]["fields"]
            row = next(f for f in fields if f["name"].endswith(". Matryoshka Representation Learning"))
            if row["value"].split("\n")[1].endswith("· 1 here"):
                break
