"""A person's D… conversation kept in the store, through the real Bolt app and slack_sdk against the fake Slack:
a restart (or the next day's run) opens none again, the App Home's event stores the one it names, and a stored
conversation Slack no longer knows is forgotten and opened afresh once, never more."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from adapters.slack.direct import DirectMessages
from adapters.slack.publisher import SlackPublisher
from bot.domain import ChannelRef, DigestPlan
from storage.sql.migrate import downgrade_database
from storage.sql.store import open_store
from tests.clock import FixedClock
from tests.slack.conftest import SlackHarness, StartSlack, block_text, eventually

ME = ChannelRef.person("slack", "T1", "U1")
GONE = "D0GONE"  # a conversation the fake Slack does not know: it answers channel_not_found


async def test_a_restarted_process_finds_my_conversation_in_the_store_and_opens_none(
    start: StartSlack, clock: FixedClock
) -> None:
    first = await start()
    await first.command("me subscribe representation")
    await first.command("me digest")
    dm = first.fake.dm_channel("U1")
    assert dm is not None and len(first.fake.calls_to("conversations.open")) == 1
    assert await first.paperboy.store.address_of(ME) == dm

    # Another process (a restart, or tomorrow's `paperboy digest --due`) knows nothing in memory.
    restarted = await start()
    clock.advance(days=1)
    sent = block_text(await restarted.command("me digest"))

    assert "Sent your digest to your direct messages for 2026-11-27" in sent
    assert len(first.fake.calls_to("conversations.open")) == 1  # still the first process's one
    parents = [c for c in first.fake.posted(dm) if "thread_ts" not in c.args]
    assert [c.args["metadata"]["event_payload"]["local_date"] for c in parents] == [
        "2026-11-26",
        "2026-11-27",
    ]


async def test_the_home_event_stores_the_conversation_it_names(start: StartSlack) -> None:
    slack = await start()
    await slack.command("me subscribe representation")

    await slack.open_home(tab="messages")

    dm = slack.fake.dm_channel("U1")
    assert dm is not None
    await eventually(lambda: _address_is(slack, dm))
    restarted = await start()
    await restarted.command("me digest")
    assert slack.fake.calls_to("conversations.open") == []
    assert slack.fake.posted(dm)


async def _address_is(slack: SlackHarness, expected: str) -> bool:
    return await slack.paperboy.store.address_of(ME) == expected


async def test_a_stored_conversation_slack_no_longer_knows_is_forgotten_and_opened_afresh_once(
    slack: SlackHarness,
) -> None:
    await slack.command("me subscribe representation")
    await slack.paperboy.store.remember_address(ME, GONE)

    sent = block_text(await slack.command("me digest"))

    assert "Sent your digest to your direct messages" in sent
    dm = slack.fake.dm_channel("U1")
    assert dm is not None and dm != GONE
    assert [c.args["users"] for c in slack.fake.calls_to("conversations.open")] == ["U1"]
    tried = [c for c in slack.fake.calls_to("chat.postMessage") if c.args.get("channel") == GONE]
    assert len(tried) == 1  # the parent's first try; the rest went straight to the new conversation
    assert len(slack.fake.posted(dm)) >= 3 and slack.fake.posted(GONE) == []
    assert await slack.paperboy.store.address_of(ME) == dm
    settings = await slack.paperboy.store.get_settings(ME)
    assert settings is not None and not settings.paused


async def test_the_crash_look_up_of_a_new_process_also_reopens_a_stale_stored_conversation(
    slack: SlackHarness,
) -> None:
    await slack.command("me subscribe representation")
    await slack.command("me digest")
    dm = slack.fake.dm_channel("U1")
    [parent, *_] = slack.fake.posted(dm)
    await slack.paperboy.store.remember_address(ME, GONE)
    connection = slack.service.bot.connection
    direct = DirectMessages(connection.poster, connection.bot_token, addresses=slack.paperboy.store)
    restarted = SlackPublisher(connection.poster, connection.bot_token, direct=direct)
    digest_id = parent.args["metadata"]["event_payload"]["digest_id"]
    [delivery, *_] = await slack.paperboy.store.deliveries_of(int(digest_id))
    plan = DigestPlan(ME, delivery.local_date, ("representation",), ())

    found = await restarted.find_posted(plan, delivery, None, after="1699999999.000000")

    assert found == parent.args["_ts"]
    assert [c.args["channel"] for c in slack.fake.calls_to("conversations.history")] == [GONE, dm]
    assert await slack.paperboy.store.address_of(ME) == dm


async def test_a_conversation_refused_again_after_reopening_pauses_my_digest_after_one_open(
    slack: SlackHarness,
) -> None:
    await slack.command("me subscribe representation")
    await slack.paperboy.store.remember_address(ME, GONE)
    dm = slack.fake.open_dm("U1")  # the conversation Slack will answer, and refuse too
    slack.fake.channel_errors[dm] = "channel_not_found"

    failed = block_text(await slack.command("me digest"))

    assert "Slack would not open your direct messages with Paperboy" in failed
    assert len(slack.fake.calls_to("conversations.open")) == 1
    tried = [c.args["channel"] for c in slack.fake.calls_to("chat.postMessage")]
    assert tried == [GONE, dm]  # one try with the stored one, one with the one opened afresh; then the pause
    settings = await slack.paperboy.store.get_settings(ME)
    assert settings is not None and settings.paused
    assert "open Paperboy's Messages tab once" in (settings.pause_reason or "")


async def test_a_conversation_refused_right_after_it_was_opened_pauses_my_digest_at_once(
    slack: SlackHarness,
) -> None:
    await slack.command("me subscribe representation")
    dm = slack.fake.open_dm("U1")
    slack.fake.channel_errors[dm] = "channel_not_found"

    failed = block_text(await slack.command("me digest"))

    assert "Slack would not open your direct messages with Paperboy" in failed
    assert len(slack.fake.calls_to("conversations.open")) == 1  # not opened again: Slack just gave it
    assert [c.args["channel"] for c in slack.fake.calls_to("chat.postMessage")] == [dm]


async def test_a_store_that_cannot_keep_conversations_costs_an_open_never_a_delivery(
    slack: SlackHarness, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A real store whose table lacks the column (its database went back to migration 0007 under it).
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    behind = await open_store(url)
    await downgrade_database(url, "0007")
    connection = slack.service.bot.connection
    direct = DirectMessages(connection.poster, connection.bot_token, addresses=behind)
    try:
        with caplog.at_level(logging.WARNING, logger="adapters.slack.direct"):
            dm = await direct.conversation(ME)
            await direct.forget_stale(ME, dm)
            assert await direct.conversation(ME) == dm
            await direct.note(ChannelRef.person("slack", "T1", "U2"), "D0TWO")
    finally:
        await behind.close()

    assert dm == slack.fake.dm_channel("U1")
    assert len(slack.fake.calls_to("conversations.open")) == 2  # opened again, as without a store
    assert direct.known("T1", "U2") == "D0TWO"
    said = [r.getMessage() for r in caplog.records]
    assert f"could not read the stored conversation of {ME}: OperationalError" in said
    assert f"could not store the conversation of {ME}: OperationalError" in said
    assert f"could not forget the stored conversation of {ME}: OperationalError" in said
