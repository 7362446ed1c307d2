"""Small runtime helpers of the Slack adapter: tracked lazy work, recent-key memory, admin checks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Coroutine
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


class AdminCheck:
    """Tells whether a Slack user is a workspace admin or owner (users.info), remembered for a few minutes."""

    def __init__(self, ttl: float = 300.0) -> None:
        self._ttl = ttl
        self._known: dict[tuple[str, str], tuple[bool, float]] = {}

    async def is_admin(self, client: AsyncWebClient, team_id: str, user_id: str) -> bool:
        """True for admins and owners; False when Slack cannot say (the safe answer)."""
        key = (team_id, user_id)
        cached = self._known.get(key)
        if cached is not None and time.monotonic() - cached[1] < self._ttl:
            return cached[0]
        try:
            response = await client.users_info(user=user_id)
        except SlackApiError as error:
            log.warning("users.info failed for %s in %s: %s", user_id, team_id, slack_error(error))
            return False
        user = response.get("user") or {}
        admin = bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner"))
        self._known[key] = (admin, time.monotonic())
        return admin
