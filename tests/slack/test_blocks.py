"""Block Kit rendering holds Slack's limits for any paper and any reply, and escapes all outside text."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from adapters.slack.blocks import (
    bib_file_message,
    digest_parent_message,
    escape,
    fit_escaped,
    home_view,
    paper_message,
    render_reply,
    unescape,
)
from bot.domain import Bookmark, ChannelRef, ChannelSettings, DigestPlan, Paper, ScoredPaper, Topic
from bot.replies import (
    BibFile,
    Citation,
    DigestReply,
    ErrorReply,
    HelpReply,
    Home,
    Notice,
    PaperCard,
    PaperList,
    ReadingList,
    Reply,
    ScheduleStatus,
    TopicList,
    VoteReply,
)
from tests.fakes.slack import block_kit_violations
from tests.slack.conftest import block_text

CHANNEL = ChannelRef("slack", "T1", "C1")
PERSON = ChannelRef.person("slack", "T1", "U1")


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
        *personal_replies(),
    ]


def monster_home(topics: int = 25) -> Home:
    """A person's home with everything at its largest: 25 topics, 10 votes, 5 trending papers, all hostile."""
    settings = ChannelSettings(PERSON, hour=8, paused=True, pause_reason="<!channel> " * 400, recap_day=None)
    bookmarks = tuple(Bookmark(monster(n).paper, datetime(2026, 11, 20, tzinfo=UTC)) for n in range(10))
    return Home(
        settings,
        None,
        tuple(Topic(PERSON, "<!here> " * 100, i) for i in range(1, topics + 1)),
        bookmarks,
        tuple(monster(n) for n in range(5)),
    )


def personal_replies() -> list[Reply]:
    """A person's own replies at their largest: topics, schedule, reading list, BibTeX file, home."""
    bookmarks = tuple(Bookmark(monster(n).paper, datetime(2026, 11, 20, tzinfo=UTC)) for n in range(60))
    settings = ChannelSettings(PERSON, paused=True, pause_reason="<!channel> " * 400, recap_day=None)
    return [
        TopicList(
            tuple(Topic(PERSON, "<!here> " * 100, i) for i in range(1, 26)), "<h>" * 200, personal=True
        ),
        TopicList((), "Your topics", personal=True),
        ScheduleStatus(settings, None, 3, None, "<!channel>" * 100),
        ReadingList("all", bookmarks, 600),
        ReadingList("week", (), 0),
        BibFile("votes.bib", "@misc{x,\n" + "  author = {<@U1> & more},\n" * 20_000 + "}\n", 600, "<!here>"),
        monster_home(),
        Home(None, None, (), (), ()),
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


def test_a_persons_digest_parent_lists_every_title_within_the_limits() -> None:
    plan = DigestPlan(PERSON, date(2026, 11, 26), ("<t>",), tuple(monster(n) for n in range(25)))
    message = digest_parent_message(plan)
    assert block_kit_violations(message.blocks, message.text) == []
    text = block_text({"blocks": message.blocks})
    assert "Your papers for Thursday 26 November 2026" in text and "25 papers in this thread" in text
    assert all(f"\n{n}. <" in "\n" + text for n in range(1, 26))
    assert "<!channel>" not in text and "<t>" not in text


def test_the_home_view_holds_at_most_a_hundred_blocks_and_mentions_nobody() -> None:
    view = home_view(monster_home(), notice="<!channel> done " * 500)
    assert view["type"] == "home"
    assert block_kit_violations(view["blocks"], None, max_blocks=100) == []
    # Everything fits, nothing is cut: every topic with its Remove button, every trending paper.
    assert [b["accessory"]["text"]["text"] for b in view["blocks"] if "accessory" in b].count("Remove") == 25
    assert "more not shown" not in block_text(view)
    text = block_text(view)
    for markup in ("<!channel>", "<!here>", "<@U"):
        assert markup not in text
    assert "Resume" in text and "Remove" in text
    empty = home_view(None, notice="Something went wrong on my side; please try again in a minute.")
    assert block_kit_violations(empty["blocks"], None, max_blocks=100) == []


def test_a_schedule_of_a_person_has_no_recap_and_says_how_they_resume() -> None:
    settings = ChannelSettings(PERSON, paused=True, pause_reason="Your account is gone.", recap_day=None)
    text = block_text({"blocks": render_reply(ScheduleStatus(settings, None, 0, None, "Yours")).blocks})
    assert "Weekly recap" not in text and "by direct message" in text
    assert "Paused: Your account is gone. Resume with /papers me schedule on." in text
    assert "Last delivery*\nnone yet" in text


def test_a_bib_file_shown_as_text_says_why_and_that_it_was_cut() -> None:
    bib = BibFile("votes.bib", "@misc{x,\n" + "  title = {A},\n" * 20_000 + "}\n", 600, "BibTeX for 600")
    message = bib_file_message(bib, preface="I could not send it as a file: no files:write.")
    assert block_kit_violations(message.blocks, message.text) == []
    text = block_text({"blocks": message.blocks})
    assert text.startswith("I could not send it as a file: no files:write.")
    assert "too long to show here" in text
