"""A loopback fake of Slack's Web API that enforces rate limits, for delivery tests and the delivery benchmark.

It takes `chat.postMessage` at most once a second per channel and at most `rate` a second in all (a token
bucket of `burst`), and answers HTTP 429 `ratelimited` with a `Retry-After` beyond that, as Slack does. It
keeps every accepted message with its metadata and serves `conversations.history` and
`conversations.replies` (with `include_all_metadata`), so that a restarted worker can look for what it posted.
`audit()` checks the result: per channel one parent, one reply per planned paper, nothing twice.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CHANNEL_TOLERANCE = 0.05
"""Seconds of slack in the per-channel rule: requests leave the bot a second apart but cross the loopback
with a few milliseconds of jitter; Slack itself allows short bursts."""


@dataclass
class FakeMessage:
    """One message Slack accepted."""

    channel: str
    ts: str
    thread_ts: str | None
    metadata: dict[str, Any]
    token: str | None
    at: float

    @property
    def delivery_id(self) -> str | None:
        """The delivery the metadata names, if any."""
        payload = self.metadata.get("event_payload") or {}
        value = payload.get("delivery_id")
        return None if value is None else str(value)

    @property
    def arxiv_id(self) -> str | None:
        """The paper the metadata names (replies of a digest), if any."""
        payload = self.metadata.get("event_payload") or {}
        value = payload.get("arxiv_id")
        return None if value is None else str(value)

    def api(self) -> dict[str, Any]:
        """The message as conversations.* return it."""
        data: dict[str, Any] = {"type": "message", "ts": self.ts, "user": "UBOT", "bot_id": "BBOT"}
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.metadata:
            data["metadata"] = self.metadata
        return data


def _ts_key(ts: str) -> tuple[int, int]:
    """Order Slack timestamps exactly (as floats they lose the last digits)."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds or 0), int((fraction or "0").ljust(6, "0")[:6])


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes")


