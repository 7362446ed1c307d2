"""Each `/papers` subcommand, given through the fake gateway and answered by the real discord.py client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adapters.discord import commands
from adapters.discord.client import DiscordRunner
from bot.commands import Command, CommandContext
from bot.core import Paperboy
from bot.domain import ChannelRef
from bot.replies import Reply
from tests.discord.conftest import World

EPHEMERAL = 64
MESSAGE, DEFERRED, AUTOCOMPLETE = 4, 5, 8


def embed_text(message: dict[str, Any]) -> str:
    """Everything a reader sees in a message's embeds, as one string."""
    parts: list[str] = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [
            embed.get("title", ""),
            embed.get("description", ""),
            embed.get("author", {}).get("name", ""),
        ]
        for item in embed.get("fields", []):
            parts += [item["name"], item["value"]]
        parts.append(embed.get("footer", {}).get("text", ""))
    return "\n".join(parts)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The buttons of a message, row by row."""
    return [c for row in message.get("components") or [] for c in row["components"]]


def is_ephemeral(record_initial: dict[str, Any]) -> bool:
    """True when only the asker sees the answer."""
    return bool((record_initial.get("data") or {}).get("flags", 0) & EPHEMERAL)


async def test_search_answers_privately_with_an_embed_and_a_share_button(
    world: World, bot: DiscordRunner
) -> None:
    record = await world.fake.slash(world.guild, world.channel, "search", query="matryoshka")
    message = await world.fake.answered(record)
    assert record.initial_type == MESSAGE
    # A search a person runs for themselves is private (as on Slack), with a button to show it to the channel.
    assert is_ephemeral(record.initial.result())
    assert buttons(message)[-1]["custom_id"] == "paperboy:share:2205.13147"
    first = message["embeds"][0]["fields"][0]
    assert first["name"] == "1. Matryoshka Representation Learning"
    assert "https://arxiv.org/abs/2205.13147" in first["value"]
    assert buttons(message)[0]["custom_id"] == "paperboy:upvote:2205.13147"


async def test_search_limit_caps_the_number_of_papers(world: World, bot: DiscordRunner) -> None:
    record = await world.fake.slash(world.guild, world.channel, "search", query="representation", limit=2)
    message = await world.fake.answered(record)
    assert len(message["embeds"][0]["fields"]) == 2


async def test_search_without_a_match_tells_only_the_asker(world: World, bot: DiscordRunner) -> None:
    record = await world.fake.slash(world.guild, world.channel, "search", query="zzqxv")
    message = await world.fake.answered(record)
    assert "No paper matches" in message["content"]
    assert is_ephemeral(record.initial.result())


async def test_trending_week_lists_papers_under_its_heading(world: World, bot: DiscordRunner) -> None:
    record = await world.fake.slash(world.guild, world.channel, "trending", window="week")
    message = await world.fake.answered(record)
    embed = message["embeds"][0]
    assert embed["title"] == "Trending papers of the week"
    assert len(embed["fields"]) >= 1
    assert embed["fields"][0]["name"].startswith("1. ")


async def test_paper_shows_a_full_card_with_links_and_an_upvote_button(
    world: World, bot: DiscordRunner
) -> None:
    record = await world.fake.slash(
        world.guild, world.channel, "paper", id="https://arxiv.org/abs/2205.13147v3"
    )
    message = await world.fake.answered(record)
    embed = message["embeds"][0]
    assert embed["title"] == "Matryoshka Representation Learning"
    assert embed["url"] == "https://arxiv.org/abs/2205.13147"
    assert "Aditya Kusupati" in embed["author"]["name"]
    assert {f["name"] for f in embed["fields"]} >= {"Hugging Face", "Votes here", "Links"}
    labels = [b.get("label") for b in buttons(message)]
    assert labels[:4] == ["Upvote", "arXiv", "PDF", "Hugging Face"]
    assert buttons(message)[2]["url"] == "https://arxiv.org/pdf/2205.13147"


async def test_paper_that_is_not_stored_says_how_to_find_it(world: World, bot: DiscordRunner) -> None:
    record = await world.fake.slash(world.guild, world.channel, "paper", id="1999.99999")
    message = await world.fake.answered(record)
    assert "I don't have 1999.99999 yet" in message["content"]
    assert is_ephemeral(record.initial.result())


async def test_cite_answers_with_a_bibtex_block(world: World, bot: DiscordRunner) -> None:
    record = await world.fake.slash(world.guild, world.channel, "cite", id="2205.13147")
    message = await world.fake.answered(record)
    description = message["embeds"][0]["description"]
    assert description.startswith("```bibtex\n@")
    assert "2205.13147" in description
    assert "Matryoshka Representation Learning" in description


async def test_subscribe_topics_and_unsubscribe_keep_the_channel_list(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    fake = world.fake
    message = await fake.answered(
        await fake.slash(world.guild, world.channel, "subscribe", topic="gaussian splatting", manage=True)
    )
    assert message["embeds"][0]["title"] == "Subscribed to “gaussian splatting”."
    await fake.answered(
        await fake.slash(world.guild, world.channel, "subscribe", topic="cat:cs.CL", manage=True)
    )

    listing = await fake.answered(await fake.slash(world.guild, world.channel, "topics"))
    assert "1.** gaussian splatting" in listing["embeds"][0]["description"]
    assert "2.** cat:cs.CL" in listing["embeds"][0]["description"]

    removed = await fake.answered(
        await fake.slash(world.guild, world.channel, "unsubscribe", topic="gaussian splatting", manage=True)
    )
    assert removed["embeds"][0]["title"] == "Unsubscribed from “gaussian splatting”."
    channel = ChannelRef("discord", str(world.guild), str(world.channel))
    assert [t.query for t in await paperboy.topics.of_channel(channel)] == ["cat:cs.CL"]


async def test_unsubscribe_autocompletes_the_channels_topics(world: World, bot: DiscordRunner) -> None:
    fake = world.fake
    for topic in ("gaussian splatting", "matryoshka embeddings"):
        await fake.answered(
            await fake.slash(world.guild, world.channel, "subscribe", topic=topic, manage=True)
        )
    record = await fake.slash(
        world.guild, world.channel, "unsubscribe", topic="matr", focused="topic", manage=True
    )
    await record.initial
    assert record.initial_type == AUTOCOMPLETE
    choices = record.initial.result()["data"]["choices"]
    assert choices == [{"name": "2. matryoshka embeddings", "value": "matryoshka embeddings"}]


async def test_schedule_timezone_autocompletes_iana_names(world: World, bot: DiscordRunner) -> None:
    record = await world.fake.slash(
        world.guild, world.channel, "schedule", timezone="berl", focused="timezone"
    )
    await record.initial
    values = [c["value"] for c in record.initial.result()["data"]["choices"]]
    assert values[0] == "Europe/Berlin"


async def test_schedule_shows_and_changes_the_digest_time(world: World, bot: DiscordRunner) -> None:
    fake = world.fake
    shown = await fake.answered(await fake.slash(world.guild, world.channel, "schedule"))
    fields = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}
    assert fields["Time"] == "09:00 UTC"

    changed = await fake.answered(
        await fake.slash(
            world.guild,
            world.channel,
            "schedule",
            time="07:30",
            timezone="Europe/Berlin",
            days="daily",
            papers=5,
            manage=True,
        )
    )
    fields = {f["name"]: f["value"] for f in changed["embeds"][0]["fields"]}
    assert changed["embeds"][0]["title"] == "Schedule saved."
    assert fields["Time"] == "07:30 Europe/Berlin"
    assert fields["Days"] == "every day"
    assert fields["Papers"] == "up to 5"
    assert fields["Next digest"].startswith("<t:")


async def test_schedule_off_pauses_and_on_resumes(world: World, bot: DiscordRunner) -> None:
    fake = world.fake
    paused = await fake.answered(
        await fake.slash(world.guild, world.channel, "schedule", state="off", manage=True)
    )
    fields = {f["name"]: f["value"] for f in paused["embeds"][0]["fields"]}
    assert "Paused" in fields
    assert fields["Next digest"] == "not scheduled"
    resumed = await fake.answered(
        await fake.slash(world.guild, world.channel, "schedule", state="on", manage=True)
    )
    assert "Paused" not in {f["name"] for f in resumed["embeds"][0]["fields"]}


async def test_a_bad_time_zone_is_explained(world: World, bot: DiscordRunner) -> None:
    record = await world.fake.slash(
        world.guild, world.channel, "schedule", time="09:00", timezone="Mars/Olympus", manage=True
    )
    message = await world.fake.answered(record)
    assert "I don't know the time zone 'Mars/Olympus'" in message["content"]


async def test_help_lists_every_subcommand_privately(world: World, bot: DiscordRunner) -> None:
    record = await world.fake.slash(world.guild, world.channel, "help")
    message = await world.fake.answered(record)
    text = embed_text(message)
    for word in (
        "search",
        "trending",
        "paper",
        "cite",
        "subscribe",
        "unsubscribe",
        "topics",
        "schedule",
        "digest",
    ):
        assert f"/papers {word}" in text
    assert is_ephemeral(record.initial.result())


async def test_digest_defers_then_reports_the_posted_thread(world: World, bot: DiscordRunner) -> None:
    fake = world.fake
    await fake.answered(
        await fake.slash(world.guild, world.channel, "subscribe", topic="matryoshka", manage=True)
    )
    record = await fake.slash(world.guild, world.channel, "digest", manage=True)
    message = await fake.answered(record)
    assert record.initial_type == DEFERRED
    assert message["content"].startswith("Posted the digest for 2026-11-25: ")
    assert len(fake.threads_of(world.channel)) == 1


async def test_every_message_is_sent_with_mentions_disabled(world: World, bot: DiscordRunner) -> None:
    fake = world.fake
    await fake.answered(await fake.slash(world.guild, world.channel, "search", query="matryoshka"))
    await fake.answered(
        await fake.slash(world.guild, world.channel, "subscribe", topic="matryoshka", manage=True)
    )
    await fake.answered(await fake.slash(world.guild, world.channel, "digest", manage=True))
    sent = [
        c
        for c in fake.calls
        if c.method in ("POST", "PATCH")
        and isinstance(c.body, dict)
        and ("embeds" in c.body or "content" in c.body or "data" in c.body or "message" in c.body)
    ]
    assert sent
    for call in sent:
        body = call.body.get("data") or call.body.get("message") or call.body
        if "embeds" in body or "content" in body:
            assert body["allowed_mentions"] == {"parse": []}, call.path


async def test_a_slow_answer_is_deferred_then_shown_in_place(
    world: World, bot: DiscordRunner, paperboy: Paperboy, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = paperboy.execute

    async def slow(ctx: CommandContext, command: Command) -> Reply:
        await asyncio.sleep(0.3)
        return await original(ctx, command)

    monkeypatch.setattr(paperboy, "execute", slow)
    monkeypatch.setattr(commands, "DEFER_AFTER_SECONDS", 0.05)
    record = await world.fake.slash(world.guild, world.channel, "search", query="matryoshka")
    message = await world.fake.answered(record)
    assert record.initial_type == DEFERRED
    assert message["embeds"][0]["fields"][0]["name"] == "1. Matryoshka Representation Learning"
    assert record.edits and len(record.followups) == 0


async def test_a_private_answer_stays_private_when_it_comes_after_three_seconds(
    world: World, bot: DiscordRunner, paperboy: Paperboy, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = paperboy.execute

    async def after_three_seconds(ctx: CommandContext, command: Command) -> Reply:
        await asyncio.sleep(3.0)  # a real delay: what is tested is Discord's own 3-second window
        return await original(ctx, command)

    monkeypatch.setattr(paperboy, "execute", after_three_seconds)
    record = await world.fake.slash(world.guild, world.channel, "search", query="matryoshka")
    message = await world.fake.answered(record, within=10)
    assert record.initial_type == DEFERRED
    # The deferral itself is ephemeral, so the answer that replaces it is seen by the asker alone.
    assert is_ephemeral(record.initial.result())
    assert message["embeds"][0]["fields"][0]["name"] == "1. Matryoshka Representation Learning"
