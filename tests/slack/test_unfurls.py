"""Paper links shared in Slack become cards (link_shared -> chat.unfurl), and 👍 on such a message votes for each
of its papers: through the real Bolt app and HTTP server, against the fake Slack and a fake arXiv on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from adapters.bench.slack_api import FakeUnfurl
from adapters.slack.blocks import SIMILAR_ACTION, UPVOTE_ACTION
from adapters.slack.bot import serve_slack
from adapters.slack.config import SlackConfig
from adapters.slack.connection import connect_slack
from bot.core import Paperboy
from bot.domain import ChannelRef, Paper, Workspace
from tests.fakes.arxiv import FakeArxiv
from tests.fakes.slack import FakeSlack, link_shared_body
from tests.slack.conftest import SlackHarness, block_text, buttons

MATRYOSHKA = "2205.13147"
GAUSSIANS = "2311.13681"
UNKNOWN = "2501.00001"
POSTED_TS = "1700000500.000100"


@pytest.fixture
async def fake_arxiv() -> AsyncIterator[FakeArxiv]:
    fake = FakeArxiv()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def slack(
    fake_slack: FakeSlack, paperboy: Paperboy, slack_config: SlackConfig, fake_arxiv: FakeArxiv
) -> AsyncIterator[SlackHarness]:
    """The Slack adapter over a core that fetches unknown papers from the fake arXiv (1 s deadline)."""
    connection = await connect_slack(slack_config, paperboy.telemetry)
    source = fake_arxiv.source(deadline=1.0)
    core = Paperboy(
        paperboy.store,
        paperboy.index,
        paperboy.clock,
        paperboy.telemetry,
        paperboy.semantic,
        publishers={"slack": connection.publisher},
        source=source,
    )
    service = await serve_slack(core, connection)
    http = httpx.AsyncClient(timeout=30)
    try:
        yield SlackHarness(fake_slack, service, core, http)
    finally:
        await http.aclose()
        await service.stop()
        await connection.close()
        await source.aclose()


async def share(slack: SlackHarness, *urls: str, event_id: str, **where: Any) -> None:
    """Someone posts a message with these links (or types them, `composer=True`); Slack must get its ack."""
    body = link_shared_body(list(urls), team="T1", event_id=event_id, **where)
    response = await slack.send(body, "application/json")
    assert response.status_code == 200, response.text


async def unfurled(slack: SlackHarness, ts: str = POSTED_TS, channel: str = "C1") -> FakeUnfurl:
    """The chat.unfurl Slack got for one posted message (waits for the background work)."""
    found: list[FakeUnfurl] = await slack.fake.wait_for(lambda: slack.fake.unfurls_of(channel, ts))
    return found[-1]


async def finished(slack: SlackHarness) -> None:
    """Wait until the adapter's background work (the unfurls) is done."""
    await slack.service.bot.work.drain(10.0)


def card_text(unfurl: FakeUnfurl, url: str) -> str:
    """Everything a person reads on one link's card."""
    return block_text(unfurl.unfurls[url])


async def votes(slack: SlackHarness, arxiv_id: str) -> int:
    return await slack.paperboy.votes.count(arxiv_id, Workspace("slack", "T1"))


async def test_every_paper_link_of_a_message_gets_a_compact_card_and_other_links_none(
    slack: SlackHarness,
) -> None:
    urls = [
        f"https://arxiv.org/abs/{MATRYOSHKA}v2",
        f"https://arxiv.org/pdf/{GAUSSIANS}v1.pdf",
        f"https://huggingface.co/papers/{MATRYOSHKA}",
        f"https://www.alphaxiv.org/abs/{GAUSSIANS}",
    ]
    await share(slack, *urls, "https://arxiv.org/list/cs.CL/recent", event_id="Ev1", message_ts=POSTED_TS)

    unfurl = await unfurled(slack)

    assert list(unfurl.unfurls) == urls
    matryoshka = card_text(unfurl, urls[0])
    assert "Matryoshka Representation Learning" in matryoshka
    assert "Aditya Kusupati, Gantavya Bhatt, Aniket Rege et al." in matryoshka
    assert "on Hugging Face" in matryoshka and "0 votes here" in matryoshka
    assert "Compact 3D Gaussian Representation" in card_text(unfurl, urls[1])
    assert card_text(unfurl, urls[2]) == matryoshka
    card_buttons = buttons(unfurl.unfurls[urls[1]])
    assert [(b["action_id"], b["value"]) for b in card_buttons] == [
        (UPVOTE_ACTION, GAUSSIANS),
        (SIMILAR_ACTION, GAUSSIANS),
    ]
    assert len(unfurl.unfurls[urls[0]]["blocks"]) == 3  # title and authors, counts, buttons
    assert slack.fake.violations == []


