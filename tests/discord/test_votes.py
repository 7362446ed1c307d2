"""Votes on Discord: 👍 or ⬆️ on a paper the bot posted, or its Upvote button; each person counts once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.discord.client import DiscordRunner
from bot.commands import Command, CommandContext, ReactionVote
from bot.core import Paperboy
from bot.domain import ChannelRef, Workspace
from bot.replies import Reply
from tests.discord.conftest import StartBot, World, press_on_a_card_after_a_restart
from tests.fakes.discord import BOT_ID

MATRYOSHKA = "2205.13147"


async def posted_digest(world: World, paperboy: Paperboy) -> tuple[int, dict[str, dict[str, Any]]]:
    """Subscribe to matryoshka and post the digest; the thread id and its paper messages by arXiv id."""
    fake = world.fake
    await fake.answered(
        await fake.slash(world.guild, world.channel, "subscribe", topic="matryoshka", manage=True)
    )
    await paperboy.post_digest(ChannelRef("discord", str(world.guild), str(world.channel)))
    [thread] = fake.threads_of(world.channel)
    by_paper = {
        m["components"][0]["components"][0]["custom_id"].rsplit(":", 1)[1]: m
        for m in fake.messages_in(int(thread["id"]))
    }
    return int(thread["id"]), by_paper


async def votes_here(world: World, paperboy: Paperboy, arxiv_id: str = MATRYOSHKA) -> int:
    """The paper's chat votes in the test guild."""
    return await paperboy.votes.count(arxiv_id, Workspace("discord", str(world.guild)))


class Reactions:
    """Watches the core's dispatcher, so a test can wait until the bot has handled a reaction."""

    def __init__(self, paperboy: Paperboy, monkeypatch: pytest.MonkeyPatch) -> None:
        self.handled: list[tuple[str, bool]] = []
        self._changed = asyncio.Condition()
        original = paperboy.execute

        async def watched(ctx: CommandContext, command: Command) -> Reply:
            reply = await original(ctx, command)
            if isinstance(command, ReactionVote):
                async with self._changed:
                    self.handled.append((ctx.user, command.cast))
                    self._changed.notify_all()
            return reply

        monkeypatch.setattr(paperboy, "execute", watched)

    async def handled_for(self, user: int, times: int = 1) -> None:
        """Wait until the bot has passed `times` reactions of this user to the core."""
        async with asyncio.timeout(5), self._changed:
            await self._changed.wait_for(lambda: [u for u, _ in self.handled].count(str(user)) >= times)

    def users(self) -> list[str]:
        """Whose reactions reached the core, in order."""
        return [u for u, _ in self.handled]


@pytest.fixture
def reactions(paperboy: Paperboy, monkeypatch: pytest.MonkeyPatch) -> Reactions:
    """The reactions the bot hands to the core."""
    return Reactions(paperboy, monkeypatch)


async def test_a_thumbs_up_on_a_digest_paper_adds_a_vote_that_trending_shows(
    world: World, bot: DiscordRunner, paperboy: Paperboy, reactions: Reactions
) -> None:
    thread, papers = await posted_digest(world, paperboy)
    await world.fake.react(world.guild, thread, int(papers[MATRYOSHKA]["id"]), "👍", user_id=501)
    await reactions.handled_for(501)

    assert await votes_here(world, paperboy) == 1
    trending = await world.fake.answered(
        await world.fake.slash(world.guild, world.channel, "trending", window="month")
    )
    row = next(
        f for f in trending["embeds"][0]["fields"] if "Matryoshka Representation Learning" in f["name"]
    )
    assert "· 1 here" in row["value"]


async def test_both_vote_emojis_from_one_person_count_once_and_removal_takes_it_back(
    world: World, bot: DiscordRunner, paperboy: Paperboy, reactions: Reactions
) -> None:
    thread, papers = await posted_digest(world, paperboy)
    message = int(papers[MATRYOSHKA]["id"])
    await world.fake.react(world.guild, thread, message, "👍", user_id=501)
    await world.fake.react(world.guild, thread, message, "⬆️", user_id=501)
    await world.fake.react(world.guild, thread, message, "⬆", user_id=502)
    await reactions.handled_for(501, times=2)
    await reactions.handled_for(502)
    assert await votes_here(world, paperboy) == 2

    await world.fake.react(world.guild, thread, message, "⬆", user_id=502, remove=True)
    await reactions.handled_for(502, times=2)
    assert await votes_here(world, paperboy) == 1


