"""Slack's App Home through the real Bolt app: opened, it shows a person their digest, topics, votes and the
workspace's week; its buttons act through the core and show the Home again; a person who is deactivated, or
a workspace that uninstalls, leaves nothing personal behind; two workspaces never meet."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from adapters.slack.blocks import (
    HOME_DIGEST_ACTION,
    HOME_SCHEDULE_ACTION,
    HOME_UNSUBSCRIBE_ACTION,
    UPVOTE_ACTION,
)
from bot.domain import ChannelRef
from tests.slack.conftest import SlackHarness, StartSlack, block_text, buttons, eventually
from tests.slack.test_oauth import two_workspaces

ME = ChannelRef.person("slack", "T1", "U1")
MATRYOSHKA = "2205.13147"


async def home_saying(
    slack: SlackHarness, *needles: str, user: str = "U1", team: str = "T1"
) -> dict[str, Any]:
    """The person's Home once it was published with every one of `needles` in it."""

    def published() -> dict[str, Any]:
        home = slack.fake.home_of(user, team)
        return home if home is not None and all(n in block_text(home) for n in needles) else {}

    return await slack.fake.wait_for(published)


async def test_opening_the_home_tab_shows_my_digest_topics_votes_and_the_week(slack: SlackHarness) -> None:
    slack.fake.people["U1"] = {"tz": "America/Los_Angeles"}
    await slack.command("me subscribe representation")
    await slack.command('me subscribe "gaussian splatting"')
    # Each /papers me change published the Home in the background: let both land before looking.
    await slack.fake.wait_for(lambda: len(slack.fake.calls_to("views.publish")) == 2)
    await slack.answer(await slack.click(UPVOTE_ACTION, MATRYOSHKA))
    slack.fake.homes.clear()

    await slack.open_home()

    home = await home_saying(slack, "Your latest votes")
    text = block_text(home)
    assert "By direct message at 08:00 America/Los_Angeles on weekdays, up to 10 papers." in text
    assert "Next: Thu 26 Nov 2026 08:00 PST." in text
    assert "1. `representation`" in text and "2. `" in text and "gaussian splatting" in text
    assert f"`{MATRYOSHKA}` · voted " in text
    assert "Trending this week here" in text and "*1 vote* here" in text
    pressed = [(b["action_id"], b["value"]) for b in buttons(home)]
    assert (HOME_SCHEDULE_ACTION, "off") in pressed and (HOME_DIGEST_ACTION, "now") in pressed
    assert [v for a, v in pressed if a == HOME_UNSUBSCRIBE_ACTION] == ["1", "2"]
    assert (UPVOTE_ACTION, MATRYOSHKA) in pressed
    assert home["type"] == "home" and len(home["blocks"]) <= 100
    published = slack.fake.calls_to("views.publish")[-1]
    assert published.args["user_id"] == "U1" and published.token == "xoxb-team-one"
    assert slack.fake.violations == []


async def test_a_person_without_a_digest_is_told_how_to_start_one(slack: SlackHarness) -> None:
    await slack.open_home(user="U7")
    home = await home_saying(slack, "You have no digest of your own yet", user="U7")
    assert "None yet: every vote is a bookmark." in block_text(home)
    assert [b["action_id"] for b in buttons(home) if b["action_id"] != UPVOTE_ACTION] == []


async def test_the_messages_tab_tells_the_conversation_so_none_is_opened(slack: SlackHarness) -> None:
    await slack.open_home(tab="messages")
    await slack.command("me subscribe representation")
    await slack.command("me digest")
    assert slack.fake.calls_to("conversations.open") == []
    assert slack.fake.posted(slack.fake.dm_channel("U1"))


async def test_home_buttons_remove_a_topic_pause_resume_and_send_todays_digest(slack: SlackHarness) -> None:
    await slack.command("me subscribe representation")
    await slack.command('me subscribe "gaussian splatting"')

    await slack.home_click(HOME_UNSUBSCRIBE_ACTION, "2")
    home = await home_saying(slack, "Unsubscribed from")
    assert "gaussian splatting" not in block_text(home).split("Your topics", 1)[1]
    assert [t.query for t in await slack.paperboy.store.list_topics(ME)] == ["representation"]

    await slack.home_click(HOME_SCHEDULE_ACTION, "off")
    home = await home_saying(slack, "Paused")
    assert (HOME_SCHEDULE_ACTION, "on") in [(b["action_id"], b["value"]) for b in buttons(home)]
    settings = await slack.paperboy.store.get_settings(ME)
    assert settings is not None and settings.paused

    await slack.home_click(HOME_SCHEDULE_ACTION, "on")
    home = await home_saying(slack, "Next: ")
    assert (HOME_SCHEDULE_ACTION, "off") in [(b["action_id"], b["value"]) for b in buttons(home)]

    await slack.home_click(HOME_DIGEST_ACTION, "now")
    await home_saying(slack, "Sent your digest to your direct messages for 2026-11-26")
    dm = slack.fake.dm_channel("U1")
    assert len(slack.fake.posted(dm)) >= 3
    # Each button answered on the Home itself: a view has no response_url.
    assert all(r["_name"].startswith("cmd") for r in slack.fake.responses)
    assert slack.fake.violations == []


