"""How the core posts: the publisher ports each platform implements, and the errors they raise."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from bot.domain import ChannelRef, Delivery, DigestPlan, ScoredPaper


class PublishError(RuntimeError):
    """A platform did not take a message (after its SDK's own retries); str() is one sentence."""


class ChannelUnavailable(PublishError):
    """The channel cannot be posted to until someone acts (invite the bot, unarchive, grant a permission).

    str() is the reason in one sentence; the delivery engine pauses the channel with it, and
    /papers schedule shows it.
    """


class DigestPublisher(Protocol):
    """Posts a digest on one platform: a parent message, then each paper in its thread."""

    async def post_parent(self, plan: DigestPlan, delivery: Delivery) -> str:
        """Post the parent message; return its platform message id (the thread to reply in)."""
        ...

    async def post_paper(
        self, plan: DigestPlan, delivery: Delivery, item: ScoredPaper, thread_id: str
    ) -> str:
        """Post one paper in the digest's thread; return its platform message id."""
        ...


@runtime_checkable
class CardPublisher(Protocol):
    """A publisher that can post one paper's card for a whole channel ("Share in channel")."""

    async def post_card(self, channel: ChannelRef, item: ScoredPaper) -> str:
        """Post the card; return its platform message id. ChannelUnavailable when the bot is not there."""
        ...


@runtime_checkable
class CheckingPublisher(DigestPublisher, Protocol):
    """A publisher that can tell whether a delivery already reached the platform (after a crash)."""

    async def find_posted(
        self,
        plan: DigestPlan,
        delivery: Delivery,
        thread_id: str | None,
        *,
        after: str | None = None,
        since: datetime | None = None,
    ) -> str | None:
        """The id of the message an earlier attempt at `delivery` posted, or None when there is none.

        `thread_id` is the digest's thread (None for the parent itself); `after` is the message posted just
        before this one, when known, so that the look-up can start there; `since` is when the digest started
        (no message of it is older), so that the look-up knows how far back to read, however far that is.
        """
        ...


@runtime_checkable
class PersonDirectory(Protocol):
    """A publisher that can tell a person's time zone (Slack's `users.info` `tz`), for their digest's hour."""

    async def person_timezone(self, person: ChannelRef) -> str | None:
        """The IANA zone the platform knows for the person of a `ChannelRef.person` target, or None."""
        ...
