"""Posting to Slack: digest messages (parent, then one reply per paper) to channels and to a person's direct
messages, paced per conversation, files sent to a person, and cards under shared paper links (chat.unfurl)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.blocks import (
    DIGEST_EVENT_TYPE,
    DIGEST_ITEM_EVENT_TYPE,
    SlackMessage,
    digest_paper_message,
    digest_parent_message,
    paper_message,
)
from adapters.slack.direct import DirectMessages, TokenLookup
from adapters.slack.refusals import ChannelUnavailable, SlackPostError, gone_reasons
from adapters.slack.runtime import slack_error
from bot.domain import ChannelRef, Delivery, DigestPlan, ScoredPaper

log = logging.getLogger(__name__)

T = TypeVar("T")

# Apps outside the Marketplace may read at most 15 messages per conversations.* call, about once a minute.
# The look-up after a crash reads page after page, back to just after the last message known to be posted
# (or to the digest's start), however many pages that takes: a busy channel may bury the message deep.
LOOKUP_PAGE = 15
# Seconds between two pages: tier 3 (50 calls a minute), what conversations.history and .replies allow most
# apps. Slack answers an app it holds to fewer with 429 and a Retry-After, which slack_sdk waits out; should
# its retries run out, the look-up waits too and reads the same page again, so it goes at Slack's own pace.
LOOKUP_INTERVAL = 1.2
LOOKUP_RATE_LIMITS = 10
"""429s in a row (each after slack_sdk's own retries) before a look-up gives up until the next attempt."""
# Our clock and Slack's may disagree a little: the look-up reads from this long before the digest started.
CLOCK_MARGIN = timedelta(minutes=5)
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
    return _slack_ts(datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=UTC))


def _slack_ts(moment: datetime) -> str:
    """A moment as a Slack timestamp (`oldest`, `latest`)."""
    return f"{moment.timestamp():.6f}"


