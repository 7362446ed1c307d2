"""`/papers me …` on Discord, through the real discord.py client and the fake: a person's own topics, schedule,
digest by direct message, reading list, BibTeX file and data, every answer private."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.discord.client import BUTTONS_IN_A_SERVER, LEFT_THE_SERVER, DiscordRunner
from bot.core import Paperboy
from bot.domain import ChannelRef, Workspace
from tests.discord.conftest import StartBot, World
from tests.discord.test_commands import AUTOCOMPLETE, DEFERRED, buttons, embed_text, is_ephemeral
from tests.fakes.discord import BOT_ID, GUILD_MEMBERS_INTENT, FakeDiscord, InteractionRecord

PERSON = 501
MATRYOSHKA = "2205.13147"
MATRYOSHKA_2D = "2402.14776"


def person(guild: int, user: int = PERSON) -> ChannelRef:
    """The core's name for a person's own digest in a guild."""
    return ChannelRef.person("discord", str(guild), str(user))


async def me(world: World, subcommand: str, *, user: int = PERSON, **options: Any) -> dict[str, Any]:
    """`/papers me <subcommand> …` typed by a person (no Manage Channels) in the test channel; the answer."""
    record = await me_record(world, subcommand, user=user, **options)
    message = await world.fake.answered(record)
    assert is_ephemeral(record.initial.result()), f"/papers me {subcommand} must answer privately"
    return message


async def me_record(
    world: World, subcommand: str, *, user: int = PERSON, **options: Any
) -> InteractionRecord:
    """The interaction of `/papers me <subcommand> …`, to look at how it was answered."""
    return await world.fake.slash(world.guild, world.channel, f"me {subcommand}", user_id=user, **options)


def fields(message: dict[str, Any]) -> dict[str, str]:
    """The first embed's fields by name."""
    return {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}