async def test_the_bots_own_reactions_other_bots_and_other_emojis_do_not_count(
    world: World, bot: DiscordRunner, paperboy: Paperboy, reactions: Reactions
) -> None:
    thread, papers = await posted_digest(world, paperboy)
    message = int(papers[MATRYOSHKA]["id"])
    await world.fake.react(world.guild, thread, message, "👍", user_id=BOT_ID)
    await world.fake.react(world.guild, thread, message, "👍", user_id=601, bot=True)
    await world.fake.react(world.guild, thread, message, "🎉", user_id=501)
    # A person's vote after them: once it is handled, the ones before it have been dropped.
    await world.fake.react(world.guild, thread, message, "👍", user_id=999)
    await reactions.handled_for(999)
    assert reactions.users() == ["999"]
    assert await votes_here(world, paperboy) == 1


async def test_a_reaction_on_a_message_that_shows_no_paper_does_not_count(
    world: World, bot: DiscordRunner, paperboy: Paperboy, reactions: Reactions
) -> None:
    thread, papers = await posted_digest(world, paperboy)
    [parent] = [m for m in world.fake.messages_in(world.channel) if m["nonce"]]
    await world.fake.react(world.guild, world.channel, int(parent["id"]), "👍", user_id=501)
    await world.fake.react(world.guild, thread, int(papers[MATRYOSHKA]["id"]), "👍", user_id=999)
    await reactions.handled_for(501)
    await reactions.handled_for(999)
    ids = [*papers]
    counts = await paperboy.store.vote_counts(ids, Workspace("discord", str(world.guild)))
    assert counts == {MATRYOSHKA: 1}


async def test_the_upvote_button_toggles_the_vote_and_says_so_privately(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    _, papers = await posted_digest(world, paperboy)
    message = int(papers[MATRYOSHKA]["id"])
    custom_id = f"paperboy:upvote:{MATRYOSHKA}"

    first = await world.fake.press(world.guild, message, custom_id, user_id=501)
    answer = await world.fake.answered(first)
    assert answer["content"] == (
        f"Counted your vote for Matryoshka Representation Learning [{MATRYOSHKA}]; 1 vote(s) here."
    )
    assert first.initial.result()["data"]["flags"] & 64
    assert await votes_here(world, paperboy) == 1

    second = await world.fake.answered(await world.fake.press(world.guild, message, custom_id, user_id=501))
    assert second["content"].startswith("Took back your vote for Matryoshka Representation Learning")
    assert await votes_here(world, paperboy) == 0


async def test_a_reaction_and_the_button_from_one_person_are_one_vote(
    world: World, bot: DiscordRunner, paperboy: Paperboy, reactions: Reactions
) -> None:
    fake = world.fake
    searched = await fake.answered(await fake.slash(world.guild, world.channel, "paper", id=MATRYOSHKA))
    thread, papers = await posted_digest(world, paperboy)
    await fake.react(world.guild, thread, int(papers[MATRYOSHKA]["id"]), "👍", user_id=501)
    await reactions.handled_for(501)
    pressed = await fake.answered(
        await fake.press(world.guild, int(searched["id"]), f"paperboy:upvote:{MATRYOSHKA}", user_id=502)
    )
    assert pressed["content"].endswith("2 vote(s) here.")
    assert await votes_here(world, paperboy) == 2


async def test_buttons_keep_working_after_a_restart(
    world: World, paperboy: Paperboy, start_bot: StartBot
) -> None:
    pressed = await world.fake.answered(
        await press_on_a_card_after_a_restart(
            world, paperboy, start_bot, f"paperboy:upvote:{MATRYOSHKA}", arxiv_id=MATRYOSHKA, user_id=501
        )
    )
    assert pressed["content"].startswith("Counted your vote for Matryoshka Representation Learning")
    assert await votes_here(world, paperboy) == 1


async def test_reactions_keep_counting_after_a_restart(
    world: World, paperboy: Paperboy, start_bot: StartBot, reactions: Reactions
) -> None:
    first = await start_bot(paperboy)
    thread, papers = await posted_digest(world, paperboy)
    await first.stop()

    await start_bot(paperboy)
    await world.fake.react(world.guild, thread, int(papers[MATRYOSHKA]["id"]), "👍", user_id=501)
    await reactions.handled_for(501)
    assert await votes_here(world, paperboy) == 1
