"""More like this on Discord: the `/papers similar id:` subcommand and the persistent button on paper cards."""

from __future__ import annotations

from typing import Any

from adapters.discord.client import DiscordRunner
from bot.core import Paperboy
from tests.discord.conftest import StartBot, World, press_on_a_card_after_a_restart

MATRYOSHKA = "2205.13147"
EPHEMERAL = 64


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The buttons of a message, row by row."""
    return [c for row in message.get("components") or [] for c in row["components"]]


def field_names(message: dict[str, Any]) -> list[str]:
    """The names of the fields of a message's first embed."""
    return [f["name"] for f in message["embeds"][0]["fields"]]


async def test_similar_lists_papers_like_the_one_named(world: World, bot: DiscordRunner) -> None:
    message = await world.fake.answered(
        await world.fake.slash(world.guild, world.channel, "similar", id=MATRYOSHKA)
    )

    assert message["embeds"][0]["title"] == "Papers like “Matryoshka Representation Learning”"
    names = field_names(message)
    assert "1. 2D Matryoshka Sentence Embeddings" in names
    assert not any("Matryoshka Representation Learning" in name for name in names)


async def test_similar_with_an_unknown_id_tells_only_the_asker(world: World, bot: DiscordRunner) -> None:
    record = await world.fake.slash(world.guild, world.channel, "similar", id="2101.99999")
    message = await world.fake.answered(record)

    assert "I don't have 2101.99999 yet" in message["content"]
    assert record.initial.result()["data"]["flags"] & EPHEMERAL


async def test_a_paper_card_carries_a_more_like_this_button_after_its_links(
    world: World, bot: DiscordRunner
) -> None:
    card = await world.fake.answered(
        await world.fake.slash(world.guild, world.channel, "paper", id=MATRYOSHKA)
    )

    labels = [b.get("label") for b in buttons(card)]
    # The card is the asker's own (private), so it ends with the button that shows it to the channel.
    assert labels[0] == "Upvote" and labels[-2:] == ["More like this", "Share in channel"]
    assert labels.index("More like this") > max(labels.index(link) for link in ("arXiv", "PDF"))
    assert buttons(card)[-2]["custom_id"] == f"paperboy:similar:{MATRYOSHKA}"


async def test_the_button_shows_the_presser_similar_papers_privately_even_after_a_restart(
    world: World, paperboy: Paperboy, start_bot: StartBot
) -> None:
    record = await press_on_a_card_after_a_restart(
        world, paperboy, start_bot, f"paperboy:similar:{MATRYOSHKA}", arxiv_id=MATRYOSHKA, user_id=501
    )
    answer = await world.fake.answered(record)

    assert record.initial.result()["data"]["flags"] & EPHEMERAL
    assert answer["embeds"][0]["title"] == "Papers like “Matryoshka Representation Learning”"
    assert "1. 2D Matryoshka Sentence Embeddings" in field_names(answer)
