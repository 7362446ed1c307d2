"""One loopback server that plays Slack (auth.test, apps.connections.open), Discord (/users/@me), Hugging Face
Daily Papers and the arXiv API, just enough for `paperboy doctor`; it can refuse tokens and echo them back."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from adapters.slack.config import BOT_SCOPES
from adapters.web import WebServer

FEED = '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>arXiv</title></feed>'


@dataclass
class FakeServices:
    """Slack, Discord, Hugging Face and arXiv on one free port of 127.0.0.1."""

    slack_token: str = "xoxb-good-slack-token-123"
    app_token: str = "xapp-good-app-token-456"
    discord_token: str = "good.discord.token-789"
    scopes: tuple[str, ...] = BOT_SCOPES
    # Some proxies quote the credentials they refused; the doctor must not print them anyway.
    echo_tokens: bool = False
    hf_status: int = 200
    paths: list[str] = field(default_factory=list)
    port: int = 0
    _server: WebServer | None = None

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def settings(self) -> dict[str, str]:
        """The variables that point Paperboy at this fake, with the good tokens."""
        return {
            "SLACK_API_URL": f"{self.url}/slack/api/",
            "SLACK_BOT_TOKEN": self.slack_token,
            "SLACK_SIGNING_SECRET": "signing-secret-abcdef",
            "DISCORD_API_URL": f"{self.url}/discord/api/v10",
            "DISCORD_TOKEN": self.discord_token,
            "HF_API_URL": f"{self.url}/hf",
            "ARXIV_API_URL": f"{self.url}/arxiv/api/query",
        }

    async def start(self) -> None:
        """Listen."""
        app = web.Application()
        app.router.add_post("/slack/api/{method}", self._slack)
        app.router.add_get("/discord/api/v10/users/@me", self._discord_me)
        app.router.add_get("/hf/api/daily_papers", self._hf)
        app.router.add_get("/arxiv/api/query", self._arxiv)
        self._server = WebServer(app, "127.0.0.1", 0)
        await self._server.start()
        self.port = self._server.port

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            await self._server.stop()

    async def _slack(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        method = request.match_info["method"]
        expected = self.app_token if method == "apps.connections.open" else self.slack_token
        if token != expected:
            error = f"invalid_auth: {token}" if self.echo_tokens else "invalid_auth"
            return web.json_response({"ok": False, "error": error})
        if method == "apps.connections.open":
            return web.json_response({"ok": True, "url": "wss://127.0.0.1/socket"})
        return web.json_response(
            {"ok": True, "team_id": "T0TEAM", "user_id": "U0BOT", "team": "Lab", "user": "paperboy"},
            headers={"X-OAuth-Scopes": ",".join(self.scopes)},
        )

    async def _discord_me(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        auth = request.headers.get("Authorization", "")
        if auth != f"Bot {self.discord_token}":
            message = f"401: Unauthorized ({auth})" if self.echo_tokens else "401: Unauthorized"
            return web.json_response({"message": message, "code": 0}, status=401)
        return web.json_response({"id": "700000000000000001", "username": "Paperboy", "bot": True})

    async def _hf(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        if self.hf_status != 200:
            return web.json_response({"error": "upstream"}, status=self.hf_status)
        return web.json_response([])

    async def _arxiv(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        assert "mailto:" in request.headers.get("User-Agent", "")
        return web.Response(text=FEED, content_type="application/atom+xml")
