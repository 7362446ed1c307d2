"""More like this on Slack: `/papers similar <id>` and the button on every paper card, answered privately."""

from __future__ import annotations

from typing import Any

from adapters.slack.blocks import SIMILAR_ACTION
from tests.slack.conftest import SlackHarness, block_text, buttons

MATRYOSHKA = "2205.13147"


def similar_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The More like this buttons of a message."""
    return [b for b in buttons(message) if b.get("action_id") == SIMILAR_ACTION]


async def test_similar_lists_papers_like_the_one_named_privately(slack: SlackHarness) -> None:
    answer = await slack.command(f"similar {MATRYOSHKA}")

    assert answer["response_type"] == "ephemeral"
    text = block_text(answer)
    assert "Papers like “Matryoshka Representation Learning”" in text
    # The nearest demo paper by its words is the 2D Matryoshka one; the paper itself is not its own neighbour.
    assert "2D Matryoshka Sentence Embeddings" in text
    assert f"`{MATRYOSHKA}`" not in text
    assert slack.fake.violations == []


async def test_similar_with_an_unknown_or_invalid_id_says_what_would_work(slack: SlackHarness) -> None:
    unknown = await slack.command("similar 2101.99999")
    invalid = await slack.command("similar pineapple")
    missing = await slack.command("similar")

    assert "I don't have 2101.99999 yet" in block_text(unknown)
    assert "arXiv id" in block_text(invalid)
    assert "e.g. /papers similar 2205.13147" in block_text(missing)


async def test_every_paper_card_carries_a_more_like_this_button(slack: SlackHarness) -> None:
    card = await slack.command(f"paper {MATRYOSHKA}")
    found = await slack.command("search gaussian splatting")

    assert [b["value"] for b in similar_buttons(card)] == [MATRYOSHKA]
    assert [b["text"]["text"] for b in similar_buttons(card)] == ["More like this"]
    assert len(similar_buttons(found)) >= 2


async def test_the_button_answers_the_clicker_privately_with_similar_papers(slack: SlackHarness) -> None:
    name = await slack.click(SIMILAR_ACTION, MATRYOSHKA, user="U7")
    answer = await slack.answer(name)

    assert answer["response_type"] == "ephemeral"
    assert "Papers like “Matryoshka Representation Learning”" in block_text(answer)
    assert "2D Matryoshka Sentence Embeddings" in block_text(answer)
    # Each similar paper can be shared, voted for, and followed further.
    assert {b["action_id"] for b in buttons(answer)} >= {SIMILAR_ACTION, "paperboy_share", "paperboy_upvote"}
    assert slack.fake.violations == []
