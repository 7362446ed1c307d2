"""Posts digests to Discord: a parent message and a thread in text channels, one post a day in forums, and a
person's own digest in their direct messages (a heading, then one message per paper with its buttons)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from datetime import datetime
from typing import Any, TypeGuard

import discord

from adapters.discord.render import (
    digest_paper_message,
    digest_parent_embed,
    digest_thread_name,
    paper_card_message,
)
from bot.domain import ChannelRef, Delivery, DigestPlan, ScoredPaper
from bot.ports import MessageBook
from bot.services.publishing import ChannelUnavailable as CoreChannelUnavailable

log = logging.getLogger(__name__)

THREAD_ALREADY_CREATED = 160004  # Discord's error code: this message already has a thread
UNKNOWN_CHANNEL = 10003
# Discord's answers when the bot may not write to a person: DMs from server members off, or the bot blocked
# ("Cannot send messages to this user"); an account Discord does not know, or cannot open a DM with.
CANNOT_DM = 50007
UNKNOWN_USER = 10013
INVALID_RECIPIENTS = 50033
NO_SUCH_PERSON = (UNKNOWN_USER, INVALID_RECIPIENTS)
THREAD_ARCHIVE_MINUTES = 1440
NONCE_LENGTH = 25  # Discord accepts nonces of at most 25 characters
LOOKUP_LIMIT = 30  # messages read when checking for an earlier post (a digest has at most 26)

NEEDED_PERMISSIONS = (
    "View Channel, Send Messages, Embed Links, Create Public Threads and Send Messages in Threads"
)


class ChannelUnavailable(CoreChannelUnavailable):
    """Posting to a channel failed in a way that will not pass by itself (the core pauses it)."""


def delivery_nonce(delivery: Delivery) -> str:
    """A nonce that is the same for every attempt at one delivery, so Discord posts it at most once."""
    seed = f"{delivery.id}:{delivery.digest_id}:{delivery.channel}:{delivery.local_date}:{delivery.position}"
    return "pb" + hashlib.sha256(seed.encode()).hexdigest()[: NONCE_LENGTH - 2]


def forbidden_reason(error: discord.HTTPException) -> str:
    """The pause reason for a channel the bot may no longer post to."""
    said = error.text or "Missing Permissions"
    return (
        f"I may not post in this channel (Discord said: {said}). Give me {NEEDED_PERMISSIONS}, "
        "then resume with /papers schedule state:on."
    )


GONE_REASON = "The channel was deleted or I can no longer see it; the digest is paused."


def dm_refused_reason(error: discord.HTTPException) -> str:
    """The pause reason of a person's digest when Discord refuses to let the bot write to them.

    One sentence for the person, shown by their next `/papers me topics` or `schedule` in the server.
    """
    if error.code in NO_SUCH_PERSON or isinstance(error, discord.NotFound):
        return (
            "I could not find your Discord account to send you your digest (Discord said: "
            f"{error.text or 'Unknown User'}); if you still use it, then write /papers me schedule on"
        )
    said = error.text or "Cannot send messages to this user"
    return (
        f"I cannot send you direct messages (Discord said: {said}): allow direct messages from this server's "
        "members (the server's Privacy Settings) and do not block me, then write /papers me schedule on"
    )


class DiscordPublisher:
    """The DigestPublisher for Discord: each call posts one message and returns its id."""

    def __init__(
        self, client: discord.Client, messages: MessageBook, *, seed_emoji: str | None = "👍"
    ) -> None:
        self._client = client
        self._messages = messages
        self._seed_emoji = seed_emoji
        # A person's DM channel with the bot, by user id: opened once per process (POST /users/@me/channels),
        # so a DM digest costs one request a message, like a channel's, under Discord's 50 a second.
        self._dm_channels: dict[int, int] = {}

    async def post_card(self, channel: ChannelRef, item: ScoredPaper) -> str:
        """Post one paper's card for the whole channel ("Share in channel"); return the message id."""
        target = await self._channel(channel)
        async with self._refusing(channel, is_channel=True):
            message = await target.send(**paper_card_message(item).send_kwargs())
        await self._seed_reaction(message, channel)
        return str(message.id)

    async def _seed_reaction(self, message: discord.Message, where: ChannelRef) -> None:
        if self._seed_emoji:
            try:
                await message.add_reaction(self._seed_emoji)
            except discord.HTTPException:
                log.info("could not add the vote reaction in %s", where)

    async def post_parent(self, plan: DigestPlan, delivery: Delivery) -> str:
        """Post the digest's parent (a message with a thread, or a forum post); return the thread's id.

        A person's own digest starts with a heading in their DMs, whose id stands for the thread.
        """
        if plan.channel.is_person:
            dm = await self._channel(plan.channel)
            embed = digest_parent_embed(plan, server=self._server_name(plan.channel))
            async with self._refusing(plan.channel, is_channel=True):
                sent = await dm.send(embed=embed, nonce=delivery_nonce(delivery))
            return str(sent.id)
        channel = await self._channel(plan.channel)
        name = digest_thread_name(plan)
        embed = digest_parent_embed(plan)
        async with self._refusing(plan.channel, is_channel=True):
            if isinstance(channel, discord.ForumChannel):
                existing = self._own_post(channel, name)
                if existing is not None:
                    # A retry after the post was made but before it was recorded; forum posts take no nonce.
                    return str(existing.id)
                created = await channel.create_thread(name=name, embed=embed)
                return str(created.thread.id)
            message = await channel.send(embed=embed, nonce=delivery_nonce(delivery))
            # A weekly recap of one paper is that one message: nothing follows in a thread.
            if isinstance(channel, discord.TextChannel) and plan.threaded:
                try:
                    await message.create_thread(name=name, auto_archive_duration=THREAD_ARCHIVE_MINUTES)
                except discord.HTTPException as error:
                    # A retried parent (same nonce, same message) already has its thread: carry on in it.
                    if error.code != THREAD_ALREADY_CREATED:
                        raise
            return str(message.id)

    async def post_paper(
        self, plan: DigestPlan, delivery: Delivery, item: ScoredPaper, thread_id: str
    ) -> str:
        """Post one paper in the digest's thread; return the message id, remembered for reaction votes.

        In a person's DMs the paper's buttons name the server (votes count there); reactions in DMs are not
        votes (that would need another intent), so the message is not remembered nor seeded with 👍.
        """
        if plan.channel.is_person:
            dm = await self._channel(plan.channel)
            personal = digest_paper_message(item, delivery.position, guild=plan.channel.workspace)
            async with self._refusing(plan.channel, is_channel=True):
                sent = await dm.send(**personal.send_kwargs(), nonce=delivery_nonce(delivery))
            return str(sent.id)
        channel = await self._channel(plan.channel)
        target: discord.abc.Messageable
        if isinstance(channel, discord.TextChannel | discord.ForumChannel):
            # A thread started from a message (or a forum post) has the same id as its first message.
            target = self._client.get_partial_messageable(
                int(thread_id), guild_id=int(plan.channel.workspace), type=discord.ChannelType.public_thread
            )
        else:
            target = channel
        rendered = digest_paper_message(item, delivery.position)
        async with self._refusing(plan.channel, is_channel=target is channel):
            message = await target.send(**rendered.send_kwargs(), nonce=delivery_nonce(delivery))
        # Reactions arrive with the id of the channel the message is in (the thread): remember it there.
        where = ChannelRef("discord", plan.channel.workspace, str(message.channel.id))
        await self._messages.remember_message(where, str(message.id), item.paper.arxiv_id)
        await self._seed_reaction(message, where)
        return str(message.id)

    async def find_posted(
        self,
        plan: DigestPlan,
        delivery: Delivery,
        thread_id: str | None,
        *,
        after: str | None = None,
        since: datetime | None = None,
    ) -> str | None:
        """The id of a message an earlier attempt posted for this delivery, or None.

        The nonce makes Discord return the first message for a repeat within a few minutes; this covers a
        retry after longer (a crashed replica's lease ran out): it reads the thread (the channel, for the
        parent) after the last message known to be posted, for one of ours that shows this delivery.
        `since` (when the digest started) is part of the port; this look-up does not use it yet.
        """
        channel = await self._channel(plan.channel)
        if delivery.is_parent and isinstance(channel, discord.ForumChannel):
            existing = self._own_post(channel, digest_thread_name(plan))
            return str(existing.id) if existing is not None else None
        where: Any = channel
        if (
            not delivery.is_parent
            and thread_id is not None
            and isinstance(channel, discord.TextChannel | discord.ForumChannel)
        ):
            where = self._client.get_partial_messageable(
                int(thread_id), guild_id=int(plan.channel.workspace), type=discord.ChannelType.public_thread
            )
        found = None
        async with self._refusing(plan.channel, is_channel=where is channel):
            start = discord.Object(int(after)) if after else None
            async for message in where.history(limit=LOOKUP_LIMIT, after=start):
                if self._shows(message, plan, delivery):
                    found = message
                    break
        if found is None:
            return None
        if delivery.is_parent:
            if isinstance(channel, discord.TextChannel) and plan.threaded:
                # The crash may have come between the message and its thread.
                try:
                    await found.create_thread(
                        name=digest_thread_name(plan), auto_archive_duration=THREAD_ARCHIVE_MINUTES
                    )
                except discord.HTTPException as error:
                    if error.code != THREAD_ALREADY_CREATED:
                        raise
        elif delivery.arxiv_id is not None and not plan.channel.is_person:
            where_ref = ChannelRef("discord", plan.channel.workspace, str(found.channel.id))
            await self._messages.remember_message(where_ref, str(found.id), delivery.arxiv_id)
            if self._seed_emoji:
                with contextlib.suppress(discord.HTTPException):
                    await found.add_reaction(self._seed_emoji)
        return str(found.id)

    def _shows(self, message: discord.Message, plan: DigestPlan, delivery: Delivery) -> bool:
        """True when a message is ours and was posted for this delivery (same nonce, or the same embed)."""
        me = self._client.user
        if me is None or message.author.id != me.id:
            return False
        if message.nonce is not None and str(message.nonce) == delivery_nonce(delivery):
            return True
        embed = message.embeds[0] if message.embeds else None
        if embed is None:
            return False
        if delivery.is_parent:
            return embed.title == digest_parent_embed(plan).title
        return bool(
            delivery.arxiv_id
            and delivery.arxiv_id in (embed.url or "")
            and (embed.title or "").startswith(f"{delivery.position}. ")
        )

    async def _channel(self, ref: ChannelRef) -> Any:
        """The channel a digest goes to, from the cache or (after a restart) from Discord."""
        if ref.is_person:
            return await self._dm_channel(ref)
        channel_id = int(ref.channel)
        channel = self._client.get_channel(channel_id)
        if channel is not None:
            return channel
        async with self._refusing(ref, is_channel=True):
            return await self._client.fetch_channel(channel_id)

    async def _dm_channel(self, person: ChannelRef) -> discord.PartialMessageable:
        """A person's DM channel with the bot, opened once per process (one request, no look-up of the user)."""
        user_id = int(person.user or "0")
        channel_id = self._dm_channels.get(user_id)
        if channel_id is None:
            async with self._refusing(person, is_channel=True):
                channel_id = (await self._client.create_dm(discord.Object(user_id))).id
            self._dm_channels[user_id] = channel_id
        return self._client.get_partial_messageable(channel_id, type=discord.ChannelType.private)

    def _server_name(self, ref: ChannelRef) -> str | None:
        guild = self._client.get_guild(int(ref.workspace)) if ref.workspace.isdigit() else None
        return guild.name if guild is not None else None

    def _own_post(self, forum: discord.ForumChannel, name: str) -> discord.Thread | None:
        me = self._client.user
        for thread in forum.threads:
            if thread.name == name and me is not None and thread.owner_id == me.id:
                return thread
        return None

    def _refusing(self, ref: ChannelRef, *, is_channel: bool) -> _Refusal:
        return _Refusal(ref, is_channel)


def _refuses_a_person(error: BaseException | None) -> TypeGuard[discord.HTTPException]:
    """True when Discord will not let the bot write to a person (not a passing failure)."""
    if isinstance(error, discord.Forbidden | discord.NotFound):
        return True
    return isinstance(error, discord.HTTPException) and error.code in (CANNOT_DM, *NO_SUCH_PERSON)


class _Refusal:
    """Turn Discord's "you may not post here" or "the channel is gone" into ChannelUnavailable."""

    def __init__(self, ref: ChannelRef, is_channel: bool) -> None:
        self._ref = ref
        self._is_channel = is_channel

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: Any) -> None:
        if self._ref.is_person and _refuses_a_person(error):
            reason = dm_refused_reason(error)
        elif isinstance(error, discord.Forbidden):
            reason = forbidden_reason(error)
        elif isinstance(error, discord.NotFound) and self._is_channel:
            reason = GONE_REASON
        else:
            return
        log.warning("Discord refused %s: %s", self._ref, reason)
        raise ChannelUnavailable(reason) from error
