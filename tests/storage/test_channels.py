"""Channel settings and topics on SQLite and PostgreSQL, kept apart per channel and workspace."""

from __future__ import annotations

from bot.domain import ChannelRef, ChannelSettings, Topic
from storage.sql.store import SqlStore

GENERAL = ChannelRef("slack", "T1", "C1")
RANDOM = ChannelRef("slack", "T1", "C2")
OTHER_TEAM_GENERAL = ChannelRef("slack", "T2", "C1")
DISCORD_SAME_IDS = ChannelRef("discord", "T1", "C1")


async def test_settings_of_a_new_channel_are_none(store: SqlStore) -> None:
    assert await store.get_settings(GENERAL) is None


async def test_settings_round_trip_every_field(store: SqlStore) -> None:
    settings = ChannelSettings(
        channel=GENERAL,
        hour=7,
        minute=45,
        timezone="Europe/Berlin",
        weekdays_only=False,
        digest_size=25,
        lookback_days=5,
        paused=True,
        pause_reason="Posting failed 5 times: channel_not_found",
    )

    await store.save_settings(settings)

    assert await store.get_settings(GENERAL) == settings


async def test_saving_settings_again_replaces_them(store: SqlStore) -> None:
    await store.save_settings(ChannelSettings(channel=GENERAL, hour=7, paused=True, pause_reason="x"))

    await store.save_settings(ChannelSettings(channel=GENERAL, hour=8))

    assert await store.get_settings(GENERAL) == ChannelSettings(channel=GENERAL, hour=8)
    assert await store.list_channels() == [ChannelSettings(channel=GENERAL, hour=8)]


async def test_settings_of_one_channel_are_invisible_from_same_ids_elsewhere(store: SqlStore) -> None:
    await store.save_settings(ChannelSettings(channel=GENERAL, hour=6))

    assert await store.get_settings(OTHER_TEAM_GENERAL) is None
    assert await store.get_settings(DISCORD_SAME_IDS) is None


async def test_list_channels_returns_every_channel_with_settings(store: SqlStore) -> None:
    for channel in (RANDOM, OTHER_TEAM_GENERAL, GENERAL):
        await store.save_settings(ChannelSettings(channel=channel))

    listed = [settings.channel for settings in await store.list_channels()]

    assert listed == [GENERAL, RANDOM, OTHER_TEAM_GENERAL]


async def test_topics_keep_the_order_they_were_added_in(store: SqlStore) -> None:
    for query in ("retrieval", '"state space" models', "cat:cs.CL -survey"):
        await store.add_topic(GENERAL, query)

    assert await store.list_topics(GENERAL) == [
        Topic(GENERAL, "retrieval", 1),
        Topic(GENERAL, '"state space" models', 2),
        Topic(GENERAL, "cat:cs.CL -survey", 3),
    ]


async def test_removing_a_topic_renumbers_the_rest_and_new_ones_go_last(store: SqlStore) -> None:
    for query in ("a", "b", "c"):
        await store.add_topic(GENERAL, query)

    assert await store.remove_topic(GENERAL, "b") is True
    await store.add_topic(GENERAL, "d")

    assert [(t.position, t.query) for t in await store.list_topics(GENERAL)] == [(1, "a"), (2, "c"), (3, "d")]


async def test_removing_an_unknown_topic_says_so(store: SqlStore) -> None:
    await store.add_topic(GENERAL, "retrieval")

    assert await store.remove_topic(GENERAL, "Retrieval") is False
    assert await store.remove_topic(RANDOM, "retrieval") is False
    assert [t.query for t in await store.list_topics(GENERAL)] == ["retrieval"]


async def test_topics_of_one_channel_are_invisible_from_others(store: SqlStore) -> None:
    await store.add_topic(GENERAL, "retrieval")

    assert await store.list_topics(RANDOM) == []
    assert await store.list_topics(OTHER_TEAM_GENERAL) == []
    assert await store.list_topics(DISCORD_SAME_IDS) == []
