"""The search index: tantivy beside the database, derived from it, queried without any query-string parser."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import gc
import hashlib
import json
import logging
import math
import os
import re
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import tantivy
from tantivy import FieldType, Occur, Order, Query

from bot.domain import Paper
from bot.ports import Clock, PaperRepository
from bot.query import SearchQuery
from storage.search.aliases import acronym_definitions, aliases_of

log = logging.getLogger(__name__)

# Bump when the schema or an analyzer changes: an index written by another version is rebuilt from the store.
SCHEMA_VERSION = 4
STATE_FILE = "paperboy-index.json"
OPEN_LOCK_FILE = "paperboy-index.lock"
# A paper stamped just before the watermark may commit after catch-up read past it (a slow transaction, clocks
# of replicas a little apart): catch-up reads this much before the watermark again, until the watermark is
# older than that by this process's clock, after which no such late commit can still come.
CATCH_UP_MARGIN = timedelta(minutes=2)
CATCH_UP_PAGE = 5000
# Catch-up of a large store commits every so often, so that an interrupted rebuild keeps most of its work.
CATCH_UP_COMMIT_EVERY = 100_000
CATCH_UP_LOG_EVERY = 100_000
WRITER_HEAP_BYTES = 128_000_000
WRITER_THREADS = 2
# Hits fetched beyond `limit` at first, and the most ever fetched to settle ties at the cut-off.
_EXTRA_HITS = 10
_MAX_TIE_HITS = 10_000
# Words of a paper that "more like this" looks for: the ones that best tell it apart (tf-idf).
MORE_LIKE_THIS_TERMS = 25

TEXT_ANALYZER = "paper_en"
NAME_ANALYZER = "paper_names"
RAW_LOWER_ANALYZER = "paper_raw_lower"

# Weight of a plain word found in each field. `aliases` holds the acronyms a paper defines and the parts of
# its coined names (storage.search.aliases): "MRL" finds Matryoshka Representation Learning, "SDF" finds UniSDF.
WORD_FIELDS: tuple[tuple[str, float], ...] = (
    ("title", 3.0),
    ("aliases", 3.0),
    ("keywords", 2.0),
    ("ai_summary", 1.5),
    ("abstract", 1.0),
)
AUTHOR_WORD_BOOST = 3.0
# Fields held by few papers (keywords and summaries come from Hugging Face only) or whose length says nothing
# (a long author list): BM25's length normalisation against the average over all papers would crush their
# matches, so a match there scores its field's weight times the word's idf, whatever the length.
FLAT_FIELDS = frozenset({"aliases", "keywords", "ai_summary", "authors"})
# Proximity: two words of the query found near each other in the abstract (at most `slop` positions apart)
# add a phrase score, so a paper about "sparse activation" beats one that says sparse here and activation there.
# The pairs are neighbours in the query and words one apart ("speed up llm inference" pairs llm with inference
# and speed with llm), as in the sequential dependence model of Metzler and Croft. Only the abstract: a title
# match already weighs three times a word of the abstract, and a bonus there doubled it for short titles that
# happen to hold two query words. Weight and slop were chosen on `paperboy bench relevance` (see its README
# section): every weight from 1.5 to 6 did better than the first release's title-and-abstract bonus.
PROXIMITY_FIELDS: tuple[tuple[str, float, int], ...] = (("abstract", 2.5, 8),)
PROXIMITY_SPAN = 2
MAX_PROXIMITY_PAIRS = 6
# A title holding every word of a query of two words or more is what a person who half-remembers a title
# means: its title words score again, times this, so that "gaussian splatting rendering" finds "3D Gaussian
# Splatting for Real-Time Radiance Field Rendering" before a short title with one of the words and an abstract
# with the rest. It cost the relevance benchmark 0.006 of MRR (one query one place down).
TITLE_ALL_WORDS_WEIGHT = 2.0
# Spelling out a query's acronyms for the model: at most this many acronyms a query, each looked up in the
# definitions of this many of the papers that define it.
MAX_ACRONYMS = 3
ACRONYM_PAPERS = 20
# The proximity bonus reorders this many of the best papers by words (see TantivyIndex._reranked).
RERANK_DEPTH = 100
# Typo tolerance: a word that (almost) no paper has is corrected to the closest words of the titles and author
# names (one edit, two from eight letters on, a swap of neighbours counting one), which are then searched as
# usual at a lower weight. Bounded: words of four letters or more, three words a query, and only the most
# frequent dictionary words sharing the first two letters are compared.
TYPO_DICTIONARIES = ("title", "authors")
TYPO_MAX_DOC_FREQ = 2
TYPO_MIN_LENGTH = 4
TYPO_TWO_EDITS_FROM = 8
MAX_TYPO_WORDS = 3
TYPO_CANDIDATES = 5000
TYPO_CORRECTIONS = 2
TYPO_WEIGHT = 0.8
# Words that say little in a query but are not stop words of the index (which keeps "how" or "only" for
# phrases): left out of a query's plain words when it has others.
QUERY_STOP_WORDS = frozenset(
    [
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "any",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "nor",
        "now",
        "only",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "than",
        "them",
        "themselves",
        "those",
        "through",
        "too",
        "under",
        "until",
        "up",
        "very",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "would",
        "you",
        "your",
        "yours",
        "via",
        "using",
        "use",
        "based",
        "towards",
        "toward",
        "paper",
        "papers",
        "approach",
        "method",
        "methods",
        "study",
        "novel",
        "new",
        "one",
        "like",
        "may",
        "might",
        "must",
        "shall",
        "whose",
    ]
)
# A quoted phrase must appear in one of these.
PHRASE_FIELDS: tuple[tuple[str, float], ...] = (
    ("title", 3.0),
    ("keywords", 2.0),
    ("ai_summary", 1.5),
    ("abstract", 1.0),
)
TEXT_FIELDS = tuple(name for name, _ in WORD_FIELDS)


@dataclass(frozen=True, slots=True)
class Ranking:
    """Which relevance features queries use: all by default; `paperboy bench relevance` compares them."""

    proximity: bool = True
    typos: bool = True
    aliases: bool = True
    flat_fields: bool = True
    query_stop_words: bool = True
    author_boost: float = AUTHOR_WORD_BOOST


DEFAULT_RANKING = Ranking()
# BM25 over the weighted fields and nothing else: the ranking of the first release.
PLAIN_RANKING = Ranking(
    proximity=False, typos=False, aliases=False, flat_fields=False, query_stop_words=False, author_boost=2.0
)

# Files tantivy writes into an index folder; only these are deleted when the index is rebuilt, so that a
# misconfigured PAPERBOY_INDEX_DIR pointing at a folder with other files never loses them.
_TANTIVY_FILE = re.compile(
    r"^(?:meta\.json|\.managed\.json|\.tantivy-(?:meta|writer)\.lock|[0-9a-f]{32}(?:\.\d+)?\.[a-z]+)$"
)


@contextlib.contextmanager
def young_garbage_only() -> Iterator[None]:
    """Pause automatic cyclic garbage collection during a bulk load; the caller collects young generations.

    Automatic full collections rescan every live object (the ORM, the batches in flight) and cost about a
    third of a bulk load; `gc.collect(1)` once a batch frees young cycles at a fraction of that.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _text_analyzer() -> tantivy.TextAnalyzer:
    """Words of titles and abstracts: folded to ASCII, lower case, English stop words out, stemmed."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(64))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        # Stop words before the stemmer: the list holds unstemmed words.
        .filter(tantivy.Filter.stopword("english"))
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _name_analyzer() -> tantivy.TextAnalyzer:
    """Names of people and organizations: folded and lower case, never stemmed, no stop words."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(64))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def _raw_lower_analyzer() -> tantivy.TextAnalyzer:
    """Whole values compared without case, for arXiv categories."""
    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).filter(tantivy.Filter.lowercase()).build()