async def test_upvote_on_the_home_counts_and_the_home_shows_it(slack: SlackHarness) -> None:
    await slack.home_click(UPVOTE_ACTION, MATRYOSHKA)
    home = await home_saying(slack, "Counted your vote")
    assert f"`{MATRYOSHKA}` · voted " in block_text(home)
    assert (await slack.paperboy.paper(MATRYOSHKA)).chat_votes == 1


async def test_a_me_command_typed_in_a_channel_refreshes_my_home(slack: SlackHarness) -> None:
    await slack.command("me subscribe representation")
    await home_saying(slack, "1. `representation`")
    await slack.command("me unsubscribe 1")
    home = await home_saying(slack, "No topics yet")
    assert "`representation`" not in block_text(home)
    await slack.command("me forget confirm")
    await home_saying(slack, "You have no digest of your own yet")


async def test_a_home_button_a_stale_or_forged_value_changes_nothing(slack: SlackHarness) -> None:
    await slack.command("me subscribe representation")
    await slack.home_click(HOME_UNSUBSCRIBE_ACTION, "7")
    await home_saying(slack, "Pick a number from 1 to 1")
    await slack.home_click(HOME_SCHEDULE_ACTION, "25:99")  # not a value of ours: ignored
    await slack.home_click(HOME_UNSUBSCRIBE_ACTION, "1; drop")
    await slack.home_click(HOME_SCHEDULE_ACTION, "off")
    await home_saying(slack, "Paused")
    assert [t.query for t in await slack.paperboy.store.list_topics(ME)] == ["representation"]


async def _none(awaitable: Awaitable[object]) -> bool:
    return await awaitable is None


async def test_a_deactivated_person_loses_their_digest_topics_and_votes(slack: SlackHarness) -> None:
    for user in ("U1", "U2"):
        await slack.command("me subscribe representation", user=user)
        await slack.answer(await slack.click(UPVOTE_ACTION, MATRYOSHKA, user=user))
    await slack.command("subscribe matryoshka")  # the channel's own topic stays
    changed = {"type": "user_change", "user": {"id": "U2", "team_id": "T1", "deleted": False}}
    assert (await slack.event(changed, event_id="EvProfile")).status_code == 200

    gone = {
        "type": "user_change",
        "user": {"id": "U1", "team_id": "T1", "deleted": True, "profile": {"real_name": "Ada"}},
        "cache_ts": 1700000500,
        "event_ts": "1700000500.000100",
    }
    assert (await slack.event(gone, event_id="EvGone")).status_code == 200

    assert await eventually(lambda: _none(slack.paperboy.store.get_settings(ME)))
    assert await slack.paperboy.store.list_topics(ME) == []
    assert (await slack.paperboy.paper(MATRYOSHKA)).chat_votes == 1  # U2's
    other = ChannelRef.person("slack", "T1", "U2")
    assert await slack.paperboy.store.get_settings(other) is not None
    assert len(await slack.paperboy.store.list_topics(ChannelRef("slack", "T1", "C1"))) == 1


async def test_uninstalling_forgets_every_person_of_the_workspace(slack: SlackHarness) -> None:
    await slack.command("me subscribe representation")
    await slack.command("me digest")
    await slack.answer(await slack.click(UPVOTE_ACTION, MATRYOSHKA))

    assert (await slack.event({"type": "app_uninstalled"}, event_id="EvBye")).status_code == 200

    assert await eventually(lambda: _none(slack.paperboy.store.get_settings(ME)))
    assert await slack.paperboy.store.list_topics(ME) == []
    assert (await slack.paperboy.paper(MATRYOSHKA)).chat_votes == 0


async def test_a_person_of_one_workspace_never_sees_or_changes_the_others(start: StartSlack) -> None:
    slack = await two_workspaces(start)
    await slack.command("me subscribe representation", team="TONE")
    await slack.answer(await slack.click(UPVOTE_ACTION, MATRYOSHKA, team="TONE"))

    # The same user id in the other workspace is another person.
    assert "No topics yet" in block_text(await slack.command("me topics", team="TTWO"))
    assert "You have not voted" in block_text(await slack.command("me votes", team="TTWO"))
    forgot = await slack.command("me forget confirm", team="TTWO")
    assert "kept nothing about you in this workspace" in block_text(forgot)
    await slack.home_click(HOME_UNSUBSCRIBE_ACTION, "1", team="TTWO")
    home = await home_saying(slack, "You follow no topics yet", team="TTWO")
    assert "representation" not in block_text(home)
    assert (
        MATRYOSHKA not in block_text(home).split("Trending")[0]
    )  # no vote of TONE's among "Your latest votes"

    one = ChannelRef.person("slack", "TONE", "U1")
    assert [t.query for t in await slack.paperboy.store.list_topics(one)] == ["representation"]
    settings = await slack.paperboy.store.get_settings(one)
    assert settings is not None and not settings.paused
    reading = block_text(await slack.command("me votes", team="TONE"))
    assert "Papers you voted for (1)" in reading

    await slack.command("me digest", team="TONE")
    dm = slack.fake.dm_channel("U1", "TONE")
    assert dm is not None and slack.fake.dm_channel("U1", "TTWO") is None
    assert {c.token for c in slack.fake.posted(dm)} == {"xoxb-oauth-one"}
    assert slack.fake.home_of("U1", "TONE") is not None
    assert slack.fake.violations == []
