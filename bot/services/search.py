"""Search: the query language run against the index (and, when on, by meaning), answered with stored papers."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Literal

from bot.domain import Paper, ScoredPaper, Workspace
from bot.ports import SearchIndex, SemanticIndex, Store
from bot.query import QueryError, SearchQuery, parse_query, validate_query

MAX_LIMIT = 100
# How deep each ranking is read before fusion: a paper ranked 40th by words and 3rd by meaning can still win.
FUSION_DEPTH = 50
# Reciprocal rank fusion: a paper scores the sum of 1 / (RRF_K + rank) over the rankings that hold it.
RRF_K = 60
# The blend (the default fusion): each candidate's word score (as a share of the best one or of a full match,
# see _scaled_words) and its similarity (scaled to 0..1 over the candidates), weighted by how sure the model is
# of the query. A model that finds nothing close (the plain cosine of its nearest paper at most SURE_FROM: a
# name, an acronym it never saw, a typo) leaves the ranking to the words; from SURE_AT on, the words weigh
# WORDS_WEIGHT_WHEN_SURE. Chosen on `paperboy bench relevance` from a coarse grid whose every point did better
# than either ranking alone, and kept when the scaling and centering of 0.2.0 came: none of the neighbouring
# grid points did better, on the tuned query set or on the held-out one.
SURE_FROM = 0.3
SURE_AT = 0.6
WORDS_WEIGHT_WHEN_SURE = 0.4


def meaning_text(query: SearchQuery) -> str:
    """What a query asks for in plain words (its words and phrases), as the semantic index reads it."""
    return " ".join([*query.words, *query.phrases]).strip()


def spelt_out(text: str, meanings: dict[str, str]) -> str:
    """The text with the long form after each acronym that has one: "MoE embeddings" -> "MoE Mixture of
    Experts embeddings". A general model has seldom seen a field's acronyms; the papers say what they stand for."""
    return " ".join(f"{word} {meanings[word]}" if word in meanings else word for word in text.split())


def filters_of(query: SearchQuery) -> SearchQuery:
    """The part of a query that every answer must satisfy: phrases, exclusions and field filters."""
    return SearchQuery(
        phrases=list(query.phrases),
        excluded_words=list(query.excluded_words),
        excluded_phrases=list(query.excluded_phrases),
        authors=list(query.authors),
        categories=list(query.categories),
        orgs=list(query.orgs),
        since=query.since,
    )


def has_filters(query: SearchQuery) -> bool:
    """True when some answers could be ruled out by more than words."""
    return bool(
        query.phrases
        or query.excluded_words
        or query.excluded_phrases
        or query.authors
        or query.categories
        or query.orgs
        or query.since
    )


def words_weight(best_cosine: float) -> float:
    """The weight of the words' ranking in the blend, from the model's best cosine for the query."""
    sure = min(1.0, max(0.0, (best_cosine - SURE_FROM) / (SURE_AT - SURE_FROM)))
    return 1.0 - (1.0 - WORDS_WEIGHT_WHEN_SURE) * sure


def _scaled_words(scores: dict[str, float], ids: Collection[str], full_match: float) -> dict[str, float]:
    """Word scores of `ids` (0 when absent) as a share of the best one, or of a full match when that is more.

    Scaling by the best alone would make a paper that matches one weak word of the query look like a perfect
    match whenever nothing matched better ("theoretical" min-max of Bruch et al., An Analysis of Fusion
    Functions for Hybrid Retrieval, 2023, with the full match as the bound).
    """
    top = max((scores.get(i, 0.0) for i in ids), default=0.0)
    scale = max(top, full_match) or 1.0
    return {i: max(0.0, scores.get(i, 0.0)) / scale for i in ids}


def _scaled(scores: dict[str, float], ids: Collection[str]) -> dict[str, float]:
    """Scores of `ids` (0 when absent) scaled linearly to 0..1 over them."""
    values = [scores.get(i, 0.0) for i in ids]
    low, high = min(values, default=0.0), max(values, default=0.0)
    span = high - low or 1.0
    return {i: (scores.get(i, 0.0) - low) / span for i in ids}


def blend(
    words: dict[str, float],
    meaning: dict[str, float],
    best_cosine: float,
    limit: int,
    *,
    full_match: float = 0.0,
) -> list[tuple[str, float]]:
    """Candidates ranked by the weighted sum of their scaled word score and scaled cosine; ties by newest id.

    `full_match` is what a paper with every word of the query scores (SearchIndex.full_match_score).
    """
    ids = set(words) | set(meaning)
    weight = words_weight(best_cosine)
    by_words, by_meaning = _scaled_words(words, ids, full_match), _scaled(meaning, ids)
    scores = {i: weight * by_words[i] + (1.0 - weight) * by_meaning[i] for i in ids}
    ordered = sorted(ids, key=lambda i: (-scores[i], _newest_first(i)))
    return [(i, scores[i]) for i in ordered[:limit]]


def _newest_first(arxiv_id: str) -> tuple[int, ...]:
    return tuple(-ord(char) for char in arxiv_id)


