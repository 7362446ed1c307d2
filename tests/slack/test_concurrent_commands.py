"""Slash commands that reach the real endpoint at the same moment lose nothing (on SQLite and PostgreSQL).

Bolt acknowledges each command at once and answers it in the background, so a channel's first topic and its
schedule, sent together, are stored together.
"""

from __future__ import annotations

import asyncio

from bot.domain import ChannelRef
from tests.slack.conftest import SlackHarness, block_text


async def test_twenty_channels_sent_a_first_topic_and_a_schedule_at_once_keep_every_schedule(
    slack: SlackHarness,
) -> None:
    channels = [f"C{n:02d}" for n in range(20)]
    requests = []
    for channel in channels:
        requests += [
            slack.command("subscribe embeddings", channel=channel),
            slack.command("schedule 06:15 Europe/Paris daily", channel=channel),
        ]

    answers = await asyncio.gather(*requests)

    texts = [block_text(answer) for answer in answers]
    assert sum("Subscribed to" in text for text in texts) == len(channels), texts
    assert sum("Schedule saved." in text for text in texts) == len(channels), texts
    kept = []
    for channel in channels:
        ref = ChannelRef("slack", "T1", channel)
        settings = await slack.paperboy.store.get_settings(ref)
        assert settings is not None
        if (settings.hour, settings.minute, settings.timezone, settings.weekdays_only) == (
            6,
            15,
            "Europe/Paris",
            False,
        ):
            kept.append(channel)
        assert [topic.query for topic in await slack.paperboy.store.list_topics(ref)] == ["embeddings"]
    assert kept == channels, f"{len(kept)} of {len(channels)} schedules kept"
