"""Posting to Slack channels: digest messages (parent, then one reply per paper), paced per channel."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import (
    DIGEST_EVENT_TYPE,
    DIGEST_ITEM_EVENT_TYPE,
    SlackMessage,
    digest_paper_message,
    digest_parent_message,
    paper_message,
)
from adapters.slack.runtime import slack_error
from bot.domain import ChannelRef, Delivery, DigestPlan, ScoredPaper
from bot.services.publishing import ChannelUnavailable as CoreChannelUnavailable
from bot.services.publishing import PublishError

log = logging.getLogger(__name__)

TokenLookup = Callable[[str], Awaitable[str | None]]
"""Finds the bot token of a Slack workspace (team id); None when the app is not installed there."""

"""Called with a reason when a channel can no longer be posted to (the core pauses it)."""

_REINSTALL = "reinstall Paperboy in this workspace, then run /papers schedule on."
# Slack errors that will not go away by retrying: the channel is paused with a reason people can act on.
CHANNEL_GONE_REASONS: dict[str, str] = {
    "not_in_channel": "Paperboy is not a member of this channel; invite it with /invite @Paperboy, "
    "then run /papers schedule on.",
    "channel_not_found": "Slack says this channel does not exist or Paperboy cannot see it; invite Paperboy "
    "to it, then run /papers schedule on.",
    "is_archived": "This channel is archived; unarchive it, then run /papers schedule on.",
    "invalid_auth": "Paperboy's access to this workspace is no longer valid; " + _REINSTALL,
    "not_authed": "Paperboy has no access to this workspace; " + _REINSTALL,
    "token_revoked": "Paperboy's access to this workspace was revoked; " + _REINSTALL,
    "token_expired": "Paperboy's access to this workspace expired; " + _REINSTALL,
    "account_inactive": "Paperboy's access to this workspace was revoked; " + _REINSTALL,
    "no_installation": "Paperboy is not installed in this workspace; " + _REINSTALL,
    "missing_scope": "Paperboy lacks the permission to post here; " + _REINSTALL,
    "restricted_action": "This workspace does not let Paperboy post in this channel; ask an admin, "
    "then run /papers schedule on.",
    "ekm_access_denied": "This workspace's key management denies Paperboy access; ask an admin, "
    "then run /papers schedule on.",
    "team_access_not_granted": "Paperboy has no access to this channel's workspace; " + _REINSTALL,
}


# Apps outside the Marketplace may read at most 15 messages per conversations.* call, about once a minute:
# the look-up after a crash reads one such page, starting after the last message known to be posted.
LOOKUP_PAGE = 15
LOOKUP_PAGES = 3
# Without a history scope Slack cannot show the thread; the message is then posted again rather than lost.
_NO_HISTORY = ("missing_scope", "not_allowed_token_type")


def names_delivery(message: dict[str, Any], delivery: Delivery) -> bool:
    """True when a Slack message's metadata says it was posted for this delivery."""
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    return metadata.get("event_type") in (DIGEST_EVENT_TYPE, DIGEST_ITEM_EVENT_TYPE) and str(
        payload.get("delivery_id")
    ) == str(delivery.id)


def _day_before(day: date) -> str:
    """A Slack `oldest` timestamp: midnight UTC the day before a local date (no zone is further ahead)."""
    moment = datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return f"{moment.timestamp():.6f}"


class SlackPostError(PublishError):
    """A message could not be posted (after slack_sdk's own retries); the reason is one sentence."""


class ChannelUnavailable(SlackPostError, CoreChannelUnavailable):
    """The channel cannot be posted to until someone acts (invite, unarchive, reinstall); it was paused."""


class ChannelPacer:
    """Spaces posts to one channel about a second apart, as Slack asks; other channels never wait for it."""

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}

    @asynccontextmanager
    async def turn(self, channel: ChannelRef) -> AsyncIterator[None]:
        """Wait for this channel's turn; the next post to it waits `interval` after this one ends."""
        key = str(channel)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            wait = self._last.get(key, 0.0) + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                self._last[key] = time.monotonic()


