"""The core's use of a semantic index (here a scripted fake): fusion with the words' ranking, the query's
filters on meaning-only hits, topics that match by meaning, and "similar" — on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import date
from pathlib import Path

import pytest

from bot.core import Paperboy
from bot.domain import ChannelRef, Paper
from bot.services.search import RRF_K, blend, fuse
from storage.search.index import open_index
from storage.sql import SqlStore
from tests.clock import FixedClock
from tests.search.conftest import LIBRARY, paper

TODAY = date(2025, 1, 3)
CHANNEL = ChannelRef("console", "local", "general")


class ScriptedMeaning:
    """A semantic index that answers from a script: text -> [(arxiv_id, similarity)], best first."""

    def __init__(self, answers: dict[str, list[tuple[str, float]]], topic_similarity: float = 0.5) -> None:
        self.answers = answers
        self.topic_similarity = topic_similarity
        self.asked: list[str] = []
        self.added: list[str] = []

    async def search(
        self, text: str, limit: int, *, restrict_to: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        self.asked.append(text)
        hits = self.answers.get(text, [])
        if restrict_to is not None:
            hits = [hit for hit in hits if hit[0] in restrict_to]
        return hits[:limit]

    async def cosines(self, text: str, arxiv_ids: Collection[str]) -> dict[str, float]:
        self.asked.append(text)
        return {arxiv_id: score for arxiv_id, score in self.answers.get(text, []) if arxiv_id in arxiv_ids}

    async def similar(self, paper: Paper, limit: int) -> list[tuple[str, float]]:
        return [hit for hit in self.answers.get(f"like {paper.arxiv_id}", []) if hit[0] != paper.arxiv_id][
            :limit
        ]

    async def add_papers(self, papers: Sequence[Paper]) -> int:
        self.added += [p.arxiv_id for p in papers]
        return len(papers)

    async def catch_up(self) -> int:
        return 0

    async def close(self) -> None:
        return None


MEANING = ScriptedMeaning(
    {
        # Nothing of these words is in the Matryoshka paper; the semantic index knows what they mean.
        "nested embeddings": [("2205.13147", 0.71), ("2502.00002", 0.30)],
        "gaussian": [("2205.13147", 0.40), ("2501.00001", 0.62), ("2308.04079", 0.60)],
        "nested embeddings learning rate": [("2205.13147", 0.70), ("2502.00002", 0.45)],
        # No word of this topic is in any paper.
        "tiny worlds": [("2501.00001", 0.66), ("2308.04079", 0.55), ("2106.09685", 0.20)],
        "like 2205.13147": [("2205.13147", 1.0), ("2106.09685", 0.52), ("2502.00002", 0.41)],
    }
)


@pytest.fixture
async def app(store: SqlStore, tmp_path: Path) -> AsyncIterator[Paperboy]:
    """The core on a real store and index, with the scripted semantic index."""
    index = await open_index(tmp_path / "index")
    meaning = ScriptedMeaning(MEANING.answers)
    paperboy = Paperboy(store=store, index=index, clock=FixedClock.noon(TODAY), semantic=meaning)
    await paperboy.ingest(LIBRARY)
    try:
        yield paperboy
    finally:
        await index.close()


async def ids(app: Paperboy, text: str) -> list[str]:
    return [item.paper.arxiv_id for item in await app.search(text, 10)]


def test_fusion_sums_reciprocal_ranks_and_breaks_ties_by_the_first_ranking() -> None:
    fused = fuse([[("a", 9.0), ("b", 8.0)], [("b", 0.9), ("c", 0.8)]], 10)
    assert [arxiv_id for arxiv_id, _ in fused] == ["b", "a", "c"]
    assert fused[0][1] == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert fuse([[("a", 1.0)], [("c", 1.0)]], 1) == [("a", 1 / (RRF_K + 1))]


def test_a_weak_word_match_does_not_outweigh_a_clear_match_by_meaning() -> None:
    # "weak" matched one word of the query (score 3) where a paper with every word would score 30; "close"
    # matched no word but is by far the closest in meaning.
    words = {"weak": 3.0}
    meaning = {"close": 0.55, "weak": 0.10, "other": 0.05}
    assert blend(words, meaning, 0.55, 3, full_match=30.0)[0][0] == "close"
    # Scaled by the best word score alone, the one weak match would count as a perfect one and win.
    assert blend(words, meaning, 0.55, 3)[0][0] == "weak"


def test_a_clear_word_match_keeps_its_place_whatever_the_full_match() -> None:
    words = {"title": 40.0, "abstract": 12.0}
    meaning = {"title": 0.40, "abstract": 0.42, "other": 0.45}
    assert blend(words, meaning, 0.45, 3, full_match=30.0)[0][0] == "title"


async def test_the_model_reads_an_acronym_with_the_long_form_the_papers_give(app: Paperboy) -> None:
    await app.ingest([paper("2402.00009", "Codebooks", "Low-rank adaptation (LoRA) of codebooks.")])
    meaning = app.semantic
    assert isinstance(meaning, ScriptedMeaning)
    meaning.asked.clear()
    await app.search("LoRA codebooks", 5)
    assert meaning.asked[0] == "LoRA low rank adaptation codebooks"
    meaning.asked.clear()
    await app.search("lora codebooks", 5)
    assert meaning.asked[0] == "lora codebooks"


async def test_hybrid_search_finds_a_paper_by_meaning_that_no_word_matches(app: Paperboy) -> None:
    assert await ids(app, "nested embeddings") == ["2205.13147", "2502.00002"]


async def test_a_paper_both_rankings_hold_comes_before_one_only_the_meaning_finds(app: Paperboy) -> None:
    found = await ids(app, "gaussian")
    assert found[:2] in (["2308.04079", "2501.00001"], ["2501.00001", "2308.04079"])
    assert found[2] == "2205.13147"


async def test_filters_phrases_and_exclusions_also_hold_for_papers_found_by_meaning(app: Paperboy) -> None:
    assert await ids(app, "nested embeddings cat:cs.GR") == []
    assert await ids(app, "nested embeddings -matryoshka") == ["2502.00002"]
    assert await ids(app, "nested embeddings author:Kusupati") == ["2205.13147"]
    assert await ids(app, 'nested embeddings "learning rate"') == ["2502.00002"]
    assert await ids(app, "gaussian since:2024-06-01") == ["2501.00001"]


async def test_a_query_of_filters_alone_does_not_ask_the_semantic_index(app: Paperboy) -> None:
    meaning = app.semantic
    assert isinstance(meaning, ScriptedMeaning)
    assert await ids(app, "cat:cs.LG") == ["2502.00002", "2205.13147", "2106.09685"]
    assert meaning.asked == []


async def test_papers_are_embedded_when_they_are_ingested(app: Paperboy) -> None:
    meaning = app.semantic
    assert isinstance(meaning, ScriptedMeaning)
    assert set(meaning.added) == {p.arxiv_id for p in LIBRARY}


async def test_a_withdrawn_paper_is_never_answered_even_when_the_meaning_finds_it(app: Paperboy) -> None:
    await app.ingest([paper("2205.13147", "Matryoshka Representation Learning", withdrawn=True)])
    assert await ids(app, "nested embeddings") == ["2502.00002"]


async def test_similar_asks_the_meaning_when_there_is_one_and_the_words_when_not(
    app: Paperboy, store: SqlStore
) -> None:
    paper_, by_meaning = await app.similar("2205.13147")
    assert paper_.title == "Matryoshka Representation Learning"
    assert [item.paper.arxiv_id for item in by_meaning] == ["2106.09685", "2502.00002"]

    words_only = Paperboy(store=store, index=app.index, clock=FixedClock.noon(TODAY))
    _, by_words = await words_only.similar("2205.13147")
    assert "2205.13147" not in [item.paper.arxiv_id for item in by_words]
    assert by_words  # "learning", "representations" are shared with other papers


async def test_a_topic_matches_papers_by_meaning_above_the_threshold(app: Paperboy) -> None:
    await app.topics.subscribe(CHANNEL, "tiny worlds")
    plan = await app.planner.plan(CHANNEL, TODAY)
    # Featured in the window: 2501.00001 (featured 2025-01-02). 2308.04079 was featured in 2023.
    assert [item.paper.arxiv_id for item in plan.papers] == ["2501.00001"]


async def test_a_topic_below_the_threshold_or_failing_its_filters_matches_nothing(app: Paperboy) -> None:
    meaning = app.semantic
    assert isinstance(meaning, ScriptedMeaning)
    meaning.topic_similarity = 0.7
    await app.topics.subscribe(CHANNEL, "tiny worlds")
    assert (await app.planner.plan(CHANNEL, TODAY)).papers == ()

    meaning.topic_similarity = 0.5
    await app.topics.unsubscribe(CHANNEL, "1")
    await app.topics.subscribe(CHANNEL, "tiny worlds -codebooks")
    assert (await app.planner.plan(CHANNEL, TODAY)).papers == ()


async def test_similar_falls_back_on_words_when_nothing_is_embedded_yet(app: Paperboy) -> None:
    meaning = app.semantic
    assert isinstance(meaning, ScriptedMeaning)
    meaning.answers = {}  # the semantic index knows no paper
    _, items = await app.similar("2308.04079")
    assert [item.paper.arxiv_id for item in items][:1] == ["2501.00001"]
