"""A person's direct messages with Paperboy on Slack: which D… conversation they are, and the person's zone.

A person's own digest target (`ChannelRef.person`, `slack:T123:@U456`) names a user, not a conversation.
`conversations.open users=U456` (scope im:write) answers the D… id of the bot's direct messages with them;
it is the same id every time, so it is remembered (the App Home's `app_home_opened` event tells it too): in
memory, and in the core's address book (the store, given by the composition root), so that a restart or each
day's `paperboy digest --due` does not open every person's conversation again at Slack's tier 3 pace (about
50 a minute per workspace: 2,000 people would wait some 40 minutes).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.refusals import PERSON_GONE_REASONS, ChannelUnavailable, SlackPostError
from adapters.slack.runtime import slack_error
from bot.domain import ChannelRef
from bot.ports import AddressBook
from bot.services.pacing import RateGate

log = logging.getLogger(__name__)

TokenLookup = Callable[[str], Awaitable[str | None]]
"""Finds the bot token of a Slack workspace (team id); None when the app is not installed there."""

# conversations.open is a tier 3 method: about 50 calls a minute per workspace, with short bursts. The first
# digests after a start open every person's conversation at once; kept under that pace, each open waits its
# turn rather than meeting 429s until its retries run out (the delivery engine would count those as failed
# attempts, and pause the person after four).
OPEN_RATE = 50 / 60
OPEN_BURST = 10
# Remembered conversations (two short strings each); the oldest unused are forgotten beyond this.
MAX_REMEMBERED = 200_000


class DirectMessages:
    """Finds (and remembers) the D… conversation of a person's direct messages, and reads their time zone.

    A conversation is looked for in memory, then in the address book (when given), and only then opened; what
    is opened or told by an event is written to both.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        tokens: TokenLookup,
        *,
        addresses: AddressBook | None = None,
        open_rate: float = OPEN_RATE,
        open_burst: int = OPEN_BURST,
        max_remembered: int = MAX_REMEMBERED,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._book = addresses
        self._open_rate = open_rate
        self._open_burst = open_burst
        self._max = max_remembered
        self._known: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._gates: dict[str, RateGate] = {}

    def remember(self, workspace: str, user: str, conversation: str) -> None:
        """Note the D… conversation of a person's direct messages in memory."""
        if not (workspace and user and conversation.startswith("D")):
            return
        self._known[(workspace, user)] = conversation
        self._known.move_to_end((workspace, user))
        while len(self._known) > self._max:
            self._known.popitem(last=False)

    async def note(self, person: ChannelRef, conversation: str) -> None:
        """Note the D… conversation an event from Slack told (app_home_opened), in memory and in the book."""
        if not (person.workspace and person.user and conversation.startswith("D")):
            return
        if self.known(person.workspace, person.user) == conversation:
            # Told before (each time the person opens the app): stored then, or they had no settings to keep
            # it with, and their first digest stores it. One write less per visit.
            return
        self.remember(person.workspace, person.user, conversation)
        await self._keep(person, conversation)

    def forget(self, workspace: str, user: str) -> None:
        """Forget a person's conversation in memory (they left, or Slack refused their direct messages)."""
        self._known.pop((workspace, user), None)

    async def forget_stale(self, person: ChannelRef, conversation: str) -> None:
        """Forget a conversation Slack no longer knows, in memory and in the book (unless replaced meanwhile)."""
        user = person.user or ""
        if self._known.get((person.workspace, user)) == conversation:
            del self._known[(person.workspace, user)]
        if self._book is None:
            return
        try:
            await self._book.forget_address(person, conversation)
        except Exception as error:
            # The next look-up may find the stale id again; it is then forgotten again and opened afresh.
            log.warning("could not forget the stored conversation of %s: %s", person, type(error).__name__)

    def known(self, workspace: str, user: str) -> str | None:
        """The conversation of a person remembered in memory, or None."""
        return self._known.get((workspace, user))

    async def conversation(self, person: ChannelRef) -> str:
        """The D… id of the bot's direct messages with a person; ChannelUnavailable when Slack refuses them."""
        conversation, _opened = await self.find(person)
        return conversation

    async def find(self, person: ChannelRef) -> tuple[str, bool]:
        """The D… id of a person's direct messages, and whether it was opened just now (False: remembered).

        Memory first, then the address book, then conversations.open at the workspace's pace; an id opened is
        written to both.
        """
        user = person.user
        if not user:
            raise ValueError(f"{person} is not a person's target")
        found = self.known(person.workspace, user)
        if found is not None:
            self._known.move_to_end((person.workspace, user))
            return found, False
        stored = await self._stored(person)
        if stored is not None:
            self.remember(person.workspace, user, stored)
            return stored, False
        conversation = await self._open(person, user)
        self.remember(person.workspace, user, conversation)
        await self._keep(person, conversation)
        return conversation, True

    async def _stored(self, person: ChannelRef) -> str | None:
        """The conversation the address book holds for a person, or None (also when the book cannot answer)."""
        if self._book is None:
            return None
        try:
            stored = await self._book.address_of(person)
        except Exception as error:
            # The book saves calls; it is never a reason not to deliver: the conversation is opened instead.
            log.warning("could not read the stored conversation of %s: %s", person, type(error).__name__)
            return None
        return stored if stored and stored.startswith("D") else None

    async def _keep(self, person: ChannelRef, conversation: str) -> None:
        """Write a person's conversation to the address book (a person without settings keeps nothing)."""
        if self._book is None:
            return
        try:
            await self._book.remember_address(person, conversation)
        except Exception as error:
            # Kept in memory all the same; a later process opens the conversation once more.
            log.warning("could not store the conversation of %s: %s", person, type(error).__name__)

    async def _open(self, person: ChannelRef, user: str) -> str:
        """conversations.open for a person, at the workspace's pace; the D… id Slack answers."""
        token = await self._tokens(person.workspace)
        if token is None:
            raise ChannelUnavailable(PERSON_GONE_REASONS["no_installation"])
        await self._gate(person.workspace).wait()
        try:
            response = await self._client.conversations_open(token=token, users=user)
        except SlackApiError as error:
            code = slack_error(error)
            log.warning("Slack answered %s to opening the direct messages of %s", code, person)
            if code in PERSON_GONE_REASONS:
                raise ChannelUnavailable(PERSON_GONE_REASONS[code]) from error
            raise SlackPostError(f"Slack would not open the direct messages of {person}: {code}.") from error
        except (aiohttp.ClientError, TimeoutError) as error:
            raise SlackPostError(
                f"Opening the direct messages of {person} failed ({type(error).__name__})."
            ) from error
        conversation = str((response.get("channel") or {}).get("id") or "")
        if not conversation:
            raise SlackPostError(f"Slack opened no conversation for {person}.")
        return conversation

    def _gate(self, workspace: str) -> RateGate:
        gate = self._gates.get(workspace)
        if gate is None:
            gate = self._gates[workspace] = RateGate(self._open_rate, self._open_burst)
        return gate

    async def timezone_of(self, person: ChannelRef) -> str | None:
        """The IANA zone Slack keeps for a person (users.info `tz`, scope users:read), or None."""
        token = await self._tokens(person.workspace)
        if token is None or not person.user:
            return None
        try:
            response = await self._client.users_info(token=token, user=person.user)
        except SlackApiError as error:
            # The zone is a nicety: the digest then comes at 08:00 UTC, which the person can change.
            log.warning("users.info for %s answered %s; no time zone", person, slack_error(error))
            return None
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("users.info for %s failed (%s); no time zone", person, type(error).__name__)
            return None
        zone = (response.get("user") or {}).get("tz")
        return str(zone) if zone else None
