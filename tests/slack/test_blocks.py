"""Block Kit rendering holds Slack's limits for any paper and any reply, and escapes all outside text."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from adapters.slack.blocks import (
    digest_parent_message,
    escape,
    fit_escaped,
    paper_message,
    render_reply,
    unescape,
)
from bot.domain import ChannelRef, ChannelSettings, DigestPlan, Paper, ScoredPaper, Topic
from bot.replies import (
    Citation,
    DigestReply,
    ErrorReply,
    HelpReply,
    Notice,
    PaperCard,
    PaperList,
    Reply,
    ScheduleStatus,
    TopicList,
    VoteReply,
)
from tests.fakes.slack import block_kit_violations
from tests.slack.conftest import block_text

CHANNEL = ChannelRef("slack", "T1", "C1")


def monster(n: int = 0) -> ScoredPaper:
    """A paper built to break every limit: huge title, thousands of authors, markup everywhere."""
    paper = Paper(
        arxiv_id=f"2611.{n:05d}",
        title=("<!channel> & " * 400) + f"Title {n}",
        authors=[f"Author <@U{i}> & Co" for i in range(3000)],
        abstract="<!here> " + "word & <b> " * 20_000,
        ai_summary=None,
        published=date(2026, 11, 1),
        featured_on=date(2026, 11, 26),
        hf_upvotes=10**9,
        ai_keywords=[f"<kw{i}>" for i in range(500)],
        github_repo="https://github.com/a/b?x=1&y=<2>",
        github_stars=123456,
        project_page="https://example.org/" + "p" * 5000,
        thumbnail="https://cdn.example.org/thumb.png",
        categories=[f"cs.{i}" for i in range(40)],
    )
    return ScoredPaper(paper, 1.0, 10**6)


def replies() -> list[Reply]:
    items = tuple(monster(n) for n in range(60))
    settings = ChannelSettings(CHANNEL, paused=True, pause_reason="<!channel> " * 400)
    plan = DigestPlan(CHANNEL, date(2026, 11, 26), tuple("<t>" * 300 for _ in range(25)), items[:25])
    return [
        Notice("<!channel> " * 1000),
        ErrorReply("& " * 5000),
        HelpReply("<query> " * 1000, preface="<!here> " * 300),
        PaperCard(monster()),
        PaperList("<!channel> heading " * 100, items, "none", query="<!channel>"),
        PaperList("empty", (), "<!channel> nothing " * 500),
        Citation(
            "2611.00000", "<!channel>" * 100, "@misc{x,\n" + "  author = {<@U1> & more},\n" * 2000 + "}"
        ),
        TopicList(tuple(Topic(CHANNEL, "<!here> " * 100, i) for i in range(1, 26)), "<h>" * 200),
        TopicList((), "Topics"),
        ScheduleStatus(settings, None, 25, datetime(2026, 11, 25, 9, tzinfo=UTC), "<!channel>" * 100),
        VoteReply("2611.00000", "<!channel> " * 500, True, True, 3),
        DigestReply(plan, posted=False),
        DigestReply(plan, posted=True),
    ]


@pytest.mark.parametrize("reply", replies(), ids=lambda r: type(r).__name__)
@pytest.mark.parametrize("share", [False, True])
def test_every_reply_fits_slacks_limits_and_mentions_nobody(reply: Reply, share: bool) -> None:
    message = render_reply(reply, share=share)
    assert block_kit_violations(message.blocks, message.text) == []
    assert message.blocks
    text = block_text({"blocks": message.blocks}) + message.text
    for markup in ("<!channel>", "<!here>", "<@U", "<kw", "<query>", "<b>", "<t>", "<h>"):
        assert markup not in text


def test_a_long_list_is_cut_to_fifty_blocks_and_says_how_many_were_left_out() -> None:
    items = tuple(monster(n) for n in range(60))
    message = render_reply(PaperList("Papers", items, "none"), share=True)
    assert len(message.blocks) <= 50
    assert "more papers not shown" in block_text({"blocks": message.blocks})


def test_a_card_escapes_link_targets_and_leaves_out_unsafe_ones() -> None:
    item = monster()
    item.paper.github_repo = "javascript:alert(1)"
    item.paper.project_page = "https://ok.example/a&b"
    text = block_text({"blocks": paper_message(item).blocks})
    assert "javascript" not in text
    assert "<https://ok.example/a&amp;b|Project page>" in text


def test_digest_parent_names_date_count_and_topics() -> None:
    plan = DigestPlan(
        CHANNEL, date(2026, 11, 26), ("cat:cs.CL", '"gaussian splatting"'), (monster(1), monster(2))
    )
    message = digest_parent_message(plan)
    text = block_text({"blocks": message.blocks})
    assert "Thursday 26 November 2026" in text
    assert "2 papers in this thread" in text
    assert 'cat:cs.CL, "gaussian splatting"' in text


@pytest.mark.parametrize(
    "raw", ["a & b", "<!channel>", "x" * 5000, "&" * 3000, "plain", "word & more " * 500]
)
def test_fit_escaped_never_exceeds_its_limit_and_round_trips(raw: str) -> None:
    fitted = fit_escaped(raw, 100)
    assert len(fitted) <= 100
    assert "<" not in fitted and ">" not in fitted
    if len(escape(raw)) <= 100:
        assert unescape(fitted) == raw


def test_a_long_text_is_cut_near_its_limit_at_a_word_boundary() -> None:
    fitted = fit_escaped("Learned representations are central & useful " * 100, 220)
    assert 180 <= len(fitted) <= 220
    assert fitted.endswith("…")
    assert fitted.startswith("Learned representations are central &amp; useful Learned")
