"""Embeds stay inside Discord's limits for any paper, and outside text can neither ping nor break links."""

from __future__ import annotations

from datetime import date
from typing import Any

import discord

from adapters.discord.client import DiscordRunner
from adapters.discord.limits import text_units
from adapters.discord.render import digest_paper_message, digest_thread_name, paper_embed, render
from bot.core import Paperboy
from bot.domain import ChannelRef, DigestPlan, Paper, ScoredPaper, Topic
from bot.replies import Citation, PaperCard, PaperList, TopicList
from tests.discord.conftest import TODAY, World


def monster_paper(arxiv_id: str = "2401.00001") -> Paper:
    """A paper with every field as long and strange as real data can get."""
    return Paper(
        arxiv_id=arxiv_id,
        title="𝔐𝔞𝔱𝔯𝔶𝔬𝔰𝔥𝔨𝔞 " * 80 + "*bold* _it_ ~~x~~ `code` [link](https://evil.example)",
        authors=[f"Author Number {i} With A Rather Long Name 🧪" for i in range(5000)],
        abstract="An abstract. " * 2000,
        ai_summary="Σ " * 5000,
        ai_keywords=[f"keyword-{i}" * 10 for i in range(300)],
        categories=[f"cs.{i:03d}" for i in range(300)],
        github_repo="https://github.com/example/repo(with)parens",
        github_stars=12345,
        project_page="javascript:alert(1)",
        thumbnail="not a url",
        organization="Org " * 1000,
        hf_upvotes=999,
        published=date(2024, 1, 1),
        featured_on=date(2024, 1, 2),
    )


def assert_within_limits(payload: dict[str, Any]) -> None:
    """Discord's documented limits for one message."""
    embeds = payload.get("embeds", [])
    assert len(embeds) <= 10
    assert text_units(payload.get("content") or "") <= 2000
    total = 0
    for embed in embeds:
        assert text_units(embed.get("title", "")) <= 256
        assert text_units(embed.get("description", "")) <= 4096
        assert len(embed.get("fields", [])) <= 25
        assert text_units(embed.get("author", {}).get("name", "")) <= 256
        assert text_units(embed.get("footer", {}).get("text", "")) <= 2048
        total += sum(text_units(embed.get(k, "")) for k in ("title", "description"))
        total += text_units(embed.get("author", {}).get("name", "")) + text_units(
            embed.get("footer", {}).get("text", "")
        )
        for item in embed.get("fields", []):
            assert 1 <= text_units(item["name"]) <= 256
            assert 1 <= text_units(item["value"]) <= 1024
            total += text_units(item["name"]) + text_units(item["value"])
        for key in ("url",):
            if key in embed:
                assert embed[key].startswith(("http://", "https://"))
    assert total <= 6000
    rows = payload.get("components", [])
    assert len(rows) <= 5
    assert all(len(row["components"]) <= 5 for row in rows)


async def message_payload(message: Any) -> dict[str, Any]:
    """The JSON discord.py would send for a rendered message."""
    kwargs = message.send_kwargs()
    payload: dict[str, Any] = {"content": kwargs.get("content")}
    payload["embeds"] = [e.to_dict() for e in kwargs.get("embeds", [])]
    view = kwargs.get("view")
    payload["components"] = view.to_components() if view else []
    return payload


async def test_a_card_for_the_most_extreme_paper_fits_every_limit() -> None:
    payload = await message_payload(render(PaperCard(ScoredPaper(monster_paper(), 1.0, 7))))
    assert_within_limits(payload)
    embed = payload["embeds"][0]
    assert "thumbnail" not in embed
    assert "javascript:" not in str(embed)


async def test_a_list_of_twenty_extreme_papers_fits_every_limit() -> None:
    items = tuple(ScoredPaper(monster_paper(f"2401.{i:05d}"), 1.0, 0) for i in range(20))
    payload = await message_payload(render(PaperList("Papers for “x” " * 40, items, "none")))
    assert_within_limits(payload)
    assert len(payload["embeds"][0]["fields"]) >= 1
    assert sum(len(r["components"]) for r in payload["components"]) == 20


async def test_a_digest_paper_and_thread_name_fit_for_the_most_extreme_paper() -> None:
    item = ScoredPaper(monster_paper(), 1.0, 0)
    assert_within_limits(await message_payload(digest_paper_message(item, 25)))
    plan = DigestPlan(ChannelRef("discord", "1", "2"), date(2026, 1, 1), tuple(["topic " * 50] * 25), (item,))
    assert 1 <= len(digest_thread_name(plan)) <= 100


async def test_markdown_in_summaries_cannot_forge_links() -> None:
    paper = monster_paper()
    paper.ai_summary = "Click [here](https://evil.example) for **free** GPUs"
    embed = paper_embed(ScoredPaper(paper, 1.0, 0)).to_dict()
    # Escaped, the brackets show as typed instead of making a link.
    assert "\\[here](https://evil.example)" in embed["description"]
    links = next(f["value"] for f in embed["fields"] if f["name"] == "Links")
    assert "(https://github.com/example/repo%28with%29parens)" in links


async def test_a_long_bibtex_entry_is_attached_as_a_file() -> None:
    bibtex = "@article{x,\n  author = {" + " and ".join(f"Author {i}" for i in range(3000)) + "}\n}"
    message = render(Citation("2401.00001", "A paper", bibtex))
    assert message.file_name == "2401.00001.bib"
    assert message.file_text == bibtex
    assert isinstance(message.file(), discord.File)


async def test_long_topics_are_listed_within_the_description_limit() -> None:
    channel = ChannelRef("discord", "1", "2")
    topics = tuple(Topic(channel, "word " * 300, n) for n in range(1, 26))
    payload = await message_payload(render(TopicList(topics, "Topics of this channel")))
    assert_within_limits(payload)


async def test_a_title_with_everyone_pings_nobody(
    world: World, bot: DiscordRunner, paperboy: Paperboy
) -> None:
    await paperboy.ingest(
        [
            Paper(
                arxiv_id="2411.99999",
                title="@everyone look: <@&123> free GPUs",
                authors=["@here"],
                abstract="@everyone",
                featured_on=TODAY,
                hf_upvotes=5,
            )
        ]
    )
    fake = world.fake
    await fake.answered(
        await fake.slash(world.guild, world.channel, "subscribe", topic="free GPUs", manage=True)
    )
    await paperboy.post_digest(ChannelRef("discord", str(world.guild), str(world.channel)))
    card = await fake.answered(await fake.slash(world.guild, world.channel, "paper", id="2411.99999"))

    assert card["embeds"][0]["title"] == "@everyone look: <@&123> free GPUs"
    assert card["allowed_mentions"] == {"parse": []}
    [thread] = fake.threads_of(world.channel)
    posted = fake.messages_in(int(thread["id"]))
    assert posted and all(m["allowed_mentions"] == {"parse": []} for m in posted)
    parent = [m for m in fake.messages_in(world.channel) if m["nonce"]]
    assert parent[0]["allowed_mentions"] == {"parse": []}
    assert "@everyone look" in parent[0]["embeds"][0]["description"]