def build_schema() -> tantivy.Schema:
    """The index schema; only the arXiv id is stored, the database holds the rest."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("arxiv_id", stored=True, fast=True, tokenizer_name="raw")
    for name in TEXT_FIELDS:
        builder.add_text_field(name, tokenizer_name=TEXT_ANALYZER)
    builder.add_text_field("authors", tokenizer_name=NAME_ANALYZER)
    builder.add_text_field("org", tokenizer_name=NAME_ANALYZER)
    builder.add_text_field("categories", tokenizer_name=RAW_LOWER_ANALYZER, index_option="basic")
    builder.add_date_field("date", indexed=True, fast=True)
    # What the indexed fields held, so that re-reading an unchanged paper writes nothing.
    builder.add_unsigned_field("fingerprint", fast=True)
    # The acronyms the paper defines with their long forms ("MoE\x1fMixture of Experts"), read back to spell out
    # a query's acronyms for the model (TantivyIndex.acronym_meanings); stored, not searched.
    builder.add_bytes_field("definitions", stored=True)
    return builder.build()


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    position: int


class _Analyzers:
    """The analyzers of the index, also run in Python on query text so that both sides agree."""

    def __init__(self) -> None:
        self.text = _text_analyzer()
        self.names = _name_analyzer()

    def register(self, index: tantivy.Index) -> None:
        index.register_tokenizer(TEXT_ANALYZER, self.text)
        index.register_tokenizer(NAME_ANALYZER, self.names)
        index.register_tokenizer(RAW_LOWER_ANALYZER, _raw_lower_analyzer())

    @staticmethod
    def tokens(analyzer: tantivy.TextAnalyzer, text: str) -> list[_Token]:
        """Tokens with their positions, so phrases keep the gaps left by removed stop words."""
        return [_Token(token.text, token.position) for token in analyzer.pre_tokenize(text).tokens]


class _SystemClock:
    """The real UTC clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """A timestamp comparable with any other: stores that drop the zone keep UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _paper_date(paper: Paper) -> datetime | None:
    """The day `since:` compares with: featured on Hugging Face, else published on arXiv."""
    day = paper.featured_on or paper.published
    if day is None:
        return None
    moment = _midnight(day)
    # tantivy keeps dates in nanoseconds; a date outside that range is bad data, left undated.
    return moment if tantivy.MIN_DATETIME <= moment <= tantivy.MAX_DATETIME else None


def _fingerprint(paper: Paper) -> int:
    """A stable 64-bit digest of everything the index takes from a paper."""
    moment = _paper_date(paper)
    parts = (
        paper.title,
        paper.abstract,
        paper.ai_summary or "",
        "\x1e".join(paper.ai_keywords),
        "\x1e".join(paper.authors),
        "\x1e".join(paper.categories).lower(),
        paper.organization or "",
        moment.isoformat() if moment is not None else "",
    )
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _document(paper: Paper, schema: tantivy.Schema, fingerprint: int) -> tantivy.Document:
    """The index document of a paper."""
    values: dict[str, Any] = {
        "arxiv_id": paper.arxiv_id,
        "fingerprint": fingerprint,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "categories": [category.lower() for category in paper.categories],
        "keywords": list(paper.ai_keywords),
    }
    definitions = acronym_definitions(f"{paper.title}. {paper.abstract}")
    values["aliases"] = aliases_of(paper.title, paper.abstract, definitions)
    if definitions:
        values["definitions"] = [
            f"{short}{_DEFINITION_SEPARATOR}{long}".encode() for short, long in definitions
        ]
    if paper.ai_summary:
        values["ai_summary"] = paper.ai_summary
    if paper.organization:
        values["org"] = paper.organization
    moment = _paper_date(paper)
    if moment is not None:
        values["date"] = moment
    # from_dict types every value by the schema; the keyword constructor guesses and can panic the writer.
    return tantivy.Document.from_dict(values, schema)


_DEFINITION_SEPARATOR = "\x1f"


def _is_tantivy_file(name: str) -> bool:
    return bool(_TANTIVY_FILE.match(name))


def _writer_lock_busy(path: Path) -> bool:
    """True when another writer (in any process) holds tantivy's writer lock on the folder."""
    lock_file = path / ".tantivy-writer.lock"
    if not lock_file.exists():
        return False
    # tantivy takes an advisory flock on this file; probing it the same way tells whether someone holds it.
    with open(lock_file, "rb") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


