"""A loopback fake of Slack's Web API that enforces rate limits, for the delivery benchmark and the tests.

It takes `chat.postMessage` at most once per `channel_interval` seconds per channel and at most `rate` a second
in all (a token bucket of `burst`), and answers HTTP 429 `ratelimited` with a `Retry-After` beyond that, as Slack
does; with `channel_interval=0` and `rate=None` it takes everything. It keeps every accepted message with its
metadata and serves `conversations.history` and `conversations.replies` (with `include_all_metadata`), so that a
restarted worker can look for what it posted. `audit()` checks the result: per channel one parent, one reply per
planned paper, nothing twice. It also takes `chat.unfurl` (kept in `unfurled`, for `paperboy bench unfurl`), and
`link_shared_event` writes the event Slack sends when someone shares a link.

A person's digest goes to the bot's direct messages with them: `conversations.open users=U…` answers the same
D… conversation every time (`direct_conversation`), at most `open_rate` a second per workspace after a burst of
`open_burst` (Slack's tier 3, 50+ a minute; 429 beyond), and the D… conversation then takes messages like any
channel, under the same one-a-second rule.

The tests' fake Slack (tests/fakes/slack.py) builds on this class: it adds workspaces and their tokens, OAuth,
Socket Mode, response_url endpoints, Block Kit checks and scripted failures through `route`, `identity` and the
`_received`/`_answered` hooks, so that every Web API method is answered in one place.
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

Answer = tuple[int, dict[str, Any], dict[str, str]]
"""What a Web API method answers: HTTP status, JSON body, extra headers."""


@dataclass
class ApiCall:
    """One Web API request: the method, the bot token it carried (if any) and its arguments."""

    method: str
    token: str | None
    args: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class FakeMessage:
    """One message Slack accepted."""

    channel: str
    ts: str
    thread_ts: str | None
    metadata: dict[str, Any]
    token: str | None
    at: float
    text: str | None = None
    user: str = "UBOT"

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
        """The message as chat.postMessage and conversations.* return it."""
        data: dict[str, Any] = {
            "type": "message",
            "ts": self.ts,
            "user": self.user,
            "bot_id": bot_id(self.user),
        }
        if self.text is not None:
            data["text"] = self.text
        if self.thread_ts:
            data["thread_ts"] = self.thread_ts
        if self.metadata:
            data["metadata"] = self.metadata
        return data


@dataclass
class FakeUnfurl:
    """One chat.unfurl Slack took: where it goes (a posted message, or a link still in the composer) and the
    blocks for each URL."""

    unfurls: dict[str, Any]
    channel: str | None
    ts: str | None
    unfurl_id: str | None
    source: str | None
    token: str | None
    at: float


def link_shared_event(
    urls: list[str],
    *,
    channel: str = "C1",
    message_ts: str = "1700000000.000100",
    user: str = "U1",
    composer: bool = False,
) -> dict[str, Any]:
    """A `link_shared` event as Slack sends it: for a posted message (channel and message_ts), or for links
    still in the composer (channel COMPOSER, an unfurl_id and `source: composer`)."""
    unfurl_id = f"{user}-{channel}-{message_ts.replace('.', '')}"
    event: dict[str, Any] = {
        "type": "link_shared",
        "channel": "COMPOSER" if composer else channel,
        "is_bot_user_member": True,
        "user": user,
        "message_ts": unfurl_id if composer else message_ts,
        "unfurl_id": unfurl_id if composer else f"{channel}.{message_ts}.{unfurl_id}",
        "source": "composer" if composer else "conversations_history",
        "links": [{"domain": _domain(url), "url": url} for url in urls],
        "event_ts": message_ts,
    }
    return event


def direct_conversation(team: str, user: str) -> str:
    """The D… conversation this fake opens for the bot's direct messages with `user` of `team`."""
    return f"D{team}{user}".upper()


def _domain(url: str) -> str:
    host = url.split("://", 1)[-1].split("/", 1)[0]
    return host.removeprefix("www.")


def bot_id(bot_user: str) -> str:
    """The bot id Slack pairs with a bot user (UBOT -> BBOT)."""
    return "B" + bot_user.removeprefix("U")


