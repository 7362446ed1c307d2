"""A person's own digest on Slack: every `/papers me …` command through the real Bolt app, the digest in the
person's direct messages with its buttons, refusals that pause it with a reason, votes cast there, the crash
look-up there, and the BibTeX file of their votes."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from adapters.slack.blocks import SIMILAR_ACTION, UPVOTE_ACTION
from adapters.slack.publisher import SlackPublisher
from bot.domain import DELIVERY_CLAIMED, ChannelRef, Delivery, DigestPlan
from bot.services.delivery import DeliveryEngine
from tests.fakes.slack import FakeSlack
from tests.slack.conftest import SlackHarness, StartSlack, block_text, buttons
from tests.slack.test_digests import blocks_of

ME = ChannelRef.person("slack", "T1", "U1")
MATRYOSHKA = "2205.13147"


def message(call_args: dict[str, Any]) -> dict[str, Any]:
    """A posted message as block_text and buttons read it."""
    return {"blocks": blocks_of(call_args)}


async def test_every_me_command_answers_the_person_alone(slack: SlackHarness) -> None:
    slack.fake.people["U1"] = {"tz": "America/Los_Angeles"}

    subscribed = await slack.command("me subscribe representation")
    text = block_text(subscribed)
    assert "Subscribed to “representation”." in text
    # 12:00 UTC on Thursday 26 November is 04:00 in Los Angeles: the first digest is at 08:00 there today.
    assert "Your next digest comes by direct message on Thu 26 Nov at 08:00 (America/Los_Angeles)." in text
    [asked] = slack.fake.calls_to("users.info")
    assert asked.args["user"] == "U1" and asked.token == "xoxb-team-one"

    await slack.command('me subscribe "gaussian splatting"')
    topics = block_text(await slack.command("me topics"))
    assert "Your topics." in topics and "1. `representation`" in topics and "gaussian splatting" in topics

    schedule = block_text(await slack.command("me schedule"))
    assert "Your own digest, sent to you by direct message" in schedule
    assert "08:00 America/Los_Angeles, by direct message" in schedule
    assert "Weekly recap" not in schedule  # the recap is the team's

    changed = block_text(await slack.command("me schedule 07:15 daily"))
    assert "Schedule saved." in changed and "07:15 America/Los_Angeles" in changed and "every day" in changed

    removed = block_text(await slack.command("me unsubscribe 2"))
    assert "Unsubscribed from" in removed and "gaussian splatting" in removed

    votes = block_text(await slack.command("me votes week"))
    assert "You have not voted for a paper in the last week" in votes
    helped = block_text(await slack.command("me"))
    assert "/papers me subscribe" in helped and "/papers me forget" in helped
    asked_to_confirm = block_text(await slack.command("me forget"))
    assert "This deletes your 1 topic(s) and your digest schedule in this workspace" in asked_to_confirm
    assert await slack.paperboy.store.get_settings(ME) is not None
    forgot = block_text(await slack.command("me forget confirm"))
    assert "Done: deleted your 1 topic(s) and your digest schedule in this workspace." in forgot
    assert await slack.paperboy.store.get_settings(ME) is None

    assert {r["response_type"] for r in slack.fake.responses} == {"ephemeral"}
    assert slack.fake.posted() == []  # nothing of it was posted anywhere
    assert slack.fake.violations == []


async def test_my_digest_comes_to_my_direct_messages_as_a_thread_with_buttons(slack: SlackHarness) -> None:
    await slack.command("me subscribe representation")
    answer = await slack.command("me digest")
    assert answer["response_type"] == "ephemeral"
    assert "Sent your digest to your direct messages for 2026-11-26" in block_text(answer)

    [opened] = slack.fake.calls_to("conversations.open")
    assert opened.args["users"] == "U1" and opened.token == "xoxb-team-one"
    dm = slack.fake.dm_channel("U1")
    assert dm is not None and dm.startswith("D")
    posted = slack.fake.posted(dm)
    parent, replies = posted[0], posted[1:]
    assert len(replies) >= 2
    assert slack.fake.posted("C1") == []

    assert "thread_ts" not in parent.args
    assert parent.args["metadata"]["event_type"] == "paperboy_digest"
    parent_text = block_text(message(parent.args))
    assert "Your papers for Thursday 26 November 2026" in parent_text
    assert f"{len(replies)} papers in this thread" in parent_text and "representation" in parent_text
    for number, reply in enumerate(replies, 1):
        assert reply.args["thread_ts"] == parent.args["_ts"]
        assert reply.args["metadata"]["event_type"] == "paperboy_digest_item"
        # The parent lists every paper of the thread, in its order.
        assert f"\n{number}. <" in "\n" + parent_text
        actions = [b["action_id"] for b in buttons(message(reply.args))]
        assert actions == [UPVOTE_ACTION, SIMILAR_ACTION]

    # Another person has a conversation of their own; the first one's is remembered, not opened again.
    await slack.command("me subscribe representation", user="U2")
    await slack.command("me digest", user="U2")
    other = slack.fake.dm_channel("U2")
    assert other not in (None, dm)
    assert len(slack.fake.posted(other)) == len(posted)
    await slack.answer(await slack.click(UPVOTE_ACTION, MATRYOSHKA))
    await slack.command("me cite")
    assert [f.channel for f in slack.fake.files] == [dm]
    assert [c.args["users"] for c in slack.fake.calls_to("conversations.open")] == ["U1", "U2"]
    assert slack.fake.violations == []


async def test_each_persons_direct_messages_are_paced_on_their_own(start: StartSlack) -> None:
    slack: SlackHarness = await start(post_interval=0.3)
    people = [ChannelRef.person("slack", "T1", user) for user in ("U1", "U2")]
    for person in people:
        await slack.command("me subscribe representation", user=person.user or "")

    await asyncio.gather(*(slack.paperboy.post_digest(person) for person in people))

    one, two = ([c.at for c in slack.fake.posted(slack.fake.dm_channel(user))] for user in ("U1", "U2"))
    for times in (one, two):
        assert len(times) >= 3
        assert all(b - a >= 0.3 for a, b in itertools.pairwise(times))
    # Neither waited for the other: each conversation began before the other one ended.
    assert min(two) < max(one) and min(one) < max(two)


def messages_tab_off(fake: FakeSlack) -> None:
    fake.team("T1").messages_tab = False


def without_im_write(fake: FakeSlack) -> None:
    fake.team("T1").scopes.discard("im:write")


def deactivated(fake: FakeSlack) -> None:
    fake.people["U1"] = {"deleted": True}


def a_bot(fake: FakeSlack) -> None:
    fake.people["U1"] = {"is_bot": True}


@pytest.mark.parametrize(
    ("refuse", "reason"),
    [
        (messages_tab_off, "Paperboy's Messages tab is turned off"),
        (without_im_write, "lacks the permission to send you direct messages (the im:write scope)"),
        (deactivated, "Your Slack account in this workspace is deactivated"),
        (a_bot, "does not let Paperboy send direct messages to a bot account"),
    ],
)
async def test_a_refused_direct_message_pauses_my_digest_and_my_next_command_says_why(
    slack: SlackHarness, refuse: Callable[[FakeSlack], None], reason: str
) -> None:
    await slack.command("me subscribe representation")
    refuse(slack.fake)

    failed = await slack.command("me digest")
    assert reason in block_text(failed)
    settings = await slack.paperboy.store.get_settings(ME)
    assert settings is not None and settings.paused
    assert reason in (settings.pause_reason or "")
    assert (settings.pause_reason or "").endswith("then write /papers me schedule on.")

    topics = block_text(await slack.command("me topics"))
    assert reason in topics and "then write /papers me schedule on." in topics
    schedule = block_text(await slack.command("me schedule"))
    assert "Paused: " in schedule and reason in schedule
    assert schedule.count("/papers me schedule on") == 1  # the reason says it; it is not said twice
    assert slack.fake.posted() == []


async def test_once_the_cause_is_fixed_schedule_on_resumes_my_digest(slack: SlackHarness) -> None:
    await slack.command("me subscribe representation")
    messages_tab_off(slack.fake)
    await slack.command("me digest")
    slack.fake.team("T1").messages_tab = True

    resumed = block_text(await slack.command("me schedule on"))
    assert "Schedule saved." in resumed and "Paused" not in resumed
    # The delivery engine of `paperboy run` finishes today's digest that was given up, in the same thread.
    engine = DeliveryEngine(slack.paperboy.store, clock=slack.paperboy.clock)
    sent = await engine.run({"slack": slack.service.bot.publisher}, until_idle=True)
    posted = slack.fake.posted(slack.fake.dm_channel("U1"))
    assert sent == len(posted) >= 3
    assert all(c.args["thread_ts"] == posted[0].args["_ts"] for c in posted[1:])


async def test_reactions_and_buttons_in_my_direct_messages_are_my_votes(slack: SlackHarness) -> None:
    await slack.command("me subscribe representation")
    await slack.command("me digest")
    dm = slack.fake.dm_channel("U1")
    assert dm is not None
    first, second = [c for c in slack.fake.posted(dm) if c.args.get("thread_ts")][:2]
    first_id = first.args["metadata"]["event_payload"]["arxiv_id"]
    second_id = second.args["metadata"]["event_payload"]["arxiv_id"]

    await slack.react(first.args["_ts"], channel=dm, user="U1", event_id="EvDm1")
    assert (await slack.paperboy.paper(first_id)).chat_votes == 1
    pressed = await slack.click(UPVOTE_ACTION, second_id, channel=dm, message_ts=second.args["_ts"])
    assert "Counted your vote" in block_text(await slack.answer(pressed))

    reading = block_text(await slack.command("me votes"))
    assert "Papers you voted for (2)" in reading
    assert f"`{first_id}`" in reading and f"`{second_id}`" in reading

    await slack.react(first.args["_ts"], added=False, channel=dm, user="U1", event_id="EvDm2")
    assert (await slack.paperboy.paper(first_id)).chat_votes == 0
    assert "Papers you voted for (1)" in block_text(await slack.command("me votes"))


async def test_after_a_crash_the_look_up_finds_my_digest_message_in_my_direct_messages(
    slack: SlackHarness,
) -> None:
    connection = slack.service.bot.connection
    plan = DigestPlan(ME, date(2026, 11, 26), ("representation",), ())
    delivery = Delivery(901, 77, ME, date(2026, 11, 26), 0, None, DELIVERY_CLAIMED)
    posted = await connection.publisher.post_parent(plan, delivery)
    # The fake's clock: its first message is stamped 1,700,000,000 s after the epoch.
    since = datetime.fromtimestamp(1_700_000_000 - 60, UTC)

    # Another process (a restart) knows no conversation yet: it opens the person's and reads it.
    restarted = SlackPublisher(connection.poster, connection.bot_token)
    assert await restarted.find_posted(plan, delivery, None, since=since) == posted
    [history] = slack.fake.calls_to("conversations.history")
    assert history.args["channel"] == slack.fake.dm_channel("U1")
    assert history.args["include_all_metadata"] in (True, "1", "true")

    # Without im:history Slack will not show the conversation: the message is posted again, never lost.
    slack.fake.team("T1").scopes.discard("im:history")
    assert await restarted.find_posted(plan, delivery, None, since=since) is None


async def test_my_cite_sends_a_bib_file_to_my_direct_messages_or_shows_it_when_it_cannot(
    slack: SlackHarness,
) -> None:
    await slack.answer(await slack.click(UPVOTE_ACTION, MATRYOSHKA))

    answer = block_text(await slack.command("me cite"))
    assert "BibTeX for the 1 paper(s) you voted for, of all time." in answer
    assert "It is in your direct messages with Paperboy, as paperboy-votes-all-2026-11-26.bib." in answer
    [shared] = slack.fake.files
    assert shared.team == "T1" and shared.channel == slack.fake.dm_channel("U1")
    assert shared.filename == "paperboy-votes-all-2026-11-26.bib"
    assert shared.content.startswith(b"@misc{") and MATRYOSHKA.encode() in shared.content
    assert (shared.comment or "").startswith("BibTeX for the 1 paper(s) you voted for")

    # An app installed without files:write shows the BibTeX as text, and says what the file needs.
    slack.fake.team("T1").scopes.discard("files:write")
    fallback = block_text(await slack.command("me cite"))
    assert "I could not send it as a file" in fallback and "files:write" in fallback
    assert "@misc{" in fallback and MATRYOSHKA in fallback
    assert len(slack.fake.files) == 1
    assert slack.fake.violations == []
