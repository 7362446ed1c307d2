"""The Daily Papers item parser reads every field the bot shows and survives Hugging Face's traps."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from adapters.sources.errors import PageInvalid, SourceError
from adapters.sources.hf import ItemInvalid, parse_daily_papers_item, parse_daily_papers_page

# A copy of ../shared/reference/hf-daily-papers-item.json, so that the tests need nothing outside the repository.
REFERENCE = Path(__file__).resolve().parents[1] / "data" / "hf-daily-papers-item.json"


@pytest.fixture
def item() -> dict[str, Any]:
    """The real reference item from Hugging Face."""
    payload: list[dict[str, Any]] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return copy.deepcopy(payload[0])


def test_reference_item_maps_every_shown_field(item: dict[str, Any]) -> None:
    paper = parse_daily_papers_item(item)
    assert paper.arxiv_id == "2602.23229"
    assert paper.title == "Large Multimodal Models as General In-Context Classifiers"
    assert paper.authors == [
        "Marco Garosi",
        "Matteo Farina",
        "Alessandro Conti",
        "Massimiliano Mancini",
        "Elisa Ricci",
    ]
    assert paper.abstract.startswith("Which multimodal model should we use for classification?")
    assert paper.hf_upvotes == 10
    assert paper.num_comments == 1
    assert paper.github_repo == "https://github.com/marco-garosi/CIRCLE"
    assert paper.github_stars == 9
    assert paper.project_page == "https://circle-lmm.github.io/"
    assert paper.ai_summary is not None and paper.ai_summary.startswith("Large Multimodal Models demonstrate")
    assert "in-context learning" in paper.ai_keywords
    assert paper.organization == "MHUGLab"
    assert paper.thumbnail == "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2602.23229.png"
    assert paper.withdrawn is False


def test_featured_day_and_arxiv_day_come_from_the_inner_paper_not_the_top_level(item: dict[str, Any]) -> None:
    item["publishedAt"] = "2020-01-01T00:00:00.000Z"
    paper = parse_daily_papers_item(item)
    assert paper.featured_on == date(2026, 3, 6)
    assert paper.published == date(2026, 2, 26)


def test_abstract_is_the_full_inner_summary_not_the_shortened_top_level_one(item: dict[str, Any]) -> None:
    paper = parse_daily_papers_item(item)
    assert "(same text as paper.summary" not in paper.abstract
    assert paper.abstract.endswith("specialized models.")


def test_optional_fields_may_be_missing(item: dict[str, Any]) -> None:
    for key in ("ai_summary", "ai_keywords", "githubRepo", "githubStars", "projectPage", "organization"):
        item["paper"].pop(key)
    for key in ("organization", "thumbnail", "numComments"):
        item.pop(key)
    paper = parse_daily_papers_item(item)
    assert paper.ai_summary is None
    assert paper.ai_keywords == []
    assert paper.github_repo is None
    assert paper.github_stars is None
    assert paper.organization is None
    assert paper.num_comments == 0


def test_organization_falls_back_to_the_top_level_one_and_to_its_full_name(item: dict[str, Any]) -> None:
    item["paper"].pop("organization")
    item["organization"] = {"fullname": "Some Lab"}
    assert parse_daily_papers_item(item).organization == "Some Lab"


def test_unknown_fields_are_ignored(item: dict[str, Any]) -> None:
    item["brandNewField"] = {"x": 1}
    item["paper"]["anotherNewField"] = [1, 2]
    assert parse_daily_papers_item(item).arxiv_id == "2602.23229"


def test_version_suffix_is_dropped_and_title_whitespace_collapsed(item: dict[str, Any]) -> None:
    item["paper"]["id"] = "2602.23229v3"
    item["paper"]["title"] = "  Large   Multimodal\n Models  "
    paper = parse_daily_papers_item(item)
    assert paper.arxiv_id == "2602.23229"
    assert paper.title == "Large Multimodal Models"


def test_withdrawn_paper_is_marked(item: dict[str, Any]) -> None:
    item["paper"]["withdrawnAt"] = "2026-03-07T10:00:00.000Z"
    assert parse_daily_papers_item(item).withdrawn is True


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("paper", "id"), None),
        (("paper", "id"), "not-an-id"),
        (("paper", "title"), 42),
        (("paper", "title"), "   "),
        (("paper", "upvotes"), "many"),
        (("paper", "authors"), "Marco Garosi"),
        (("paper", "submittedOnDailyAt"), "yesterday"),
        (("numComments",), [1]),
    ],
)
def test_missing_or_wrong_typed_field_raises_item_invalid(
    item: dict[str, Any], path: tuple[str, ...], value: object
) -> None:
    target = item
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ItemInvalid, match=path[-1]):
        parse_daily_papers_item(item)


def test_item_without_paper_raises_item_invalid(item: dict[str, Any]) -> None:
    item.pop("paper")
    with pytest.raises(ItemInvalid):
        parse_daily_papers_item(item)


def test_page_skips_and_counts_bad_items_and_keeps_the_rest(item: dict[str, Any]) -> None:
    broken = copy.deepcopy(item)
    broken["paper"]["upvotes"] = {"n": 3}
    other = copy.deepcopy(item)
    other["paper"]["id"] = "2602.00001"
    papers, skipped = parse_daily_papers_page([item, broken, "not an object", other])
    assert [p.arxiv_id for p in papers] == ["2602.23229", "2602.00001"]
    assert skipped == 2


def test_page_keeps_a_paper_listed_twice_once(item: dict[str, Any]) -> None:
    papers, skipped = parse_daily_papers_page([item, copy.deepcopy(item)])
    assert [p.arxiv_id for p in papers] == ["2602.23229"]
    assert skipped == 0


@pytest.mark.parametrize("payload", [{"error": "Not found"}, "<html>", None, 3])
def test_page_that_is_not_a_list_raises_a_source_error(payload: object) -> None:
    with pytest.raises(PageInvalid, match="list of papers") as caught:
        parse_daily_papers_page(payload)
    assert isinstance(caught.value, SourceError)