def fuse(rankings: Sequence[Sequence[tuple[str, float]]], limit: int) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of rankings (best first); ties go to the earlier ranking's order."""
    scores: dict[str, float] = {}
    first_seen: dict[str, tuple[int, int]] = {}
    for which, ranking in enumerate(rankings):
        for rank, (arxiv_id, _) in enumerate(ranking, 1):
            scores[arxiv_id] = scores.get(arxiv_id, 0.0) + 1.0 / (RRF_K + rank)
            first_seen.setdefault(arxiv_id, (which, rank))
    ordered = sorted(scores, key=lambda arxiv_id: (-scores[arxiv_id], first_seen[arxiv_id]))
    return [(arxiv_id, scores[arxiv_id]) for arxiv_id in ordered[:limit]]


class PaperSearch:
    """Finds papers for a query in the one query language: by words, and by meaning when that is on."""

    def __init__(
        self,
        store: Store,
        index: SearchIndex,
        semantic: SemanticIndex | None = None,
        *,
        fusion: Literal["blend", "rrf"] = "blend",
    ) -> None:
        self._store = store
        self._index = index
        self._semantic = semantic
        self._fusion = fusion

    async def search(
        self, text: str, limit: int = 10, *, workspace: Workspace | None = None
    ) -> list[ScoredPaper]:
        """Best papers for a query; raise QueryError with a sentence when the query cannot run."""
        query = parse_query(text)
        validate_query(query)
        return await self.run(query, limit, workspace=workspace)

    async def run(
        self, query: SearchQuery, limit: int, *, workspace: Workspace | None = None
    ) -> list[ScoredPaper]:
        """Run an already parsed query."""
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"Ask for 1 to {MAX_LIMIT} results, not {limit}.")
        hits = await self.ranked(query, limit)
        return await self._answer(hits, workspace)

    async def ranked(self, query: SearchQuery, limit: int) -> list[tuple[str, float]]:
        """(arxiv_id, score) best first: the index's ranking, fused with the semantic one when it is on."""
        text = meaning_text(query)
        if self._semantic is None or not text:
            return await self._index.search(query, limit)
        semantic = self._semantic
        depth = max(limit, FUSION_DEPTH)
        text = spelt_out(text, await self._index.acronym_meanings(query.words))
        # One after the other: on a small machine the model's threads and the index's would only fight.
        nearest = await semantic.search(text, depth)
        lexical = await self._index.search(query, depth)
        # How sure the model is: the highest plain cosine among its answers (its ranking's own scores are
        # adjusted to the collection, and a small collection would read as unsure).
        closeness = await semantic.cosines(text, [arxiv_id for arxiv_id, _ in nearest])
        best_cosine = max(closeness.values(), default=0.0)
        nearest = await self._admissible(query, nearest)
        if self._fusion == "rrf":
            return fuse([lexical, nearest], limit)
        words, meaning = dict(lexical), dict(nearest)
        # Each candidate needs both scores: the words' for those found by meaning, the cosine for the others.
        only_meaning = [i for i in meaning if i not in words]
        only_words = [i for i in words if i not in meaning]
        more_words = await self._index.search(query, len(only_meaning), restrict_to=only_meaning)
        more_meaning = await semantic.search(text, len(only_words), restrict_to=only_words)
        words.update(more_words)
        meaning.update(more_meaning)
        full_match = await self._index.full_match_score(query)
        return blend(words, meaning, best_cosine, limit, full_match=full_match)

    async def _admissible(self, query: SearchQuery, hits: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """The hits that satisfy the query's phrases, exclusions and filters (asked of the index)."""
        if not hits or not has_filters(query):
            return hits
        allowed = await self._index.search(filters_of(query), len(hits), restrict_to=[i for i, _ in hits])
        keep = {arxiv_id for arxiv_id, _ in allowed}
        return [hit for hit in hits if hit[0] in keep]

    async def similar(
        self, paper: Paper, limit: int, *, workspace: Workspace | None = None
    ) -> list[ScoredPaper]:
        """Papers like `paper`: nearest in meaning when that is on, else sharing its most telling words."""
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"Ask for 1 to {MAX_LIMIT} results, not {limit}.")
        hits = await self._semantic.similar(paper, limit + 5) if self._semantic is not None else []
        if not hits:
            # No vectors yet (papers not embedded): the paper's words still find its neighbours.
            hits = await self._index.similar(paper, limit + 5)
        answered = await self._answer(hits, workspace)
        return answered[:limit]

    async def _answer(self, hits: list[tuple[str, float]], workspace: Workspace | None) -> list[ScoredPaper]:
        """Stored papers and local votes for the hits, in their order."""
        if not hits:
            return []
        ids = [arxiv_id for arxiv_id, _ in hits]
        papers = await self._store.get_papers(ids)
        votes = await self._store.vote_counts(ids, workspace)
        # The index is derived data and may lag a deletion or a withdrawal: only stored, live papers are answered.
        return [
            ScoredPaper(papers[arxiv_id], score, votes.get(arxiv_id, 0))
            for arxiv_id, score in hits
            if arxiv_id in papers and not papers[arxiv_id].withdrawn
        ]
