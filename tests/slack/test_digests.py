"""Digest threads: a parent message, one reply per paper best first, faults that stay in their channel."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from bot.domain import ChannelRef
from tests.slack.conftest import SlackHarness, StartSlack, block_text


def blocks_of(call_args: dict[str, Any]) -> list[dict[str, Any]]:
    """The blocks a Web API call carried, decoded when slack_sdk sent them as a JSON string."""
    blocks = call_args.get("blocks") or []
    decoded: list[dict[str, Any]] = json.loads(blocks) if isinstance(blocks, str) else blocks
    return decoded


async def test_subscribe_then_digest_posts_a_parent_and_one_threaded_reply_per_paper(
    slack: SlackHarness,
) -> None:
    await slack.command("subscribe representation")
    answer = await slack.command("digest")
    assert answer["response_type"] == "ephemeral"
    assert "Posted the digest for 2026-11-26" in block_text(answer)

    posted = slack.fake.posted("C1")
    parent, replies = posted[0], posted[1:]
    assert len(replies) >= 2
    assert "thread_ts" not in parent.args
    parent_text = block_text({"blocks": blocks_of(parent.args)})
    assert "Thursday 26 November 2026" in parent_text
    assert f"{len(replies)} papers in this thread" in parent_text
    assert "representation" in parent_text
    assert parent.args["metadata"]["event_type"] == "paperboy_digest"

    for number, reply in enumerate(replies, 1):
        assert reply.args["thread_ts"] == parent.args["_ts"]
        assert reply.args["unfurl_links"] is False and reply.args["unfurl_media"] is False
        assert reply.token == "xoxb-team-one"
        metadata = reply.args["metadata"]
        assert metadata["event_type"] == "paperboy_digest_item"
        assert set(metadata["event_payload"]) >= {"arxiv_id", "delivery_id", "digest_id"}
        assert block_text({"blocks": blocks_of(reply.args)}).startswith(f"*{number}. <")
    ids = [r.args["metadata"]["event_payload"]["arxiv_id"] for r in replies]
    assert "2205.13147" in ids
    assert len(set(ids)) == len(ids)
    assert slack.fake.violations == []


async def test_digest_is_not_posted_twice_and_nothing_new_posts_nothing(slack: SlackHarness) -> None:
    await slack.command("subscribe matryoshka")
    await slack.command("digest")
    count = len(slack.fake.posted())
    again = await slack.command("digest")
    assert "already posted" in block_text(again) or "Nothing new" in block_text(again)
    assert len(slack.fake.posted()) == count

    await slack.command("subscribe quantum chromodynamics lattice", channel="C9")
    nothing = await slack.command("digest", channel="C9")
    assert "Nothing new to post" in block_text(nothing)
    assert slack.fake.posted("C9") == []


async def test_a_429_waits_its_retry_after_then_posts(slack: SlackHarness) -> None:
    slack.fake.post_failures.append((429, {"Retry-After": "1"}))
    await slack.command("subscribe matryoshka")
    answer = await slack.command("digest")
    assert "Posted the digest" in block_text(answer)
    calls = slack.fake.calls_to("chat.postMessage")
    limited, retried = calls[0], calls[1]
    assert retried.at - limited.at >= 1.0  # Slack's Retry-After was honoured
    assert len(slack.fake.posted()) == len(calls) - 1


async def test_server_errors_are_retried_with_backoff(slack: SlackHarness) -> None:
    slack.fake.post_failures += [(500, {}), (503, {})]
    await slack.command("subscribe matryoshka")
    answer = await slack.command("digest")
    assert "Posted the digest" in block_text(answer)
    assert len(slack.fake.calls_to("chat.postMessage")) == len(slack.fake.posted()) + 2


async def test_a_channel_that_is_gone_is_paused_with_its_reason_while_others_post(
    slack: SlackHarness,
) -> None:
    slack.fake.channel_errors["CGONE"] = "channel_not_found"
    await slack.command("subscribe matryoshka", channel="CGONE")
    await slack.command("subscribe matryoshka", channel="COK")

    failed = await slack.command("digest", channel="CGONE")
    assert "does not exist or Paperboy cannot see it" in block_text(failed)
    ok = await slack.command("digest", channel="COK")
    assert "Posted the digest" in block_text(ok)
    assert slack.fake.posted("COK") and not slack.fake.posted("CGONE")

    status = await slack.command("schedule", channel="CGONE")
    assert "Paused: Slack says this channel does not exist" in block_text(status)
    settings = await slack.paperboy.schedules.get(ChannelRef("slack", "T1", "COK"))
    assert not settings.paused


async def test_failing_channels_do_not_stop_the_others_posting_at_the_same_time(slack: SlackHarness) -> None:
    slack.fake.channel_errors.update({"CNOTIN": "not_in_channel", "CARCH": "is_archived"})
    channels = [ChannelRef("slack", "T1", c) for c in ("CNOTIN", "CARCH", "CA", "CB")]
    for channel in channels:
        await slack.paperboy.topics.subscribe(channel, "matryoshka")
    results = await asyncio.gather(*(slack.paperboy.post_digest(c) for c in channels), return_exceptions=True)
    assert [isinstance(r, Exception) for r in results] == [True, True, False, False]
    assert slack.fake.posted("CA") and slack.fake.posted("CB")
    not_in = await slack.paperboy.schedules.get(channels[0])
    archived = await slack.paperboy.schedules.get(channels[1])
    assert not_in.paused and "/invite @Paperboy" in (not_in.pause_reason or "")
    assert archived.paused and "archived" in (archived.pause_reason or "")


async def test_a_revoked_token_pauses_the_channel(slack: SlackHarness) -> None:
    slack.fake.channel_errors["C1"] = "token_revoked"
    await slack.command("subscribe matryoshka")
    failed = await slack.command("digest")
    assert "revoked" in block_text(failed)
    assert (await slack.paperboy.schedules.get(ChannelRef("slack", "T1", "C1"))).paused


async def test_posts_to_one_channel_are_paced(start: StartSlack) -> None:
    harness: SlackHarness = await start(post_interval=0.3)
    await harness.command("subscribe matryoshka")
    await harness.command("digest")
    times = [c.at for c in harness.fake.posted("C1")]
    assert len(times) >= 2
    assert all(b - a >= 0.3 for a, b in itertools.pairwise(times))
