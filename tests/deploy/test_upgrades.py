"""Upgrades keep data: a database built at the first migration, with rows, upgraded to the newest, finds them all;
every migration goes down and up again. On SQLite and on the real PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import Connection, inspect, text

from adapters.slack.installations import SlackInstallations
from bot.domain import ChannelRef, Vote, Workspace
from storage.sql.engine import create_engine_for
from storage.sql.migrate import MIGRATIONS_DIR, current_revision, downgrade_database, upgrade_database
from storage.sql.store import open_store
from storage.sql.tables import metadata

SCRIPTS = ScriptDirectory(str(MIGRATIONS_DIR))
# Oldest first.
REVISIONS = [script.revision for script in reversed(list(SCRIPTS.walk_revisions()))]
FIRST = REVISIONS[0]
CHANNEL = ChannelRef("slack", "T1", "C1")
NOW = "2026-11-25 08:00:00"

# Rows as the first schema (0001) stores them, written with plain SQL so that later changes to the code's
# tables cannot make this test write in a newer shape.
FIRST_REVISION_ROWS: list[tuple[str, list[dict[str, object]]]] = [
    (
        "INSERT INTO papers (arxiv_id, title, authors, abstract, published, featured_on, hf_upvotes, num_comments,"
        " ai_summary, ai_keywords, github_repo, github_stars, project_page, organization, thumbnail, categories,"
        " comment, journal_ref, doi, withdrawn, updated_at) VALUES (:id, :title, :authors, 'An abstract.',"
        " '2022-05-26', '2026-11-24', 42, 3, 'Nested dolls.', :keywords, 'https://github.com/x/y', 7, NULL, 'Org',"
        " NULL, :categories, NULL, NULL, NULL, :withdrawn, :now)",
        [
            {
                "id": "2205.13147",
                "title": "Matryoshka Representation Learning",
                "authors": json.dumps(["Aditya Kusupati", "Gantavya Bhatt"]),
                "keywords": json.dumps(["embeddings"]),
                "categories": json.dumps(["cs.LG"]),
                "withdrawn": False,
                "now": NOW,
            },
            {
                "id": "2311.13681",
                "title": "Compact 3D Gaussian Representation",
                "authors": json.dumps(["Joo Chan Lee"]),
                "keywords": json.dumps([]),
                "categories": json.dumps(["cs.CV"]),
                "withdrawn": False,
                "now": NOW,
            },
        ],
    ),
    (
        "INSERT INTO channel_settings (platform, workspace, channel, hour, minute, timezone, weekdays_only,"
        " digest_size, lookback_days, paused, pause_reason, updated_at) VALUES ('slack', 'T1', 'C1', 7, 30,"
        " 'Asia/Tokyo', :weekdays, 5, 3, :paused, NULL, :now)",
        [{"weekdays": True, "paused": False, "now": NOW}],
    ),
    (
        "INSERT INTO topics (platform, workspace, channel, query, created_at) VALUES ('slack', 'T1', 'C1', :q, :now)",
        [{"q": "gaussian splatting", "now": NOW}, {"q": "cat:cs.CL", "now": NOW}],
    ),
    (
        "INSERT INTO votes (platform, workspace, user_id, arxiv_id, created_at)"
        " VALUES ('slack', 'T1', :user, '2205.13147', :now)",
        [{"user": "U1", "now": NOW}, {"user": "U2", "now": NOW}],
    ),
    (
        "INSERT INTO digests (platform, workspace, channel, local_date, topics, created_at)"
        " VALUES ('slack', 'T1', 'C1', '2026-11-25', :topics, :now)",
        [{"topics": json.dumps(["gaussian splatting"]), "now": NOW}],
    ),
    (
        "INSERT INTO deliveries (digest_id, platform, workspace, channel, position, arxiv_id, state, message_id,"
        " attempts, last_error, claimed_by, claimed_until, posted_at) VALUES (1, 'slack', 'T1', 'C1', :position,"
        " :arxiv_id, :state, :message_id, :attempts, NULL, NULL, NULL, :posted_at)",
        [
            {
                "position": 0,
                "arxiv_id": None,
                "state": "posted",
                "message_id": "1700000000.000001",
                "attempts": 1,
                "posted_at": NOW,
            },
            {
                "position": 1,
                "arxiv_id": "2311.13681",
                "state": "pending",
                "message_id": None,
                "attempts": 0,
                "posted_at": None,
            },
        ],
    ),
    (
        "INSERT INTO paper_messages (platform, workspace, channel, message_id, arxiv_id, created_at)"
        " VALUES ('slack', 'T1', 'C1', '1700000000.000002', '2205.13147', :now)",
        [{"now": NOW}],
    ),
]


async def write_first_revision_rows(url: str) -> None:
    engine = create_engine_for(url)
    try:
        async with engine.begin() as conn:
            # SQLite keeps naive UTC text; asyncpg wants a datetime for timestamptz.
            now: object = (
                NOW if conn.dialect.name == "sqlite" else datetime.fromisoformat(NOW).replace(tzinfo=UTC)
            )
            for statement, rows in FIRST_REVISION_ROWS:
                for row in rows:
                    values = {k: now if v == NOW else v for k, v in row.items()}
                    await conn.execute(text(statement), values)
            if conn.dialect.name == "postgresql":
                # The rows above name their ids; move the sequences on as a running bot would have.
                for table in ("topics", "digests", "deliveries"):
                    await conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                        )
                    )
    finally:
        await engine.dispose()


async def test_rows_of_the_first_schema_are_all_found_after_upgrading_to_the_newest(
    database_url: str,
) -> None:
    await downgrade_database(database_url, "base")
    await upgrade_database(database_url, FIRST)
    await write_first_revision_rows(database_url)

    await upgrade_database(database_url)

    store = await open_store(database_url, migrate=False)
    try:
        paper = await store.get_paper("2205.13147")
        assert paper is not None
        assert (paper.title, paper.authors, paper.hf_upvotes, paper.ai_keywords, paper.categories) == (
            "Matryoshka Representation Learning",
            ["Aditya Kusupati", "Gantavya Bhatt"],
            42,
            ["embeddings"],
            ["cs.LG"],
        )
        assert paper.featured_on == date(2026, 11, 24)
        assert paper.updated_at is not None and paper.updated_at.tzinfo is not None
        assert await store.count_papers() == 2
        settings = await store.get_settings(CHANNEL)
        assert settings is not None and (settings.hour, settings.minute, settings.timezone) == (
            7,
            30,
            "Asia/Tokyo",
        )
        assert [t.query for t in await store.list_topics(CHANNEL)] == ["gaussian splatting", "cat:cs.CL"]
        assert await store.vote_counts(["2205.13147"], Workspace("slack", "T1")) == {"2205.13147": 2}
        assert await store.has_vote(Vote("slack", "T1", "U2", "2205.13147"))
        assert await store.has_digest(CHANNEL, date(2026, 11, 25))
        deliveries = await store.deliveries_of(1)
        assert [(d.state, d.message_id) for d in deliveries] == [
            ("posted", "1700000000.000001"),
            ("pending", None),
        ]
        assert await store.paper_for_message(CHANNEL, "1700000000.000002") == "2205.13147"
        assert await store.posted_paper_ids(CHANNEL) >= {"2311.13681"}
        # New rows still get fresh ids after the upgrade.
        await store.add_topic(CHANNEL, "diffusion")
        assert [t.query for t in await store.list_topics(CHANNEL)][-1] == "diffusion"
    finally:
        await store.close()


async def test_every_migration_goes_down_and_up_again(database_url: str) -> None:
    await downgrade_database(database_url, "base")
    for revision in REVISIONS:
        down = SCRIPTS.get_revision(revision).down_revision or "base"
        await upgrade_database(database_url, revision)
        await downgrade_database(database_url, str(down))
        await upgrade_database(database_url, revision)

    engine = create_engine_for(database_url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert names == set(metadata.tables) | {"alembic_version"}


async def _slack_tables_made_by_an_earlier_paperboy(url: str) -> None:
    """What Paperboy before revision 0003 did on its first start with OAuth: slack_sdk created its own tables,
    and a workspace installed the app."""
    engine = create_engine_for(url)
    try:
        installations = SlackInstallations(engine, "1111.2222")
        await installations.installations.create_tables()
        # slack_sdk leaves the OAuth state store's create_tables unannotated.
        await installations.states.create_tables()  # type: ignore[no-untyped-call]
        await installations.installations.async_save(
            Installation(app_id="A1", team_id="T1", bot_token="xoxb-kept-token", bot_id="B1", user_id="U1")
        )
    finally:
        await engine.dispose()


def _differences(connection: Connection) -> list[object]:
    """What autogenerate would change to make the database match the code's tables."""
    return list(
        compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
    )


async def test_slack_tables_an_earlier_version_made_itself_are_kept_with_their_installations(
    database_url: str,
) -> None:
    await downgrade_database(database_url, "base")
    await upgrade_database(database_url, "0002")
    await _slack_tables_made_by_an_earlier_paperboy(database_url)

    await upgrade_database(database_url)

    store = await open_store(database_url, migrate=False)
    try:
        installations = SlackInstallations(store.engine, "1111.2222")
        assert await installations.bot_token("T1") == "xoxb-kept-token"
        async with store.engine.connect() as conn:
            assert await conn.run_sync(_differences) == []
        assert await current_revision(store.engine) == REVISIONS[-1]
    finally:
        await store.close()