def _ts_key(ts: str) -> tuple[int, int]:
    """Order Slack timestamps exactly (as floats they lose the last digits)."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds or 0), int((fraction or "0").ljust(6, "0")[:6])


def _busiest(times: list[float], window: float) -> int:
    """The most moments in any `window` seconds (a sliding window over sorted times)."""
    ordered = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes")


def api_error(code: str, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    """A Web API error answer (`{"ok": false, "error": code}`)."""
    return status, {"ok": False, "error": code}, headers or {}


class RateLimitedSlack:
    """The fake; start it, point SLACK_API_URL at `api_url`, read `messages` and `audit()` afterwards."""

    def __init__(
        self,
        channel_interval: float = 1.0,
        rate: float | None = 200.0,
        burst: int = 20,
        retry_after: int = 1,
        *,
        ts_base: int | None = None,
        team_id: str = "T1",
        bot_user: str = "UBOT",
        open_rate: float | None = None,
        open_burst: int = 20,
    ) -> None:
        self.channel_interval = channel_interval
        self.rate = rate
        self.burst = burst
        self.retry_after = retry_after
        self.open_rate = open_rate
        self.open_burst = open_burst
        # conversations.open: the calls taken (with when), and those answered 429.
        self.opened: list[float] = []
        self.open_rate_limited = 0
        self._open_tokens: dict[str, tuple[float, float]] = {}
        self.team_id = team_id
        self.bot_user = bot_user
        self.on_accept: Callable[[FakeMessage, int], None] | None = None
        self.messages: list[FakeMessage] = []
        self.unfurled: list[FakeUnfurl] = []
        self.on_unfurl: Callable[[FakeUnfurl], None] | None = None
        self.rate_limited = 0
        self.lookups = 0
        self.port = 0
        self._tokens = float(burst)
        self._refilled = time.monotonic()
        self._last_in_channel: dict[str, float] = {}
        self._serial = itertools.count(1)
        self._base = int(time.time()) if ts_base is None else ts_base
        self._by_channel: dict[str, list[FakeMessage]] = {}
        self._runner: web.AppRunner | None = None
        self._methods: dict[str, Callable[[ApiCall], Answer]] = {}
        self._tokenless: set[str] = set()
        self.route("auth.test", self._auth_test)
        self.route("chat.postMessage", self._post_message)
        self.route("conversations.history", self._history)
        self.route("conversations.replies", self._replies)
        self.route("chat.unfurl", self._unfurl)
        self.route("conversations.open", self._open_conversation)

    # ----- life cycle -----

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 (a free port unless given)."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/_audit", self._audit_route)
        self._add_routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        # A deep backlog: the benchmark's replicas open hundreds of connections at once.
        await web.TCPSite(self._runner, "127.0.0.1", port, backlog=1024).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """Base URL of the fake."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL is set to."""
        return f"{self.url}/api/"

    # ----- what a fake built on this one changes -----

    def route(self, method: str, handler: Callable[[ApiCall], Answer], *, needs_token: bool = True) -> None:
        """Answer a Web API method with `handler` (replacing any earlier one)."""
        self._methods[method] = handler
        if needs_token:
            self._tokenless.discard(method)
        else:
            self._tokenless.add(method)

    def identity(self, token: str | None) -> tuple[str, str] | None:
        """The (team id, bot user) a bot token stands for, or None when Slack answers `invalid_auth`.

        This fake takes any token as its one workspace's bot.
        """
        return self.team_id, self.bot_user

    def _add_routes(self, app: web.Application) -> None:
        """Add routes beside the Web API (nothing here)."""

    def _received(self, call: ApiCall) -> None:
        """Called with every Web API request before it is answered (nothing here)."""

    def _answered(self, call: ApiCall) -> None:
        """Called after every Web API request was answered, even when answering raised (nothing here)."""

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
            "direct_messages": sum(1 for c in self._by_channel if c.startswith("D")),
            "closest_in_channel": self._closest(lambda c: not c.startswith("D")),
            "closest_in_dm": self._closest(lambda c: c.startswith("D")),
            "busiest_second": _busiest(times, 1.0),
            "opens": len(self.opened),
            "open_rate_limited": self.open_rate_limited,
            "busiest_open_minute": _busiest(self.opened, 60.0),
        }

    def _closest(self, kind: Callable[[str], bool]) -> float | None:
        """The shortest time between two accepted messages of one conversation, over those of one kind."""
        gaps = [
            later.at - earlier.at
            for channel, messages in self._by_channel.items()
            if kind(channel)
            for earlier, later in itertools.pairwise(messages)
        ]
        return min(gaps) if gaps else None

    # ----- the API -----

    async def _audit_route(self, request: web.Request) -> web.Response:
        """`POST /_audit` with `{"expected": {channel: papers}}`: the audit, for a fake in another process."""
        body = await request.json() if request.can_read_body else {}
        return web.json_response(self.audit(body.get("expected")))

    async def _read_call(self, request: web.Request) -> ApiCall:
        """The method, bot token and arguments of a request (query string, then form or JSON body)."""
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update(await request.post())
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        return ApiCall(request.match_info["method"], token or args.pop("token", None), args)

    async def _api(self, request: web.Request) -> web.Response:
        call = await self._read_call(request)
        self._received(call)
        try:
            status, body, headers = self._answer(call)
        finally:
            self._answered(call)
        return web.json_response(body, status=status, headers=headers)

    def _answer(self, call: ApiCall) -> Answer:
        if call.method not in self._tokenless and self.identity(call.token) is None:
            return api_error("invalid_auth")
        handler = self._methods.get(call.method)
        if handler is None:
            return api_error("unknown_method")
        return handler(call)

    def _auth_test(self, call: ApiCall) -> Answer:
        identity = self.identity(call.token)
        assert identity is not None  # _answer refused the call otherwise
        team, user = identity
        body = {
            "ok": True,
            "url": f"https://{team.lower()}.slack.com/",
            "team": team,
            "user": "paperboy",
            "team_id": team,
            "user_id": user,
            "bot_id": bot_id(user),
            "is_enterprise_install": False,
        }
        return 200, body, {}

    def _admit(self, channel: str, now: float) -> bool:
        """Apply both limits; True when the message may be accepted now."""
        if self.rate is not None:
            self._tokens = min(float(self.burst), self._tokens + (now - self._refilled) * self.rate)
            self._refilled = now
        last = self._last_in_channel.get(channel)
        if last is not None and now - last < self.channel_interval - CHANNEL_TOLERANCE:
            return False
        if self.rate is not None:
            if self._tokens < 1.0:
                return False
            self._tokens -= 1.0
        self._last_in_channel[channel] = now
        return True

    def _open_conversation(self, call: ApiCall) -> Answer:
        """conversations.open with one user: the bot's direct messages with them, the same D… every time."""
        users = [u for u in str(call.args.get("users") or "").split(",") if u]
        if len(users) != 1:
            return api_error("not_enough_users" if not users else "too_many_users")
        identity = self.identity(call.token)
        team = identity[0] if identity is not None else self.team_id
        now = time.monotonic()
        if self.open_rate is not None:
            # Tier 3 per workspace: a token bucket of `open_burst`, refilled at `open_rate` a second.
            tokens, refilled = self._open_tokens.get(team, (float(self.open_burst), now))
            tokens = min(float(self.open_burst), tokens + (now - refilled) * self.open_rate)
            if tokens < 1.0:
                self._open_tokens[team] = (tokens, now)
                self.open_rate_limited += 1
                return api_error("ratelimited", 429, {"Retry-After": str(self.retry_after)})
            self._open_tokens[team] = (tokens - 1.0, now)
        self.opened.append(now)
        return 200, {"ok": True, "channel": {"id": direct_conversation(team, users[0])}}, {}

    def _post_message(self, call: ApiCall) -> Answer:
        args = call.args
        channel = str(args.get("channel") or "")
        if not channel:
            return api_error("channel_not_found")
        now = time.monotonic()
        if not self._admit(channel, now):
            self.rate_limited += 1
            return api_error("ratelimited", 429, {"Retry-After": str(self.retry_after)})
        metadata = args.get("metadata") or {}
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        identity = self.identity(call.token)
        text = args.get("text")
        message = FakeMessage(
            channel=channel,
            ts=f"{self._base}.{next(self._serial):06d}",
            thread_ts=str(args["thread_ts"]) if args.get("thread_ts") else None,
            metadata=metadata,
            token=call.token,
            at=now,
            text=None if text is None else str(text),
            user=identity[1] if identity is not None else self.bot_user,
        )
        self.messages.append(message)
        self._by_channel.setdefault(channel, []).append(message)
        if self.on_accept is not None:
            self.on_accept(message, len(self.messages))
        return 200, {"ok": True, "channel": channel, "ts": message.ts, "message": message.api()}, {}

    def _unfurl(self, call: ApiCall) -> Answer:
        """chat.unfurl: `channel` and `ts`, or `unfurl_id` and `source`, and a map from URL to blocks."""
        args = call.args
        unfurls = args.get("unfurls")
        if isinstance(unfurls, str):
            unfurls = json.loads(unfurls)
        by_message = bool(args.get("channel") and args.get("ts"))
        in_composer = bool(args.get("unfurl_id") and args.get("source"))
        if not isinstance(unfurls, dict) or not unfurls or by_message == in_composer:
            return api_error("invalid_arguments")
        unfurl = FakeUnfurl(
            unfurls=unfurls,
            channel=str(args["channel"]) if by_message else None,
            ts=str(args["ts"]) if by_message else None,
            unfurl_id=str(args["unfurl_id"]) if in_composer else None,
            source=str(args["source"]) if in_composer else None,
            token=call.token,
            at=time.monotonic(),
        )
        self.unfurled.append(unfurl)
        if self.on_unfurl is not None:
            self.on_unfurl(unfurl)
        return 200, {"ok": True}, {}

    def _page(self, found: list[FakeMessage], args: dict[str, Any]) -> Answer:
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
        return (
            200,
            {
                "ok": True,
                "messages": body,
                "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            },
            {},
        )

    def _history(self, call: ApiCall) -> Answer:
        channel = str(call.args.get("channel") or "")
        top = [m for m in self._by_channel.get(channel, []) if m.thread_ts is None]
        return self._page(list(reversed(top)), call.args)

    def _replies(self, call: ApiCall) -> Answer:
        channel, thread = str(call.args.get("channel") or ""), str(call.args.get("ts") or "")
        found = [m for m in self._by_channel.get(channel, []) if m.ts == thread or m.thread_ts == thread]
        if not found:
            return api_error("thread_not_found")
        return self._page(found, call.args)