def _wipe(path: Path) -> None:
    """Delete tantivy's files and our state file from the folder, and nothing else."""
    for entry in path.iterdir():
        if entry.is_file() and (entry.name == STATE_FILE or _is_tantivy_file(entry.name)):
            entry.unlink(missing_ok=True)


class _State:
    """Schema version and catch-up watermark, kept in a small JSON file beside the index (or in memory)."""

    def __init__(self, path: Path | None) -> None:
        self.file = path / STATE_FILE if path is not None else None
        self._memory: dict[str, Any] = {}

    def read(self) -> dict[str, Any]:
        if self.file is None:
            return dict(self._memory)
        try:
            data = json.loads(self.file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def schema_version(self) -> int | None:
        value = self.read().get("schema_version")
        return value if isinstance(value, int) else None

    def watermark(self) -> datetime | None:
        value = self.read().get("watermark")
        if not isinstance(value, str):
            return None
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None

    def write(self, watermark: datetime | None) -> None:
        data = {
            "schema_version": SCHEMA_VERSION,
            "watermark": watermark.isoformat() if watermark is not None else None,
        }
        if self.file is None:
            self._memory = data
            return
        temporary = self.file.with_name(self.file.name + ".tmp")
        temporary.write_text(json.dumps(data))
        os.replace(temporary, self.file)


class TantivyIndex:
    """The `bot.ports.SearchIndex` on tantivy: BM25 over weighted fields, filters, deterministic order."""

    def __init__(self, path: Path | None, clock: Clock | None = None) -> None:
        # None means an index in memory (used when the folder cannot be rebuilt); it works, but is not kept.
        self.path = path
        self._clock: Clock = clock or _SystemClock()
        self._schema = build_schema()
        self._analyzers = _Analyzers()
        self.ranking = DEFAULT_RANKING
        self._state = _State(path)
        self._index: tantivy.Index = self._open()
        self._writer: tantivy.IndexWriter | None = None
        # Papers written since the last commit (fingerprint, or None when deleted): searchers cannot see them
        # yet, but the next write of the same paper must.
        self._uncommitted: dict[str, int | None] = {}
        self._write_lock = threading.Lock()
        self._closed = False
        self._take_writer(warn=True)

    # ----- opening -----

    def _open(self) -> tantivy.Index:
        """Open the folder's index, or rebuild it empty when missing, corrupt or of another schema."""
        if self.path is None:
            index = tantivy.Index(self._schema)
            self._analyzers.register(index)
            self._state.write(None)
            return index
        self.path.mkdir(parents=True, exist_ok=True)
        # Processes that open one folder at the same moment take turns, so none rebuilds under another.
        with open(self.path / OPEN_LOCK_FILE, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            opened = self._open_existing()
            if isinstance(opened, tantivy.Index):
                return opened
            if _writer_lock_busy(self.path):
                log.warning(
                    "The search index in %s is %s but another process is writing it; "
                    "using an index in memory until it can be rebuilt.",
                    self.path,
                    opened,
                )
                self.path = None
                self._state = _State(None)
                return self._open()
            if opened != "missing":
                log.warning("The search index in %s is %s; rebuilding it from the store.", self.path, opened)
                _wipe(self.path)
            index = tantivy.Index(self._schema, path=str(self.path), reuse=True)
            self._analyzers.register(index)
            self._state.write(None)
            return index

    def _open_existing(self) -> tantivy.Index | str:
        """The folder's index when it is usable as it is, else why not."""
        assert self.path is not None
        if not (self.path / "meta.json").exists():
            return "missing"
        if self._state.schema_version() != SCHEMA_VERSION:
            return "of another version"
        try:
            index = tantivy.Index(self._schema, path=str(self.path), reuse=True)
            self._analyzers.register(index)
            index.searcher().num_docs  # noqa: B018 - opening segments is what reveals damage
        except (ValueError, OSError) as exc:
            return f"unreadable ({exc})"
        return index

    def _take_writer(self, *, warn: bool) -> bool:
        """Become the writer of the folder if nobody else is; False when another writer holds the lock."""
        if self._writer is not None:
            return True
        try:
            self._writer = self._index.writer(WRITER_HEAP_BYTES, WRITER_THREADS)
        except ValueError as exc:
            if "LockBusy" not in str(exc):
                raise
            if warn:
                log.warning(
                    "Another process is writing the search index in %s; this one searches it read-only.",
                    self.path,
                )
            return False
        # Another process may have written since our reader last looked; deletes must see its documents.
        self._index.reload()
        return True

    @property
    def read_only(self) -> bool:
        """True while another process holds the writer lock, so this one only searches."""
        return self._writer is None

    # ----- writing -----

    async def add_papers(self, papers: Sequence[Paper]) -> None:
        """Index (or re-index) papers and commit, so the next search sees them."""
        await asyncio.to_thread(self._write_sync, papers, True)

    async def stage_papers(self, papers: Sequence[Paper]) -> None:
        """Index papers without committing; bulk loads call `commit` when they are done."""
        await asyncio.to_thread(self._write_sync, papers, False)

    async def commit(self) -> None:
        """Make everything staged visible to searches and durable."""
        await asyncio.to_thread(self._commit_sync)

    def _write_sync(self, papers: Sequence[Paper], commit: bool) -> bool:
        with self._write_lock:
            if not self._take_writer(warn=False):
                log.warning(
                    "The search index is read-only here (another process writes it); %d papers not "
                    "indexed by this process.",
                    len(papers),
                )
                return False
            self._stage_locked(papers)
            if commit and self._uncommitted:
                self._commit_locked()
            return True

    def _stage_locked(self, papers: Sequence[Paper]) -> int:
        """Write the papers that differ from what the index holds; return how many were written."""
        assert self._writer is not None
        writer, schema = self._writer, self._schema
        ids = list(dict.fromkeys(paper.arxiv_id for paper in papers))
        # What the index will hold after the next commit: the committed copies, overridden by staged ones.
        held = self._committed_fingerprints(ids)
        for arxiv_id in ids:
            if arxiv_id in self._uncommitted:
                staged = self._uncommitted[arxiv_id]
                if staged is None:
                    held.pop(arxiv_id, None)
                else:
                    held[arxiv_id] = staged
        written = 0
        for paper in papers:
            fingerprint = _fingerprint(paper)
            previous = held.get(paper.arxiv_id)
            if previous == fingerprint and not paper.withdrawn:
                continue
            if previous is not None:
                # Deletes cost a lookup in every segment at commit time: only for papers the index holds.
                writer.delete_documents_by_term("arxiv_id", paper.arxiv_id)
            if paper.withdrawn:
                # Withdrawn papers leave search; the store still answers `paper ID` for them.
                held.pop(paper.arxiv_id, None)
                self._uncommitted[paper.arxiv_id] = None
                written += previous is not None
                continue
            writer.add_document(_document(paper, schema, fingerprint))
            held[paper.arxiv_id] = fingerprint
            self._uncommitted[paper.arxiv_id] = fingerprint
            written += 1
        return written

    def _committed_fingerprints(self, ids: list[str]) -> dict[str, int]:
        """The fingerprints of the committed copies of these papers, for those the index holds."""
        searcher = self._index.searcher()
        if not ids or searcher.num_docs == 0:
            return {}
        query = Query.term_set_query(self._schema, "arxiv_id", ids)
        # Ordering by the id fast field hands back each hit's id without reading stored documents.
        hits = searcher.search(query, 2 * len(ids), count=False, order_by_field="arxiv_id").hits
        fingerprints = searcher.fast_field_values("fingerprint", [address for _, address in hits])
        return {str(key): int(value or 0) for (key, _), value in zip(hits, fingerprints, strict=True)}

    def _commit_sync(self) -> None:
        with self._write_lock:
            if self._writer is not None:
                self._commit_locked()

    def _commit_locked(self) -> None:
        assert self._writer is not None
        self._writer.commit()
        self._uncommitted.clear()
        self._index.reload()

    # ----- catching up with the store -----

    async def catch_up(self, store: PaperRepository) -> int:
        """Index what changed in the store since the last catch-up; return how many papers were (re)indexed.

        Papers stamped within CATCH_UP_MARGIN of the watermark are read again, and written only when they
        differ from the indexed copy; an empty index is rebuilt from the whole store.
        """
        if self.read_only and not await asyncio.to_thread(self._retake_writer):
            log.warning("The search index is read-only here (another process writes it); catch-up skipped.")
            return 0
        if self.path is not None and not (self.path / "meta.json").exists():
            # The folder was deleted under us: start over with a fresh index and a full rebuild.
            await asyncio.to_thread(self._reopen)
        watermark = self._state.watermark()
        if await asyncio.to_thread(self._num_docs) == 0:
            watermark = None
        since = self._read_from(watermark)
        newest = watermark
        total = staged = read = 0
        with young_garbage_only():
            page = await store.papers_changed_since(since, "", CATCH_UP_PAGE)
            while page:
                # Read the next page while this one is indexed.
                reading = (
                    asyncio.ensure_future(store.papers_changed_since(since, page[-1].arxiv_id, CATCH_UP_PAGE))
                    if len(page) >= CATCH_UP_PAGE
                    else None
                )
                try:
                    written = await asyncio.to_thread(self._stage_page, page)
                finally:
                    if reading is not None and not reading.done():
                        await asyncio.wait([reading])
                total += written
                staged += written
                read += len(page)
                if read // CATCH_UP_LOG_EVERY != (read - len(page)) // CATCH_UP_LOG_EVERY:
                    log.info("Search index catch-up: %d papers read, %d indexed so far.", read, total)
                for paper in page:
                    stamp = paper.updated_at
                    if stamp is not None and (newest is None or _aware(stamp) > _aware(newest)):
                        newest = stamp
                if staged >= CATCH_UP_COMMIT_EVERY:
                    await self.commit()
                    staged = 0
                page = await reading if reading is not None else []
                gc.collect(1)
        if staged:
            await self.commit()
        await asyncio.to_thread(self._state.write, newest)
        if total:
            log.info("Search index caught up with %d papers.", total)
        return total

    def _read_from(self, watermark: datetime | None) -> datetime | None:
        """Where catch-up starts reading: the watermark, less the safety margin while it is fresh."""
        if watermark is None:
            return None
        if _aware(self._clock.now()) < _aware(watermark) + CATCH_UP_MARGIN:
            return watermark - CATCH_UP_MARGIN
        return watermark

    def _retake_writer(self) -> bool:
        with self._write_lock:
            return self._take_writer(warn=False)

    def _stage_page(self, papers: Sequence[Paper]) -> int:
        with self._write_lock:
            return self._stage_locked(papers)

    def _num_docs(self) -> int:
        return int(self._index.searcher().num_docs)

    def _reopen(self) -> None:
        with self._write_lock:
            log.warning("The search index folder %s disappeared; rebuilding it from the store.", self.path)
            self._writer = None
            self._uncommitted.clear()
            self._state = _State(self.path)
            self._index = self._open()
            self._take_writer(warn=True)

    async def close(self) -> None:
        """Finish background merges and release the writer lock."""
        await asyncio.to_thread(self._close_sync)

    def _close_sync(self) -> None:
        with self._write_lock:
            if self._closed:
                return
            self._closed = True
            writer, self._writer = self._writer, None
            if writer is not None:
                with contextlib.suppress(ValueError):
                    writer.wait_merging_threads()

    # ----- searching -----

    async def search(
        self,
        query: SearchQuery,
        limit: int,
        *,
        restrict_to: Collection[str] | None = None,
        require_all_words: bool = False,
    ) -> list[tuple[str, float]]:
        """Best (arxiv_id, score) pairs: score descending, then arxiv_id descending (newest first)."""
        if limit <= 0 or (restrict_to is not None and not restrict_to):
            return []
        return await asyncio.to_thread(self._search_sync, query, limit, restrict_to, require_all_words)

    async def acronym_meanings(self, words: Sequence[str]) -> dict[str, str]:
        """The long form the papers give most often for each acronym among `words`, in lower case (MoE: mixture
        of experts)."""
        acronyms = [word for word in _unique(words) if _looks_like_acronym(word)][:MAX_ACRONYMS]
        if not acronyms:
            return {}
        return await asyncio.to_thread(self._acronym_meanings_sync, acronyms)

    def _acronym_meanings_sync(self, acronyms: Sequence[str]) -> dict[str, str]:
        searcher = self._index.searcher()
        meanings: dict[str, str] = {}
        for acronym in acronyms:
            wanted = acronym.lower().removesuffix("s")
            tokens = self._analyzers.tokens(self._analyzers.text, acronym)
            if len(tokens) != 1:
                continue
            query = Query.term_query(self._schema, "aliases", tokens[0].text)
            counts: collections.Counter[str] = collections.Counter()
            for _, address in searcher.search(query, ACRONYM_PAPERS, count=False).hits:
                for value in searcher.doc(address).to_dict().get("definitions", []):
                    short, _, long = bytes(value).decode("utf-8", "replace").partition(_DEFINITION_SEPARATOR)
                    if short.lower().removesuffix("s") == wanted and long:
                        counts[long.lower()] += 1
            if counts:
                # The most frequent long form; equal counts by the alphabet, so every replica says the same.
                meanings[acronym] = min(counts, key=lambda form: (-counts[form], form))
        return meanings

    async def full_match_score(self, query: SearchQuery) -> float:
        """About what a paper with each content word once in its title and once in its abstract scores.

        At tf 1 and an average length BM25 scores a word its idf, so that paper scores the sum of the words'
        idf times the title's and the abstract's weights (proximity bonuses left out).
        """
        return await asyncio.to_thread(self._full_match_score_sync, query)

    def _full_match_score_sync(self, query: SearchQuery) -> float:
        searcher = self._index.searcher()
        weights = dict(WORD_FIELDS)
        per_idf = weights["title"] + weights["abstract"]
        total = 0.0
        for word in self._content_words(query.words):
            tokens = _unique(t.text for t in self._analyzers.tokens(self._analyzers.text, word))[:1]
            names = _unique(t.text for t in self._analyzers.tokens(self._analyzers.names, word))[:1]
            # How many papers have the word in any field searched: a name, an acronym or a word only some
            # summaries use is no rarer than that. A word no paper has counts as the rarest: no paper can
            # match the whole query then, and the words' ranking is the less telling for it.
            count = max(
                [searcher.doc_freq(field, token) for token in tokens for field, _ in self._word_fields()]
                + [searcher.doc_freq("authors", name) for name in names]
                + [1]
            )
            total += per_idf * _idf(max(searcher.num_docs, 1), count)
        return total

    def build_query(
        self,
        query: SearchQuery,
        *,
        restrict_to: Collection[str] | None = None,
        require_all_words: bool = False,
    ) -> _BuiltQuery | None:
        """The tantivy query for a parsed query, or None when it asks for nothing the index can match."""
        schema = self._schema
        must: list[Query] = []
        filters: list[Query] = []
        excluded: list[Query] = []

        searcher = self._index.searcher()
        bonus: list[Query] = []
        words = self._content_words(query.words)
        typo_budget = [MAX_TYPO_WORDS]
        corrected: dict[str, str] = {}
        word_groups = [
            group for word in words if (group := self._word_clauses(word, searcher, typo_budget, corrected))
        ]
        if word_groups:
            if require_all_words:
                must.extend(_any_of(group) for group in word_groups)
            else:
                # One flat disjunction (at least one word somewhere) scores fastest in tantivy.
                must.append(_any_of([clause for group in word_groups for clause in group]))
                if self.ranking.proximity:
                    tokens = self._bonus_tokens(words, corrected)
                    bonus = self._proximity_clauses(tokens) + self._title_clauses(tokens)

        for phrase in _unique(query.phrases):
            clauses = self._phrase_clauses(phrase, PHRASE_FIELDS, self._analyzers.text)
            if clauses:
                must.append(_any_of(clauses))
        scored = bool(must)

        for author in _unique(query.authors):
            clauses = self._phrase_clauses(author, (("authors", 1.0),), self._analyzers.names)
            if not clauses:
                return None  # an author with no name to match matches nobody
            filters.append(_any_of(clauses))
        for org in _unique(query.orgs):
            clauses = self._phrase_clauses(org, (("org", 1.0),), self._analyzers.names)
            if not clauses:
                return None
            filters.append(_any_of(clauses))
        for category in _unique(query.categories):
            filters.append(Query.term_query(schema, "categories", category.strip().lower()))
        if query.since is not None:
            since = _midnight(query.since)
            if since > tantivy.MAX_DATETIME:
                return None  # no paper can be that recent
            lowest = max(since, tantivy.MIN_DATETIME)
            filters.append(Query.range_query(schema, "date", FieldType.Date, lowest))
        if restrict_to is not None:
            filters.append(Query.term_set_query(schema, "arxiv_id", sorted(set(restrict_to))))

        for word in _unique(query.excluded_words):
            excluded.extend(self._excluded_clauses(word))
        for phrase in _unique(query.excluded_phrases):
            excluded.extend(self._excluded_clauses(phrase))

        positive = must + ([_all_of(filters, score=0.0)] if filters else [])
        if not positive:
            return None
        if not excluded and len(positive) == 1:
            combined = positive[0]
        else:
            combined = Query.boolean_query(
                [(Occur.Must, clause) for clause in positive]
                + [(Occur.MustNot, clause) for clause in excluded]
            )
        if not scored:
            # Filters alone rank nothing: every match scores the same and the newest come first.
            combined = Query.const_score_query(combined, 1.0)
        return _BuiltQuery(combined, scored, tuple(bonus))

    def _content_words(self, words: Sequence[str]) -> list[str]:
        """The query's plain words without repeats, and without QUERY_STOP_WORDS when others are left."""
        unique = _unique(words)
        if not self.ranking.query_stop_words:
            return unique
        content = [word for word in unique if word.lower() not in QUERY_STOP_WORDS]
        return content or unique

    def _word_fields(self) -> Sequence[tuple[str, float]]:
        if self.ranking.aliases:
            return WORD_FIELDS
        return [(field, boost) for field, boost in WORD_FIELDS if field != "aliases"]

    def _word_clauses(
        self, word: str, searcher: tantivy.Searcher, typo_budget: list[int], corrected: dict[str, str]
    ) -> list[Query]:
        """Scoring clauses for one plain word across the weighted fields; [] when it is only stop words.

        A word that almost no paper has is also searched as its closest corrections (typo tolerance), while
        `typo_budget` (words left that may be corrected) lasts; `corrected` learns each token's best correction.
        """
        tokens = _unique(t.text for t in self._analyzers.tokens(self._analyzers.text, word))
        if not tokens:
            return []
        names = _unique(t.text for t in self._analyzers.tokens(self._analyzers.names, word))
        clauses = self._token_clauses(tokens, names, searcher, 1.0)
        if (
            self.ranking.typos
            and typo_budget[0] > 0
            and len(word) >= TYPO_MIN_LENGTH
            and self._is_rare(tokens, names, searcher)
        ):
            typo_budget[0] -= 1
            fixed_tokens, fixed_names = self._corrections(word, tokens, names, searcher)
            clauses += self._token_clauses(fixed_tokens, fixed_names, searcher, TYPO_WEIGHT)
            if fixed_tokens:
                corrected[tokens[0]] = fixed_tokens[0]
        return clauses

    def _token_clauses(
        self, tokens: Sequence[str], names: Sequence[str], searcher: tantivy.Searcher, weight: float
    ) -> list[Query]:
        """Clauses for analysed tokens in the word fields and name tokens in the authors, times `weight`."""
        clauses: list[Query] = []
        for token in tokens:
            for field, boost in self._word_fields():
                clause = self._term_clause(searcher, field, token, boost * weight)
                if clause is not None:
                    clauses.append(clause)
        for token in names:
            clause = self._term_clause(searcher, "authors", token, self.ranking.author_boost * weight)
            if clause is not None:
                clauses.append(clause)
        return clauses

    def _term_clause(self, searcher: tantivy.Searcher, field: str, token: str, boost: float) -> Query | None:
        """A term scored by BM25 times `boost`, or, in FLAT_FIELDS, `boost` times its idf; None if no paper has it."""
        term = Query.term_query(self._schema, field, token)
        if field not in FLAT_FIELDS or not self.ranking.flat_fields:
            return Query.boost_query(term, boost)
        count = searcher.doc_freq(field, token)
        if count == 0:
            return None
        return Query.const_score_query(term, boost * _idf(searcher.num_docs, count))

    def _is_rare(self, tokens: Sequence[str], names: Sequence[str], searcher: tantivy.Searcher) -> bool:
        """True when at most TYPO_MAX_DOC_FREQ papers have the word anywhere: perhaps it is misspelt."""
        seen = 0
        for token in tokens:
            for field, _ in self._word_fields():
                seen += searcher.doc_freq(field, token)
        for token in names:
            seen += searcher.doc_freq("authors", token)
        return seen <= TYPO_MAX_DOC_FREQ

    def _corrections(
        self, word: str, tokens: Sequence[str], names: Sequence[str], searcher: tantivy.Searcher
    ) -> tuple[list[str], list[str]]:
        """The closest title words to the word's tokens, and the closest author names to its name tokens."""
        distance = 2 if len(word) >= TYPO_TWO_EDITS_FROM else 1
        schema = self._schema
        fixed_tokens = [c for t in tokens for c in _closest_terms(searcher, schema, "title", t, distance)]
        fixed_names = [c for t in names for c in _closest_terms(searcher, schema, "authors", t, distance)]
        return _unique(fixed_tokens), _unique(fixed_names)

    def _bonus_tokens(self, words: Sequence[str], corrected: dict[str, str]) -> list[str]:
        """The first token of each word, as corrected when it was misspelt, in the query's order."""
        return [
            corrected.get(token.text, token.text)
            for word in words
            for token in self._analyzers.tokens(self._analyzers.text, word)[:1]
        ]

    def _title_clauses(self, query_tokens: Sequence[str]) -> list[Query]:
        """A clause matching titles that hold every one of the tokens, scored as a bonus; [] for one token."""
        tokens = _unique(query_tokens)
        if len(tokens) < 2:
            return []
        every = [(Occur.Must, Query.term_query(self._schema, "title", token)) for token in tokens]
        # Each word beyond the first makes a chance match less likely, so the bonus grows with them.
        return [Query.boost_query(Query.boolean_query(every), TITLE_ALL_WORDS_WEIGHT * (len(tokens) - 1))]

    def _proximity_clauses(self, tokens: Sequence[str]) -> list[Query]:
        """Phrase clauses with some slop for tokens close together in the query, scored as a bonus."""
        pairs = [
            pair
            for gap in range(1, PROXIMITY_SPAN + 1)
            for pair in [(a, b) for a, b in zip(tokens, tokens[gap:], strict=False) if a != b][
                :MAX_PROXIMITY_PAIRS
            ]
        ]
        clauses: list[Query] = []
        for first, second in pairs:
            for field, boost, slop in PROXIMITY_FIELDS:
                phrase = Query.phrase_query(self._schema, field, [first, second], slop=slop)
                clauses.append(Query.boost_query(phrase, boost))
        return clauses

    def _phrase_clauses(
        self, text: str, fields: Sequence[tuple[str, float]], analyzer: tantivy.TextAnalyzer
    ) -> list[Query]:
        """One clause per field matching the words of `text` in order; [] when nothing is left to match."""
        tokens = self._analyzers.tokens(analyzer, text)
        if not tokens:
            return []
        schema = self._schema
        clauses: list[Query] = []
        for field, boost in fields:
            if len(tokens) == 1:
                query = Query.term_query(schema, field, tokens[0].text)
            else:
                # Offsets keep the gaps of removed stop words: "state of the art" matches only that order.
                first = tokens[0].position
                words: list[str | tuple[int, str]] = [(t.position - first, t.text) for t in tokens]
                query = Query.phrase_query(schema, field, words)
            clauses.append(Query.boost_query(query, boost) if boost != 1.0 else query)
        return clauses

    def _excluded_clauses(self, text: str) -> list[Query]:
        """Clauses that match a paper having this word or phrase in any searchable field."""
        return self._phrase_clauses(
            text, [(name, 1.0) for name in TEXT_FIELDS], self._analyzers.text
        ) + self._phrase_clauses(text, (("authors", 1.0),), self._analyzers.names)

    async def similar(self, paper: Paper, limit: int) -> list[tuple[str, float]]:
        """Papers sharing the most telling words of `paper`'s title, keywords and abstract, itself left out."""
        if limit <= 0:
            return []
        return await asyncio.to_thread(self._similar_sync, paper, limit)

    def _similar_sync(self, paper: Paper, limit: int) -> list[tuple[str, float]]:
        fields: dict[str, list[str]] = {"title": [paper.title]}
        if paper.abstract:
            fields["abstract"] = [paper.abstract]
        if paper.ai_keywords:
            fields["keywords"] = [" ".join(paper.ai_keywords)]
        # A word only this paper has finds nothing else: for an indexed paper, ask for words another one has too.
        indexed = self._index.searcher().doc_freq("arxiv_id", paper.arxiv_id) > 0
        like = Query.more_like_this_document_fields_query(
            self._schema,
            fields,
            min_doc_frequency=2 if indexed else 1,
            min_term_frequency=1,
            max_query_terms=MORE_LIKE_THIS_TERMS,
        )
        query = Query.boolean_query(
            [(Occur.Must, like), (Occur.MustNot, Query.term_query(self._schema, "arxiv_id", paper.arxiv_id))]
        )
        return self._top(query, limit)

    def _search_sync(
        self,
        query: SearchQuery,
        limit: int,
        restrict_to: Collection[str] | None,
        require_all_words: bool,
    ) -> list[tuple[str, float]]:
        built = self.build_query(query, restrict_to=restrict_to, require_all_words=require_all_words)
        if built is None:
            return []
        if not built.scored:
            result = self._index.searcher().search(
                built.query, limit, count=False, order_by_field="arxiv_id", order=Order.Desc
            )
            return [(str(key), 1.0) for key, _ in result.hits]
        if built.bonus:
            return self._reranked(built, limit)
        return self._top(built.query, limit)

    def _reranked(self, built: _BuiltQuery, limit: int) -> list[tuple[str, float]]:
        """The best papers by words, then the proximity bonus added to the best RERANK_DEPTH of them.

        Two steps keep a query fast at a million papers: the words alone are a flat disjunction that tantivy
        scores with top-k pruning, while phrase clauses would have it score every matching paper; the bonus
        only reorders papers that the words already rank high.
        """
        searcher = self._index.searcher()
        first = self._top(built.query, max(limit, RERANK_DEPTH), searcher)
        if not first:
            return []
        candidates = Query.term_set_query(self._schema, "arxiv_id", [arxiv_id for arxiv_id, _ in first])
        bonus_query = Query.boolean_query(
            [(Occur.Must, Query.const_score_query(candidates, 0.0))]
            + [(Occur.Should, clause) for clause in built.bonus]
        )
        extra = {
            searcher.doc(address)["arxiv_id"][0]: float(score)
            for score, address in searcher.search(bonus_query, len(first), count=False).hits
            if score > 0
        }
        rescored = sorted(
            ((arxiv_id, score + extra.get(arxiv_id, 0.0)) for arxiv_id, score in first),
            key=lambda hit: (hit[1], hit[0]),
            reverse=True,
        )
        return rescored[:limit]

    def _top(
        self, query: Query, limit: int, searcher: tantivy.Searcher | None = None
    ) -> list[tuple[str, float]]:
        """The best `limit` hits of a scored query: score descending, then arxiv_id descending."""
        searcher = searcher or self._index.searcher()
        fetch = limit + _EXTRA_HITS
        while True:
            hits = searcher.search(query, fetch, count=False).hits
            # Equal scores straddling the cut-off are settled by id, so fetch until the tie is whole.
            if len(hits) < fetch or len(hits) <= limit or fetch >= _MAX_TIE_HITS:
                break
            if hits[limit - 1][0] != hits[-1][0]:
                break
            fetch = min(fetch * 4, _MAX_TIE_HITS)
        if len(hits) > limit:
            cut = hits[limit - 1][0]
            hits = [hit for hit in hits if hit[0] >= cut]
        scored = [(float(score), searcher.doc(address)["arxiv_id"][0]) for score, address in hits]
        scored.sort(reverse=True)
        return [(arxiv_id, score) for score, arxiv_id in scored[:limit]]


@dataclass(frozen=True, slots=True)
class _BuiltQuery:
    query: Query
    scored: bool
    # Proximity clauses, scored only for the best RERANK_DEPTH papers of `query` (see _reranked).
    bonus: tuple[Query, ...] = ()


def _looks_like_acronym(word: str) -> bool:
    """True for a word written with two capitals or more and nothing but letters and digits (MoE, 3DGS, LLMs)."""
    return word.isalnum() and sum(c.isupper() for c in word) >= 2 and len(word) <= 12


def _unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without repeats (case kept)."""
    return list(dict.fromkeys(item for item in items if item))


def _any_of(clauses: Sequence[Query]) -> Query:
    if len(clauses) == 1:
        return clauses[0]
    return Query.boolean_query([(Occur.Should, clause) for clause in clauses])


def _all_of(clauses: Sequence[Query], *, score: float) -> Query:
    combined = clauses[0] if len(clauses) == 1 else Query.boolean_query([(Occur.Must, c) for c in clauses])
    return Query.const_score_query(combined, score)


def _idf(num_docs: int, doc_freq: int) -> float:
    """BM25's inverse document frequency, as tantivy computes it."""
    return math.log(1.0 + (num_docs - doc_freq + 0.5) / (doc_freq + 0.5))


def _closest_terms(
    searcher: tantivy.Searcher, schema: tantivy.Schema, field: str, token: str, distance: int
) -> list[str]:
    """Up to TYPO_CORRECTIONS dictionary words of `field` at the least edit distance (at most `distance`) from
    `token`, the most frequent first; words with digits are never corrected.

    tantivy's fuzzy automaton finds the papers with a close word; only the words sharing the first two letters
    of those papers (at most TYPO_CANDIDATES) are then compared here, which keeps a correction to milliseconds.
    """
    if len(token) < TYPO_MIN_LENGTH or not token.isalpha():
        return []  # numbers and names with digits (gpt4, number1) are meant as written
    near = Query.fuzzy_term_query(schema, field, token, distance=distance, transposition_cost_one=True)
    best: list[tuple[int, int, str]] = []
    for term, count in searcher.terms_with_prefix(field, token[:2], filter_query=near, limit=TYPO_CANDIDATES):
        if term == token or abs(len(term) - len(token)) > distance:
            continue
        edits = _edit_distance(token, term, distance)
        if edits <= distance:
            best.append((edits, -count, term))
    best.sort()
    if not best:
        return []
    nearest = best[0][0]
    return [term for edits, _, term in best if edits == nearest][:TYPO_CORRECTIONS]


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Edits (insert, delete, replace, swap of neighbours) from a to b; anything above `limit` is limit + 1."""
    previous_previous: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous_previous[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous_previous, previous = previous, current
    return min(previous[-1], limit + 1)


async def open_index(path: Path, *, clock: Clock | None = None) -> TantivyIndex:
    """Open (or create) the index in `path`; a missing, corrupt or outdated index is rebuilt empty."""
    return await asyncio.to_thread(TantivyIndex, path, clock)
