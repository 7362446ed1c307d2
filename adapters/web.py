"""The one aiohttp application served on PAPERBOY_PORT; each part (Slack, health, metrics) adds its routes."""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
SLACK_INSTALL_PATH = "/slack/install"
SLACK_REDIRECT_PATH = "/slack/oauth_redirect"

# Slack's payloads are small; anything far larger is not from Slack.
MAX_REQUEST_BYTES = 1024 * 1024


def build_web_app(*, slack: AsyncApp | None = None) -> web.Application:
    """A fresh web application; with `slack`, it serves /slack/events (and the OAuth pages when configured).

    Other parts add their routes before it starts, e.g. `app.router.add_get("/healthz", handler)`.
    """
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    if slack is not None:
        add_slack_routes(app, slack)
    return app


def add_slack_routes(app: web.Application, slack: AsyncApp) -> None:
    """Route Slack's requests to the Bolt app: every command, action and event to POST /slack/events."""

    async def events(request: web.Request) -> web.StreamResponse:
        bolt_response = await slack.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    app.router.add_post(SLACK_EVENTS_PATH, events)
    flow = slack.oauth_flow
    if flow is None:
        return

    async def install(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

    async def oauth_redirect(request: web.Request) -> web.StreamResponse:
        return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

    app.router.add_get(flow.install_path or SLACK_INSTALL_PATH, install)
    app.router.add_get(flow.redirect_uri_path or SLACK_REDIRECT_PATH, oauth_redirect)


class WebServer:
    """Serves a web application on a host and port until stopped; port 0 picks a free one."""

    def __init__(self, app: web.Application, host: str = "0.0.0.0", port: int = 3000) -> None:
        self.app = app
        self.host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one picked, when asked for 0)."""
        if self._runner is not None:
            for address in self._runner.addresses:
                if isinstance(address, tuple) and len(address) >= 2:
                    return int(address[1])
        return self._port

    async def start(self) -> None:
        """Start listening; raises OSError (e.g. the port is taken) with aiohttp's own message."""
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("serving HTTP on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and finish the requests in flight."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
