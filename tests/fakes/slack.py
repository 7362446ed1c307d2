"""A fake Slack on 127.0.0.1: the Web API methods Paperboy calls, response_url endpoints, Block Kit checks.

It builds on the shipped loopback Slack of `paperboy bench delivery` (adapters.bench.slack_api), which answers
chat.postMessage and the conversations.* look-ups; this one adds what only tests need. Every call is recorded.
Messages and views that break Slack's limits are refused as Slack refuses them (`invalid_blocks`) and the
breach is kept in `violations`, so a test can assert there were none.

Each workspace grants its bot the scopes of the app manifest unless a test takes some away, and every method
asks for its scope as Slack does (`missing_scope`, with the granted ones in `X-OAuth-Scopes`). Direct messages
work as on Slack: `conversations.open users=U…` (im:write) opens the bot's D… conversation with a person of
the token's workspace, and only an opened D… conversation takes messages. The App Home takes `views.publish`,
and a file goes up in the three steps of files_upload_v2.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web

from adapters.bench.slack_api import (
    Answer,
    ApiCall,
    FakeUnfurl,
    RateLimitedSlack,
    api_error,
    link_shared_event,
)
from adapters.slack.config import BOT_SCOPES

Seen = TypeVar("Seen")

# ----- requests signed as Slack signs them -----


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` keyed with the signing secret (Slack's scheme)."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: bytes, content_type: str, *, timestamp: int | None = None
) -> dict[str, str]:
    """The headers Slack sends with a request body."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_signature(secret, stamp, body),
    }


def command_body(
    text: str, *, team: str, channel: str, user: str, response_url: str, command: str = "/papers"
) -> bytes:
    """A slash command request body, form-encoded as Slack sends it (with &, <, > escaped in the text)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": team,
            "team_domain": team.lower(),
            "channel_id": channel,
            "channel_name": "papers",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": escaped,
            "api_app_id": "A0PAPERBOY",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        }
    ).encode()


def pressed_button(action_id: str, value: str, action_ts: str) -> dict[str, object]:
    """The one button a block_actions payload says was pressed."""
    return {
        "type": "button",
        "action_id": action_id,
        "block_id": "b1",
        "value": value,
        "text": {"type": "plain_text", "text": "x"},
        "action_ts": action_ts,
    }


def action_body(
    action_id: str,
    value: str,
    *,
    team: str,
    channel: str,
    user: str,
    response_url: str,
    message_ts: str = "1700000000.000001",
    action_ts: str = "1700000001.000001",
    ephemeral: bool = True,
) -> bytes:
    """A block_actions interaction body (`payload=<json>`, form-encoded)."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0PAPERBOY",
        "team": {"id": team, "domain": team.lower()},
        "channel": {"id": channel, "name": "papers"},
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "trigger_id": "1234.5678",
        "response_url": response_url,
        "actions": [pressed_button(action_id, value, action_ts)],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def view_action_body(
    action_id: str,
    value: str,
    *,
    team: str,
    user: str,
    action_ts: str = "1700000001.000001",
    view_id: str = "VHOME",
) -> bytes:
    """A block_actions body for a button in the App Home: a view, so no channel and no response_url."""
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0PAPERBOY",
        "team": {"id": team, "domain": team.lower()},
        "container": {"type": "view", "view_id": view_id},
        "trigger_id": "1234.5678",
        "view": {"id": view_id, "type": "home", "team_id": team, "blocks": [], "hash": "1700000000.abcd"},
        "actions": [pressed_button(action_id, value, action_ts)],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def link_shared_body(urls: list[str], *, team: str, event_id: str, **where: Any) -> bytes:
    """A `link_shared` event envelope (see adapters.bench.slack_api.link_shared_event for `where`)."""
    return event_body(link_shared_event(urls, **where), team=team, event_id=event_id)


def event_body(event: dict[str, Any], *, team: str, event_id: str) -> bytes:
    """An Events API envelope."""
    return json.dumps(
        {
            "token": "legacy-verification-token",
            "team_id": team,
            "api_app_id": "A0PAPERBOY",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": 1700000000,
            "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
        }
    ).encode()


