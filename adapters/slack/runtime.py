"""Small runtime helpers of the Slack adapter: tracked lazy work, recent-key memory, who may change a channel."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


def slack_error(error: SlackApiError) -> str:
    """The `error` code of a failed Slack call, or the HTTP status when the answer was not Slack's JSON."""
    response = error.response
    data = getattr(response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    return f"http_{getattr(response, 'status_code', 'error')}"


class BackgroundWork:
    """Work done after Slack got its ack: tasks we keep, at most `limit` running, drained on shutdown.

    Bolt's own lazy listeners deep-copy every request first (about a millisecond and a half each, on the
    path to the ack); a task started after `ack()` needs no copy.
    """

    def __init__(self, limit: int = 8) -> None:
        self._slots = asyncio.Semaphore(limit)
        # asyncio keeps only weak references to tasks: hold them so none is collected mid-flight.
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` in the background; its failure is logged, never raised to anyone."""
        task = asyncio.ensure_future(self._run(work, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, work: Coroutine[Any, Any, None], name: str) -> None:
        async with self._slots:
            try:
                await work
            except Exception:
                log.exception("background work %s failed", name)

    @property
    def pending(self) -> int:
        """How many pieces of work are running or waiting for a slot."""
        return len(self._tasks)

    async def drain(self, grace: float) -> None:
        """Wait up to `grace` seconds for running work, then cancel what is left."""
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


class RecentKeys:
    """Remembers keys (event ids, clicks) for a while, so a repeated delivery is recognised and skipped."""

    def __init__(self, ttl: float = 3600.0, max_size: int = 50_000) -> None:
        self._ttl = ttl
        self._max_size = max_size
        self._seen: OrderedDict[str, float] = OrderedDict()

    def seen(self, key: str) -> bool:
        """True when the key was added within the time to live."""
        self._expire()
        return key in self._seen

    def add(self, key: str) -> None:
        """Remember a key."""
        self._seen[key] = time.monotonic()
        self._seen.move_to_end(key)
        while len(self._seen) > self._max_size:
            self._seen.popitem(last=False)

    def _expire(self) -> None:
        limit = time.monotonic() - self._ttl
        while self._seen:
            _key, at = next(iter(self._seen.items()))
            if at >= limit:
                break
            self._seen.popitem(last=False)


MEMBERS_RULE = (
    "Only members of this workspace can change this channel's topics, schedule or digest; guests and people "
    "from other organisations cannot."
)
ADMINS_ONLY_RULE = "Only workspace admins and owners can change this channel's topics, schedule or digest."


@dataclass(frozen=True, slots=True)
class SlackPerson:
    """What users.info says about someone: where they belong, and whether they are a guest or an admin."""

    team_id: str
    guest: bool = False
    admin: bool = False
    deactivated: bool = False
    # Enterprise Grid: every workspace of the organisation the person belongs to.
    teams: tuple[str, ...] = ()

    @classmethod
    def from_user(cls, user: dict[str, Any]) -> SlackPerson:
        """Read users.info's `user` object."""
        enterprise = user.get("enterprise_user") or {}
        return cls(
            team_id=str(user.get("team_id") or ""),
            guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
            admin=bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")),
            deactivated=bool(user.get("deleted")),
            teams=tuple(str(team) for team in enterprise.get("teams") or ()),
        )

    def member_of(self, team_id: str) -> bool:
        """True when the person belongs to the workspace itself, not as a guest or from another organisation."""
        home = self.team_id == team_id or team_id in self.teams
        return home and not self.guest and not self.deactivated


def channel_manager_rule(person: SlackPerson, home_team: str, *, admins_only: bool) -> tuple[bool, str]:
    """(may change the channel, the sentence that says who can) for a person in the installing workspace."""
    if admins_only:
        return person.member_of(home_team) and person.admin, ADMINS_ONLY_RULE
    return person.member_of(home_team), MEMBERS_RULE


class ChannelManagers:
    """Who may change a channel's topics, schedule or digest on Slack (users.info, remembered a few minutes).

    By default every member of the workspace that installed the app may; guests (single- and multi-channel)
    and people from another organisation in a shared (Slack Connect) channel may not. With `admins_only`,
    only that workspace's admins and owners may. When Slack cannot say who someone is, nothing changes.
    """

    def __init__(self, *, admins_only: bool = False, ttl: float = 300.0) -> None:
        self._admins_only = admins_only
        self._ttl = ttl
        self._known: dict[tuple[str, str], tuple[SlackPerson, float]] = {}

    async def decide(self, client: AsyncWebClient, home_team: str, user_id: str) -> tuple[bool, str]:
        """(may change the channel, the sentence that says who can, or why Slack's answer is missing)."""
        person = await self._person(client, home_team, user_id)
        if isinstance(person, str):
            if person == "missing_scope":
                return False, (
                    "Paperboy cannot tell who may change this channel: the app lacks the users:read scope. "
                    "Ask an admin to reinstall it."
                )
            return False, f"Slack did not say who you are ({person}), so nothing was changed; try again."
        return channel_manager_rule(person, home_team, admins_only=self._admins_only)

    async def _person(self, client: AsyncWebClient, home_team: str, user_id: str) -> SlackPerson | str:
        """The person, or the error code of Slack's refusal (never remembered)."""
        key = (home_team, user_id)
        cached = self._known.get(key)
        if cached is not None and time.monotonic() - cached[1] < self._ttl:
            return cached[0]
        try:
            response = await client.users_info(user=user_id)
        except SlackApiError as error:
            code = slack_error(error)
            log.warning("users.info failed for %s in %s: %s", user_id, home_team, code)
            return code
        person = SlackPerson.from_user(response.get("user") or {})
        self._known[key] = (person, time.monotonic())
        return person
