"""Slack installations and OAuth state kept in Paperboy's own database (SQLite or PostgreSQL).

The tokens of each installation are encrypted at rest with PAPERBOY_SECRET_KEY (adapters/slack/tokens.py):
slack_sdk's store is wrapped so that it only ever writes encrypted tokens and hands decrypted ones back.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.slack.tokens import NO_KEY, SecretKeyError, TokenSealer, is_sealed, sealer_for

log = logging.getLogger(__name__)

STATE_EXPIRATION_SECONDS = 600
# Every attribute of an installation or a bot that holds a credential.
TOKEN_FIELDS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")

Record = TypeVar("Record", Installation, Bot)


@dataclass(frozen=True, slots=True)
class StoredTokens:
    """What the installation tables hold: tokens in plain text, encrypted and readable, or unreadable."""

    plain: int = 0
    readable: int = 0
    unreadable: int = 0


class SealedInstallationStore(AsyncInstallationStore):
    """slack_sdk's SQL installation store with every token encrypted on save and decrypted on find.

    Without a key (`sealer` None) tokens are saved as they are, as before encryption existed, and a token
    found encrypted is a SecretKeyError rather than a string that Slack would refuse.
    """

    def __init__(self, inner: AsyncSQLAlchemyInstallationStore, sealer: TokenSealer | None) -> None:
        self.inner = inner
        self.sealer = sealer

    @property
    def logger(self) -> logging.Logger:
        """The inner store's logger."""
        return self.inner.logger

    async def create_tables(self) -> None:
        """Let slack_sdk create its tables, as deployments from before the migrations made them."""
        await self.inner.create_tables()  # type: ignore[no-untyped-call]  # slack_sdk leaves it unannotated

    async def async_save(self, installation: Installation) -> None:
        """Save an installation (and its bot), tokens encrypted."""
        await self.inner.async_save(self._sealed(installation))

    async def async_save_bot(self, bot: Bot) -> None:
        """Save a bot installation, tokens encrypted."""
        await self.inner.async_save_bot(self._sealed(bot))

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        """The latest bot installation of a workspace, tokens decrypted."""
        bot = await self.inner.async_find_bot(
            enterprise_id=enterprise_id, team_id=team_id, is_enterprise_install=is_enterprise_install
        )
        return None if bot is None else self._opened(bot)

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        """The latest installation of a workspace (or a user), tokens decrypted."""
        installation = await self.inner.async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )
        return None if installation is None else self._opened(installation)

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget a workspace's bot installations."""
        await self.inner.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        """Forget a workspace's (or a user's) installations."""
        await self.inner.async_delete_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget everything installed in a workspace."""
        await self.inner.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)

    def _sealed(self, record: Record) -> Record:
        # A copy: the caller (Bolt's OAuth flow) goes on using its own record, with the token it can use.
        if self.sealer is None:
            return record
        sealed = copy.copy(record)
        for name in TOKEN_FIELDS:
            value = getattr(sealed, name, None)
            if value:
                setattr(sealed, name, self.sealer.seal(value))
        return sealed

    def _opened(self, record: Record) -> Record:
        for name in TOKEN_FIELDS:
            value = getattr(record, name, None)
            if value:
                setattr(record, name, self.open(value))
        return record

    def open(self, stored: str) -> str:
        """The token a stored value holds; SecretKeyError when it cannot be decrypted with the keys set."""
        if self.sealer is not None:
            return self.sealer.open(stored)
        if is_sealed(stored):
            raise SecretKeyError(NO_KEY)
        return stored


class SlackInstallations:
    """slack_sdk's SQLAlchemy installation and OAuth state stores, on one engine of our database.

    Their tables (slack_installations, slack_bots, slack_oauth_states) are made by the database's migrations
    (storage/migrations, revision 0003), like every other table, never by these stores at run time.
    """

    def __init__(self, engine: AsyncEngine, client_id: str, sealer: TokenSealer | None = None) -> None:
        self.engine = engine
        self.tables = AsyncSQLAlchemyInstallationStore(client_id=client_id, engine=engine, logger=log)
        self.installations = SealedInstallationStore(self.tables, sealer)
        self.states = AsyncSQLAlchemyOAuthStateStore(
            expiration_seconds=STATE_EXPIRATION_SECONDS, engine=engine, logger=log
        )

    @property
    def sealer(self) -> TokenSealer | None:
        """What encrypts the tokens, or None when PAPERBOY_SECRET_KEY is not set."""
        return self.installations.sealer

    async def bot_token(self, team_id: str) -> str | None:
        """The latest bot token installed in a workspace, or None when the app is not installed there."""
        bot = await self.installations.async_find_bot(enterprise_id=None, team_id=team_id)
        return bot.bot_token if bot is not None else None

    async def delete_team(self, team_id: str, enterprise_id: str | None = None) -> None:
        """Forget every installation and bot token of a workspace."""
        await self.installations.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)

    def _token_tables(self) -> list[tuple[Table, list[str]]]:
        """Each installation table with its token columns."""
        tables = (self.tables.installations, self.tables.bots)
        return [(table, [name for name in TOKEN_FIELDS if name in table.c]) for table in tables]

    async def stored_tokens(self) -> StoredTokens:
        """Count the stored tokens: in plain text, readable with the keys set, and unreadable."""
        plain = readable = unreadable = 0
        async with self.engine.connect() as conn:
            for table, columns in self._token_tables():
                rows = (await conn.execute(select(*(table.c[name] for name in columns)))).all()
                for value in (value for row in rows for value in row if value):
                    if not is_sealed(value):
                        plain += 1
                    elif self.sealer is not None and self.sealer.readable(value):
                        readable += 1
                    else:
                        unreadable += 1
        return StoredTokens(plain, readable, unreadable)

    async def seal_stored_tokens(self) -> int:
        """Encrypt every token stored in plain text or with an older key; return how many were rewritten.

        SecretKeyError when a stored token cannot be decrypted with the keys set (nothing is changed then).
        """
        if self.sealer is None:
            return 0
        sqlite = self.engine.dialect.name == "sqlite"
        async with self.engine.connect() as conn:
            if sqlite:
                # Overwritten values are zeroed, or the plain tokens' bytes would stay in the file's free space.
                await conn.exec_driver_sql("PRAGMA secure_delete=ON")
                await conn.commit()
            try:
                async with conn.begin():
                    rewritten = await self._reseal(conn, self.sealer)
            finally:
                if sqlite:
                    await conn.exec_driver_sql("PRAGMA secure_delete=OFF")
                    await conn.commit()
        if rewritten:
            await self._drop_old_copies()
        return rewritten

    async def _reseal(self, conn: AsyncConnection, sealer: TokenSealer) -> int:
        """Rewrite each token that is in plain text or under an older key; return how many were."""
        rewritten = 0
        for table, columns in self._token_tables():
            rows = await conn.execute(select(table.c.id, *(table.c[name] for name in columns)))
            for row in rows.mappings().all():
                changes = {name: new for name in columns if row[name] and (new := sealer.resealed(row[name]))}
                if not changes:
                    continue
                # Only where the row still holds what was read: a token saved meanwhile is not overwritten.
                unchanged = [table.c[name] == row[name] for name in changes]
                await conn.execute(update(table).where(table.c.id == row["id"], *unchanged).values(changes))
                rewritten += len(changes)
        return rewritten

    async def _drop_old_copies(self) -> None:
        """Leave no earlier copy of a rewritten token in the database's files, as far as the database allows.

        SQLite keeps old pages in its write-ahead log until a checkpoint; PostgreSQL keeps old row versions
        until a vacuum. Both tables are small, so either costs next to nothing, once, when tokens changed.
        """
        try:
            async with self.engine.connect() as conn:
                autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
                if self.engine.dialect.name == "sqlite":
                    await autocommit.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                elif self.engine.dialect.name == "postgresql":
                    for table, _columns in self._token_tables():
                        await autocommit.exec_driver_sql(f'VACUUM FULL "{table.name}"')
        except Exception as error:  # the tokens are encrypted already; this only tidies up after them
            log.warning("could not remove the old copies of the re-encrypted Slack tokens: %s", error)


async def open_installations(
    engine: AsyncEngine, client_id: str, secret_keys: Sequence[str] = ()
) -> SlackInstallations:
    """The installations of an OAuth app, every stored token encrypted with the first key (when keys are set).

    Tokens stored before a key was set, or with an older key, are encrypted again here, at start; a token
    that the keys set cannot decrypt is a SecretKeyError, one sentence, before anything is served.
    """
    installations = SlackInstallations(engine, client_id, sealer_for(secret_keys))
    if installations.sealer is None:
        stored = await installations.stored_tokens()
        if stored.readable or stored.unreadable:
            raise SecretKeyError(NO_KEY)
        if stored.plain:
            log.warning(
                "%d Slack tokens are stored unencrypted in the database; set PAPERBOY_SECRET_KEY to encrypt "
                "them (deploy/slack.md)",
                stored.plain,
            )
        return installations
    rewritten = await installations.seal_stored_tokens()
    if rewritten:
        log.info("encrypted %d stored Slack tokens with the first PAPERBOY_SECRET_KEY", rewritten)
    return installations