async def test_links_still_in_the_composer_are_unfurled_by_their_unfurl_id_and_remembered_nowhere(
    slack: SlackHarness,
) -> None:
    url = f"https://arxiv.org/abs/{MATRYOSHKA}"
    await share(slack, url, event_id="Ev1", composer=True, message_ts=POSTED_TS)

    unfurl = await slack.fake.wait_for(lambda: slack.fake.unfurled)

    [call] = unfurl
    assert (call.source, call.channel, call.ts) == ("composer", None, None)
    assert call.unfurl_id and list(call.unfurls) == [url]
    assert (
        await slack.paperboy.store.papers_for_message(ChannelRef("slack", "T1", "COMPOSER"), POSTED_TS) == []
    )


async def test_a_paper_not_stored_is_fetched_from_arxiv_stored_and_unfurled(
    slack: SlackHarness, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.papers[UNKNOWN] = "Less is More: Recursive Reasoning with Tiny Networks"
    url = f"https://arxiv.org/abs/{UNKNOWN}v1"

    await share(slack, url, event_id="Ev1", message_ts=POSTED_TS)
    unfurl = await unfurled(slack)

    assert "Less is More: Recursive Reasoning with Tiny Networks" in card_text(unfurl, url)
    stored = await slack.paperboy.paper(UNKNOWN)
    assert stored.paper.title == "Less is More: Recursive Reasoning with Tiny Networks"
    assert [hit.paper.arxiv_id for hit in await slack.paperboy.search("recursive reasoning tiny")][:1] == [
        UNKNOWN
    ]
    # Shared again: it is in the store now, arXiv is not asked twice.
    await share(slack, url, event_id="Ev2", message_ts="1700000600.000100")
    await unfurled(slack, ts="1700000600.000100")
    assert fake_arxiv.asked == [UNKNOWN]


async def test_when_arxiv_is_down_an_unknown_link_gets_no_unfurl_and_known_links_still_do(
    slack: SlackHarness, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.status = 503
    fake_arxiv.papers[UNKNOWN] = "A paper arXiv cannot serve now"

    await share(slack, f"https://arxiv.org/abs/{UNKNOWN}", event_id="Ev1", message_ts=POSTED_TS)
    await finished(slack)

    assert fake_arxiv.asked == [UNKNOWN, UNKNOWN]  # tried, and tried again
    assert slack.fake.calls_to("chat.unfurl") == []
    assert await slack.paperboy.store.get_paper(UNKNOWN) is None

    known = f"https://arxiv.org/abs/{MATRYOSHKA}"
    await share(
        slack, f"https://arxiv.org/abs/{UNKNOWN}", known, event_id="Ev2", message_ts="1700000600.000100"
    )
    unfurl = await unfurled(slack, ts="1700000600.000100")
    assert list(unfurl.unfurls) == [known]


async def test_when_arxiv_stalls_past_the_deadline_slack_has_its_ack_and_no_unfurl_comes(
    slack: SlackHarness, fake_arxiv: FakeArxiv
) -> None:
    fake_arxiv.stall = True

    # `share` asserts the 200: the ack does not wait for arXiv.
    await share(slack, f"https://arxiv.org/abs/{UNKNOWN}", event_id="Ev1", message_ts=POSTED_TS)
    await finished(slack)

    assert fake_arxiv.asked == [UNKNOWN]
    assert slack.fake.calls_to("chat.unfurl") == []


async def test_a_hostile_title_and_author_are_escaped_on_the_card(
    slack: SlackHarness, fake_arxiv: FakeArxiv
) -> None:
    hostile = Paper(
        "2501.00002",
        "<!channel> Free GPUs for <https://evil.example|everyone> & more",
        authors=["<@U0ADMIN> Mallory", "<!subteam^S1|@team>"],
        hf_upvotes=3,
    )
    await slack.paperboy.ingest([hostile])
    fake_arxiv.papers[UNKNOWN] = "<!here> fetched & <b>bold</b>"
    urls = ["https://arxiv.org/abs/2501.00002", f"https://arxiv.org/abs/{UNKNOWN}"]

    await share(slack, *urls, event_id="Ev1", message_ts=POSTED_TS)
    unfurl = await unfurled(slack)

    text = card_text(unfurl, urls[0]) + card_text(unfurl, urls[1])
    for markup in ("<!channel>", "<!here>", "<@U0ADMIN>", "<!subteam", "<https://evil.example"):
        assert markup not in text
    assert "&lt;!channel&gt; Free GPUs for &lt;https://evil.example|everyone&gt; &amp; more" in text
    assert "&lt;@U0ADMIN&gt; Mallory" in text
    assert "&lt;!here&gt; fetched &amp; &lt;b&gt;bold&lt;/b&gt;" in text


async def test_a_thumbs_up_on_a_shared_message_votes_for_each_of_its_papers_once_per_person(
    slack: SlackHarness,
) -> None:
    urls = [f"https://arxiv.org/abs/{MATRYOSHKA}", f"https://huggingface.co/papers/{GAUSSIANS}"]
    await share(slack, *urls, event_id="Ev1", message_ts=POSTED_TS)
    await unfurled(slack)

    await slack.react(POSTED_TS, user="U2", event_id="Ev2")
    assert (await votes(slack, MATRYOSHKA), await votes(slack, GAUSSIANS)) == (1, 1)
    # Slack retries the event; the same person reacts again with another vote emoji: still one vote each.
    await slack.react(
        POSTED_TS, user="U2", event_id="Ev2", X_Slack_Retry_Num="1", X_Slack_Retry_Reason="http_timeout"
    )
    await slack.react(POSTED_TS, user="U2", reaction="arrow_up", event_id="Ev3")
    assert (await votes(slack, MATRYOSHKA), await votes(slack, GAUSSIANS)) == (1, 1)
    await slack.react(POSTED_TS, user="U3", event_id="Ev4")
    assert (await votes(slack, MATRYOSHKA), await votes(slack, GAUSSIANS)) == (2, 2)

    await slack.react(POSTED_TS, user="U2", added=False, event_id="Ev5")
    # A late retry of U2's add must not bring the vote back.
    await slack.react(
        POSTED_TS, user="U2", event_id="Ev2", X_Slack_Retry_Num="2", X_Slack_Retry_Reason="http_timeout"
    )
    assert (await votes(slack, MATRYOSHKA), await votes(slack, GAUSSIANS)) == (1, 1)

    # The workspace's votes show on the next card of that paper.
    await share(slack, urls[0], event_id="Ev6", message_ts="1700000600.000100")
    assert "1 vote here" in card_text(await unfurled(slack, ts="1700000600.000100"), urls[0])


async def test_a_repeated_link_shared_event_unfurls_once(slack: SlackHarness) -> None:
    url = f"https://arxiv.org/abs/{MATRYOSHKA}"
    await share(slack, url, event_id="Ev1", message_ts=POSTED_TS)
    await unfurled(slack)
    await share(slack, url, event_id="Ev1", message_ts=POSTED_TS)
    await slack.service.bot.work.drain(10.0)

    assert len(slack.fake.calls_to("chat.unfurl")) == 1
    channel = ChannelRef("slack", "T1", "C1")
    assert await slack.paperboy.store.papers_for_message(channel, POSTED_TS) == [MATRYOSHKA]


async def test_a_reaction_on_a_message_whose_links_were_not_papers_is_no_vote(slack: SlackHarness) -> None:
    await share(slack, "https://arxiv.org/list/cs.CL/recent", event_id="Ev1", message_ts=POSTED_TS)
    await slack.react(POSTED_TS, user="U2", event_id="Ev2")

    assert slack.fake.calls_to("chat.unfurl") == []
    assert await votes(slack, MATRYOSHKA) == 0