# ----- Block Kit limits (checked independently of the renderer) -----


def block_kit_violations(blocks: Any, text: Any, *, max_blocks: int = 50) -> list[str]:
    """Every way a message (or, with `max_blocks=100`, a view) breaks Slack's documented Block Kit limits;
    empty when it is valid."""
    problems: list[str] = []
    if text is not None and (not isinstance(text, str) or len(text) > 40_000):
        problems.append("text must be a string of at most 40,000 characters")
    if blocks is None:
        return problems
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if not isinstance(blocks, list):
        return [*problems, "blocks must be a list"]
    if len(blocks) > max_blocks:
        problems.append(f"{len(blocks)} blocks (at most {max_blocks})")

    def check_text(
        obj: Any, where: str, limit: int, kinds: tuple[str, ...] = ("mrkdwn", "plain_text")
    ) -> None:
        if not isinstance(obj, dict) or obj.get("type") not in kinds:
            problems.append(f"{where}: not a text object of {kinds}")
            return
        body = obj.get("text")
        if not isinstance(body, str) or not body:
            problems.append(f"{where}: empty text")
        elif len(body) > limit:
            problems.append(f"{where}: {len(body)} characters (at most {limit})")

    for n, block in enumerate(blocks):
        kind = block.get("type")
        where = f"block {n} ({kind})"
        if kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: neither text nor fields")
            if "text" in block:
                check_text(block["text"], where, 3000)
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append(f"{where}: {len(fields)} fields (at most 10)")
            for f in fields:
                check_text(f, f"{where} field", 2000)
            accessory = block.get("accessory")
            if accessory and accessory.get("type") == "button":
                check_text(accessory.get("text"), f"{where} accessory button", 75, ("plain_text",))
                if not accessory.get("action_id") or len(accessory.get("value", "")) > 2000:
                    problems.append(f"{where}: accessory button without action_id or with a long value")
            if accessory and accessory.get("type") == "image":
                if len(accessory.get("alt_text", "")) > 2000 or not accessory.get("alt_text"):
                    problems.append(f"{where}: image alt_text must be 1-2000 characters")
                if len(accessory.get("image_url", "")) > 3000:
                    problems.append(f"{where}: image_url too long")
        elif kind == "header":
            check_text(block.get("text"), where, 150, ("plain_text",))
        elif kind == "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 10:
                problems.append(f"{where}: {len(elements)} elements (1 to 10)")
            for e in elements:
                if e.get("type") in ("mrkdwn", "plain_text"):
                    check_text(e, f"{where} element", 3000)
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 25:
                problems.append(f"{where}: {len(elements)} elements (1 to 25)")
            ids = [e.get("action_id") for e in elements]
            if len(ids) != len(set(ids)):
                problems.append(f"{where}: repeated action_id")
            for e in elements:
                if e.get("type") == "button":
                    check_text(e.get("text"), f"{where} button", 75, ("plain_text",))
                    if len(e.get("value", "")) > 2000 or len(e.get("action_id", "")) > 255:
                        problems.append(f"{where}: button value or action_id too long")
        elif kind in ("divider", "image"):
            pass
        else:
            problems.append(f"{where}: unknown block type")
    return problems


# ----- the fake -----


@dataclass
class Team:
    """A workspace the fake knows: its bot token, bot user, the scopes granted to it, and its App Home."""

    id: str
    token: str
    bot_user: str
    admins: set[str] = field(default_factory=set)
    scopes: set[str] = field(default_factory=lambda: set(BOT_SCOPES))
    # The app's Home tab (manifest features.app_home.home_tab_enabled); off, views.publish is `not_enabled`.
    home_tab: bool = True
    # The app's Messages tab (messages_tab_enabled); off, Slack takes no direct message from the app.
    messages_tab: bool = True


@dataclass
class SharedFile:
    """A file files_upload_v2 shared in a conversation: where, its name, its bytes and the comment with it."""

    team: str
    channel: str
    filename: str
    title: str | None
    content: bytes
    comment: str | None


