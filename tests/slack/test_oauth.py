"""Many workspaces: the OAuth install through our database, isolation between workspaces, and uninstalling."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from urllib.parse import parse_qs, urlparse

import httpx

from bot.domain import ChannelRef, Vote
from tests.fakes.slack import Team
from tests.slack.conftest import SlackHarness, StartSlack, block_text, eventually


async def install(slack: SlackHarness, code: str) -> httpx.Response:
    """Walk the browser through /slack/install and back to /slack/oauth_redirect with Slack's code."""
    base = f"http://127.0.0.1:{slack.service.port}"
    page = await slack.http.get(f"{base}/slack/install")
    assert page.status_code == 200
    authorize_url = re.search(r'href="(https://slack.com/oauth/v2/authorize[^"]+)"', page.text)
    assert authorize_url is not None
    query = parse_qs(urlparse(authorize_url.group(1).replace("&amp;", "&")).query)
    assert query["scope"] == [
        "commands,chat:write,reactions:read,channels:history,groups:history,users:read,links:read,links:write,"
        "im:write,im:history,files:write"
    ]
    state = query["state"][0]
    # Bolt's state cookie is Secure; the browser in this test talks plain HTTP, so it is sent by hand.
    return await slack.http.get(
        f"{base}/slack/oauth_redirect",
        params={"code": code, "state": state},
        headers={"Cookie": f"slack-app-oauth-state={state}"},
    )


async def two_workspaces(start: StartSlack) -> SlackHarness:
    harness: SlackHarness = await start(
        bot_token=None, client_id="1111.2222", client_secret="oauth-client-secret"
    )
    harness.fake.oauth_codes["code-one"] = Team("TONE", "xoxb-oauth-one", "UBOTONE")
    harness.fake.oauth_codes["code-two"] = Team("TTWO", "xoxb-oauth-two", "UBOTTWO")
    for code in ("code-one", "code-two"):
        finished = await install(harness, code)
        assert finished.status_code == 200, finished.text
    return harness


async def test_two_workspaces_install_and_each_is_served_with_its_own_token(start: StartSlack) -> None:
    slack = await two_workspaces(start)
    access = slack.fake.calls_to("oauth.v2.access")
    assert [c.args["code"] for c in access] == ["code-one", "code-two"]

    for team in ("TONE", "TTWO"):
        answer = await slack.command("search matryoshka", team=team)
        assert "Matryoshka Representation Learning" in block_text(answer)
    tokens = {c.token for c in slack.fake.calls_to("auth.test")}
    assert tokens == {"xoxb-oauth-one", "xoxb-oauth-two"}

    for team in ("TONE", "TTWO"):
        await slack.command("subscribe matryoshka", team=team)
        await slack.command("digest", team=team)
    by_team = {c.args["_team"]: c.token for c in slack.fake.posted()}
    assert by_team == {"TONE": "xoxb-oauth-one", "TTWO": "xoxb-oauth-two"}
    assert slack.fake.violations == []


async def test_a_command_in_one_workspace_never_reads_or_changes_the_other(start: StartSlack) -> None:
    slack = await two_workspaces(start)
    # Same channel id in both workspaces: still two different channels.
    await slack.command('subscribe "gaussian splatting"', team="TONE", channel="CSAME")
    await slack.command("schedule 06:00 Asia/Tokyo", team="TONE", channel="CSAME")
    await slack.command("vote 2205.13147", team="TONE", user="U1")

    topics = await slack.command("topics", team="TTWO", channel="CSAME")
    assert "No topics yet" in block_text(topics)
    schedule = await slack.command("schedule", team="TTWO", channel="CSAME")
    assert "09:00 UTC" in block_text(schedule)
    card = await slack.command("paper 2205.13147", team="TTWO")
    assert "0 votes here" in block_text(card)
    card = await slack.command("paper 2205.13147", team="TONE")
    assert "1 vote here" in block_text(card)


async def test_uninstall_forgets_the_workspace_and_leaves_the_other(start: StartSlack) -> None:
    slack = await two_workspaces(start)
    for team in ("TONE", "TTWO"):
        await slack.command("subscribe matryoshka", team=team)
        await slack.paperboy.votes.cast(Vote("slack", team, "U1", "2205.13147"))
    one, two = ChannelRef("slack", "TONE", "C1"), ChannelRef("slack", "TTWO", "C1")
    installations = slack.service.bot.installations
    assert installations is not None

    response = await slack.event({"type": "app_uninstalled"}, team="TONE", event_id="EvGone")
    assert response.status_code == 200
    await eventually(lambda: _is_none(installations.bot_token("TONE")))
    assert await eventually(lambda: _empty(slack.paperboy.store.list_topics(one)))
    assert await slack.paperboy.store.get_settings(one) is None

    assert await installations.bot_token("TTWO") == "xoxb-oauth-two"
    assert len(await slack.paperboy.store.list_topics(two)) == 1
    answer = await slack.command("search matryoshka", team="TTWO")
    assert "1 vote here" in block_text(answer)

    # The uninstalled workspace is told to reinstall rather than served.
    gone = await slack.command("search matryoshka", team="TONE")
    assert "reinstall" in gone.get("text", "")


async def test_revoked_bot_tokens_forget_the_workspace(start: StartSlack) -> None:
    slack = await two_workspaces(start)
    await slack.command("subscribe matryoshka", team="TTWO")
    installations = slack.service.bot.installations
    assert installations is not None
    event = {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": ["UBOTTWO"]}}
    assert (await slack.event(event, team="TTWO", event_id="EvRevoked")).status_code == 200
    await eventually(lambda: _is_none(installations.bot_token("TTWO")))
    assert await eventually(
        lambda: _empty(slack.paperboy.store.list_topics(ChannelRef("slack", "TTWO", "C1")))
    )
    assert await installations.bot_token("TONE") == "xoxb-oauth-one"


async def test_single_workspace_uninstall_deletes_its_channel_data(slack: SlackHarness) -> None:
    await slack.command("subscribe matryoshka")
    channel = ChannelRef("slack", "T1", "C1")
    assert (await slack.event({"type": "app_uninstalled"}, team="T1", event_id="Ev1")).status_code == 200
    assert await eventually(lambda: _empty(slack.paperboy.store.list_topics(channel)))


async def test_an_oauth_redirect_with_a_forged_state_installs_nothing(start: StartSlack) -> None:
    harness: SlackHarness = await start(
        bot_token=None, client_id="1111.2222", client_secret="oauth-client-secret"
    )
    harness.fake.oauth_codes["code-one"] = Team("TONE", "xoxb-oauth-one", "UBOTONE")
    base = f"http://127.0.0.1:{harness.service.port}"
    response = await harness.http.get(
        f"{base}/slack/oauth_redirect",
        params={"code": "code-one", "state": "forged"},
        headers={"Cookie": "slack-app-oauth-state=forged"},
    )
    assert response.status_code >= 400
    assert harness.fake.calls_to("oauth.v2.access") == []
    assert harness.service.bot.installations is not None
    assert await harness.service.bot.installations.bot_token("TONE") is None


async def _is_none(awaitable: Awaitable[object]) -> bool:
    return await awaitable is None


async def _empty(awaitable: Awaitable[object]) -> bool:
    return not await awaitable
