"""Slack installations and OAuth state kept in Paperboy's own database (SQLite or PostgreSQL)."""

from __future__ import annotations

import logging

from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

STATE_EXPIRATION_SECONDS = 600


class SlackInstallations:
    """slack_sdk's SQLAlchemy installation and OAuth state stores, on one engine of our database.

    Their tables (slack_installations, slack_bots, slack_oauth_states) are made by the database's migrations
    (storage/migrations, revision 0003), like every other table, never by these stores at run time.
    """

    def __init__(self, engine: AsyncEngine, client_id: str) -> None:
        self.engine = engine
        self.installations = AsyncSQLAlchemyInstallationStore(client_id=client_id, engine=engine, logger=log)
        self.states = AsyncSQLAlchemyOAuthStateStore(
            expiration_seconds=STATE_EXPIRATION_SECONDS, engine=engine, logger=log
        )

    async def bot_token(self, team_id: str) -> str | None:
        """The latest bot token installed in a workspace, or None when the app is not installed there."""
        bot = await self.installations.async_find_bot(enterprise_id=None, team_id=team_id)
        return bot.bot_token if bot is not None else None

    async def delete_team(self, team_id: str, enterprise_id: str | None = None) -> None:
        """Forget every installation and bot token of a workspace."""
        await self.installations.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)
