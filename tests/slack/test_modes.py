"""The web application and the Socket Mode connection: the same bot behind either way in."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from aiohttp import web

from adapters.slack.bot import SlackBot
from adapters.slack.config import SlackConfig
from adapters.slack.connection import connect_slack
from adapters.web import WebServer, add_slack_routes, build_web_app
from bot.core import Paperboy
from tests.fakes.slack import FakeSlack, command_body, signed_headers
from tests.slack.conftest import SECRET, SlackHarness, StartSlack, block_text


async def test_slack_checks_the_events_url_with_a_challenge(slack: SlackHarness) -> None:
    body = json.dumps(
        {
            "token": "t",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    ).encode()
    response = await slack.send(body, "application/json")
    assert response.status_code == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in response.text


async def test_other_routes_live_beside_slack_on_the_same_web_app(
    paperboy: Paperboy, fake_slack: FakeSlack, slack_config: SlackConfig
) -> None:
    connection = await connect_slack(slack_config, paperboy.telemetry)
    bot = SlackBot(paperboy, connection)
    app = build_web_app()

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/healthz", healthz)
    add_slack_routes(app, bot.bolt, SECRET)
    server = WebServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        import httpx

        async with httpx.AsyncClient() as http:
            base = f"http://127.0.0.1:{server.port}"
            assert (await http.get(f"{base}/healthz")).text == "ok"
            body = command_body(
                "help", team="T1", channel="C1", user="U1", response_url=fake_slack.response_url("h")
            )
            headers = signed_headers(SECRET, body, "application/x-www-form-urlencoded")
            assert (await http.post(f"{base}/slack/events", content=body, headers=headers)).status_code == 200
            # Without OAuth configured there is no install page.
            assert (await http.get(f"{base}/slack/install")).status_code == 404
        answer = await fake_slack.wait_for(lambda: [r for r in fake_slack.responses if r["_name"] == "h"])
        assert "/papers search" in block_text(answer[0])
    finally:
        await server.stop()
        await connection.close()
        await bot.work.drain(5)
        await bot.session.close()


async def test_socket_mode_answers_commands_without_an_http_server(start: StartSlack) -> None:
    slack: SlackHarness = await start(app_token="xapp-1-A0PAPERBOY-socket")
    assert slack.service.port is None
    fake = slack.fake
    body = command_body(
        "search matryoshka", team="T1", channel="C1", user="U1", response_url=fake.response_url("s")
    )
    await fake.send_over_socket("slash_commands", dict(parse_qsl(body.decode())), "env-1")
    acked = await fake.wait_for(lambda: [a for a in fake.socket_acks if a.get("envelope_id") == "env-1"])
    assert acked
    answer = await fake.wait_for(lambda: [r for r in fake.responses if r["_name"] == "s"])
    assert "Matryoshka Representation Learning" in block_text(answer[0])
    assert [c.token for c in fake.calls_to("apps.connections.open")] == [fake.app_token]
