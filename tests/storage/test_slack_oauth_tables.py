"""Slack's OAuth tables come from the migrations: exactly as the installed slack_sdk defines them, and its stores
save and find installations and OAuth states in them, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import Connection, MetaData

from adapters.slack.installations import SlackInstallations
from storage.sql.engine import create_engine_for
from storage.sql.migrate import upgrade_database
from storage.sql.store import SqlStore

SLACK_TABLES = {"slack_installations", "slack_bots", "slack_oauth_states"}


def _slack_sdk_metadata() -> MetaData:
    """The three tables as slack_sdk itself builds them (what its `create_tables` would make)."""
    metadata = MetaData()
    AsyncSQLAlchemyInstallationStore.build_installations_table(
        metadata, AsyncSQLAlchemyInstallationStore.default_installations_table_name
    )
    AsyncSQLAlchemyInstallationStore.build_bots_table(
        metadata, AsyncSQLAlchemyInstallationStore.default_bots_table_name
    )
    AsyncSQLAlchemyOAuthStateStore.build_oauth_states_table(
        metadata, AsyncSQLAlchemyOAuthStateStore.default_table_name
    )
    return metadata


def _differences_from_slack_sdk(connection: Connection) -> list[object]:
    """What autogenerate would change in the Slack tables to match slack_sdk's own definitions."""
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            # Paperboy's own tables are not slack_sdk's business.
            "include_name": lambda name, kind, _parent: kind != "table" or name in SLACK_TABLES,
        },
    )
    return list(compare_metadata(context, _slack_sdk_metadata()))


def test_slack_sdk_still_defines_the_tables_paperboy_declares() -> None:
    assert set(_slack_sdk_metadata().tables) == SLACK_TABLES


async def test_the_migrated_slack_tables_are_exactly_those_of_the_installed_slack_sdk(
    database_url: str,
) -> None:
    await upgrade_database(database_url)

    engine = create_engine_for(database_url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences_from_slack_sdk)
    finally:
        await engine.dispose()

    assert differences == []


async def test_a_migrated_database_saves_and_finds_an_installation(store: SqlStore) -> None:
    installations = SlackInstallations(store.engine, "1111.2222")

    await installations.installations.async_save(
        Installation(
            app_id="A1",
            team_id="T1",
            team_name="Lab",
            bot_token="xoxb-installed-token",
            bot_id="B1",
            bot_user_id="UBOT",
            bot_scopes="commands,chat:write",
            user_id="UINSTALLER",
            installed_at=1_768_469_400.0,
        )
    )

    found = await installations.installations.async_find_installation(enterprise_id=None, team_id="T1")
    assert found is not None
    assert (found.team_name, found.bot_token, found.user_id) == ("Lab", "xoxb-installed-token", "UINSTALLER")
    assert await installations.bot_token("T1") == "xoxb-installed-token"
    assert await installations.bot_token("T2") is None

    await installations.delete_team("T1")
    assert await installations.bot_token("T1") is None


async def test_a_migrated_database_keeps_an_oauth_state_until_it_is_used_once(store: SqlStore) -> None:
    states = SlackInstallations(store.engine, "1111.2222").states

    state = await states.async_issue()

    assert await states.async_consume(state) is True
    assert await states.async_consume(state) is False