def _retry_after(error: SlackApiError) -> float:
    """The seconds a 429 asks to wait (one when it does not say)."""
    headers = getattr(error.response, "headers", None) or {}
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(1.0, float(value)) if value is not None else 1.0
    except ValueError:
        return 1.0


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
    """The core's DigestPublisher for Slack: each call posts one message and returns its `ts`.

    A person's own digest (`ChannelRef.person`) goes to the bot's direct messages with them, a conversation
    like any other: paced on its own, threaded, found again after a crash by its messages' metadata.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        tokens: TokenLookup,
        *,
        pacer: ChannelPacer | None = None,
        vote_emoji: str = "+1",
        lookup_interval: float = LOOKUP_INTERVAL,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        direct: DirectMessages | None = None,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self.pacer = pacer or ChannelPacer()
        self.direct = direct or DirectMessages(client, tokens)
        self._vote_emoji = vote_emoji
        self.lookup_interval = lookup_interval
        self._sleep = sleep

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
        self,
        plan: DigestPlan,
        delivery: Delivery,
        thread_id: str | None,
        *,
        after: str | None = None,
        since: datetime | None = None,
    ) -> str | None:
        """The ts of a message an earlier attempt posted for this delivery (its metadata names it), or None.

        The engine asks only after an attempt that may have reached Slack (a crash, a timeout). It reads the
        thread (the channel, for the parent) back to just after the last message known to be posted, or else
        to the digest's start (`since`), page by page at a pace Slack allows, until it finds the message or
        has read everything in between.
        """
        token = await self._tokens(plan.channel.workspace)
        if token is None:
            await self._channel_gone(plan.channel, "no_installation")
        if after:
            oldest = after
        elif since is not None:
            oldest = _slack_ts(since - CLOCK_MARGIN)
        else:
            oldest = _day_before(plan.local_date)
        thread = None if delivery.is_parent else thread_id

        async def look_in(conversation: str) -> str | None:
            args: dict[str, Any] = {
                "token": token,
                "channel": conversation,
                "include_all_metadata": True,
                "limit": LOOKUP_PAGE,
                "oldest": oldest,
                "inclusive": False,
            }
            pages = 0
            while True:
                if pages:
                    await self._sleep(self.lookup_interval)
                response = await self._lookup_page(thread, args)
                pages += 1
                for message in response.get("messages") or []:
                    if names_delivery(message, delivery):
                        log.info("found delivery %s in %s after %d page(s)", delivery.id, plan.channel, pages)
                        return str(message["ts"])
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not response.get("has_more") or not cursor:
                    log.info("delivery %s is not in %s (%d page(s) read)", delivery.id, plan.channel, pages)
                    return None
                args["cursor"] = cursor

        try:
            return await self._in_conversation(plan.channel, look_in)
        except SlackApiError as error:
            code = slack_error(error)
            if code in _NO_HISTORY:
                log.warning(
                    "cannot read %s to check for an earlier post (%s); posting again. Reinstall Paperboy "
                    "with the channels:history, groups:history and im:history scopes to avoid this.",
                    plan.channel,
                    code,
                )
                return None
            if code in gone_reasons(plan.channel):
                await self._channel_gone(plan.channel, code)
            raise SlackPostError(f"Slack would not show the messages of {plan.channel}: {code}.") from error

    async def _lookup_page(self, thread: str | None, args: dict[str, Any]) -> Any:
        """One page of the thread (or of the channel), waiting out as many 429s as LOOKUP_RATE_LIMITS allows."""
        for waited in range(LOOKUP_RATE_LIMITS + 1):
            try:
                if thread is not None:
                    return await self._client.conversations_replies(ts=thread, **args)
                return await self._client.conversations_history(**args)
            except SlackApiError as error:
                if slack_error(error) != "ratelimited" or waited == LOOKUP_RATE_LIMITS:
                    raise
                await self._sleep(_retry_after(error))
        raise AssertionError("unreachable: the last 429 is raised")

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
            "text": message.text,
            "blocks": message.blocks,
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if thread_ts:
            args["thread_ts"] = thread_ts
        if metadata:
            args["metadata"] = metadata

        async def send(conversation: str) -> Any:
            async with self.pacer.turn(channel):
                return await self._client.chat_postMessage(channel=conversation, **args)

        try:
            response = await self._in_conversation(channel, send)
        except SlackApiError as error:
            code = slack_error(error)
            if code in gone_reasons(channel):
                await self._channel_gone(channel, code)
            raise SlackPostError(f"Slack refused the message for {channel}: {code}.") from error
        except (aiohttp.ClientError, TimeoutError) as error:
            # Not retried here: the message may be in the channel already (see connection.POSTING_METHODS).
            raise SlackPostError(
                f"Slack's answer for {channel} was lost ({type(error).__name__}); it may have been posted."
            ) from error
        return str(response["ts"])

    async def post_card(self, channel: ChannelRef, item: ScoredPaper) -> str:
        """Post one paper's card for the whole channel ("Share in channel"); return its ts."""
        return await self.post(channel, paper_message(item))

    async def unfurl(
        self,
        workspace: str,
        unfurls: dict[str, dict[str, Any]],
        *,
        channel: str | None = None,
        ts: str | None = None,
        unfurl_id: str | None = None,
        source: str | None = None,
    ) -> bool:
        """Show cards under shared links (chat.unfurl): in a posted message (`channel` and `ts`) or in the
        composer (`unfurl_id` and `source`). True when Slack took them.

        Slack replaces an earlier unfurl of the same message rather than adding one, so a repeat is harmless;
        a refusal (the link was edited away, the app lacks links:write) costs nothing but the cards.
        """
        token = await self._tokens(workspace)
        if token is None:
            log.warning("no Slack installation for %s; links not unfurled", workspace)
            return False
        where: dict[str, Any] = (
            {"channel": channel, "ts": ts} if channel and ts else {"unfurl_id": unfurl_id, "source": source}
        )
        try:
            await self._client.chat_unfurl(token=token, unfurls=unfurls, **where)
        except SlackApiError as error:
            log.warning("Slack refused to unfurl links in %s: %s", workspace, slack_error(error))
            return False
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("chat.unfurl for %s failed: %s", workspace, type(error).__name__)
            return False
        return True

    async def _channel_gone(self, channel: ChannelRef, code: str) -> None:
        # The core's delivery engine pauses the channel (or the person's digest) with this reason; a share is
        # simply refused.
        log.warning("Slack answered %s for %s", code, channel)
        if channel.is_person and channel.user:
            # A conversation Slack no longer knows is opened afresh next time.
            self.direct.forget(channel.workspace, channel.user)
        raise ChannelUnavailable(gone_reasons(channel)[code])

    async def conversation(self, target: ChannelRef) -> str:
        """The Slack conversation a target's messages go to: the channel, or the person's direct messages."""
        return await self.direct.conversation(target) if target.is_person else target.channel

    async def _in_conversation(self, target: ChannelRef, call: Callable[[str], Awaitable[T]]) -> T:
        """`call` with the Slack conversation of a target, its SlackApiError raised as it came.

        A person's conversation remembered from before (in memory or in the store) that Slack no longer knows
        (channel_not_found) is forgotten and opened afresh, once; one opened just now is refused as it is.
        The refused call took nothing (no message, no file), so making it again doubles nothing.
        """
        if not target.is_person:
            return await call(target.channel)
        conversation, opened = await self.direct.find(target)
        try:
            return await call(conversation)
        except SlackApiError as error:
            if opened or slack_error(error) != "channel_not_found":
                raise
            log.warning(
                "Slack no longer knows %s, the direct messages of %s; opening them again",
                conversation,
                target,
            )
        await self.direct.forget_stale(target, conversation)
        conversation = await self.direct.conversation(target)
        return await call(conversation)

    async def person_timezone(self, person: ChannelRef) -> str | None:
        """The person's zone as Slack keeps it (users.info `tz`), so their digest comes at 08:00 their time."""
        return await self.direct.timezone_of(person)

    async def send_file(self, person: ChannelRef, filename: str, content: str, *, comment: str) -> None:
        """Share a text file in a person's direct messages (files_upload_v2, scope files:write).

        ChannelUnavailable when Slack refuses the direct messages; SlackPostError for anything else.
        """
        token = await self._tokens(person.workspace)
        if token is None:
            await self._channel_gone(person, "no_installation")

        async def upload(conversation: str) -> None:
            async with self.pacer.turn(person):
                await self._client.files_upload_v2(
                    token=token,
                    channel=conversation,
                    filename=filename,
                    title=filename,
                    content=content,
                    initial_comment=comment,
                )

        try:
            await self._in_conversation(person, upload)
        except SlackApiError as error:
            code = slack_error(error)
            if code == "missing_scope":
                # The files:write scope, not the direct messages': nothing to pause.
                raise SlackPostError(
                    "Paperboy lacks the permission to upload files in this workspace (the files:write "
                    "scope); ask an admin to reinstall it."
                ) from error
            if code in gone_reasons(person):
                await self._channel_gone(person, code)
            raise SlackPostError(f"Slack did not take the file ({code}).") from error
        except (SlackRequestError, aiohttp.ClientError, TimeoutError) as error:
            raise SlackPostError(f"Sending the file to {person} failed ({type(error).__name__}).") from error


# The errors a post raises live with the refusals; callers may take them from here as before.
__all__ = ["ChannelPacer", "ChannelUnavailable", "SlackPostError", "SlackPublisher", "names_delivery"]
