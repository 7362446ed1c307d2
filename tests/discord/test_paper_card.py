"""Discord's "Paper card" message command through the fake gateway and the real discord.py client: the paper links
of a chosen message answered with their cards for the channel, reactions on the cards voting for each paper."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord
import pytest

from adapters.discord import commands
from adapters.discord.client import DiscordRunner
from adapters.discord.link_cards import NO_LINKS, NOT_FOUND, PAPER_CARD
from bot.core import Paperboy
from bot.domain import ChannelRef, Workspace
from tests.discord.conftest import World
from tests.discord.test_commands import DEFERRED, MESSAGE, buttons, embed_text, is_ephemeral
from tests.discord.test_votes import Reactions
from tests.fakes.arxiv import FakeArxiv

MATRYOSHKA = "2205.13147"
GAUSSIANS = "2311.13681"
UNKNOWN = "2501.00001"


@pytest.fixture
async def fake_arxiv(paperboy: Paperboy) -> AsyncIterator[FakeArxiv]:
    """A fake arXiv the core fetches unknown papers from (as the composition root wires arXiv)."""
    fake = FakeArxiv()
    await fake.start()
    source = fake.source(deadline=2.0)
    paperboy.source = source
    try:
        yield fake
    finally:
        await source.aclose()
        await fake.stop()


@pytest.fixture
def reactions(paperboy: Paperboy, monkeypatch: pytest.MonkeyPatch) -> Reactions:
    """The reactions the bot hands to the core."""
    return Reactions(paperboy, monkeypatch)


async def votes(world: World, paperboy: Paperboy, arxiv_id: str) -> int:
    return await paperboy.votes.count(arxiv_id, Workspace("discord", str(world.guild)))


async def cards_remembered(world: World, answer: dict[str, object]) -> int:
    """Wait until the bot has remembered its cards (it then adds its 👍 to them); the cards' message id."""
    message_id = int(str(answer["id"]))
    await world.fake.wait_for_call(
        "PUT", rf"/channels/{world.channel}/messages/{message_id}/reactions/.+/@me"
    )
    return message_id


async def shown_papers(world: World, paperboy: Paperboy, message_id: int) -> list[str]:
    """The papers a reaction on that message votes for."""
    channel = ChannelRef("discord", str(world.guild), str(world.channel))
    return await paperboy.store.papers_for_message(channel, str(message_id))


async def test_the_message_command_is_registered_for_servers_only(world: World, bot: DiscordRunner) -> None:
    menu = bot.client.tree.get_command(PAPER_CARD, type=discord.AppCommandType.message)
    assert menu is not None
    assert menu.allowed_contexts is not None and menu.allowed_contexts.guild
    assert not menu.allowed_contexts.private_channel and not menu.allowed_contexts.dm_channel