async def test_me_subscribe_topics_and_unsubscribe_keep_the_persons_own_list_not_the_channels(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    added = await me(world, "subscribe", topic="gaussian splatting")
    embed = added["embeds"][0]
    assert embed["title"] == "Your topics"
    assert embed["description"].startswith("Subscribed to “gaussian splatting”.")
    assert "by direct message" in embed["description"]
    assert "**1.** gaussian splatting" in embed["description"]
    await me(world, "subscribe", topic="cat:cs.CL")

    listed = await me(world, "topics")
    assert "**1.** gaussian splatting" in listed["embeds"][0]["description"]
    assert "**2.** cat:cs.CL" in listed["embeds"][0]["description"]

    removed = await me(world, "unsubscribe", topic="1")
    assert removed["embeds"][0]["description"].startswith("Unsubscribed from “gaussian splatting”.")
    assert [t.query for t in await paperboy.topics.of_channel(person(world.guild))] == ["cat:cs.CL"]
    channel = ChannelRef("discord", str(world.guild), str(world.channel))
    assert await paperboy.topics.of_channel(channel) == []
    # Nobody else's list changed: another member has none.
    other = await me(world, "topics", user=502)
    assert "No topics yet" in other["embeds"][0]["description"]


async def test_me_unsubscribe_autocompletes_only_the_persons_own_topics(
    world: World, bot: DiscordRunner
) -> None:
    fake = world.fake
    await fake.answered(
        await fake.slash(world.guild, world.channel, "subscribe", topic="matryoshka", manage=True)
    )
    await me(world, "subscribe", topic="matryoshka embeddings")
    await me(world, "subscribe", topic="video diffusion")
    record = await fake.slash(
        world.guild, world.channel, "me unsubscribe", user_id=PERSON, topic="matr", focused="topic"
    )
    await record.initial
    assert record.initial_type == AUTOCOMPLETE
    assert record.initial.result()["data"]["choices"] == [
        {"name": "1. matryoshka embeddings", "value": "matryoshka embeddings"}
    ]


async def test_me_schedule_shows_a_persons_defaults_without_a_weekly_recap_and_changes_them(
    world: World, bot: DiscordRunner
) -> None:
    shown = await me(world, "schedule")
    assert shown["embeds"][0]["title"] == "Your own digest, sent to you by direct message"
    assert fields(shown)["Time"] == "08:00 UTC"
    assert fields(shown)["Days"] == "weekdays"
    assert "Weekly recap" not in fields(shown)

    changed = await me(world, "schedule", time="07:15", timezone="Europe/Berlin", days="daily", papers=3)
    assert changed["embeds"][0]["title"] == "Schedule saved."
    assert fields(changed)["Time"] == "07:15 Europe/Berlin"
    assert fields(changed)["Days"] == "every day"
    assert fields(changed)["Papers"] == "up to 3"
    assert fields(changed)["Next digest"].startswith("<t:")

    paused = await me(world, "schedule", state="off")
    assert "Resume with /papers me schedule state:on." in fields(paused)["Paused"]
    assert fields(paused)["Next digest"] == "not scheduled"
    resumed = await me(world, "schedule", state="on")
    assert "Paused" not in fields(resumed)


async def test_me_schedule_explains_a_bad_zone_with_the_persons_own_command(
    world: World, bot: DiscordRunner
) -> None:
    message = await me(world, "schedule", time="09:00", timezone="Mars/Olympus")
    assert "I don't know the time zone 'Mars/Olympus'" in message["content"]


async def test_me_digest_sends_one_embed_per_paper_to_the_persons_dms_with_buttons_that_name_the_server(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    fake = world.fake
    await me(world, "subscribe", topic="matryoshka")
    plan = await paperboy.planner.plan(person(world.guild), paperboy.clock.now().date())
    assert len(plan.papers) >= 2

    record = await me_record(world, "digest")
    answer = await fake.answered(record)

    assert record.initial_type == DEFERRED and is_ephemeral(record.initial.result())
    assert (
        answer["content"]
        == f"Sent your digest to your direct messages for 2026-11-25: {len(plan.papers)} paper(s)."
    )
    [opened] = fake.calls_to("POST", r"/users/@me/channels")
    assert int(opened.body["recipient_id"]) == PERSON
    heading, *papers = fake.dms_of(PERSON)
    assert (
        heading["embeds"][0]["title"]
        == f"Your papers for Wednesday 25 November 2026: {len(plan.papers)} papers"
    )
    assert "ML Reading Group" in heading["embeds"][0]["footer"]["text"]
    assert [m["embeds"][0]["title"] for m in papers] == [
        f"{n}. {item.paper.title}" for n, item in enumerate(plan.papers, 1)
    ]
    for message, item in zip(papers, plan.papers, strict=True):
        assert len(message["embeds"]) == 1
        ids = [b.get("custom_id") for b in buttons(message) if b.get("custom_id")]
        assert ids == [
            f"paperboy:upvote:{item.paper.arxiv_id}:g{world.guild}",
            f"paperboy:similar:{item.paper.arxiv_id}:g{world.guild}",
        ]
        assert "Votes in the server" in {f["name"] for f in message["embeds"][0]["fields"]}
    # One nonce per message (the crash look-up finds them by it), no 👍 seeded (reactions in DMs are no votes),
    # and nothing in any channel of the server.
    sent = [m["nonce"] for m in fake.dms_of(PERSON)]
    assert all(sent) and len(set(sent)) == len(sent)
    assert fake.reactions == []
    assert fake.calls_to("POST", rf"/channels/{world.channel}/messages") == []
    assert all(m["author"]["id"] == str(BOT_ID) for m in fake.dms_of(PERSON))

    # The DM channel was opened once for the whole digest (without looking the user up), and a second digest
    # today sends nothing.
    assert len(fake.calls_to("POST", r"/users/@me/channels")) == 1
    assert fake.calls_to("GET", r"/users/\d+") == []
    again = await fake.answered(await me_record(world, "digest"))
    assert again["content"].startswith("Nothing new for you")
    assert len(fake.dms_of(PERSON)) == 1 + len(plan.papers)


async def test_me_votes_lists_the_persons_votes_newest_first_and_me_cite_attaches_them_as_bibtex(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    fake = world.fake
    empty = await me(world, "votes")
    assert empty["content"].startswith("You have not voted for a paper yet.")
    refused = await me(world, "cite", window="week")
    assert "You have no votes to cite" in refused["content"]

    for arxiv_id in (MATRYOSHKA, MATRYOSHKA_2D):
        card = await fake.answered(await fake.slash(world.guild, world.channel, "paper", id=arxiv_id))
        await fake.answered(
            await fake.press(world.guild, int(card["id"]), f"paperboy:upvote:{arxiv_id}", user_id=PERSON)
        )
    await fake.answered(
        await fake.press(world.guild, int(card["id"]), f"paperboy:upvote:{MATRYOSHKA_2D}", user_id=502)
    )

    listed = await me(world, "votes", window="all")
    embed = listed["embeds"][0]
    assert embed["title"] == "Papers you voted for (2)"
    lines = embed["description"].split("\n")
    assert lines[0].startswith("1. [2D Matryoshka Sentence Embeddings](https://arxiv.org/abs/2402.14776)")
    assert lines[1].startswith("2. [Matryoshka Representation Learning](https://arxiv.org/abs/2205.13147)")

    record = await me_record(world, "cite")
    cited = await fake.answered(record)
    assert is_ephemeral(record.initial.result())
    assert cited["embeds"][0]["title"].startswith("BibTeX for the 2 paper(s) you voted for")
    [name] = cited["files"]
    assert name == "paperboy-votes-all-2026-11-25.bib"
    bibtex = cited["file_texts"][name]
    assert bibtex.count("@misc{") == 2
    assert MATRYOSHKA in bibtex and MATRYOSHKA_2D in bibtex


async def test_me_forget_says_what_it_would_delete_then_deletes_it_on_confirm(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    fake = world.fake
    await me(world, "subscribe", topic="matryoshka")
    card = await fake.answered(await fake.slash(world.guild, world.channel, "paper", id=MATRYOSHKA))
    await fake.answered(
        await fake.press(world.guild, int(card["id"]), f"paperboy:upvote:{MATRYOSHKA}", user_id=PERSON)
    )

    asked = await me(world, "forget")
    text = asked["embeds"][0]["description"]
    assert text.startswith("This deletes your 1 topic(s), your digest schedule and your 1 vote(s)")
    assert "/papers me forget confirm" in text
    assert await paperboy.topics.of_channel(person(world.guild)) != []

    done = await me(world, "forget", confirm=True)
    assert done["embeds"][0]["description"].startswith("Done: deleted your 1 topic(s)")
    assert await paperboy.topics.of_channel(person(world.guild)) == []
    assert await paperboy.store.get_settings(person(world.guild)) is None
    assert await paperboy.votes.count(MATRYOSHKA, Workspace("discord", str(world.guild))) == 0


async def test_me_help_lists_what_a_person_can_do_and_papers_help_points_to_it(
    world: World, bot: DiscordRunner
) -> None:
    text = embed_text(await me(world, "help"))
    for word in ("subscribe", "unsubscribe", "topics", "schedule", "digest", "votes", "cite", "forget"):
        assert f"/papers me {word}" in text
    general = await world.fake.answered(await world.fake.slash(world.guild, world.channel, "help"))
    assert "/papers me help" in embed_text(general)


async def test_a_person_who_closed_their_dms_is_paused_with_the_reason_and_me_topics_says_it(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    fake = world.fake
    await me(world, "subscribe", topic="matryoshka")
    await me(world, "subscribe", topic="matryoshka", user=502)
    fake.close_dms(PERSON)

    refused = await fake.answered(await me_record(world, "digest"))
    assert "Cannot send messages to this user" in refused["content"]
    assert "allow direct messages from this server's members" in refused["content"]

    settings = await paperboy.store.get_settings(person(world.guild))
    assert settings is not None and settings.paused
    reason = settings.pause_reason or ""
    assert reason.endswith("then write /papers me schedule on")
    assert fake.dms_of(PERSON) == []

    topics = await me(world, "topics")
    assert "I cannot send you direct messages" in topics["embeds"][0]["description"]
    schedule = await me(world, "schedule")
    assert "allow direct messages from this server's members" in fields(schedule)["Paused"]
    assert "Resume with" not in fields(schedule)["Paused"]  # the reason already says how
    # Another person's digest is not held up.
    sent = await fake.answered(await me_record(world, "digest", user=502))
    assert sent["content"].startswith("Sent your digest to your direct messages")
    assert len(fake.dms_of(502)) >= 2


async def test_a_person_discord_does_not_know_is_paused_with_a_sentence(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    await me(world, "subscribe", topic="matryoshka")
    world.fake.unknown_users.add(PERSON)
    refused = await world.fake.answered(await me_record(world, "digest"))
    assert "I could not find your Discord account" in refused["content"]
    settings = await paperboy.store.get_settings(person(world.guild))
    assert settings is not None and settings.paused


async def test_an_upvote_in_the_dm_counts_in_the_digests_server_and_the_persons_reading_list(
    fake: FakeDiscord, world: World, paperboy: Paperboy, start_bot: StartBot
) -> None:
    other_guild = fake.add_guild("Other Lab")
    other_channel = fake.add_channel(other_guild, "papers")
    await start_bot(paperboy)
    await me(world, "subscribe", topic="matryoshka")
    await paperboy.post_digest(person(world.guild))
    paper = next(m for m in fake.dms_of(PERSON) if MATRYOSHKA in m["embeds"][0].get("url", ""))

    pressed = await fake.press_in_dm(
        int(paper["id"]), f"paperboy:upvote:{MATRYOSHKA}:g{world.guild}", user_id=PERSON
    )
    answer = await fake.answered(pressed)

    assert (
        answer["content"]
        == f"Counted your vote for Matryoshka Representation Learning [{MATRYOSHKA}]; 1 vote(s) here."
    )
    assert is_ephemeral(pressed.initial.result())
    assert await paperboy.votes.count(MATRYOSHKA, Workspace("discord", str(world.guild))) == 1
    assert await paperboy.votes.count(MATRYOSHKA, Workspace("discord", str(other_guild))) == 0
    mine = await me(world, "votes")
    assert "Matryoshka Representation Learning" in mine["embeds"][0]["description"]
    elsewhere = await fake.answered(await fake.slash(other_guild, other_channel, "me votes", user_id=PERSON))
    assert elsewhere["content"].startswith("You have not voted for a paper yet.")


async def test_more_like_this_in_the_dm_answers_with_buttons_that_still_name_the_server(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    fake = world.fake
    await me(world, "subscribe", topic="matryoshka")
    await paperboy.post_digest(person(world.guild))
    paper = next(m for m in fake.dms_of(PERSON) if MATRYOSHKA in m["embeds"][0].get("url", ""))

    similar = await fake.answered(
        await fake.press_in_dm(
            int(paper["id"]), f"paperboy:similar:{MATRYOSHKA}:g{world.guild}", user_id=PERSON
        )
    )

    assert similar["embeds"][0]["title"].startswith("Papers like “Matryoshka Representation Learning”")
    ids = [b["custom_id"] for b in buttons(similar)]
    assert ids and all(i.startswith("paperboy:upvote:") and i.endswith(f":g{world.guild}") for i in ids)
    first = ids[0]
    again = await fake.answered(await fake.press_in_dm(int(similar["id"]), first, user_id=PERSON))
    assert again["content"].startswith("Counted your vote for")


async def test_a_dm_button_of_a_server_the_person_left_changes_nothing_there(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    fake = world.fake
    await me(world, "subscribe", topic="matryoshka")
    await paperboy.post_digest(person(world.guild))
    paper = next(m for m in fake.dms_of(PERSON) if MATRYOSHKA in m["embeds"][0].get("url", ""))
    fake.departed.add((world.guild, PERSON))

    answer = await fake.answered(
        await fake.press_in_dm(
            int(paper["id"]), f"paperboy:upvote:{MATRYOSHKA}:g{world.guild}", user_id=PERSON
        )
    )

    assert answer["content"] == LEFT_THE_SERVER
    assert await paperboy.votes.count(MATRYOSHKA, Workspace("discord", str(world.guild))) == 0


async def test_a_button_in_a_dm_that_names_no_server_says_where_buttons_work(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    fake = world.fake
    await me(world, "subscribe", topic="matryoshka")
    await paperboy.post_digest(person(world.guild))
    # A DM message whose Upvote names no server (as every button did before DM digests).
    paper = fake.dms_of(PERSON)[1]
    rows = [
        {
            **row,
            "components": [
                {**c, "custom_id": c["custom_id"].split(":g")[0]} if "custom_id" in c else c
                for c in row["components"]
            ],
        }
        for row in paper["components"]
    ]
    legacy = fake.post_as_bot(int(paper["channel_id"]), {"embeds": paper["embeds"], "components": rows})
    arxiv_id = buttons(legacy)[0]["custom_id"].rsplit(":", 1)[1]

    answer = await fake.answered(
        await fake.press_in_dm(int(legacy["id"]), f"paperboy:upvote:{arxiv_id}", user_id=PERSON)
    )

    assert answer["content"] == BUTTONS_IN_A_SERVER
    assert await paperboy.votes.count(arxiv_id, Workspace("discord", str(world.guild))) == 0


@pytest.mark.parametrize("subcommand", ["topics", "schedule", "votes", "cite", "forget", "help"])
async def test_every_me_answer_is_private_even_when_deferred(
    world: World, bot: DiscordRunner, subcommand: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.discord import commands

    monkeypatch.setattr(commands, "DEFER_AFTER_SECONDS", 0.0)
    record = await me_record(world, subcommand)
    await world.fake.answered(record)
    assert is_ephemeral(record.initial.result())


async def test_without_the_server_members_intent_leaving_is_not_seen_and_me_forget_still_works(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    fake = world.fake
    assert not bot.client.member_events
    [identify] = fake.identifies
    assert (
        not identify["intents"] & GUILD_MEMBERS_INTENT
    )  # privileged: never asked for unless the portal allows
    await me(world, "subscribe", topic="matryoshka")

    assert not await fake.remove_member(world.guild, PERSON)  # Discord tells the bot nothing
    assert [t.query for t in await paperboy.topics.of_channel(person(world.guild))] == ["matryoshka"]

    done = await me(world, "forget", confirm=True)
    assert done["embeds"][0]["description"].startswith("Done: deleted your 1 topic(s)")
    assert await paperboy.topics.of_channel(person(world.guild)) == []
