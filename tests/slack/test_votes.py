"""Votes by reaction on the bot's paper messages and by the Upvote button, each counted once."""

from __future__ import annotations

from bot.domain import ChannelRef
from tests.fakes.slack import action_body
from tests.slack.conftest import FORM, SlackHarness, block_text, eventually

MATRYOSHKA = "2205.13147"


async def digest_reply_ts(slack: SlackHarness, arxiv_id: str = MATRYOSHKA) -> str:
    """Post a digest in C1 and return the ts of the reply that shows `arxiv_id`."""
    await slack.command("subscribe matryoshka")
    await slack.command("digest")
    for call in slack.fake.posted("C1"):
        if call.args.get("metadata", {}).get("event_payload", {}).get("arxiv_id") == arxiv_id:
            return str(call.args["_ts"])
    raise AssertionError(f"no digest reply for {arxiv_id}")


async def votes(slack: SlackHarness, arxiv_id: str = MATRYOSHKA) -> int:
    return (await slack.paperboy.paper(arxiv_id)).chat_votes


async def test_a_thumbs_up_on_a_digest_reply_counts_and_trending_shows_it(slack: SlackHarness) -> None:
    ts = await digest_reply_ts(slack)
    await slack.react(ts, event_id="Ev1")
    assert await votes(slack) == 1
    trending = await slack.command("trending")
    assert "1 vote here" in block_text(trending)


async def test_a_retried_event_changes_nothing(slack: SlackHarness) -> None:
    ts = await digest_reply_ts(slack)
    await slack.react(ts, event_id="Ev1")
    await slack.react(ts, event_id="Ev1", X_Slack_Retry_Num="1", X_Slack_Retry_Reason="http_timeout")
    assert await votes(slack) == 1
    await slack.react(ts, added=False, event_id="Ev2")
    assert await votes(slack) == 0
    # A late retry of the first event must not bring the retracted vote back.
    await slack.react(ts, event_id="Ev1", X_Slack_Retry_Num="2", X_Slack_Retry_Reason="http_timeout")
    assert await votes(slack) == 0


async def test_vote_emoji_variants_count_and_other_emoji_do_not(slack: SlackHarness) -> None:
    ts = await digest_reply_ts(slack)
    await slack.react(ts, reaction="heart", user="U1", event_id="Ev1")
    assert await votes(slack) == 0
    await slack.react(ts, reaction="+1::skin-tone-3", user="U2", event_id="Ev2")
    await slack.react(ts, reaction="arrow_up", user="U3", event_id="Ev3")
    await slack.react(ts, reaction="thumbsup", user="U3", event_id="Ev4")
    assert await votes(slack) == 2


async def test_the_bots_own_reactions_and_unknown_messages_do_not_count(slack: SlackHarness) -> None:
    ts = await digest_reply_ts(slack)
    await slack.react(ts, user="UBOT", event_id="Ev1")
    await slack.react("1699999999.000001", user="U1", event_id="Ev2")
    assert await votes(slack) == 0


async def test_reaction_votes_stay_in_their_workspace(slack: SlackHarness) -> None:
    ts = await digest_reply_ts(slack)
    # The same channel id and ts in another workspace is another message.
    await slack.react(ts, team="T2", event_id="Ev1")
    assert await votes(slack) == 0


async def test_the_upvote_button_toggles_and_a_repeated_click_changes_nothing(slack: SlackHarness) -> None:
    first = await slack.click("paperboy_upvote", MATRYOSHKA, action_ts="1700000100.000001")
    assert "Counted your vote" in block_text(await slack.answer(first))
    assert await votes(slack) == 1

    # Slack delivering the very same click again must not toggle it back.
    repeat = action_body(
        "paperboy_upvote",
        MATRYOSHKA,
        team="T1",
        channel="C1",
        user="U1",
        response_url=slack.fake.response_url("repeat"),
        action_ts="1700000100.000001",
    )
    assert (await slack.send(repeat, FORM)).status_code == 200
    second = await slack.click("paperboy_upvote", MATRYOSHKA, action_ts="1700000200.000001")
    assert "Took back your vote" in block_text(await slack.answer(second))
    assert await votes(slack) == 0
    assert not [r for r in slack.fake.responses if r["_name"] == "repeat"]


async def test_reaction_and_button_by_one_person_count_once(slack: SlackHarness) -> None:
    ts = await digest_reply_ts(slack)
    await slack.answer(await slack.click("paperboy_upvote", MATRYOSHKA, user="U7"))
    await slack.react(ts, user="U7", event_id="Ev1")
    assert await votes(slack) == 1


async def test_share_in_channel_posts_the_card_where_reactions_then_count(slack: SlackHarness) -> None:
    await slack.click("paperboy_share", MATRYOSHKA, channel="C5")
    shared = await slack.fake.wait_for(lambda: slack.fake.posted("C5"))
    text = block_text({"blocks": shared[0].args["blocks"]})
    assert "Matryoshka Representation Learning" in text
    assert shared[0].args["unfurl_links"] is False
    # The share is remembered as a paper message, so a reaction on it is a vote.
    ts = str(shared[0].args["_ts"])
    await eventually(lambda: slack.paperboy.store.paper_for_message(ChannelRef("slack", "T1", "C5"), ts))
    await slack.react(ts, channel="C5", user="U8", event_id="Ev9")
    assert await votes(slack) == 1


async def test_share_where_the_bot_is_not_a_member_goes_through_the_response_url(slack: SlackHarness) -> None:
    slack.fake.channel_errors["CPRIV"] = "not_in_channel"
    name = await slack.click("paperboy_share", MATRYOSHKA, channel="CPRIV")
    answer = await slack.answer(name)
    assert answer["response_type"] == "in_channel"
    assert "Matryoshka Representation Learning" in block_text(answer)
