"""A fake Discord (REST API and gateway) on 127.0.0.1, for tests and benchmarks, that discord.py talks to.

It answers what Paperboy's client calls, keeps the messages and threads it was asked to create, records every
request, speaks the gateway handshake (HELLO, IDENTIFY, READY, GUILD_CREATE, heartbeats, RESUME), and pushes
INTERACTION_CREATE (slash commands, buttons, message commands) and MESSAGE_REACTION_ADD/REMOVE like Discord does.
Direct messages too: a user's DM channel opens on POST /users/@me/channels, a user who closed DMs answers 50007,
buttons pressed in a DM come without a guild, and GUILD_MEMBER_REMOVE reaches only a session that asked for the
privileged GUILD_MEMBERS intent (which the gateway refuses, 4014, unless the application's flags allow it).

Details that matter to discord.py: JSON answers carry `Content-Type: application/json` with no charset
(else the body is read as text), a 429 carries a `Via` header (else it is taken for a Cloudflare ban), and
interaction callbacks are asked with `?with_response=1` and answered with a callback object.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

BOT_ID = 700_000_000_000_000_001
APP_ID = BOT_ID
EVERYONE_CAN = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 16) | (1 << 6) | (1 << 31) | (1 << 38)
MANAGE_CHANNELS = 1 << 4
# Text channel, announcement, forum (Discord's channel type numbers).
TEXT, FORUM, PUBLIC_THREAD = 0, 15, 11
DM = 1
GUILD_MEMBERS_INTENT = 1 << 1
# Application flags: the Server Members Intent enabled in the portal (verified app, or under 100 servers).
GATEWAY_GUILD_MEMBERS, GATEWAY_GUILD_MEMBERS_LIMITED = 1 << 14, 1 << 15
_ROUTE_PREFIX = "/api/v10"


def snowflake_for_shard(shard_id: int, shard_count: int, seed: int) -> int:
    """A guild id that Discord would route to `shard_id` of `shard_count`."""
    base = (seed << 22) | 1
    while (base >> 22) % shard_count != shard_id:
        base += 1 << 22
    return base


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py only parses JSON when the content type is exactly "application/json".
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()


def user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    """A Discord user object."""
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
        "flags": 0,
    }


@dataclass
class Call:
    """One REST request the client made."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float


@dataclass
class Fault:
    """An error answer the fake gives instead of the normal one, `times` times."""

    method: str
    path: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


@dataclass
class InteractionRecord:
    """One pushed interaction and what the client answered."""

    id: int
    token: str
    channel_id: int
    pushed_at: float
    initial: asyncio.Future[dict[str, Any]]
    initial_at: float | None = None
    response_message: dict[str, Any] | None = None
    followups: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def initial_type(self) -> int:
        """The callback type: 4 message, 5 deferred, 7 update, 8 autocomplete result."""
        return int(self.initial.result()["type"])

    def final(self) -> dict[str, Any]:
        """The message the user ends up seeing: the last edit or follow-up, else the initial message."""
        if self.edits:
            return self.edits[-1]
        if self.followups:
            return self.followups[-1]
        return self.response_message or {}


@dataclass
class GatewaySession:
    """One gateway connection (one shard)."""

    ws: web.WebSocketResponse
    shard: tuple[int, int]
    session_id: str
    intents: int
    seq: int = 0
    identified: asyncio.Event = field(default_factory=asyncio.Event)