class SlackPublisher:
    """The core's DigestPublisher for Slack: each call posts one message and returns its `ts`."""

    def __init__(
        self,
        client: AsyncWebClient,
        tokens: TokenLookup,
        *,
        pacer: ChannelPacer | None = None,
        vote_emoji: str = "+1",
    ) -> None:
        self._client = client
        self._tokens = tokens
        self.pacer = pacer or ChannelPacer()
        self._vote_emoji = vote_emoji

    async def post_parent(self, plan: DigestPlan, delivery: Delivery) -> str:
        """Post the digest's parent message; return its ts (the thread the papers go in)."""
        metadata = {
            "event_type": DIGEST_EVENT_TYPE,
            "event_payload": {
                "digest_id": delivery.digest_id,
                "delivery_id": delivery.id,
                "local_date": plan.local_date.isoformat(),
                "papers": len(plan.papers),
            },
        }
        return await self.post(plan.channel, digest_parent_message(plan, self._vote_emoji), metadata=metadata)

    async def post_paper(
        self, plan: DigestPlan, delivery: Delivery, item: ScoredPaper, thread_id: str
    ) -> str:
        """Post one paper as a reply in the digest's thread, with metadata naming the paper; return its ts."""
        metadata = {
            "event_type": DIGEST_ITEM_EVENT_TYPE,
            "event_payload": {
                "arxiv_id": item.paper.arxiv_id,
                "delivery_id": delivery.id,
                "digest_id": delivery.digest_id,
            },
        }
        message = digest_paper_message(item, delivery.position)
        return await self.post(plan.channel, message, thread_ts=thread_id, metadata=metadata)

    async def find_posted(
        self, plan: DigestPlan, delivery: Delivery, thread_id: str | None, *, after: str | None = None
    ) -> str | None:
        """The ts of a message an earlier attempt posted for this delivery (its metadata names it), or None.

        The engine asks only after an attempt that may have reached Slack (a crash, a timeout). It reads the
        thread (the channel, for the parent) from just after the last message known to be posted.
        """
        token = await self._tokens(plan.channel.workspace)
        if token is None:
            await self._channel_gone(plan.channel, "no_installation")
        args: dict[str, Any] = {
            "token": token,
            "channel": plan.channel.channel,
            "include_all_metadata": True,
            "limit": LOOKUP_PAGE,
            "oldest": after or _day_before(plan.local_date),
            "inclusive": False,
        }
        thread = None if delivery.is_parent else thread_id
        try:
            for _page in range(LOOKUP_PAGES):
                if thread is not None:
                    response = await self._client.conversations_replies(ts=thread, **args)
                else:
                    response = await self._client.conversations_history(**args)
                for message in response.get("messages") or []:
                    if names_delivery(message, delivery):
                        return str(message["ts"])
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not response.get("has_more") or not cursor:
                    return None
                args["cursor"] = cursor
        except SlackApiError as error:
            code = slack_error(error)
            if code in _NO_HISTORY:
                log.warning(
                    "cannot read %s to check for an earlier post (%s); posting again. Reinstall Paperboy "
                    "with the channels:history and groups:history scopes to avoid this.",
                    plan.channel,
                    code,
                )
                return None
            if code in CHANNEL_GONE_REASONS:
                await self._channel_gone(plan.channel, code)
            raise SlackPostError(f"Slack would not show the messages of {plan.channel}: {code}.") from error
        return None

    async def post(
        self,
        channel: ChannelRef,
        message: SlackMessage,
        *,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Post one message in the channel's turn; raise ChannelUnavailable (it paused) or SlackPostError."""
        token = await self._tokens(channel.workspace)
        if token is None:
            await self._channel_gone(channel, "no_installation")
        args: dict[str, Any] = {
            "token": token,
            "channel": channel.channel,
            "text": message.text,
            "blocks": message.blocks,
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if thread_ts:
            args["thread_ts"] = thread_ts
        if metadata:
            args["metadata"] = metadata
        async with self.pacer.turn(channel):
            try:
                response = await self._client.chat_postMessage(**args)
            except SlackApiError as error:
                code = slack_error(error)
                if code in CHANNEL_GONE_REASONS:
                    await self._channel_gone(channel, code)
                raise SlackPostError(f"Slack refused the message for {channel}: {code}.") from error
        return str(response["ts"])

    async def post_card(self, channel: ChannelRef, item: ScoredPaper) -> str:
        """Post one paper's card for the whole channel ("Share in channel"); return its ts."""
        return await self.post(channel, paper_message(item))

    async def _channel_gone(self, channel: ChannelRef, code: str) -> None:
        # The core's delivery engine pauses the channel with this reason; a share is simply refused.
        log.warning("Slack answered %s for %s", code, channel)
        raise ChannelUnavailable(CHANNEL_GONE_REASONS[code])
