"""`paperboy bench relevance`: does search find the paper a person means, and how fast?

The 50 demo papers hide among N synthetic distractors written with the same vocabulary (words drawn by their
frequency in the demo papers' titles and abstracts). A hand-written query set (`relevance_queries.json`:
paraphrases, acronyms, authors, typos, topics) names the papers each query means. Every ranker answers the
same queries over the same papers; the report gives MRR@10, recall@10 and latency for each:

- linear scan: the arxiv-sanity-lite approach, substring hits in title, authors and abstract, every paper read;
- plain BM25: the tantivy index with the ranking of the first release (field weights only);
- lexical: the search service with this release's ranking (phrases, proximity, typo tolerance);
- semantic and hybrid, when the semantic extra is installed: embeddings alone, then fused with lexical, by
  reciprocal rank fusion and by the search service's default blend (bot.services.search.blend).

Distractor authors are synthetic names, so a name query looks for the few papers that carry the name.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from adapters.bench.search import Vocabulary, load_vocabulary, store_random_vectors
from adapters.sources.demo import load_demo_papers
from bot.domain import Paper
from bot.query import parse_query
from storage.search.index import TantivyIndex, open_index
from storage.search.query import PLAIN_RANKING
from storage.sql import SqlStore, open_store

SEED = 20251126
CUTOFF = 10
QUERIES_RESOURCE = "relevance_queries.json"
# Written after the ranking was tuned on the first set and never tuned on: does the ranking generalise?
HELDOUT_RESOURCE = "relevance_queries_heldout.json"
# Descriptions of a paper without its title's words, written before search by meaning was tuned for them and
# never tuned on: how well meaning finds a paper when the words differ.
DESCRIPTIONS_RESOURCE = "relevance_queries_descriptions.json"
# Thresholds of topic matching by meaning whose precision and recall the benchmark prints.
TOPIC_THRESHOLDS = (0.35, 0.40, 0.45, 0.50)
_SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ren",
    "sa",
    "to",
    "vi",
    "an",
    "el",
    "or",
    "ba",
    "dri",
    "ju",
    "ne",
    "po",
    "ste",
)
_FIRST_NAMES = ("Alex", "Maria", "Wei", "Jun", "Sara", "Omar", "Lena", "Ivan", "Priya", "Tom", "Yuki", "Ana")


@dataclass(frozen=True, slots=True)
class RelevanceQuery:
    """One hand-written query and the papers the person typing it means."""

    kind: str
    text: str
    relevant: frozenset[str]


@dataclass(slots=True)
class RankerResult:
    """What one ranker scored on the query set."""

    name: str
    reciprocal_ranks: list[float] = field(default_factory=list)
    recalls: list[float] = field(default_factory=list)
    millis: list[float] = field(default_factory=list)
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    misses: list[tuple[str, list[str]]] = field(default_factory=list)

    def add(self, query: RelevanceQuery, found: Sequence[str], millis: float) -> None:
        """Score one answer: the rank of the first relevant paper and the share of relevant papers found."""
        top = list(found)[:CUTOFF]
        rank = next((n for n, arxiv_id in enumerate(top, 1) if arxiv_id in query.relevant), None)
        reciprocal = 1.0 / rank if rank else 0.0
        self.reciprocal_ranks.append(reciprocal)
        self.recalls.append(len(query.relevant.intersection(top)) / len(query.relevant))
        self.millis.append(millis)
        self.by_kind.setdefault(query.kind, []).append(reciprocal)
        if rank != 1:
            self.misses.append((query.text, top[:3]))

    @property
    def mrr(self) -> float:
        """Mean reciprocal rank at the cut-off."""
        return statistics.fmean(self.reciprocal_ranks) if self.reciprocal_ranks else 0.0

    @property
    def recall(self) -> float:
        """Mean recall at the cut-off."""
        return statistics.fmean(self.recalls) if self.recalls else 0.0


def load_queries(resource: str = QUERIES_RESOURCE) -> list[RelevanceQuery]:
    """A hand-written query set shipped with the package (the first one unless told)."""
    data = json.loads((resources.files("adapters.bench") / resource).read_text(encoding="utf-8"))
    return [
        RelevanceQuery(item["kind"], item["query"], frozenset(item["relevant"])) for item in data["queries"]
    ]


def _synthetic_name(rng: random.Random) -> str:
    surname = "".join(rng.choices(_SYLLABLES, k=rng.randint(2, 4))).capitalize()
    return f"{rng.choice(_FIRST_NAMES)} {surname}"


def distractor_papers(count: int, vocabulary: Vocabulary, *, seed: int = SEED) -> list[Paper]:
    """`count` synthetic papers: titles and abstracts drawn Zipf-like from the vocabulary, synthetic authors."""
    rng = random.Random(seed)
    words = vocabulary.words
    weights = [1.0 / rank for rank in range(1, len(words) + 1)]
    cumulative: list[float] = []
    running = 0.0
    for weight in weights:
        running += weight
        cumulative.append(running)
    start = date(2016, 1, 1)
    papers = []
    for number in range(count):
        title = " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(6, 14))).capitalize()
        abstract = " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(90, 220)))
        month, serial = divmod(number, 90_000)
        papers.append(
            Paper(
                # Ids in a range no demo paper uses (9001.00001…), valid in form.
                arxiv_id=f"{9001 + month:04d}.{serial + 1:05d}",
                title=title,
                abstract=abstract.capitalize() + ".",
                authors=[_synthetic_name(rng) for _ in range(rng.randint(1, 6))],
                published=start + timedelta(days=number % 3000),
            )
        )
    return papers


def linear_scan_ranker(papers: Sequence[Paper]) -> Callable[[str], list[str]]:
    """The arxiv-sanity-lite style baseline: every paper read, scored by substring hits of the query words.

    A word in the title counts most, then in the author list, then each occurrence in the abstract (capped).
    """
    rows = [(p.arxiv_id, p.title.lower(), " ".join(p.authors).lower(), p.abstract.lower()) for p in papers]

    def rank(text: str) -> list[str]:
        words = [w for w in text.lower().split() if w]
        scored = []
        for arxiv_id, title, authors, abstract in rows:
            score = 0.0
            for word in words:
                score += 20.0 * (word in title) + 10.0 * (word in authors) + min(3, abstract.count(word))
            if score > 0:
                scored.append((score, arxiv_id))
        scored.sort(reverse=True)
        return [arxiv_id for _, arxiv_id in scored[:CUTOFF]]

    return rank


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def _score(
    name: str, queries: Sequence[RelevanceQuery], run: Callable[[str], Awaitable[list[str]]]
) -> RankerResult:
    result = RankerResult(name)
    for query in queries[:5]:
        await run(query.text)  # warm caches, as a serving process would be
    for query in queries:
        began = time.perf_counter()
        found = await run(query.text)
        result.add(query, found, (time.perf_counter() - began) * 1000)
    return result


def _remove_database(database: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


async def _prepare_store(database: Path, papers: Sequence[Paper]) -> SqlStore:
    """A SQLite store holding exactly `papers`; reused when an earlier run left the same ones."""
    store = await open_store(f"sqlite:///{database}")
    if await store.count_papers() != len(papers):
        await store.close()
        await asyncio.to_thread(_remove_database, database)
        store = await open_store(f"sqlite:///{database}")
        for start in range(0, len(papers), 5000):
            await store.upsert_papers(papers[start : start + 5000])
    return store


def _report_lines(results: Sequence[RankerResult], kinds: Sequence[str]) -> list[str]:
    lines = [
        f"  {'ranker':<34} {'MRR@10':>7} {'R@10':>6} {'p50 ms':>8} {'p99 ms':>8}   "
        + " ".join(f"{kind[:10]:>10}" for kind in kinds)
    ]
    for result in results:
        per_kind = " ".join(f"{statistics.fmean(result.by_kind.get(kind, [0.0])):>10.3f}" for kind in kinds)
        lines.append(
            f"  {result.name:<34} {result.mrr:>7.3f} {result.recall:>6.3f} "
            f"{_percentile(result.millis, 0.5):>8.2f} {_percentile(result.millis, 0.99):>8.2f}   {per_kind}"
        )
    return lines


async def bench_relevance(
    distractors: int,
    workdir: Path,
    *,
    semantic: bool = True,
    show_misses: bool = False,
    on_progress: Callable[[Any], None] | None = None,
) -> str:
    """Run every ranker over the query set with the demo papers among `distractors`; return the report."""
    from bot.services.search import PaperSearch

    queries = load_queries()
    held_out = load_queries(HELDOUT_RESOURCE)
    descriptions = load_queries(DESCRIPTIONS_RESOURCE)
    kinds = list(dict.fromkeys(q.kind for q in queries))
    demo = [replace(p, featured_on=None) for p in load_demo_papers()]
    vocabulary = await asyncio.to_thread(load_vocabulary)
    hidden = await asyncio.to_thread(distractor_papers, distractors, vocabulary)
    papers = demo + hidden
    lines = [
        f"paperboy bench relevance: {len(queries)} queries ({', '.join(kinds)}), {len(held_out)} held out and "
        f"{len(descriptions)} descriptions, "
        f"{len(demo)} demo papers among {distractors:,} distractors, {date.today().isoformat()}"
    ]
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    stem = f"relevance-{distractors}-{SEED}"
    store = await _prepare_store(workdir / f"{stem}.db", papers)
    index: TantivyIndex | None = None
    semantic_index: Any = None
    results: list[RankerResult] = []
    held_out_results: list[RankerResult] = []
    description_results: list[RankerResult] = []

    async def score(
        name: str, run: Callable[[str], Awaitable[list[str]]], *, fresh: Callable[[], None]
    ) -> None:
        """Score one ranker on every query set; `fresh` forgets cached query embeddings before each."""
        for query_set, scored in (
            (queries, results),
            (held_out, held_out_results),
            (descriptions, description_results),
        ):
            fresh()
            scored.append(await _score(name, query_set, run))

    def nothing() -> None:
        return None

    try:
        index = await open_index(workdir / f"{stem}.index")
        await index.catch_up(store)

        scan = await asyncio.to_thread(linear_scan_ranker, papers)
        await score("linear scan (arxiv-sanity-lite)", lambda t: asyncio.to_thread(scan, t), fresh=nothing)
        tuned = index.ranking
        index.ranking = PLAIN_RANKING
        await score("plain BM25 (index)", lambda t: _index_ids(index, t), fresh=nothing)
        index.ranking = tuned
        await score("lexical (index)", lambda t: _index_ids(index, t), fresh=nothing)
        lexical = PaperSearch(store, index)
        await score("lexical (search service)", lambda t: _service_ids(lexical, t), fresh=nothing)

        if semantic:
            semantic_index, note = await _open_semantic(store, on_progress)
            lines.append(note)
            if semantic_index is not None:
                # Each ranker embeds its queries itself: latency includes the query's embedding.
                forget = semantic_index.forget_queries
                await score("semantic only", lambda t: _semantic_ids(semantic_index, t), fresh=forget)
                rrf = PaperSearch(store, index, semantic_index, fusion="rrf")
                await score("hybrid, rank fusion (RRF)", lambda t: _service_ids(rrf, t), fresh=forget)
                hybrid = PaperSearch(store, index, semantic_index)
                await score("hybrid (search service)", lambda t: _service_ids(hybrid, t), fresh=forget)
                demo_ids = [p.arxiv_id for p in demo]
                topics = [q for q in queries + held_out if q.kind == "topic"]
                lines += await _topic_calibration(semantic_index, topics, demo_ids)
        lines += _report_lines(results, kinds)
        lines.append(f"  held out ({len(held_out)} queries written after the tuning, never tuned on):")
        lines += _report_lines(held_out_results, kinds)
        lines.append(
            f"  descriptions ({len(descriptions)} queries that describe a paper without its title's words, held out):"
        )
        lines += _report_lines(description_results, ["description"])
        if show_misses:
            for result, other, described in zip(
                results[1:], held_out_results[1:], description_results[1:], strict=True
            ):
                lines.append(f"  not first with {result.name}:")
                lines += [f"    {text!r}: {top}" for text, top in result.misses]
                lines += [f"    (held out) {text!r}: {top}" for text, top in other.misses]
                lines += [f"    (description) {text!r}: {top}" for text, top in described.misses]
    finally:
        if semantic_index is not None:
            await semantic_index.close()
        if index is not None:
            await index.close()
        await store.close()
    return "\n".join(lines)


async def _topic_calibration(
    semantic_index: Any, topics: Sequence[RelevanceQuery], demo_ids: Sequence[str]
) -> list[str]:
    """Precision and recall of topics matched by meaning (plain cosine at least a threshold) over the demo papers.

    A topic's hand-labelled papers are its relevant ones; this is how PAPERBOY_TOPIC_SIMILARITY was chosen.
    """
    cosines = [(topic, await semantic_index.cosines(topic.text, demo_ids)) for topic in topics]
    parts = []
    for threshold in TOPIC_THRESHOLDS:
        matched = relevant_matched = 0
        relevant = sum(len(topic.relevant) for topic in topics)
        for topic, by_paper in cosines:
            close = {arxiv_id for arxiv_id, cosine in by_paper.items() if cosine >= threshold}
            matched += len(close)
            relevant_matched += len(close & topic.relevant)
        precision = relevant_matched / matched if matched else 0.0
        recall = relevant_matched / relevant if relevant else 0.0
        parts.append(f"{threshold:.2f}: precision {precision:.2f}, recall {recall:.2f}")
    return [
        f"  topics by meaning over the demo papers ({len(topics)} topics), plain cosine at least "
        + "; ".join(parts)
    ]


async def _index_ids(index: TantivyIndex, text: str) -> list[str]:
    return [arxiv_id for arxiv_id, _ in await index.search(parse_query(text), CUTOFF)]


async def _service_ids(service: Any, text: str) -> list[str]:
    return [item.paper.arxiv_id for item in await service.search(text, CUTOFF)]


async def _semantic_ids(semantic_index: Any, text: str) -> list[str]:
    return [arxiv_id for arxiv_id, _ in await semantic_index.search(text, CUTOFF)]


async def _open_semantic(store: SqlStore, on_progress: Callable[[Any], None] | None) -> tuple[Any, str]:
    """The semantic index over the bench store, every paper embedded (once: vectors stay in the store)."""
    from storage.vectors.semantic import missing_extra, open_semantic

    missing = missing_extra()
    if missing is not None:
        return None, f"  semantic and hybrid: skipped, the semantic extra is not installed (no {missing})"
    semantic_index = open_semantic(store, None)
    if semantic_index is None:
        return None, "  semantic and hybrid: skipped, no model"
    began = time.perf_counter()
    progress = await semantic_index.embed_store(on_progress)
    seconds = time.perf_counter() - began
    rate = f" = {progress.embedded / seconds:,.1f} papers/s" if progress.embedded else ""
    note = (
        f"  embeddings ({semantic_index.model} on {getattr(semantic_index.embedder, 'runtime', '?')}): "
        f"{progress.embedded:,} computed in {seconds:,.1f} s{rate}, "
        f"{progress.current:,} reused from an earlier run"
    )
    await semantic_index.catch_up()
    return semantic_index, note


async def bench_hybrid_latency(papers: int, workdir: Path, *, queries: int = 200) -> str:
    """Latency of lexical and hybrid search over `papers` synthetic papers, each query embedded anew.

    The papers' vectors are random unit vectors (float16, as stored), written straight to the store: the cost
    of a search does not depend on their values, and embedding this many papers takes the CPU an hour or so
    (`paperboy index embeddings` reports its rate). The queries are the relevance set's, repeated.
    """
    from bot.services.search import PaperSearch
    from storage.vectors.semantic import DEFAULT_MODEL, missing_extra, open_semantic

    missing = missing_extra()
    if missing is not None:
        raise ValueError(f"The hybrid benchmark needs the semantic extra (no {missing} here).")
    texts = [q.text for q in load_queries()]
    texts = (texts * (queries // len(texts) + 1))[:queries]
    vocabulary = await asyncio.to_thread(load_vocabulary)
    synthetic = await asyncio.to_thread(distractor_papers, papers, vocabulary)
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    stem = f"hybrid-{papers}-{SEED}"
    store = await _prepare_store(workdir / f"{stem}.db", synthetic)
    index = await open_index(workdir / f"{stem}.index")
    try:
        began = time.perf_counter()
        await index.catch_up(store)
        lines = [
            f"paperboy bench hybrid: {papers:,} papers, {len(texts)} queries, {date.today().isoformat()}",
            f"  index caught up in {time.perf_counter() - began:.1f} s",
        ]
        if await store.count_embeddings(DEFAULT_MODEL) != papers:
            ids = [(paper.arxiv_id, "random") for paper in synthetic]
            await store_random_vectors(store, DEFAULT_MODEL, 384, ids, SEED)
        semantic_index = open_semantic(store, None)
        assert semantic_index is not None
        began = time.perf_counter()
        await semantic_index.catch_up()
        lines.append(f"  {papers:,} vectors loaded in {time.perf_counter() - began:.1f} s")
        await semantic_index.embed_query("warm up the model")
        lexical = PaperSearch(store, index)
        hybrid = PaperSearch(store, index, semantic_index)
        for name, service in (("lexical (search service)", lexical), ("hybrid (search service)", hybrid)):
            millis = []
            for text in texts:
                semantic_index.forget_queries()
                started = time.perf_counter()
                await service.search(text, CUTOFF)
                millis.append((time.perf_counter() - started) * 1000)
            lines.append(
                f"  {name:<26} p50 {_percentile(millis, 0.5):7.2f} ms   p90 {_percentile(millis, 0.9):7.2f} ms   "
                f"p99 {_percentile(millis, 0.99):7.2f} ms"
            )
        await semantic_index.close()
        return "\n".join(lines)
    finally:
        await index.close()
        await store.close()