class FakeDiscord:
    """The fake: start it, point the client at api_url and gateway_url, push events, read what happened."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self.guilds: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.reactions: list[tuple[int, int, str]] = []
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.sessions: list[GatewaySession] = []
        self.identifies: list[dict[str, Any]] = []
        self.users: dict[int, dict[str, Any]] = {}
        # Direct messages: each user's DM channel with the bot, users who refuse DMs, users Discord does not know.
        self.dm_channels: dict[int, int] = {}
        self.closed_dms: set[int] = set()
        self.unknown_users: set[int] = set()
        # (guild, user) of people who left a guild; everyone else is a member of every guild.
        self.departed: set[tuple[int, int]] = set()
        self.application_flags = 0
        self._by_token: dict[str, InteractionRecord] = {}
        self._nonces: dict[tuple[int, str], int] = {}
        self._ids = itertools.count(1_100_000_000_000_000_000)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.session_ready = asyncio.Event()
        self._new_call = asyncio.Condition()

    # ----- life cycle -----

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", _ROUTE_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        for session in self.sessions:
            await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """What DISCORD_API_URL should say."""
        return f"http://127.0.0.1:{self.port}{_ROUTE_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """What DISCORD_GATEWAY_URL should say."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    def next_id(self) -> int:
        """A fresh snowflake."""
        return next(self._ids)

    # ----- the world -----

    def add_guild(self, name: str = "Research Lab", guild_id: int | None = None) -> int:
        """A guild the bot is in; returns its id."""
        gid = guild_id or self.next_id()
        self.guilds[gid] = {
            "id": str(gid),
            "name": name,
            "icon": None,
            "owner_id": "1",
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [
                {
                    "id": str(gid),
                    "name": "@everyone",
                    "permissions": str(EVERYONE_CAN),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_flags": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "member_count": 2,
            "large": False,
            "unavailable": False,
            "joined_at": _now(),
            "members": [],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }
        return gid

    def add_channel(self, guild_id: int, name: str = "papers", *, kind: int = TEXT) -> int:
        """A channel in a guild; returns its id."""
        cid = self.next_id()
        channel = {
            "id": str(cid),
            "guild_id": str(guild_id),
            "name": name,
            "type": kind,
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }
        if kind == FORUM:
            channel.update(
                available_tags=[],
                default_reaction_emoji=None,
                default_sort_order=None,
                default_forum_layout=0,
                default_thread_rate_limit_per_user=0,
            )
        self.channels[cid] = channel
        self.guilds[guild_id]["channels_ids"] = [*self.guilds[guild_id].get("channels_ids", []), cid]
        return cid

    def add_thread(self, parent_id: int, name: str, thread_id: int | None = None) -> int:
        """An active public thread in a channel (the bot sees it in GUILD_CREATE); returns its id."""
        thread = self._thread(parent_id, name, thread_id or self.next_id(), 1440)
        thread["owner_id"] = "1"
        return int(thread["id"])

    def guild_payload(self, guild_id: int) -> dict[str, Any]:
        """The GUILD_CREATE body for a guild, with its channels and active threads."""
        guild = {k: v for k, v in self.guilds[guild_id].items() if k != "channels_ids"}
        ids = self.guilds[guild_id].get("channels_ids", [])
        guild["channels"] = [self.channels[c] for c in ids if self.channels[c]["type"] != PUBLIC_THREAD]
        guild["threads"] = [
            c for c in self.channels.values() if c["type"] == PUBLIC_THREAD and c["guild_id"] == str(guild_id)
        ]
        return guild

    def messages_in(self, channel_id: int) -> list[dict[str, Any]]:
        """Messages created in a channel or thread, oldest first."""
        return [m for m in self.messages.values() if m["channel_id"] == str(channel_id)]

    def threads_of(self, channel_id: int) -> list[dict[str, Any]]:
        """Threads whose parent is the channel."""
        return [c for c in self.channels.values() if c.get("parent_id") == str(channel_id)]

    def calls_to(self, method: str, pattern: str) -> list[Call]:
        """Recorded requests whose path matches a regex."""
        compiled = re.compile(pattern)
        return [c for c in self.calls if c.method == method and compiled.fullmatch(c.path)]

    async def wait_for_call(self, method: str, pattern: str, within: float = 5.0) -> Call:
        """Wait until the client has made a request whose path matches a regex; return the first such."""
        async with asyncio.timeout(within), self._new_call:
            await self._new_call.wait_for(lambda: bool(self.calls_to(method, pattern)))
        return self.calls_to(method, pattern)[0]

    def fail(
        self,
        method: str,
        path_pattern: str,
        status: int,
        body: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` matching requests with an error."""
        self.faults.append(
            Fault(
                method,
                re.compile(path_pattern),
                status,
                body or {"message": "error", "code": 0},
                headers or {},
                times,
            )
        )

    def rate_limit(
        self, method: str, path_pattern: str, retry_after: float = 0.05, *, times: int = 1
    ) -> None:
        """Answer the next matching requests with a 429 that discord.py waits out."""
        self.fail(
            method,
            path_pattern,
            429,
            {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
            headers={
                "Via": "1.1 google",
                "Retry-After": str(retry_after),
                "X-RateLimit-Scope": "user",
                "X-RateLimit-Bucket": "fake",
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": str(retry_after),
            },
            times=times,
        )

    def forbid(self, channel_id: int) -> None:
        """The bot lost its permission to post in a channel (every later post answers 403)."""
        self.fail(
            "POST",
            rf"/channels/{channel_id}/.*",
            403,
            {"message": "Missing Permissions", "code": 50013},
            times=10_000,
        )

    # ----- REST -----

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body = await self._body(request)
        self.calls.append(Call(request.method, path, dict(request.query), body, time.perf_counter()))
        async with self._new_call:
            self._new_call.notify_all()
        for fault in self.faults:
            if fault.times > 0 and fault.method == request.method and fault.path.fullmatch(path):
                fault.times -= 1
                return _json(fault.body, fault.status, fault.headers)
        for method, pattern, handler in self._routes():
            if method == request.method:
                match = re.fullmatch(pattern, path)
                if match:
                    return await handler(request, body, **match.groupdict())
        return _json({"message": f"404: Not Found ({request.method} {path})", "code": 0}, 404)

    async def _body(self, request: web.Request) -> Any:
        if request.content_type == "application/json":
            return await request.json()
        if request.content_type.startswith("multipart/"):
            payload: dict[str, Any] = {"files": {}}
            reader = await request.multipart()
            part: Any
            async for part in reader:
                if part.name == "payload_json":
                    payload.update(json.loads(await part.text()))
                elif part.filename:
                    payload["files"][part.filename] = (await part.read()).decode("utf-8", "replace")
            return payload
        return None

    def _routes(self) -> list[tuple[str, str, Callable[..., Awaitable[web.Response]]]]:
        app = str(APP_ID)
        return [
            ("GET", r"/users/@me", self._me),
            ("GET", r"/oauth2/applications/@me", self._application),
            ("GET", r"/applications/@me", self._application),
            ("GET", r"/gateway/bot", self._gateway_bot),
            ("GET", r"/gateway", self._gateway_bot),
            ("GET", rf"/applications/{app}/commands", self._get_global_commands),
            ("PUT", rf"/applications/{app}/commands", self._put_global_commands),
            ("PUT", rf"/applications/{app}/guilds/(?P<guild_id>\d+)/commands", self._put_guild_commands),
            ("GET", rf"/applications/{app}/guilds/(?P<guild_id>\d+)/commands", self._get_guild_commands),
            ("GET", r"/users/@me/guilds", self._my_guilds),
            ("POST", r"/users/@me/channels", self._open_dm),
            ("GET", r"/users/(?P<uid>\d+)", self._get_user),
            ("GET", r"/guilds/(?P<gid>\d+)/members/(?P<uid>\d+)", self._get_member),
            ("POST", r"/interactions/(?P<iid>\d+)/(?P<token>[^/]+)/callback", self._callback),
            ("POST", rf"/webhooks/{app}/(?P<token>[^/]+)", self._followup),
            ("PATCH", rf"/webhooks/{app}/(?P<token>[^/]+)/messages/@original", self._edit_original),
            ("GET", rf"/webhooks/{app}/(?P<token>[^/]+)/messages/@original", self._get_original),
            ("GET", r"/channels/(?P<cid>\d+)", self._get_channel),
            ("POST", r"/channels/(?P<cid>\d+)/messages", self._create_message),
            ("POST", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)/threads", self._thread_from_message),
            ("POST", r"/channels/(?P<cid>\d+)/threads", self._forum_post),
            (
                "PUT",
                r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)/reactions/(?P<emoji>[^/]+)/@me",
                self._react,
            ),
        ]

    async def _me(self, request: web.Request, body: Any) -> web.Response:
        return _json(user_payload(BOT_ID, "Paperboy", bot=True))

    async def _application(self, request: web.Request, body: Any) -> web.Response:
        return _json(
            {
                "id": str(APP_ID),
                "name": "Paperboy",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user_payload(1, "owner"),
                "verify_key": "00",
                "flags": self.application_flags,
                "team": None,
                "summary": "",
                "rpc_origins": [],
                "interactions_endpoint_url": None,
                "bot": user_payload(BOT_ID, "Paperboy", bot=True),
            }
        )

    def user(self, user_id: int) -> dict[str, Any]:
        """A user object (made up for any id)."""
        return self.users.setdefault(user_id, user_payload(user_id, f"user{user_id}"))

    async def _get_user(self, request: web.Request, body: Any, uid: str) -> web.Response:
        if int(uid) in self.unknown_users:
            return _json({"message": "Unknown User", "code": 10013}, 404)
        return _json(self.user(int(uid)))

    async def _open_dm(self, request: web.Request, body: Any) -> web.Response:
        user_id = int(body["recipient_id"])
        if user_id in self.unknown_users:
            return _json({"message": "Invalid Recipient(s)", "code": 50033}, 400)
        # Discord answers the same DM channel every time for one user.
        channel_id = self.dm_channels.get(user_id)
        if channel_id is None:
            channel_id = self.dm_channels[user_id] = self.next_id()
            self.channels[channel_id] = {
                "id": str(channel_id),
                "type": DM,
                "last_message_id": None,
                "recipients": [self.user(user_id)],
                "flags": 0,
            }
        return _json(self.channels[channel_id])

    async def _get_member(self, request: web.Request, body: Any, gid: str, uid: str) -> web.Response:
        if int(gid) not in self.guilds:
            return _json({"message": "Unknown Guild", "code": 10004}, 404)
        if (int(gid), int(uid)) in self.departed or int(uid) in self.unknown_users:
            return _json({"message": "Unknown Member", "code": 10007}, 404)
        member = self.member(int(uid))
        del member["permissions"]
        return _json(member)

    def close_dms(self, user_id: int) -> None:
        """The user turned off DMs from server members: every message to their DM answers 50007."""
        self.closed_dms.add(user_id)

    def dms_of(self, user_id: int) -> list[dict[str, Any]]:
        """The messages in a user's DM channel with the bot, oldest first."""
        channel_id = self.dm_channels.get(user_id)
        return [] if channel_id is None else self.messages_in(channel_id)

    async def _gateway_bot(self, request: web.Request, body: Any) -> web.Response:
        return _json(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _get_global_commands(self, request: web.Request, body: Any) -> web.Response:
        return _json(self.global_commands)

    def _stored_commands(self, body: list[dict[str, Any]], guild_id: str | None) -> list[dict[str, Any]]:
        stored = []
        for command in body:
            command = {**command, "id": str(self.next_id()), "application_id": str(APP_ID), "version": "1"}
            # Discord answers a message or user command (types 3, 2) with an empty description.
            command.setdefault("description", "")
            if guild_id:
                command["guild_id"] = guild_id
            stored.append(command)
        return stored

    async def _put_global_commands(self, request: web.Request, body: Any) -> web.Response:
        self.global_commands = self._stored_commands(body, None)
        return _json(self.global_commands)

    async def _put_guild_commands(self, request: web.Request, body: Any, guild_id: str) -> web.Response:
        self.guild_commands[int(guild_id)] = self._stored_commands(body, guild_id)
        return _json(self.guild_commands[int(guild_id)])

    async def _get_guild_commands(self, request: web.Request, body: Any, guild_id: str) -> web.Response:
        return _json(self.guild_commands.get(int(guild_id), []))

    async def _my_guilds(self, request: web.Request, body: Any) -> web.Response:
        after = int(request.query.get("after", "0"))
        listed = [
            {
                "id": g["id"],
                "name": g["name"],
                "icon": None,
                "owner": False,
                "permissions": "0",
                "features": [],
            }
            for gid, g in sorted(self.guilds.items())
            if gid > after
        ]
        return _json(listed[: int(request.query.get("limit", "200"))])

    def _message(
        self,
        channel_id: int,
        body: dict[str, Any],
        *,
        author: dict[str, Any] | None = None,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        channel = self.channels.get(channel_id, {})
        message = {
            "id": str(message_id or self.next_id()),
            "channel_id": str(channel_id),
            "guild_id": channel.get("guild_id"),
            "author": author or user_payload(BOT_ID, "Paperboy", bot=True),
            "content": body.get("content") or "",
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": body.get("flags", 0),
            "nonce": body.get("nonce"),
            "allowed_mentions": body.get("allowed_mentions"),
            "files": sorted(body.get("files", {})),
            "file_texts": body.get("files", {}),
        }
        self.messages[int(message["id"])] = message
        return message

    async def _create_message(self, request: web.Request, body: Any, cid: str) -> web.Response:
        channel_id = int(cid)
        if channel_id not in self.channels:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        channel = self.channels[channel_id]
        if channel["type"] == DM and int(channel["recipients"][0]["id"]) in self.closed_dms:
            return _json({"message": "Cannot send messages to this user", "code": 50007}, 403)
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            known = self._nonces.get((channel_id, str(nonce)))
            if known is not None:
                return _json(self.messages[known])
        message = self._message(channel_id, body)
        if nonce is not None:
            self._nonces[(channel_id, str(nonce))] = int(message["id"])
        return _json(message)

    def _thread(self, parent_id: int, name: str, thread_id: int, archive: int) -> dict[str, Any]:
        parent = self.channels[parent_id]
        thread = {
            "id": str(thread_id),
            "guild_id": parent["guild_id"],
            "parent_id": str(parent_id),
            "owner_id": str(BOT_ID),
            "name": name,
            "type": PUBLIC_THREAD,
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": archive,
                "archive_timestamp": _now(),
                "locked": False,
            },
        }
        self.channels[thread_id] = thread
        return thread

    async def _thread_from_message(self, request: web.Request, body: Any, cid: str, mid: str) -> web.Response:
        if int(mid) in self.channels:
            return _json(
                {"message": "A thread has already been created for this message", "code": 160004}, 400
            )
        name = body["name"]
        if not 1 <= len(name) <= 100:
            return _json({"message": "Invalid Form Body", "code": 50035}, 400)
        return _json(self._thread(int(cid), name, int(mid), body.get("auto_archive_duration", 4320)))

    async def _forum_post(self, request: web.Request, body: Any, cid: str) -> web.Response:
        if int(cid) not in self.channels:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        thread_id = self.next_id()
        thread = self._thread(int(cid), body["name"], thread_id, body.get("auto_archive_duration", 4320))
        message = self._message(thread_id, body.get("message") or {}, message_id=thread_id)
        return _json({**thread, "message": message})

    async def _react(self, request: web.Request, body: Any, cid: str, mid: str, emoji: str) -> web.Response:
        from urllib.parse import unquote

        self.reactions.append((int(cid), int(mid), unquote(emoji)))
        return web.Response(status=204)

    async def _get_channel(self, request: web.Request, body: Any, cid: str) -> web.Response:
        channel = self.channels.get(int(cid))
        if channel is None:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        return _json(channel)

    # ----- interactions -----

    async def _callback(self, request: web.Request, body: Any, iid: str, token: str) -> web.Response:
        record = self.interactions.get(int(iid))
        if record is None or record.initial.done():
            return _json({"message": "Interaction has already been acknowledged.", "code": 40060}, 400)
        record.initial_at = time.perf_counter()
        kind = body["type"]
        interaction = {
            "id": iid,
            "type": 2,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool((body.get("data") or {}).get("flags", 0) & 64),
        }
        answer: dict[str, Any] = {"interaction": interaction}
        if kind in (4, 5):
            # A multipart answer carries its attachments beside `data`, as `payload_json` and file parts.
            data = {**(body.get("data") or {}), "files": body.get("files") or {}}
            message = self._message(record.channel_id, data)
            record.response_message = message
            interaction["response_message_id"] = message["id"]
            answer["resource"] = {"type": kind, "message": message}
        record.initial.set_result(body)
        record.changed.set()
        return _json(answer)

    async def _followup(self, request: web.Request, body: Any, token: str) -> web.Response:
        record = self._by_token[token]
        message = self._message(record.channel_id, body)
        record.followups.append(message)
        record.changed.set()
        return _json(message)

    async def _edit_original(self, request: web.Request, body: Any, token: str) -> web.Response:
        record = self._by_token[token]
        edited = self._message(record.channel_id, body)
        if record.response_message is not None:
            # The deferred "thinking" message becomes the answer: same message, new content.
            del self.messages[int(edited["id"])]
            edited["id"] = record.response_message["id"]
            self.messages[int(edited["id"])] = edited
            record.response_message = edited
        record.edits.append(edited)
        record.changed.set()
        return _json(edited)

    async def _get_original(self, request: web.Request, body: Any, token: str) -> web.Response:
        return _json(self._by_token[token].final())

    # ----- gateway -----

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}))
        session: GatewaySession | None = None
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            data = json.loads(frame.data)
            op = data.get("op")
            if op == 1:
                await ws.send_str(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
            elif op == 2:
                session = await self._identify(ws, data["d"])
            elif op == 6:
                session = await self._resume(ws, data["d"])
        if session is not None and session in self.sessions:
            self.sessions.remove(session)
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> GatewaySession | None:
        self.identifies.append(data)
        allowed = self.application_flags & (GATEWAY_GUILD_MEMBERS | GATEWAY_GUILD_MEMBERS_LIMITED)
        if int(data.get("intents", 0)) & GUILD_MEMBERS_INTENT and not allowed:
            # A privileged intent the portal does not allow: Discord closes with 4014.
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        shard = tuple(data.get("shard") or (0, 1))
        session = GatewaySession(
            ws, (int(shard[0]), int(shard[1])), f"session-{self.next_id()}", int(data.get("intents", 0))
        )
        self.sessions.append(session)
        mine = [gid for gid in self.guilds if (gid >> 22) % session.shard[1] == session.shard[0]]
        await self._send(
            session,
            "READY",
            {
                "v": 10,
                "user": user_payload(BOT_ID, "Paperboy", bot=True),
                "session_id": session.session_id,
                "resume_gateway_url": self.gateway_url,
                "shard": list(session.shard),
                "guilds": [{"id": str(gid), "unavailable": True} for gid in mine],
                "application": {"id": str(APP_ID), "flags": self.application_flags},
                "private_channels": [],
                "relationships": [],
            },
        )
        for gid in mine:
            await self._send(session, "GUILD_CREATE", self.guild_payload(gid))
        session.identified.set()
        self.session_ready.set()
        return session

    async def _resume(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> GatewaySession:
        # A resume is answered as a fresh session: tell the client to identify again.
        await ws.send_str(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
        return GatewaySession(ws, (0, 1), data.get("session_id", ""), 0)

    async def _send(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        await session.ws.send_str(json.dumps({"op": 0, "t": event, "s": session.seq, "d": data}))

    def session_for_dms(self) -> GatewaySession:
        """The session that gets direct-message events: Discord sends them to shard 0."""
        for session in self.sessions:
            if session.shard[0] == 0:
                return session
        raise LookupError("no gateway session runs shard 0, where direct messages go")

    def session_for(self, guild_id: int) -> GatewaySession:
        """The connected shard that carries a guild."""
        for session in self.sessions:
            if (guild_id >> 22) % session.shard[1] == session.shard[0]:
                return session
        raise LookupError(f"no gateway session carries guild {guild_id}")

    async def dispatch(self, guild_id: int, event: str, data: dict[str, Any]) -> None:
        """Push a gateway event on the shard that carries the guild."""
        await self._send(self.session_for(guild_id), event, data)

    async def join_guild(self, guild_id: int) -> None:
        """The bot joins a guild: GUILD_CREATE after READY, without `unavailable`, as Discord sends it."""
        payload = self.guild_payload(guild_id)
        del payload["unavailable"]
        await self.dispatch(guild_id, "GUILD_CREATE", payload)

    async def remove_from_guild(self, guild_id: int) -> None:
        """The bot is removed from a guild (GUILD_DELETE without `unavailable`)."""
        session = self.session_for(guild_id)
        del self.guilds[guild_id]
        await self._send(session, "GUILD_DELETE", {"id": str(guild_id)})

    async def delete_channel(self, channel_id: int) -> None:
        """A channel is deleted (CHANNEL_DELETE); later posts to it answer 404 Unknown Channel."""
        channel = self.channels.pop(channel_id)
        await self.dispatch(int(channel["guild_id"]), "CHANNEL_DELETE", channel)

    def member(self, user_id: int, *, manage: bool = False) -> dict[str, Any]:
        """A guild member payload, with resolved permissions as interactions carry them."""
        permissions = EVERYONE_CAN | (MANAGE_CHANNELS if manage else 0)
        return {
            "user": self.user(user_id),
            "roles": [],
            "joined_at": _now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "permissions": str(permissions),
            "pending": False,
            "communication_disabled_until": None,
        }

    def _interaction_base(
        self,
        kind: int,
        guild_id: int,
        channel_id: int,
        user_id: int,
        manage: bool,
    ) -> tuple[dict[str, Any], InteractionRecord]:
        iid = self.next_id()
        token = f"token-{iid}"
        record = InteractionRecord(iid, token, channel_id, 0.0, asyncio.get_running_loop().create_future())
        self.interactions[iid] = record
        self._by_token[token] = record
        channel = self.channels.get(
            channel_id, {"id": str(channel_id), "type": TEXT, "guild_id": str(guild_id)}
        )
        payload = {
            "id": str(iid),
            "application_id": str(APP_ID),
            "type": kind,
            "token": token,
            "version": 1,
            "guild_id": str(guild_id),
            "channel_id": str(channel_id),
            "channel": channel,
            "member": self.member(user_id, manage=manage),
            "app_permissions": str(EVERYONE_CAN),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 8388608,
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
        }
        return payload, record

    @staticmethod
    def _options(values: dict[str, Any], focused: str | None = None) -> list[dict[str, Any]]:
        options = []
        for name, value in values.items():
            kind = 5 if isinstance(value, bool) else 4 if isinstance(value, int) else 3
            option: dict[str, Any] = {"name": name, "type": kind, "value": value}
            if name == focused:
                option["focused"] = True
            options.append(option)
        return options

    async def push(
        self, guild_id: int | None, payload: dict[str, Any], record: InteractionRecord
    ) -> InteractionRecord:
        """Send an INTERACTION_CREATE and note when it left (one in a DM, `guild_id` None, goes to shard 0)."""
        session = self.session_for(guild_id) if guild_id is not None else self.session_for_dms()
        session.seq += 1
        text = json.dumps({"op": 0, "t": "INTERACTION_CREATE", "s": session.seq, "d": payload})
        record.pushed_at = time.perf_counter()
        await session.ws.send_str(text)
        return record

    async def slash(
        self,
        guild_id: int,
        channel_id: int,
        subcommand: str,
        *,
        user_id: int = 42,
        manage: bool = False,
        focused: str | None = None,
        **options: Any,
    ) -> InteractionRecord:
        """A user runs `/papers <subcommand> option:value …` (or types in an option, with `focused`).

        A subcommand of a group is named with a space: `"me subscribe"` is `/papers me subscribe`.
        """
        payload, record = self._interaction_base(4 if focused else 2, guild_id, channel_id, user_id, manage)
        commands = self.guild_commands.get(guild_id) or self.global_commands
        command_id = next((c["id"] for c in commands if c["name"] == "papers"), str(self.next_id()))
        *groups, name = subcommand.split()
        chosen: list[dict[str, Any]] = [{"name": name, "type": 1, "options": self._options(options, focused)}]
        for group in reversed(groups):
            chosen = [{"name": group, "type": 2, "options": chosen}]
        data: dict[str, Any] = {"id": command_id, "name": "papers", "type": 1, "options": chosen}
        if guild_id in self.guild_commands:
            data["guild_id"] = str(guild_id)
        payload["data"] = data
        return await self.push(guild_id, payload, record)

    def post_as_bot(self, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """A message the bot posted some time ago (`body` as it would send it), without a request now."""
        return self._message(channel_id, body)

    def post_as_user(self, channel_id: int, content: str, *, user_id: int = 77) -> dict[str, Any]:
        """Someone (not the bot) posts a message in a channel; the bot is not told (no message-content intent)."""
        author = self.users.setdefault(user_id, user_payload(user_id, f"user{user_id}"))
        return self._message(channel_id, {"content": content}, author=author)

    async def message_command(
        self, guild_id: int, message_id: int, name: str = "Paper card", *, user_id: int = 42
    ) -> InteractionRecord:
        """A user picks Apps → <name> on a message: the interaction carries the message in `resolved`."""
        message = self.messages[message_id]
        channel_id = int(message["channel_id"])
        payload, record = self._interaction_base(2, guild_id, channel_id, user_id, False)
        commands = self.guild_commands.get(guild_id) or self.global_commands
        command_id = next(
            (c["id"] for c in commands if c["name"] == name and c.get("type") == 3), str(self.next_id())
        )
        data: dict[str, Any] = {
            "id": command_id,
            "name": name,
            "type": 3,
            "target_id": str(message_id),
            "resolved": {"messages": {str(message_id): message}},
        }
        if guild_id in self.guild_commands:
            data["guild_id"] = str(guild_id)
        payload["data"] = data
        return await self.push(guild_id, payload, record)

    async def press(
        self, guild_id: int, message_id: int, custom_id: str, *, user_id: int = 42
    ) -> InteractionRecord:
        """A user presses a button on a message."""
        message = self.messages[message_id]
        channel_id = int(message["channel_id"])
        payload, record = self._interaction_base(3, guild_id, channel_id, user_id, False)
        payload["data"] = {"custom_id": custom_id, "component_type": 2}
        payload["message"] = message
        return await self.push(guild_id, payload, record)

    async def press_in_dm(self, message_id: int, custom_id: str, *, user_id: int = 42) -> InteractionRecord:
        """A user presses a button on a message in their DM with the bot: no guild, no member, just the user."""
        message = self.messages[message_id]
        channel_id = int(message["channel_id"])
        iid = self.next_id()
        token = f"token-{iid}"
        record = InteractionRecord(iid, token, channel_id, 0.0, asyncio.get_running_loop().create_future())
        self.interactions[iid] = record
        self._by_token[token] = record
        payload = {
            "id": str(iid),
            "application_id": str(APP_ID),
            "type": 3,
            "token": token,
            "version": 1,
            "channel_id": str(channel_id),
            "channel": self.channels[channel_id],
            "user": self.user(user_id),
            "app_permissions": str(EVERYONE_CAN),
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 8388608,
            "authorizing_integration_owners": {"0": "0"},
            "context": 1,  # BOT_DM
            "data": {"custom_id": custom_id, "component_type": 2},
            "message": message,
        }
        return await self.push(None, payload, record)

    async def remove_member(self, guild_id: int, user_id: int) -> bool:
        """A person leaves a guild: GUILD_MEMBER_REMOVE, sent only to a session with the GUILD_MEMBERS intent.

        Returns whether the event was sent (the bot is told only when it asked for the privileged intent).
        """
        self.departed.add((guild_id, user_id))
        session = self.session_for(guild_id)
        if not session.intents & GUILD_MEMBERS_INTENT:
            return False
        await self._send(
            session, "GUILD_MEMBER_REMOVE", {"guild_id": str(guild_id), "user": self.user(user_id)}
        )
        return True

    async def react(
        self,
        guild_id: int,
        channel_id: int,
        message_id: int,
        emoji: str,
        *,
        user_id: int = 42,
        remove: bool = False,
        bot: bool = False,
    ) -> None:
        """A user adds (or removes) a reaction on a message."""
        data: dict[str, Any] = {
            "user_id": str(user_id),
            "channel_id": str(channel_id),
            "message_id": str(message_id),
            "guild_id": str(guild_id),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }
        if not remove:
            member = self.member(user_id)
            member["user"] = {**member["user"], "bot": bot}
            data["member"] = member
            data["message_author_id"] = str(BOT_ID)
        await self.dispatch(guild_id, "MESSAGE_REACTION_REMOVE" if remove else "MESSAGE_REACTION_ADD", data)

    async def answered(self, record: InteractionRecord, within: float = 10.0) -> dict[str, Any]:
        """Wait for the final message of an interaction: the direct answer, or the edit after a deferral."""
        async with asyncio.timeout(within):
            await record.initial
            while record.initial_type == 5 and not (record.edits or record.followups):
                record.changed.clear()
                await record.changed.wait()
        return record.final()
