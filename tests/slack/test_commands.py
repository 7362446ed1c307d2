"""Every /papers subcommand through the real HTTP endpoint, answered on the response_url."""

from __future__ import annotations

from typing import Any

from bot.domain import ChannelRef
from tests.fakes.slack import command_body
from tests.slack.conftest import SlackHarness, StartSlack, block_text, buttons

FORM = "application/x-www-form-urlencoded"


def labels(message: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in buttons(message)]


async def test_search_answers_privately_with_a_card_and_share_button(slack: SlackHarness) -> None:
    answer = await slack.command("search matryoshka")
    assert answer["response_type"] == "ephemeral"
    assert "Matryoshka Representation Learning" in block_text(answer)
    assert "Share in channel" in labels(answer) and "▲ Upvote" in labels(answer)
    assert answer["unfurl_links"] is False and answer["unfurl_media"] is False
    assert slack.fake.violations == []


async def test_command_is_acknowledged_with_an_empty_200_before_the_answer(slack: SlackHarness) -> None:
    body = command_body(
        "search matryoshka", team="T1", channel="C1", user="U1", response_url=slack.fake.response_url("ack")
    )
    response = await slack.send(body, FORM)
    assert response.status_code == 200
    assert response.text == ""
    answer = await slack.answer("ack")
    assert "Matryoshka" in block_text(answer)


async def test_search_without_matches_says_what_to_try(slack: SlackHarness) -> None:
    answer = await slack.command("search zzzqqqxxx")
    assert answer["response_type"] == "ephemeral"
    assert "No paper matches" in block_text(answer)


async def test_trending_is_posted_for_the_channel_without_share_buttons(slack: SlackHarness) -> None:
    answer = await slack.command("trending week")
    assert answer["response_type"] == "in_channel"
    text = block_text(answer)
    assert "Trending papers of the week" in text
    assert "Matryoshka Representation Learning" in text  # the most upvoted demo paper
    assert "Share in channel" not in labels(answer)
    assert "▲ Upvote" in labels(answer)


async def test_paper_shows_a_full_card_with_links_and_code_stars(slack: SlackHarness) -> None:
    answer = await slack.command("paper https://arxiv.org/abs/2205.13147v2")
    assert answer["response_type"] == "ephemeral"
    text = block_text(answer)
    assert "Matryoshka Representation Learning" in text
    assert "<https://arxiv.org/abs/2205.13147|arXiv>" in text
    assert "<https://arxiv.org/pdf/2205.13147|PDF>" in text
    assert "<https://huggingface.co/papers/2205.13147|Hugging Face>" in text
    assert "<https://github.com/RAIVNLab/MRL|Code" in text
    assert "▲ 250 on Hugging Face" in text
    assert any(b.get("accessory", {}).get("type") == "image" for b in answer["blocks"])


async def test_unknown_paper_answers_privately_with_what_would_work(slack: SlackHarness) -> None:
    answer = await slack.command("paper 2101.99999")
    assert answer["response_type"] == "ephemeral"
    assert "I don't have 2101.99999" in block_text(answer)


async def test_cite_answers_bibtex_privately(slack: SlackHarness) -> None:
    answer = await slack.command("cite 2205.13147")
    assert answer["response_type"] == "ephemeral"
    text = block_text(answer)
    assert "@" in text and "Matryoshka Representation Learning" in text and "2205.13147" in text


async def test_subscribe_topics_and_unsubscribe(slack: SlackHarness) -> None:
    subscribed = await slack.command('subscribe "gaussian splatting"')
    assert subscribed["response_type"] == "in_channel"
    assert "Subscribed to" in block_text(subscribed)

    topics = await slack.command("topics")
    assert topics["response_type"] == "ephemeral"
    assert '1. `"gaussian splatting"`' in block_text(topics)

    removed = await slack.command("unsubscribe 1")
    assert "Unsubscribed from" in block_text(removed)
    assert await slack.paperboy.store.list_topics(ChannelRef("slack", "T1", "C1")) == []


async def test_schedule_shows_changes_pauses_and_resumes(slack: SlackHarness) -> None:
    shown = await slack.command("schedule")
    assert shown["response_type"] == "ephemeral"
    assert "09:00 UTC" in block_text(shown)

    saved = await slack.command("schedule 07:30 Europe/Paris")
    assert "Schedule saved." in block_text(saved)
    assert "07:30 Europe/Paris" in block_text(saved)

    paused = await slack.command("schedule off")
    assert "Paused" in block_text(paused)
    resumed = await slack.command("schedule on")
    assert "Paused" not in block_text(resumed)


async def test_help_bare_command_and_unknown_word_show_help(slack: SlackHarness) -> None:
    for line in ("help", "", "frobnicate"):
        answer = await slack.command(line)
        assert answer["response_type"] == "ephemeral"
        assert "/papers search &lt;query&gt;" in block_text(answer)
    unknown = await slack.command("frobnicate")
    assert "I don't know 'frobnicate'" in block_text(unknown)


async def test_missing_argument_answers_with_an_example(slack: SlackHarness) -> None:
    answer = await slack.command("search")
    assert answer["response_type"] == "ephemeral"
    assert "Tell me what to search for" in block_text(answer)


async def test_vote_by_command_counts_once(slack: SlackHarness) -> None:
    first = await slack.command("vote 2205.13147")
    again = await slack.command("vote 2205.13147")
    assert "Counted your vote" in block_text(first)
    assert "already voted" in block_text(again)
    assert (await slack.paperboy.paper("2205.13147")).chat_votes == 1


async def test_admins_only_refuses_members_and_lets_admins_change_topics(start: StartSlack) -> None:
    harness: SlackHarness = await start(admins_only=True)
    harness.fake.teams["xoxb-team-one"].admins.add("UADMIN")

    refused = await harness.command("subscribe transformers", user="UMEMBER")
    assert "Only workspace admins and owners can change" in block_text(refused)
    searched = await harness.command("search matryoshka", user="UMEMBER")
    assert "Matryoshka" in block_text(searched)

    allowed = await harness.command("subscribe transformers", user="UADMIN")
    assert "Subscribed to" in block_text(allowed)
    asked = [c.args.get("user") for c in harness.fake.calls_to("users.info")]
    assert asked == ["UMEMBER", "UADMIN"]  # searching never needs the check


async def test_members_may_change_topics_by_default(slack: SlackHarness) -> None:
    answer = await slack.command("subscribe transformers", user="UMEMBER")
    assert "Subscribed to" in block_text(answer)
    # Asked only to tell a member from a guest or an outsider (tests/slack/test_channel_managers.py).
    assert [c.args.get("user") for c in slack.fake.calls_to("users.info")] == ["UMEMBER"]


async def test_escaped_command_text_reaches_the_core_as_typed(slack: SlackHarness) -> None:
    # Slack escapes &, < and > in slash command text: unescaped once in, escaped once out, never twice.
    answer = await slack.command("search matryoshka -<nothing>")
    text = block_text(answer)
    assert "Matryoshka Representation Learning" in text
    assert "matryoshka -&lt;nothing&gt;" in text
    assert "&amp;lt;" not in text
