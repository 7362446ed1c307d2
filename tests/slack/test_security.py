"""Requests must carry Slack's signature; text from outside never becomes a mention or a link."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from datetime import date

import pytest

from adapters.ops.logs import setup_logging
from bot.domain import Paper
from tests.fakes.slack import command_body, slack_signature
from tests.slack.conftest import FORM, SlackHarness, block_text

HOSTILE_TITLE = "Attention <!channel> & <!here> is all <@U0BOSS> you need <https://evil.example|click>"


def search_body(slack: SlackHarness, name: str) -> bytes:
    return command_body(
        "search matryoshka", team="T1", channel="C1", user="U1", response_url=slack.fake.response_url(name)
    )


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"X-Slack-Signature": "v0=" + "0" * 64}, id="bad signature"),
        pytest.param({"X-Slack-Signature": None, "X-Slack-Request-Timestamp": None}, id="missing signature"),
        pytest.param({"X-Slack-Signature": None}, id="missing signature, timestamp present"),
    ],
)
async def test_unsigned_or_badly_signed_requests_are_refused_with_401(
    slack: SlackHarness, headers: dict[str, str | None]
) -> None:
    body = search_body(slack, "bad")
    sent = {"Content-Type": FORM, "X-Slack-Request-Timestamp": str(int(time.time()))}
    sent["X-Slack-Signature"] = slack_signature(slack.secret, sent["X-Slack-Request-Timestamp"], body)
    for name, value in headers.items():
        if value is None:
            sent.pop(name, None)
        else:
            sent[name] = value
    response = await slack.http.post(slack.events_url, content=body, headers=sent)
    assert response.status_code == 401
    await slack.command("help")  # a good request afterwards is answered, and the bad one never was
    assert not [r for r in slack.fake.responses if r["_name"] == "bad"]


async def test_a_stale_but_correctly_signed_request_is_refused_with_401(slack: SlackHarness) -> None:
    body = search_body(slack, "stale")
    stamp = str(int(time.time()) - 6 * 60)
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_signature(slack.secret, stamp, body),
    }
    response = await slack.http.post(slack.events_url, content=body, headers=headers)
    assert response.status_code == 401


async def test_a_body_changed_after_signing_is_refused(slack: SlackHarness) -> None:
    body = search_body(slack, "tampered")
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": slack_signature(slack.secret, stamp, body),
    }
    response = await slack.http.post(slack.events_url, content=body.replace(b"C1", b"C2"), headers=headers)
    assert response.status_code == 401


async def hostile_paper(slack: SlackHarness) -> None:
    paper = Paper(
        arxiv_id="2611.00001",
        title=HOSTILE_TITLE,
        authors=["<!everyone>", "Eve <@U0BOSS>", "Mallory & Co"],
        abstract="We show that <!subteam^S123> can be pinged & <#C999> linked.",
        published=date(2026, 11, 25),
        featured_on=date(2026, 11, 26),
        hf_upvotes=999,
        ai_keywords=["<!channel>"],
        github_repo="javascript:alert(1)",
        project_page="https://example.org/a|<!channel>",
    )
    await slack.paperboy.ingest([paper])


def assert_inert(text: str) -> None:
    for markup in (
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<@U0BOSS>",
        "<!subteam",
        "<#C999>",
        "<https://evil",
    ):
        assert markup not in text
    assert "<javascript:" not in text


async def test_a_title_containing_channel_mentions_nobody_in_search_results(slack: SlackHarness) -> None:
    await hostile_paper(slack)
    answer = await slack.command("search attention need")
    text = block_text(answer)
    assert "Attention &lt;!channel&gt; &amp; &lt;!here&gt; is all &lt;@U0BOSS&gt; you need" in text
    assert_inert(text)
    assert_inert(answer["text"])
    assert all(
        element.get("verbatim") is True
        for block in answer["blocks"]
        for element in [block.get("text", {}), *block.get("elements", [])]
        if element.get("type") == "mrkdwn"
    )


async def test_a_hostile_paper_card_and_digest_reply_mention_nobody(slack: SlackHarness) -> None:
    await hostile_paper(slack)
    card = await slack.command("paper 2611.00001")
    assert_inert(block_text(card))
    assert "&lt;!everyone&gt;" in block_text(card)
    assert "javascript:alert" not in block_text(card)  # an unsafe code link is left out, not linked
    assert "example.org" not in block_text(card)

    await slack.command("subscribe attention")
    await slack.command("digest")
    posted = slack.fake.posted("C1")
    assert posted
    for call in posted:
        assert_inert(block_text({"blocks": call.args["blocks"]}))
        assert_inert(call.args["text"])


async def test_a_query_echoed_back_mentions_nobody(slack: SlackHarness) -> None:
    answer = await slack.command("search <!channel> nothingmatcheszz")
    assert_inert(block_text(answer))
    subscribed = await slack.command("subscribe <!here> gaussian")
    assert subscribed["response_type"] == "in_channel"
    assert_inert(block_text(subscribed))
    assert_inert(subscribed["text"])


# ----- refused requests in the log -----

LOG_BUDGET = 4096
BODY_MARKER = "zebrafishsecretbody"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Every log record, as `paperboy run` writes it (JSON lines at INFO), captured for the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    setup_logging(level="INFO", log_format="json", stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def large_body(slack: SlackHarness) -> bytes:
    """A /papers command of about 200 KB whose text a log must never show."""
    text = "search " + " ".join([BODY_MARKER] * 10_000)
    body = command_body(text, team="T1", channel="C1", user="U1", response_url=slack.fake.response_url("big"))
    assert len(body) > 200_000
    return body


@pytest.mark.parametrize(
    "signature",
    [pytest.param(None, id="unsigned"), pytest.param("v0=" + "0" * 64, id="wrongly signed")],
)
async def test_a_refused_200_kb_request_is_one_short_log_line_without_its_body(
    slack: SlackHarness, log_stream: io.StringIO, signature: str | None
) -> None:
    body = large_body(slack)
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": str(int(time.time()))}
    if signature is not None:
        headers["X-Slack-Signature"] = signature
    before = len(log_stream.getvalue())

    response = await slack.http.post(slack.events_url, content=body, headers=headers)

    assert response.status_code == 401
    added = log_stream.getvalue()[before:]
    assert len(added.encode()) < LOG_BUDGET, added[:500]
    assert BODY_MARKER not in added
    refused = [json.loads(line) for line in added.splitlines() if "refused" in line]
    assert len(refused) == 1, added[:500]
    assert refused[0]["path"] == "/slack/events"
    assert refused[0]["bytes"] == len(body)
    assert refused[0]["reason"] == ("no signature" if signature is None else "wrong signature")


@pytest.mark.parametrize("stamp", ["soon", "1.7e9", "", "1700000000.5", "١٧٠٠٠٠٠٠٠٠", "9" * 5000])
async def test_a_malformed_timestamp_is_refused_with_401_not_an_error(
    slack: SlackHarness, log_stream: io.StringIO, stamp: str
) -> None:
    body = search_body(slack, "malformed")
    # As bytes: a header may carry any octets, not only ASCII.
    headers = {
        b"Content-Type": FORM.encode(),
        b"X-Slack-Request-Timestamp": stamp.encode(),
        b"X-Slack-Signature": slack_signature(slack.secret, stamp, body).encode(),
    }

    response = await slack.http.post(slack.events_url, content=body, headers=headers)

    assert response.status_code == 401
    assert "Traceback" not in log_stream.getvalue()
    assert (await slack.command("help"))["response_type"] == "ephemeral"  # still serving