async def test_paper_card_answers_the_channel_with_a_card_per_paper_and_their_vote_buttons(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    fake = world.fake
    shared = fake.post_as_user(
        world.channel,
        f"Two good ones: <https://arxiv.org/abs/{MATRYOSHKA}v2> and https://huggingface.co/papers/{GAUSSIANS} "
        f"(also https://arxiv.org/pdf/{MATRYOSHKA}.pdf)",
    )

    record = await fake.message_command(world.guild, int(shared["id"]))
    answer = await fake.answered(record)

    assert record.initial_type == MESSAGE and not is_ephemeral(record.initial.result())
    titles = [embed["title"] for embed in answer["embeds"]]
    assert titles == [
        "1. Matryoshka Representation Learning",
        "2. Compact 3D Gaussian Representation for Radiance Field",
    ]
    text = embed_text(answer)
    assert "Aditya Kusupati, Gantavya Bhatt, Aniket Rege et al." in text and "Votes here" in text
    assert [(b["custom_id"], b["label"]) for b in buttons(answer)] == [
        (f"paperboy:upvote:{MATRYOSHKA}", "Upvote 1"),
        (f"paperboy:similar:{MATRYOSHKA}", "More like this"),
        (f"paperboy:upvote:{GAUSSIANS}", "Upvote 2"),
        (f"paperboy:similar:{GAUSSIANS}", "More like this"),
    ]
    cards = await cards_remembered(world, answer)
    assert await shown_papers(world, paperboy, cards) == [MATRYOSHKA, GAUSSIANS]
    assert (world.channel, int(answer["id"]), "👍") in fake.reactions


async def test_reactions_on_the_cards_vote_for_each_paper_once_per_person(
    world: World, bot: DiscordRunner, paperboy: Paperboy, reactions: Reactions
) -> None:
    fake = world.fake
    shared = fake.post_as_user(world.channel, f"arxiv.org/abs/{MATRYOSHKA} alphaxiv.org/abs/{GAUSSIANS}")
    answer = await fake.answered(await fake.message_command(world.guild, int(shared["id"])))
    cards = await cards_remembered(world, answer)

    await fake.react(world.guild, world.channel, cards, "👍", user_id=501)
    await fake.react(world.guild, world.channel, cards, "⬆️", user_id=501)
    await fake.react(world.guild, world.channel, cards, "👍", user_id=502)
    await reactions.handled_for(502)
    assert (await votes(world, paperboy, MATRYOSHKA), await votes(world, paperboy, GAUSSIANS)) == (2, 2)

    await fake.react(world.guild, world.channel, cards, "👍", user_id=502, remove=True)
    await reactions.handled_for(502, times=2)
    assert (await votes(world, paperboy, MATRYOSHKA), await votes(world, paperboy, GAUSSIANS)) == (1, 1)


async def test_a_message_without_paper_links_is_told_privately(world: World, bot: DiscordRunner) -> None:
    fake = world.fake
    shared = fake.post_as_user(world.channel, "see https://arxiv.org/list/cs.CL/recent and 2205.13147")

    record = await fake.message_command(world.guild, int(shared["id"]))
    answer = await fake.answered(record)

    assert is_ephemeral(record.initial.result())
    assert answer["content"] == NO_LINKS and not answer["embeds"]


async def test_an_unknown_paper_is_fetched_from_arxiv_after_a_public_deferral(
    world: World,
    bot: DiscordRunner,
    paperboy: Paperboy,
    fake_arxiv: FakeArxiv,
    reactions: Reactions,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = world.fake
    fake_arxiv.papers[UNKNOWN] = "Less is More: Recursive Reasoning with Tiny Networks"
    fake_arxiv.gate = asyncio.Event()
    monkeypatch.setattr(commands, "DEFER_AFTER_SECONDS", 0.0)
    shared = fake.post_as_user(world.channel, f"new: https://arxiv.org/abs/{UNKNOWN}v1")

    record = await fake.message_command(world.guild, int(shared["id"]))
    await record.initial
    assert record.initial_type == DEFERRED and not is_ephemeral(record.initial.result())
    fake_arxiv.gate.set()
    answer = await fake.answered(record)

    assert [embed["title"] for embed in answer["embeds"]] == [
        "Less is More: Recursive Reasoning with Tiny Networks"
    ]
    assert (await paperboy.paper(UNKNOWN)).paper.authors == ["Aditya Kusupati", "Ali Farhadi"]
    # The deferred answer became the cards: reactions on it vote.
    cards = await cards_remembered(world, answer)
    await fake.react(world.guild, world.channel, cards, "👍", user_id=501)
    await reactions.handled_for(501)
    assert await votes(world, paperboy, UNKNOWN) == 1


async def test_when_arxiv_is_down_the_asker_alone_is_told_and_no_card_is_posted(
    world: World, bot: DiscordRunner, paperboy: Paperboy, fake_arxiv: FakeArxiv
) -> None:
    fake = world.fake
    fake_arxiv.status = 503
    shared = fake.post_as_user(world.channel, f"https://huggingface.co/papers/{UNKNOWN}")

    record = await fake.message_command(world.guild, int(shared["id"]))
    answer = await fake.answered(record)

    assert is_ephemeral(record.initial.result()) or record.followups
    assert answer["content"] == NOT_FOUND and not answer["embeds"]
    assert fake_arxiv.asked == [UNKNOWN, UNKNOWN]
    assert await paperboy.store.get_paper(UNKNOWN) is None