@dataclass
class RateLimitedSlack:
    """The fake; start it, point SLACK_API_URL at `api_url`, read `messages` and `audit()` afterwards."""

    channel_interval: float = 1.0
    rate: float = 200.0
    burst: int = 20
    retry_after: int = 1
    on_accept: Callable[[FakeMessage, int], None] | None = None
    messages: list[FakeMessage] = field(default_factory=list)
    rate_limited: int = 0
    lookups: int = 0
    port: int = 0

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)
        self._refilled = time.monotonic()
        self._last_in_channel: dict[str, float] = {}
        self._serial = itertools.count(1)
        self._base = int(time.time())
        self._by_channel: dict[str, list[FakeMessage]] = {}
        self._runner: web.AppRunner | None = None

    # ----- life cycle -----

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 (a free port unless given)."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/_audit", self._audit_route)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port, backlog=1024).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL is set to."""
        return f"http://127.0.0.1:{self.port}/api/"

    # ----- what tests read -----

    def in_channel(self, channel: str) -> list[FakeMessage]:
        """Accepted messages of one channel, oldest first."""
        return list(self._by_channel.get(channel, []))

    def audit(self, expected: dict[str, int] | None = None) -> dict[str, Any]:
        """Check every channel: one parent, replies only in its thread, no delivery or paper twice.

        `expected` maps channel -> papers planned; a channel with fewer or more replies is a problem.
        """
        problems: list[str] = []
        channels = set(self._by_channel) | set(expected or {})
        for channel in sorted(channels):
            messages = self._by_channel.get(channel, [])
            parents = [m for m in messages if m.thread_ts is None]
            replies = [m for m in messages if m.thread_ts is not None]
            if len(parents) != 1:
                problems.append(f"{channel}: {len(parents)} parent messages")
                continue
            parent = parents[0]
            if any(m.thread_ts != parent.ts for m in replies):
                problems.append(f"{channel}: a reply outside the digest's thread")
            deliveries = [m.delivery_id for m in messages]
            if len(set(deliveries)) != len(deliveries):
                problems.append(f"{channel}: a delivery posted twice")
            papers = [m.arxiv_id for m in replies]
            if len(set(papers)) != len(papers):
                problems.append(f"{channel}: a paper posted twice")
            if expected is not None and len(replies) != expected.get(channel, -1):
                problems.append(f"{channel}: {len(replies)} papers posted, {expected.get(channel)} planned")
        times = [m.at for m in self.messages]
        return {
            "channels": len(self._by_channel),
            "messages": len(self.messages),
            "rate_limited": self.rate_limited,
            "lookups": self.lookups,
            "first": min(times) if times else None,
            "last": max(times) if times else None,
            "problems": problems,
        }

    # ----- the API -----

    async def _audit_route(self, request: web.Request) -> web.Response:
        """`POST /_audit` with `{"expected": {channel: papers}}`: the audit, for a fake in another process."""
        body = await request.json() if request.can_read_body else {}
        return web.json_response(self.audit(body.get("expected")))

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update(await request.post())
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or args.pop("token", None)
        if method == "auth.test":
            return web.json_response({"ok": True, "team_id": "T1", "user_id": "UBOT", "bot_id": "BBOT"})
        if method == "chat.postMessage":
            return self._post(args, token)
        if method == "conversations.history":
            return self._history(args)
        if method == "conversations.replies":
            return self._replies(args)
        return web.json_response({"ok": False, "error": "unknown_method"})

    def _admit(self, channel: str, now: float) -> bool:
        """Apply both limits; True when the message may be accepted now."""
        self._tokens = min(float(self.burst), self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        last = self._last_in_channel.get(channel)
        if last is not None and now - last < self.channel_interval - CHANNEL_TOLERANCE:
            return False
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        self._last_in_channel[channel] = now
        return True

    def _post(self, args: dict[str, Any], token: str | None) -> web.Response:
        channel = str(args.get("channel") or "")
        if not channel:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        now = time.monotonic()
        if not self._admit(channel, now):
            self.rate_limited += 1
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(self.retry_after)},
            )
        metadata = args.get("metadata") or {}
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        serial = next(self._serial)
        message = FakeMessage(
            channel=channel,
            ts=f"{self._base}.{serial:06d}",
            thread_ts=str(args["thread_ts"]) if args.get("thread_ts") else None,
            metadata=metadata,
            token=token,
            at=now,
        )
        self.messages.append(message)
        self._by_channel.setdefault(channel, []).append(message)
        if self.on_accept is not None:
            self.on_accept(message, len(self.messages))
        return web.json_response({"ok": True, "channel": channel, "ts": message.ts, "message": message.api()})

    def _page(self, found: list[FakeMessage], args: dict[str, Any]) -> web.Response:
        self.lookups += 1
        oldest = args.get("oldest")
        if oldest:
            inclusive = _flag(args.get("inclusive", "0"))
            floor = _ts_key(str(oldest))
            found = [m for m in found if _ts_key(m.ts) > floor or (inclusive and _ts_key(m.ts) == floor)]
        start = int(args.get("cursor") or 0)
        limit = max(1, min(int(args.get("limit") or 100), 1000))
        page = found[start : start + limit]
        more = start + limit < len(found)
        with_metadata = _flag(args.get("include_all_metadata", "0"))
        body = [
            m.api() if with_metadata else {k: v for k, v in m.api().items() if k != "metadata"} for m in page
        ]
        return web.json_response(
            {
                "ok": True,
                "messages": body,
                "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            }
        )

    def _history(self, args: dict[str, Any]) -> web.Response:
        channel = str(args.get("channel") or "")
        top = [m for m in self._by_channel.get(channel, []) if m.thread_ts is None]
        return self._page(list(reversed(top)), args)

    def _replies(self, args: dict[str, Any]) -> web.Response:
        channel, thread = str(args.get("channel") or ""), str(args.get("ts") or "")
        found = [m for m in self._by_channel.get(channel, []) if m.ts == thread or m.thread_ts == thread]
        if not found:
            return web.json_response({"ok": False, "error": "thread_not_found"})
        return self._page(found, args)
