"""The adapters' fakes with what restarts need: Discord's message history, hooks when a message is made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.discord import TEXT, FakeDiscord, _json


class DiscordWithHistory(FakeDiscord):
    """The fake Discord, plus `GET /channels/{id}/messages` and a hook called for each message created."""

    def __init__(self) -> None:
        super().__init__()
        self.on_create: Callable[[dict[str, Any]], None] | None = None
        self.history_reads = 0

    def expire_nonces(self) -> None:
        """Discord remembers a nonce only for a few minutes: forget every one (a restart after longer)."""
        self._nonces.clear()

    def _routes(self) -> list[tuple[str, str, Callable[..., Any]]]:
        return [("GET", r"/channels/(?P<cid>\d+)/messages", self._history), *super()._routes()]

    async def _create_message(self, request: web.Request, body: Any, cid: str) -> web.Response:
        known = len(self.messages)
        response = await super()._create_message(request, body, cid)
        if self.on_create is not None and len(self.messages) > known:
            self.on_create(list(self.messages.values())[-1])
        return response

    async def _history(self, request: web.Request, body: Any, cid: str) -> web.Response:
        channel_id = int(cid)
        if channel_id not in self.channels:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        self.history_reads += 1
        limit = int(request.query.get("limit", "50"))
        found = sorted(self.messages_in(channel_id), key=lambda m: int(m["id"]))
        if "after" in request.query:
            after = int(request.query["after"])
            found = [m for m in found if int(m["id"]) > after][:limit]
        else:
            if "before" in request.query:
                before = int(request.query["before"])
                found = [m for m in found if int(m["id"]) < before]
            found = found[-limit:]
        # Discord answers newest first, whatever the direction.
        return _json(list(reversed(found)))


def discord_channels(fake: FakeDiscord, guild: int, count: int, prefix: str) -> list[int]:
    """`count` text channels in a guild."""
    return [fake.add_channel(guild, f"{prefix}-{n}", kind=TEXT) for n in range(count)]


def discord_audit(fake: FakeDiscord, channel_id: int, papers: int | None) -> list[str]:
    """What is wrong with one channel's digest: one parent, one thread, `papers` papers (None: any so far)."""
    problems = []
    parents = [m for m in fake.messages_in(channel_id) if m["embeds"]]
    threads = fake.threads_of(channel_id)
    # After a kill, a digest may be partly posted or not begun; whatever is there must not be there twice.
    single = {0, 1} if papers is None else {1}
    if len(parents) not in single:
        problems.append(f"{channel_id}: {len(parents)} parent messages")
    if len(threads) not in single:
        problems.append(f"{channel_id}: {len(threads)} threads")
    if len(threads) != 1:
        return problems
    inside = fake.messages_in(int(threads[0]["id"]))
    titles = [m["embeds"][0]["title"] for m in inside]
    if (papers is not None and len(titles) != papers) or len(set(titles)) != len(titles):
        problems.append(f"{channel_id}: papers in the thread are {titles}")
    return problems
