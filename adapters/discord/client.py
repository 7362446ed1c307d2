"""The Discord client: minimal intents, mentions off, `/papers` and "Paper card", reaction votes, buttons in
servers and in direct messages, guild and member life cycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from adapters.discord.commands import PapersGroup, answer, on_command_error
from adapters.discord.config import (
    DEFAULT_VOTE_EMOJIS,
    DiscordConfigError,
    ShardPlan,
    member_events_allowed,
    minimal_intents,
    point_discord_at,
    shard_plan,
    vote_emojis,
)
from adapters.discord.link_cards import paper_card_menu
from adapters.discord.publisher import GONE_REASON, DiscordPublisher
from adapters.discord.views import ShareButton, SimilarButton, UpvoteButton
from adapters.settings import Settings
from bot.commands import ChannelGone, Command, CommandContext, ForgetWorkspace, PersonGone, ReactionVote
from bot.core import Paperboy
from bot.domain import ChannelRef
from bot.ports import MessageBook

log = logging.getLogger(__name__)

VARIATION_SELECTOR = "\ufe0f"
BUTTONS_IN_A_SERVER = "Paperboy's buttons work inside a server."
LEFT_THE_SERVER = (
    "You are no longer a member of the server this digest came from, so your vote cannot count there."
)


def _emoji_key(text: str) -> str:
    # Discord sends ⬆️ with or without the variation selector; compare without it.
    return text.replace(VARIATION_SELECTOR, "")


def _shard_options(shards: ShardPlan) -> dict[str, Any]:
    options: dict[str, Any] = {"shard_count": shards.shard_count}
    if shards.shard_ids is not None:
        options["shard_ids"] = list(shards.shard_ids)
    return options


class PaperboyDiscord(discord.AutoShardedClient):
    """Paperboy on Discord: one client (all or some shards), with the core behind every event.

    Built before the core (its publisher is one of the core's), it only posts until `serve(core)` gives it
    the core to answer commands, buttons and events with.
    """

    def __init__(
        self,
        messages: MessageBook,
        *,
        shards: ShardPlan | None = None,
        vote_emojis: Sequence[str] = DEFAULT_VOTE_EMOJIS,
        guild_ready_timeout: float = 2.0,
        member_events: bool = False,
    ) -> None:
        shards = shards or ShardPlan()
        intents = minimal_intents(members=member_events)
        self.member_events = member_events
        super().__init__(
            intents=intents,
            # Titles and abstracts come from outside: nothing the bot posts may ping anyone.
            allowed_mentions=discord.AllowedMentions.none(),
            **_shard_options(shards),
            max_messages=None,
            chunk_guilds_at_startup=False,
            # No member is kept in memory, even with the members intent: its events are handled as they come.
            member_cache_flags=discord.MemberCacheFlags.none(),
            guild_ready_timeout=guild_ready_timeout,
        )
        self._core: Paperboy | None = None
        self.vote_emojis = frozenset(_emoji_key(e) for e in vote_emojis)
        # The reaction the bot adds to what it posts (digest papers, shared cards, Paper card answers).
        self.seed_emoji = vote_emojis[0] if vote_emojis else None
        self.publisher = DiscordPublisher(self, messages, seed_emoji=self.seed_emoji)
        self.tree: app_commands.CommandTree[PaperboyDiscord] = app_commands.CommandTree(self)
        self.tree.error(on_command_error)

    def serve(self, core: Paperboy) -> None:
        """Answer `/papers`, "Paper card", buttons, reactions and guild events with the core (before connecting)."""
        self._core = core
        self.tree.add_command(PapersGroup(core))
        self.tree.add_command(paper_card_menu(core, seed_emoji=self.seed_emoji))

    @property
    def paperboy(self) -> Paperboy:
        """The core this client serves; only a serving client receives interactions and events."""
        if self._core is None:
            raise RuntimeError("this Discord client posts only; call serve(core) before connecting")
        return self._core

    async def setup_hook(self) -> None:
        """Register the persistent buttons once, at login."""
        self.add_dynamic_items(UpvoteButton, SimilarButton, ShareButton)

    async def press(
        self, interaction: discord.Interaction[Any], command: Command, *, guild: str | None = None
    ) -> None:
        """A pressed button: run its command through the core and answer the presser.

        A button in a direct message (a person's own digest) carries no guild in its interaction; it names
        the server it belongs to (`guild`), and counts there only while the presser is still a member of it.
        """
        if interaction.guild_id is not None:
            await answer(self.paperboy, interaction, command)
            return
        if guild is None:
            await interaction.response.send_message(BUTTONS_IN_A_SERVER, ephemeral=True)
            return
        if not await self._is_member(int(guild), interaction.user.id):
            await interaction.response.send_message(LEFT_THE_SERVER, ephemeral=True)
            return
        user = str(interaction.user.id)
        ctx = CommandContext(ChannelRef.person("discord", guild, user), user, can_manage=False)
        await answer(self.paperboy, interaction, command, ctx=ctx)

    async def _is_member(self, guild_id: int, user_id: int) -> bool:
        """Whether a user is still in a server (one REST call, GET /guilds/{id}/members/{user}; no intent)."""
        try:
            await self.http.get_member(guild_id, user_id)
        except (discord.NotFound, discord.Forbidden):
            # Unknown member, or a server the bot left: either way nothing of it may change from here.
            return False
        return True

    async def _event(self, channel: ChannelRef, user: str, command: Command) -> None:
        """A platform event, through the core's dispatcher like every command."""
        await self.paperboy.execute(CommandContext(channel=channel, user=user), command)

    # ----- guild life cycle -----

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """A new guild gets the commands at once (unless they are already global)."""
        await self.sync_guild(guild)

    async def sync_guild(self, guild: discord.abc.Snowflake) -> bool:
        """Copy the commands to one guild, where they show at once; False when global ones serve it."""
        try:
            if any(command.name == "papers" for command in await self.tree.fetch_commands()):
                return False
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
            return True
        except discord.HTTPException:
            log.exception("could not sync commands to guild %s", guild.id)
            return False
        finally:
            # Interactions fall back to the global definitions; no need to keep a copy per guild in memory.
            self.tree.clear_commands(guild=guild)

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Removed from a guild: forget its channels, topics, votes and deliveries."""
        await self._event(ChannelRef("discord", str(guild.id), ""), "", ForgetWorkspace())

    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """A person left a server: forget their data there (comes only with the Server Members Intent).

        A person's data is per server: leaving one forgets what they had there, and nothing elsewhere.
        """
        if payload.user.bot:
            return
        user = str(payload.user.id)
        person = ChannelRef.person("discord", str(payload.guild_id), user)
        await self._event(person, user, PersonGone())

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        """A deleted channel's digest is paused (the other channels go on)."""
        ref = ChannelRef("discord", str(channel.guild.id), str(channel.id))
        await self._event(ref, "", ChannelGone(GONE_REASON))

    # ----- votes by reaction -----

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        """A vote emoji on one of the bot's paper messages casts a vote."""
        await self._reaction_vote(payload, cast=True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        """Removing it takes the vote back."""
        await self._reaction_vote(payload, cast=False)

    async def _reaction_vote(self, payload: discord.RawReactionActionEvent, *, cast: bool) -> None:
        if payload.guild_id is None or _emoji_key(str(payload.emoji)) not in self.vote_emojis:
            return
        if self.user is not None and payload.user_id == self.user.id:
            return  # the bot's own reaction invites votes; it is not one
        if payload.member is not None and payload.member.bot:
            return
        channel = ChannelRef("discord", str(payload.guild_id), str(payload.channel_id))
        await self._event(channel, str(payload.user_id), ReactionVote(str(payload.message_id), cast))


class DiscordRunner:
    """A running Discord client, as `paperboy run` holds it."""

    def __init__(self, client: PaperboyDiscord, task: asyncio.Task[None]) -> None:
        self.client = client
        self.task = task

    async def wait_until_ready(self, limit: float | None = None) -> None:
        """Wait until every shard of this replica is connected and has its guilds."""
        ready = asyncio.ensure_future(self.client.wait_until_ready())
        done, _ = await asyncio.wait({ready, self.task}, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
        if self.task in done:
            ready.cancel()
            self.task.result()  # raises what stopped the client
            raise ConnectionError("The Discord client stopped before it was ready.")
        if ready not in done:
            ready.cancel()
            raise TimeoutError("Discord did not get ready in time.")

    async def wait(self) -> None:
        """Wait until the client stops; raise what stopped it, if anything."""
        await self.task

    async def stop(self) -> None:
        """Close the gateway connections and the HTTP session."""
        await self.client.close()
        with contextlib.suppress(asyncio.CancelledError, discord.ConnectionClosed):
            await self.task


async def _use_gateway_from_api(client: discord.Client) -> None:
    # No DISCORD_GATEWAY_URL: connect where GET /gateway/bot says (Discord's advice, and what a fake or proxy
    # at DISCORD_API_URL answers), including after an invalidated session.
    _shards, url, _limits = await client.http.get_bot_gateway()
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)


async def login_discord(settings: Settings, messages: MessageBook, **client_options: Any) -> PaperboyDiscord:
    """The one Discord login: check the token, log in over REST (failing fast on a bad token), find the gateway.

    The client can post (its publisher) at once; `serve_discord` connects it to the gateway to answer.
    """
    if settings.discord_token is None or not settings.discord_token.get_secret_value().strip():
        raise DiscordConfigError("Set DISCORD_TOKEN to the bot token from the Discord developer portal.")
    plan = shard_plan(settings.discord_shard_count, settings.discord_shard_ids)
    point_discord_at(settings.discord_api_url, settings.discord_gateway_url)
    client_options.setdefault("vote_emojis", vote_emojis(settings.discord_vote_emojis))
    client = PaperboyDiscord(messages, shards=plan, **client_options)
    try:
        await client.login(settings.discord_token.get_secret_value())
        if member_events_allowed(client.application_flags) and not client.member_events:
            # The portal has the Server Members Intent on: ask for it, so that a person who leaves a server is
            # forgotten there. Intents are fixed when a client is made (and login tells the flags): make it again.
            await client.close()
            client = PaperboyDiscord(messages, shards=plan, member_events=True, **client_options)
            await client.login(settings.discord_token.get_secret_value())
        log.info(
            "Discord member events are %s",
            "on: a person who leaves a server is forgotten there"
            if client.member_events
            else "off (the Server Members Intent is not enabled): /papers me forget still works",
        )
        if settings.discord_gateway_url is None:
            await _use_gateway_from_api(client)
    except discord.LoginFailure:
        await client.close()
        raise DiscordConfigError(
            "Discord refused DISCORD_TOKEN; copy the bot token again from the portal."
        ) from None
    except BaseException:
        await client.close()
        raise
    return client


def serve_discord(client: PaperboyDiscord, core: Paperboy) -> DiscordRunner:
    """Connect a logged-in client to the gateway in the background, answering with the core."""
    client.serve(core)
    task = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
    return DiscordRunner(client, task)
