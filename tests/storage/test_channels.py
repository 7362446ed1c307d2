"""Channel settings and topics on SQLite and PostgreSQL, kept apart per channel and workspace."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from bot.domain import MAX_TOPICS, ChannelRef, ChannelSettings, Topic
from bot.ports import SettingsChange, TopicSubscription
from bot.schedule import apply_change, parse_schedule_args
from bot.services.channels import settings_change
from storage.sql.store import SqlStore
from storage.sql.tables import topics

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


async def test_a_change_enrols_a_new_channel_with_the_defaults_and_sets_only_its_fields(
    store: SqlStore,
) -> None:
    settings = await store.change_settings(GENERAL, SettingsChange(timezone="Asia/Tokyo"))

    assert settings == ChannelSettings(GENERAL, timezone="Asia/Tokyo")
    assert await store.get_settings(GENERAL) == settings


async def test_a_change_keeps_every_field_it_does_not_name(store: SqlStore) -> None:
    before = ChannelSettings(
        GENERAL, hour=6, minute=15, timezone="Europe/Paris", weekdays_only=False, digest_size=7
    )
    await store.save_settings(before)

    paused = await store.change_settings(
        GENERAL, SettingsChange(paused=True, pause_reason="channel_not_found")
    )

    assert paused == replace(before, paused=True, pause_reason="channel_not_found")
    assert await store.get_settings(GENERAL) == paused


@pytest.mark.parametrize(
    "line",
    ["07:30", "9", "Asia/Tokyo", "weekdays", "daily", "papers 3", "off", "on", "18:05 UTC daily papers 25"],
)
async def test_a_schedule_line_stores_what_the_core_says_it_changes(store: SqlStore, line: str) -> None:
    before = ChannelSettings(GENERAL, hour=8, minute=30, paused=True, pause_reason="channel_not_found")
    await store.save_settings(before)
    change = parse_schedule_args(line)

    stored = await store.change_settings(GENERAL, settings_change(change))

    assert stored == apply_change(replace(before), change)


async def test_subscribing_adds_a_topic_once_whatever_its_case(store: SqlStore) -> None:
    first = await store.subscribe_topic(GENERAL, "Diffusion", limit=MAX_TOPICS)
    again = await store.subscribe_topic(GENERAL, "DIFFUSION", limit=MAX_TOPICS)

    assert first == TopicSubscription("added", "Diffusion")
    assert again == TopicSubscription("already_followed", "Diffusion")
    assert await store.list_topics(GENERAL) == [Topic(GENERAL, "Diffusion", 1)]
    assert await store.get_settings(GENERAL) == ChannelSettings(GENERAL)  # the first topic enrols the channel


async def test_subscribing_past_the_limit_adds_nothing(store: SqlStore) -> None:
    for query in ("a", "b"):
        await store.subscribe_topic(GENERAL, query, limit=2)

    assert await store.subscribe_topic(GENERAL, "c", limit=2) == TopicSubscription("list_full", "c")
    assert [t.query for t in await store.list_topics(GENERAL)] == ["a", "b"]


async def test_subscribing_leaves_the_settings_of_an_enrolled_channel_alone(store: SqlStore) -> None:
    settings = ChannelSettings(
        GENERAL, hour=6, minute=15, timezone="Europe/Paris", paused=True, pause_reason="x"
    )
    await store.save_settings(settings)

    await store.subscribe_topic(GENERAL, "retrieval", limit=MAX_TOPICS)

    assert await store.get_settings(GENERAL) == settings


async def test_the_same_topic_in_two_channels_is_two_topics(store: SqlStore) -> None:
    for channel in (GENERAL, RANDOM, OTHER_TEAM_GENERAL):
        assert await store.subscribe_topic(channel, "retrieval", limit=MAX_TOPICS) == TopicSubscription(
            "added", "retrieval"
        )


async def test_the_database_refuses_a_topic_twice_in_one_channel(store: SqlStore) -> None:
    await store.add_topic(GENERAL, "retrieval")

    await store.add_topic(GENERAL, "Retrieval")  # a seed or tool adding it again adds nothing

    assert [t.query for t in await store.list_topics(GENERAL)] == ["retrieval"]
    with pytest.raises(IntegrityError):
        async with store.engine.begin() as conn:
            await conn.execute(
                insert(topics).values(
                    platform="slack",
                    workspace="T1",
                    channel="C1",
                    query="RETRIEVAL",
                    query_key="retrieval",
                    created_at=datetime.now(UTC),
                )
            )
