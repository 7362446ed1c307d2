"""Migration 0004 on SQLite and PostgreSQL: topics stored twice before it are kept once, the oldest."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from bot.domain import MAX_TOPICS, ChannelRef
from bot.ports import TopicSubscription
from storage.sql.engine import create_engine_for
from storage.sql.migrate import downgrade_database, upgrade_database
from storage.sql.store import open_store

GENERAL = ChannelRef("slack", "T1", "C1")
RANDOM = ChannelRef("slack", "T1", "C2")
# Topics in the order a racing bot stored them before 0004: ids 1 to 7.
STORED_BEFORE = [
    ("C1", "diffusion"),
    ("C1", "retrieval"),
    ("C1", "Diffusion"),
    ("C2", "diffusion"),
    ("C1", "diffusion"),
    ("C1", "état de l'art"),
    ("C1", "ÉTAT DE L'ART"),
]


async def write_topics_at_0003(url: str) -> None:
    """Topics as revision 0003 stores them (no key), with plain SQL, duplicates included."""
    engine = create_engine_for(url)
    try:
        async with engine.begin() as conn:
            now: object = datetime(2026, 11, 25, 8, tzinfo=UTC)
            if conn.dialect.name == "sqlite":
                now = "2026-11-25 08:00:00"
            for channel, query in STORED_BEFORE:
                await conn.execute(
                    text(
                        "INSERT INTO topics (platform, workspace, channel, query, created_at)"
                        " VALUES ('slack', 'T1', :channel, :query, :now)"
                    ),
                    {"channel": channel, "query": query, "now": now},
                )
    finally:
        await engine.dispose()


async def test_upgrading_keeps_the_oldest_of_each_duplicate_topic_and_refuses_new_ones(
    database_url: str,
) -> None:
    await downgrade_database(database_url, "base")
    await upgrade_database(database_url, "0003")
    await write_topics_at_0003(database_url)

    await upgrade_database(database_url)

    store = await open_store(database_url, migrate=False)
    try:
        assert [t.query for t in await store.list_topics(GENERAL)] == [
            "diffusion",
            "retrieval",
            "état de l'art",
        ]
        assert [t.query for t in await store.list_topics(RANDOM)] == ["diffusion"]
        assert await store.subscribe_topic(GENERAL, "État de l'art", limit=MAX_TOPICS) == TopicSubscription(
            "already_followed", "état de l'art"
        )
    finally:
        await store.close()


async def test_downgrading_past_0004_keeps_the_topics(database_url: str) -> None:
    await upgrade_database(database_url)
    store = await open_store(database_url, migrate=False)
    try:
        await store.subscribe_topic(GENERAL, "retrieval", limit=MAX_TOPICS)
    finally:
        await store.close()

    await downgrade_database(database_url, "0003")
    try:
        engine = create_engine_for(database_url)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(text("SELECT channel, query FROM topics"))).all()
        finally:
            await engine.dispose()
    finally:
        await upgrade_database(database_url)

    assert [tuple(row) for row in rows] == [("C1", "retrieval")]
