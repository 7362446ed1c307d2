"""Who may change a Slack channel: members of the installing workspace, not guests or people from another
organisation in a shared channel; with PAPERBOY_SLACK_ADMINS_ONLY, only its admins and owners."""

from __future__ import annotations

import pytest

from bot.domain import ChannelRef
from tests.fakes.slack import Team
from tests.slack.conftest import SlackHarness, StartSlack, block_text
from tests.slack.test_oauth import install

CHANNEL = ChannelRef("slack", "T1", "C1")
MEMBERS_ONLY = "Only members of this workspace can change this channel's topics, schedule or digest"
ADMINS_ONLY = "Only workspace admins and owners can change this channel's topics, schedule or digest."

OUTSIDERS = [
    pytest.param({"is_restricted": True}, id="multi-channel guest"),
    pytest.param({"is_ultra_restricted": True, "is_restricted": True}, id="single-channel guest"),
    pytest.param({"team_id": "TOTHERORG"}, id="Slack Connect outsider"),
    pytest.param({"team_id": "TOTHERORG", "is_admin": True}, id="admin of another organisation"),
    pytest.param({"deleted": True}, id="deactivated account"),
]


@pytest.mark.parametrize("fields", OUTSIDERS)
async def test_guests_and_outsiders_cannot_subscribe_a_channel(
    slack: SlackHarness, fields: dict[str, object]
) -> None:
    slack.fake.people["UVISITOR"] = fields

    refused = await slack.command("subscribe transformers", user="UVISITOR")

    assert MEMBERS_ONLY in block_text(refused)
    assert "guests and people from other organisations cannot" in block_text(refused)
    assert refused["response_type"] == "ephemeral"
    assert await slack.paperboy.store.list_topics(CHANNEL) == []


@pytest.mark.parametrize("line", ["schedule off", "schedule 06:00 Europe/Paris", "digest", "unsubscribe 1"])
async def test_a_guest_can_neither_pause_reschedule_post_nor_unsubscribe(
    slack: SlackHarness, line: str
) -> None:
    await slack.command("subscribe matryoshka", user="UMEMBER")
    slack.fake.people["UGUEST"] = {"is_restricted": True}

    refused = await slack.command(line, user="UGUEST")

    assert MEMBERS_ONLY in block_text(refused)
    assert [t.query for t in await slack.paperboy.store.list_topics(CHANNEL)] == ["matryoshka"]
    assert slack.fake.posted("C1") == []
    settings = await slack.paperboy.store.get_settings(CHANNEL)
    assert settings is not None and not settings.paused and (settings.hour, settings.minute) == (9, 0)


async def test_a_member_can_subscribe_and_a_guest_can_still_search(slack: SlackHarness) -> None:
    slack.fake.people["UGUEST"] = {"is_restricted": True}

    allowed = await slack.command("subscribe transformers", user="UMEMBER")
    searched = await slack.command("search matryoshka", user="UGUEST")

    assert "Subscribed to" in block_text(allowed)
    assert "Matryoshka Representation Learning" in block_text(searched)
    assert [c.args.get("user") for c in slack.fake.calls_to("users.info")] == ["UMEMBER"]


async def test_admins_only_still_narrows_changes_to_the_workspaces_admins(start: StartSlack) -> None:
    slack: SlackHarness = await start(admins_only=True)
    slack.fake.teams["xoxb-team-one"].admins.add("UADMIN")
    slack.fake.people["UGUESTADMIN"] = {"is_admin": True, "is_restricted": True}

    member = await slack.command("subscribe transformers", user="UMEMBER")
    guest = await slack.command("subscribe transformers", user="UGUESTADMIN")
    admin = await slack.command("subscribe transformers", user="UADMIN")

    assert ADMINS_ONLY in block_text(member) and ADMINS_ONLY in block_text(guest)
    assert "Subscribed to" in block_text(admin)


async def test_when_slack_cannot_say_who_someone_is_nothing_changes_and_the_answer_says_why(
    slack: SlackHarness,
) -> None:
    slack.fake.users_info_error = "missing_scope"

    refused = await slack.command("subscribe transformers", user="UMEMBER")

    assert "lacks the users:read scope" in block_text(refused)
    assert await slack.paperboy.store.list_topics(CHANNEL) == []


async def test_the_installing_workspace_decides_who_is_an_outsider_with_many_workspaces(
    start: StartSlack,
) -> None:
    slack: SlackHarness = await start(
        bot_token=None, client_id="1111.2222", client_secret="oauth-client-secret"
    )
    slack.fake.oauth_codes["code-one"] = Team("TONE", "xoxb-oauth-one", "UBOTONE")
    assert (await install(slack, "code-one")).status_code == 200
    slack.fake.people["UFROMTTWO"] = {"team_id": "TTWO"}

    outsider = await slack.command("subscribe transformers", team="TONE", user="UFROMTTWO")
    member = await slack.command("subscribe transformers", team="TONE", user="UONE")

    assert MEMBERS_ONLY in block_text(outsider)
    assert "Subscribed to" in block_text(member)
    assert {c.token for c in slack.fake.calls_to("users.info")} == {"xoxb-oauth-one"}