def required_scope(method: str, args: dict[str, Any]) -> str | None:
    """The bot scope a Web API method needs for these arguments (None: no scope), as Slack's reference says."""
    if method in ("conversations.history", "conversations.replies"):
        channel = str(args.get("channel") or "")
        kind = {"D": "im", "G": "groups"}.get(channel[:1], "channels")
        return f"{kind}:history"
    return {
        "chat.postMessage": "chat:write",
        "chat.unfurl": "links:write",
        "conversations.open": "im:write",
        "users.info": "users:read",
        "files.getUploadURLExternal": "files:write",
        "files.completeUploadExternal": "files:write",
    }.get(method)


class FakeSlack(RateLimitedSlack):
    """The shipped loopback Slack (adapters.bench.slack_api) with what only tests need.

    Workspaces and their tokens (an unknown token is `invalid_auth`), OAuth installs, Socket Mode,
    response_url endpoints, `users.info`, Block Kit checks on every message, scripted failures of
    chat.postMessage, and a record of every call. It takes messages as fast as they come; the rate limits
    are the shipped fake's (build a RateLimitedSlack for those).
    """

    def __init__(self) -> None:
        super().__init__(channel_interval=0.0, rate=None, ts_base=1_700_000_000)
        self.calls: list[ApiCall] = []
        self.responses: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.teams: dict[str, Team] = {}
        self.oauth_codes: dict[str, Team] = {}
        # user id -> what users.info says of them beyond the defaults (a member of the token's workspace), e.g.
        # {"is_restricted": True} for a guest or {"team_id": "TOTHER"} for someone of another organisation.
        self.people: dict[str, dict[str, Any]] = {}
        # The error users.info answers instead (e.g. "missing_scope"), or None.
        self.users_info_error: str | None = None
        # (team, user) -> the D… conversation conversations.open opened for them, and its reverse.
        self.dms: dict[tuple[str, str], str] = {}
        self._dm_owner: dict[str, tuple[str, str]] = {}
        # (team, user) -> the App Home view last published for them (views.publish).
        self.homes: dict[tuple[str, str], dict[str, Any]] = {}
        # Files sent up (file id -> name and bytes) and the ones shared in a conversation.
        self.uploads: dict[str, tuple[str, bytes | None]] = {}
        self.files: list[SharedFile] = []
        self.client_id = "1111.2222"
        self.client_secret = "oauth-client-secret"
        # channel -> Slack error code answered to chat.postMessage there
        self.channel_errors: dict[str, str] = {}
        # answers queued for the next chat.postMessage calls: (HTTP status, headers)
        self.post_failures: list[tuple[int, dict[str, str]]] = []
        # Socket Mode: the app token the fake accepts, the open connection, and what the app sent back.
        self.app_token = "xapp-1-A0PAPERBOY-socket"
        self.socket: web.WebSocketResponse | None = None
        self.socket_acks: list[dict[str, Any]] = []
        self._changed = asyncio.Event()
        self.route("oauth.v2.access", self._oauth, needs_token=False)
        self.route("apps.connections.open", self._open_connection, needs_token=False)
        self.route("users.info", self._user_info)
        self.route("conversations.open", self._open_dm)
        self.route("views.publish", self._publish_view)
        self.route("files.getUploadURLExternal", self._upload_url)
        self.route("files.completeUploadExternal", self._complete_upload)

    # -- setup --

    def add_team(
        self, team_id: str, token: str, bot_user: str = "UBOT", admins: set[str] | None = None
    ) -> Team:
        """Make a workspace known (as if the app were installed there)."""
        team = Team(team_id, token, bot_user, admins or set())
        self.teams[token] = team
        return team

    def response_url(self, name: str = "r") -> str:
        """A response_url that the fake answers and records."""
        return f"{self.url}/response/{name}"

    def identity(self, token: str | None) -> tuple[str, str] | None:
        """Only the bot tokens of known workspaces are valid."""
        team = self.teams.get(token or "")
        return None if team is None else (team.id, team.bot_user)

    def team(self, team_id: str) -> Team:
        """A known workspace by its id."""
        return next(team for team in self.teams.values() if team.id == team_id)

    def open_dm(self, user: str, team: str = "T1") -> str:
        """The bot's direct messages with a person, as Slack has them once the person opened the app."""
        key = (team, user)
        if key not in self.dms:
            channel = f"D{len(self.dms) + 1:04d}{team.removeprefix('T')}"
            self.dms[key] = channel
            self._dm_owner[channel] = key
        return self.dms[key]

    def dm_channel(self, user: str, team: str = "T1") -> str | None:
        """The D… conversation conversations.open opened with a person, or None."""
        return self.dms.get((team, user))

    def home_of(self, user: str, team: str = "T1") -> dict[str, Any] | None:
        """The App Home view last published for a person."""
        return self.homes.get((team, user))

    # -- queries for tests --

    def calls_to(self, method: str) -> list[ApiCall]:
        """The recorded calls of one Web API method."""
        return [c for c in self.calls if c.method == method]

    def posted(self, channel: str | None = None) -> list[ApiCall]:
        """Messages accepted by chat.postMessage (optionally in one channel)."""
        return [
            c
            for c in self.calls_to("chat.postMessage")
            if c.args.get("_accepted") and (channel is None or c.args.get("channel") == channel)
        ]

    async def wait_for(self, condition: Callable[[], Seen], within: float = 10.0) -> Seen:
        """Wait until `condition()` is truthy (the app works in the background); fail after `within` s.

        It looks again whenever the fake is called, not on a timer.
        """
        deadline = time.monotonic() + within
        while True:
            value = condition()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("the fake Slack never saw what the test waited for")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.2))

    async def response_count(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        """Wait until `count` response_url messages arrived; return them."""
        await self.wait_for(lambda: len(self.responses) >= count, within)
        return self.responses

    async def send_over_socket(self, envelope_type: str, payload: dict[str, Any], envelope_id: str) -> None:
        """Deliver one envelope through the Socket Mode connection, as Slack does."""
        await self.wait_for(lambda: self.socket is not None)
        assert self.socket is not None
        await self.socket.send_json(
            {
                "envelope_id": envelope_id,
                "type": envelope_type,
                "accepts_response_payload": envelope_type != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
                "payload": payload,
            }
        )

    # -- what the shipped fake leaves to this one --

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/response/{name}", self._response)
        app.router.add_post("/upload/{file_id}", self._upload)

    async def _read_call(self, request: web.Request) -> ApiCall:
        call = await super()._read_call(request)
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            # oauth.v2.access sends the app's credentials as HTTP basic auth.
            client_id, _, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
            call.args.setdefault("client_id", client_id)
            call.args.setdefault("client_secret", secret)
        return call

    def _received(self, call: ApiCall) -> None:
        self.calls.append(call)

    def _answer(self, call: ApiCall) -> Answer:
        """Slack's scope check first (for a known bot token), then the method; scopes in X-OAuth-Scopes."""
        team = self.teams.get(call.token or "")
        if team is None:
            return super()._answer(call)
        needed = required_scope(call.method, call.args)
        granted = {"X-OAuth-Scopes": ",".join(sorted(team.scopes))}
        if needed is not None and needed not in team.scopes:
            return 200, {"ok": False, "error": "missing_scope", "needed": needed}, granted
        status, body, headers = super()._answer(call)
        return status, body, {**granted, **headers}

    def _answered(self, call: ApiCall) -> None:
        self._notify()

    def _notify(self) -> None:
        self._changed.set()

    # -- handlers --

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self.socket = socket
        await socket.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0PAPERBOY"}}
        )
        self._notify()
        async for message in socket:
            if message.type == web.WSMsgType.TEXT:
                self.socket_acks.append(json.loads(message.data))
                self._notify()
        self.socket = None
        return socket

    async def _response(self, request: web.Request) -> web.Response:
        payload = await request.json()
        payload["_name"] = request.match_info["name"]
        problems = block_kit_violations(payload.get("blocks"), payload.get("text"))
        self.violations += problems
        self.responses.append(payload)
        self._notify()
        if problems:
            return web.Response(status=400, text="invalid_blocks")
        return web.Response(text="ok")

    def _open_connection(self, call: ApiCall) -> Answer:
        if call.token != self.app_token:
            return api_error("invalid_auth")
        return 200, {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}, {}

    def _user_info(self, call: ApiCall) -> Answer:
        if self.users_info_error is not None:
            return api_error(self.users_info_error)
        team = self.teams[call.token or ""]
        user = str(call.args.get("user"))
        found = {
            "id": user,
            "team_id": team.id,
            "deleted": False,
            "is_admin": user in team.admins,
            "is_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            **self.people.get(user, {}),
        }
        return 200, {"ok": True, "user": found}, {}

    def _post_message(self, call: ApiCall) -> Answer:
        """Scripted failures, refused channels and Block Kit breaches first; then the shipped fake posts."""
        if self.post_failures:
            status, headers = self.post_failures.pop(0)
            return api_error("ratelimited" if status == 429 else "internal_error", status, headers)
        channel = str(call.args.get("channel"))
        if channel in self.channel_errors:
            return api_error(self.channel_errors[channel])
        refused = self._dm_refusal(call, channel)
        if refused is not None:
            return api_error(refused)
        problems = block_kit_violations(call.args.get("blocks"), call.args.get("text"))
        if problems:
            self.violations += problems
            return 200, {"ok": False, "error": "invalid_blocks", "errors": problems}, {}
        status, body, headers = super()._post_message(call)
        if body.get("ok"):
            call.args["_accepted"] = True
            call.args["_ts"] = body["ts"]
            call.args["_team"] = self.teams[call.token or ""].id
        return status, body, headers

    def _dm_refusal(self, call: ApiCall, channel: str) -> str | None:
        """Why Slack refuses a message to a direct-message conversation (None: it takes it, or not a DM).

        Only a D… conversation opened in the token's workspace exists; a person's target (`@U…`) is no
        conversation at all; a bot's direct messages take nothing from another bot.
        """
        if channel.startswith("@"):
            return "channel_not_found"
        if not channel.startswith("D"):
            return None
        owner = self._dm_owner.get(channel)
        team = self.teams[call.token or ""]
        if owner is None or owner[0] != team.id:
            return "channel_not_found"
        if self.people.get(owner[1], {}).get("is_bot"):
            return "cannot_dm_bot"
        if not team.messages_tab:
            return "messages_tab_disabled"
        return None

    def _history(self, call: ApiCall) -> Answer:
        """conversations.history, in a conversation of the token's workspace only (direct messages too)."""
        refused = self._dm_refusal(call, str(call.args.get("channel") or ""))
        return api_error(refused) if refused == "channel_not_found" else super()._history(call)

    def _replies(self, call: ApiCall) -> Answer:
        """conversations.replies, as conversations.history."""
        refused = self._dm_refusal(call, str(call.args.get("channel") or ""))
        return api_error(refused) if refused == "channel_not_found" else super()._replies(call)

    def _open_dm(self, call: ApiCall) -> Answer:
        """conversations.open with one user: the bot's direct messages with them, the same D… every time."""
        team = self.teams[call.token or ""]
        users = [u for u in str(call.args.get("users") or "").split(",") if u]
        if len(users) != 1:
            return api_error("not_enough_users" if not users else "too_many_users")
        user = users[0]
        person = self.people.get(user, {})
        if person.get("unknown") or not user.startswith(("U", "W")):
            return api_error("user_not_found")
        if person.get("deleted"):
            return api_error("user_disabled")
        if person.get("team_id", team.id) != team.id and not person.get("shared"):
            return api_error("user_not_visible")
        return 200, {"ok": True, "channel": {"id": self.open_dm(user, team.id)}}, {}

    def _publish_view(self, call: ApiCall) -> Answer:
        """views.publish: a Home view (at most 100 blocks) for a user of the token's workspace."""
        team = self.teams[call.token or ""]
        if not team.home_tab:
            return api_error("not_enabled")
        view = call.args.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        user = str(call.args.get("user_id") or "")
        if not isinstance(view, dict) or view.get("type") != "home" or not user:
            return api_error("invalid_arguments")
        problems = block_kit_violations(view.get("blocks"), None, max_blocks=100)
        if problems:
            self.violations += problems
            return 200, {"ok": False, "error": "invalid_arguments", "errors": problems}, {}
        self.homes[(team.id, user)] = view
        return 200, {"ok": True, "view": {"id": f"V{len(self.homes)}", "team_id": team.id, **view}}, {}

    def _upload_url(self, call: ApiCall) -> Answer:
        """files.getUploadURLExternal: where to send a file's bytes (this fake's /upload/{file_id})."""
        filename = str(call.args.get("filename") or "")
        if not filename or not str(call.args.get("length") or "").isdigit():
            return api_error("invalid_arguments")
        file_id = f"F{len(self.uploads) + 1:06d}"
        self.uploads[file_id] = (filename, None)
        return 200, {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}, {}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self.uploads:
            return web.Response(status=404, text="no such upload")
        data = await request.read()
        self.uploads[file_id] = (self.uploads[file_id][0], data)
        return web.Response(text=f"OK - {len(data)}")

    def _complete_upload(self, call: ApiCall) -> Answer:
        """files.completeUploadExternal: share uploaded files in a conversation of the token's workspace."""
        team = self.teams[call.token or ""]
        files = call.args.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        if not isinstance(files, list) or not files:
            return api_error("invalid_arguments")
        if any(self.uploads.get(str(f.get("id")), ("", None))[1] is None for f in files):
            return api_error("file_not_found")
        channel = str(call.args.get("channel_id") or "")
        refused = self._dm_refusal(call, channel) if channel else None
        if refused is not None:
            return api_error(refused)
        shared = []
        for f in files:
            name, data = self.uploads[str(f["id"])]
            assert data is not None
            if channel:
                comment = call.args.get("initial_comment")
                self.files.append(SharedFile(team.id, channel, name, f.get("title"), data, comment))
            shared.append({"id": f["id"], "name": name, "title": f.get("title") or name})
        return 200, {"ok": True, "files": shared}, {}

    def _unfurl(self, call: ApiCall) -> Answer:
        """chat.unfurl: every card's blocks checked against Block Kit's limits first; then the shipped fake."""
        unfurls = call.args.get("unfurls")
        if isinstance(unfurls, str):
            unfurls = json.loads(unfurls)
        problems = [
            problem
            for card in (unfurls or {}).values()
            for problem in block_kit_violations(card.get("blocks"), None)
        ]
        if problems:
            self.violations += problems
            return 200, {"ok": False, "error": "invalid_blocks", "errors": problems}, {}
        return super()._unfurl(call)

    def unfurls_of(self, channel: str, ts: str) -> list[FakeUnfurl]:
        """The chat.unfurl calls Slack took for one posted message."""
        return [u for u in self.unfurled if u.channel == channel and u.ts == ts]

    def _oauth(self, call: ApiCall) -> Answer:
        args = call.args
        if args.get("client_id") != self.client_id or args.get("client_secret") != self.client_secret:
            return api_error("invalid_client_id")
        team = self.oauth_codes.get(str(args.get("code")))
        if team is None:
            return api_error("invalid_code")
        self.teams[team.token] = team
        return (
            200,
            {
                "ok": True,
                "app_id": "A0PAPERBOY",
                "authed_user": {"id": "UINSTALLER"},
                "scope": ",".join(sorted(team.scopes)),
                "token_type": "bot",
                "access_token": team.token,
                "bot_user_id": team.bot_user,
                "team": {"id": team.id, "name": f"Team {team.id}"},
                "enterprise": None,
                "is_enterprise_install": False,
            },
            {},
        )
