"""The one aiohttp application served on PAPERBOY_PORT; each part (Slack, health, metrics) adds its routes."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
SLACK_INSTALL_PATH = "/slack/install"
SLACK_REDIRECT_PATH = "/slack/oauth_redirect"

# Slack's payloads are small; anything far larger is not from Slack.
MAX_REQUEST_BYTES = 1024 * 1024
# Slack refuses to be believed about a request older (or newer) than five minutes: a replay window.
MAX_CLOCK_SKEW_SECONDS = 5 * 60
# Slack's timestamp is whole seconds since 1970; its signature is `v0=` and a hex HMAC-SHA256.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


class SlackSignature:
    """Checks Slack's signature of a request (`v0`: HMAC-SHA256 of `v0:{timestamp}:{body}`).

    The headers are checked before the body is read, so a request without a well-formed, recent signature
    costs no more than its headers. Each check answers the reason of a refusal, or None.
    """

    def __init__(self, signing_secret: str, clock: Callable[[], float] = time.time) -> None:
        self._secret = signing_secret.encode()
        self._clock = clock

    def header_problem(self, timestamp: str | None, signature: str | None) -> str | None:
        """Why the signature headers cannot be right (missing, malformed, stale), or None."""
        if not signature:
            return "no signature"
        if not _SIGNATURE.fullmatch(signature):
            return "malformed signature"
        if not timestamp:
            return "no timestamp"
        if not _TIMESTAMP.fullmatch(timestamp):
            return "malformed timestamp"
        if abs(self._clock() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
            return "stale timestamp"
        return None

    def body_problem(self, timestamp: str, signature: str, body: bytes) -> str | None:
        """Why the body does not match well-formed headers (see `header_problem`), or None."""
        signed = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self._secret, signed, hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(expected, signature) else "wrong signature"


def build_web_app(*, slack: AsyncApp | None = None, signing_secret: str = "") -> web.Application:
    """A fresh web application; with `slack`, it serves /slack/events (and the OAuth pages when configured).

    Other parts add their routes before it starts, e.g. `app.router.add_get("/healthz", handler)`.
    """
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    if slack is not None:
        add_slack_routes(app, slack, signing_secret)
    return app


def _refuse(request: web.Request, reason: str, size: int | None, status: int = 401) -> web.Response:
    """Answer a request that is not Slack's, and say so in one log line: never its body, which anyone can fill."""
    log.warning(
        "refused a request to %s: %s (%s bytes)",
        request.path,
        reason,
        "?" if size is None else size,
        extra={"event": "refused_request", "path": request.path, "reason": reason, "bytes": size},
    )
    return web.json_response({"error": "invalid request"}, status=status)


def add_slack_routes(app: web.Application, slack: AsyncApp, signing_secret: str) -> None:
    """Route Slack's requests to the Bolt app: every command, action and event to POST /slack/events.

    The route checks Slack's signature itself, before Bolt parses anything: Bolt would log the whole body of
    a request it refuses, and answer a malformed timestamp with an error 500. The Bolt app is built with its
    own check turned off (adapters/slack/bot.py), so that this one is the only one.
    """
    if not signing_secret:
        raise ValueError("Serving Slack over HTTP needs SLACK_SIGNING_SECRET.")
    signature = SlackSignature(signing_secret)

    async def events(request: web.Request) -> web.StreamResponse:
        stamp = request.headers.get("X-Slack-Request-Timestamp")
        signed = request.headers.get("X-Slack-Signature")
        problem = signature.header_problem(stamp, signed)
        if problem is not None:
            return _refuse(request, problem, request.content_length)
        assert stamp is not None and signed is not None  # header_problem said so
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _refuse(request, "too large", request.content_length, status=413)
        problem = signature.body_problem(stamp, signed, body)
        if problem is not None:
            return _refuse(request, problem, len(body))
        bolt_request = AsyncBoltRequest(
            body=body.decode("utf-8", errors="replace"),
            query=request.query_string,
            headers=dict(request.headers),
        )
        return await to_aiohttp_response(await slack.async_dispatch(bolt_request))

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
