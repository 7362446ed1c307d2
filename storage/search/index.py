"""The search index: tantivy beside the database, derived from it, queried without any query-string parser.

Its life cycle is here: opening (or rebuilding) the folder, catching up with the store, writing, searching and
closing. The schema and analyzers are in storage.search.schema, query building in storage.search.query, typo
correction in storage.search.spelling and the folder's state file in storage.search.folder.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import gc
import logging
import threading
import time
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import tantivy
from tantivy import Occur, Order, Query

from bot.bulk import young_garbage_only
from bot.domain import Paper, UpsertCounts
from bot.ports import PaperRepository
from bot.query import SearchQuery
from storage.search.folder import IndexState, wipe, writer_lock_busy
from storage.search.query import BuiltQuery, QueryBuilder, Ranking
from storage.search.schema import (
    DEFINITION_SEPARATOR,
    SCHEMA_VERSION,
    Analyzers,
    build_schema,
    paper_document,
    paper_fingerprint,
    unique,
)

log = logging.getLogger(__name__)

OPEN_LOCK_FILE = "paperboy-index.lock"
# State files written before catch-up marks existed hold a watermark that writes stamped just before it could
# still commit after; the first catch-up after the upgrade reads this much before it again, once.
CATCH_UP_MARGIN = timedelta(minutes=2)
# Papers a catch-up reads and stages at a time. Its worker threads hold the interpreter while they work and the
# event loop waits for it at every await of a request; small batches keep those waits short (no slower in all).
CATCH_UP_BATCH = 100
# A big catch-up commits (and records the mark reached) after this many papers written or this many seconds,
# so that searches see its progress and an interrupted one resumes from there.
CATCH_UP_COMMIT_EVERY = 50_000
CATCH_UP_COMMIT_SECONDS = 10.0
CATCH_UP_LOG_EVERY = 100_000
# While this process serves searches (one in the last CATCH_UP_BUSY_SECONDS), a catch-up rests after each batch
# as long as the batch took: it gets about half of the interpreter, and searches meet it half as often.
CATCH_UP_BUSY_SECONDS = 2.0
WRITER_HEAP_BYTES = 128_000_000
WRITER_THREADS = 2
# Hits fetched beyond `limit` at first, and the most ever fetched to settle ties at the cut-off.
_EXTRA_HITS = 10
_MAX_TIE_HITS = 10_000
# Words of a paper that "more like this" looks for: the ones that best tell it apart (tf-idf).
MORE_LIKE_THIS_TERMS = 25

# Spelling out a query's acronyms for the model: at most this many acronyms a query, each looked up in the
# definitions of this many of the papers that define it.
MAX_ACRONYMS = 3
ACRONYM_PAPERS = 20
# The proximity bonus reorders this many of the best papers by words (see TantivyIndex._reranked).
RERANK_DEPTH = 100


def _aware(moment: datetime) -> datetime:
    """A timestamp comparable with any other: stores that drop the zone keep UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class _CatchUpProgress:
    """What a catch-up has read and written, and the newest mark it may record.

    Papers come oldest stamp first, but a batch may end in the middle of one write's papers (they share its
    stamp): a stamp is complete once a later one has been read, or the read has ended.
    """

    def __init__(self, after: datetime | None) -> None:
        self.mark = after
        self.read = 0
        self.indexed = 0
        self.uncommitted = 0
        self._newest: datetime | None = None

    def staged(self, batch: Sequence[Paper], written: int) -> None:
        """Count a batch that was staged; move the mark past every stamp it completed."""
        for paper in batch:
            if paper.updated_at is None:
                continue
            stamp = _aware(paper.updated_at)
            if self._newest is not None and stamp > self._newest:
                self.mark = self._newest
            if self._newest is None or stamp > self._newest:
                self._newest = stamp
        before = self.read
        self.read += len(batch)
        self.indexed += written
        self.uncommitted += written
        if self.read // CATCH_UP_LOG_EVERY != before // CATCH_UP_LOG_EVERY:
            log.info("Search index catch-up: %d papers read, %d indexed so far.", self.read, self.indexed)

    def committed(self) -> datetime | None:
        """Note a commit; return the mark that is now safe to record."""
        self.uncommitted = 0
        return self.mark

    def finished(self) -> None:
        """The read has ended: the newest stamp read is complete too."""
        if self._newest is not None:
            self.mark = self._newest


class TantivyIndex:
    """The `bot.ports.SearchIndex` on tantivy: BM25 over weighted fields, filters, deterministic order."""

    def __init__(self, path: Path | None) -> None:
        # None means an index in memory (used when the folder cannot be rebuilt); it works, but is not kept.
        self.path = path
        self._schema = build_schema()
        self._analyzers = Analyzers()
        self._queries = QueryBuilder(self._schema, self._analyzers)
        self._state = IndexState(path)
        # A store stamp up to which every paper is staged or committed here, learnt from the store writes this
        # process indexed (stage_stored); the next commit records it as the mark. None: only the recorded mark.
        self._reached: datetime | None = None
        self._index: tantivy.Index = self._open()
        self._writer: tantivy.IndexWriter | None = None
        # Papers written since the last commit (fingerprint, or None when deleted): searchers cannot see them
        # yet, but the next write of the same paper must.
        self._uncommitted: dict[str, int | None] = {}
        # Writes by anything but catch-up (add_papers, stage_papers, stage_stored): a catch-up that rebuilds
        # an empty index skips looking papers up while this does not move.
        self._other_writes = 0
        self._write_lock = threading.Lock()
        self._closed = False
        # When this process last searched (monotonic seconds): a catch-up makes room while it serves.
        self._last_search = float("-inf")
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
            if writer_lock_busy(self.path):
                log.warning(
                    "The search index in %s is %s but another process is writing it; "
                    "using an index in memory until it can be rebuilt.",
                    self.path,
                    opened,
                )
                self.path = None
                self._state = IndexState(None)
                return self._open()
            if opened != "missing":
                log.warning("The search index in %s is %s; rebuilding it from the store.", self.path, opened)
                wipe(self.path)
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
    def ranking(self) -> Ranking:
        """The relevance features searches use (`paperboy bench relevance` swaps in others to compare)."""
        return self._queries.ranking

    @ranking.setter
    def ranking(self, ranking: Ranking) -> None:
        self._queries.ranking = ranking

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

    async def stage_stored(self, counts: UpsertCounts) -> bool:
        """Index the papers one store write stored, without committing; False when this process cannot write.

        When the index holds everything stamped up to the newest stamp before that write (its recorded mark,
        or writes staged before), it then holds everything stamped up to the write's own stamp, and the next
        commit records that stamp as the mark: a catch-up after a bulk load does not read again what it loaded.
        """
        return await asyncio.to_thread(self._stage_stored_sync, counts)

    def _stage_stored_sync(self, counts: UpsertCounts) -> bool:
        with self._write_lock:
            if not self._take_writer(warn=False):
                log.warning(
                    "The search index is read-only here (another process writes it); %d papers not "
                    "indexed by this process.",
                    len(counts.stored),
                )
                return False
            self._other_writes += 1
            self._stage_locked(counts.stored)
            if counts.stamp is not None:
                reached = max(
                    (mark for mark in (self._reached, self._state.mark()) if mark is not None), default=None
                )
                if counts.previous is None or (reached is not None and _aware(counts.previous) <= reached):
                    self._reached = _aware(counts.stamp)
            return True

    def _write_sync(self, papers: Sequence[Paper], commit: bool) -> bool:
        with self._write_lock:
            if not self._take_writer(warn=False):
                log.warning(
                    "The search index is read-only here (another process writes it); %d papers not "
                    "indexed by this process.",
                    len(papers),
                )
                return False
            self._other_writes += 1
            self._stage_locked(papers)
            if commit and self._uncommitted:
                self._commit_locked()
            return True

    def _stage_locked(self, papers: Sequence[Paper], *, committed_hold_none: bool = False) -> int:
        """Write the papers that differ from what the index holds; return how many were written.

        `committed_hold_none`: the caller knows no committed document is one of these papers, so they are not
        looked up (the lookup cost a rebuild about 20 µs a paper of its 130).
        """
        assert self._writer is not None
        writer, schema = self._writer, self._schema
        ids = list(dict.fromkeys(paper.arxiv_id for paper in papers))
        # What the index will hold after the next commit: the committed copies, overridden by staged ones.
        held = {} if committed_hold_none else self._committed_fingerprints(ids)
        for arxiv_id in ids:
            if arxiv_id in self._uncommitted:
                staged = self._uncommitted[arxiv_id]
                if staged is None:
                    held.pop(arxiv_id, None)
                else:
                    held[arxiv_id] = staged
        written = 0
        for paper in papers:
            fingerprint = paper_fingerprint(paper)
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
            writer.add_document(paper_document(paper, schema, fingerprint))
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
        if self._reached is not None:
            recorded = self._state.mark()
            if recorded is None or self._reached > recorded:
                self._state.write(self._reached)

    # ----- catching up with the store -----

    async def catch_up(self, store: PaperRepository) -> int:
        """Index what the store stamped after the recorded mark; return how many papers were (re)indexed.

        The store stamps writes in commit order (later than any committed stamp, see
        `PaperRepository.papers_changed_after`), so the newest stamp read in one snapshot is an exact mark:
        with nothing new, catch-up is one indexed query that returns no paper, however large the store.
        Papers are staged in small batches in a worker thread, with commits now and then that record the mark
        reached, so a big catch-up leaves the event loop free and an interrupted one resumes where it stopped;
        while the process serves searches it rests between batches (CATCH_UP_BUSY_SECONDS). Papers read are
        written only when they differ from the indexed copy; an empty index is rebuilt from the whole store.
        """
        if self.read_only and not await asyncio.to_thread(self._retake_writer):
            log.warning("The search index is read-only here (another process writes it); catch-up skipped.")
            return 0
        if self.path is not None and not (self.path / "meta.json").exists():
            # The folder was deleted under us: start over with a fresh index and a full rebuild.
            await asyncio.to_thread(self._reopen)
        recorded = self._state.mark()
        after = recorded
        if after is None and (watermark := self._state.legacy_watermark()) is not None:
            # Written before marks existed, when stamps could lag behind commits: read its margin once.
            after = watermark - CATCH_UP_MARGIN
        # Rebuilding an empty index, the papers read (each once) are new to it, unless something else writes.
        rebuild_from = await asyncio.to_thread(self._rebuild_point)
        if rebuild_from is not None:
            after = None
        progress = _CatchUpProgress(after)
        last_commit = time.monotonic()
        with young_garbage_only():
            async with contextlib.aclosing(store.papers_changed_after(after, CATCH_UP_BATCH)) as batches:
                began = time.monotonic()
                async for batch in batches:
                    written = await asyncio.to_thread(self._stage_page, batch, rebuild_from)
                    progress.staged(batch, written)
                    if progress.uncommitted >= CATCH_UP_COMMIT_EVERY or (
                        progress.uncommitted and time.monotonic() - last_commit >= CATCH_UP_COMMIT_SECONDS
                    ):
                        await self.commit()
                        recorded = await self._record(progress.committed(), recorded)
                        last_commit = time.monotonic()
                    gc.collect(1)
                    if time.monotonic() - self._last_search < CATCH_UP_BUSY_SECONDS:
                        await self._rest(time.monotonic() - began)
                    began = time.monotonic()
            progress.finished()
        if self._uncommitted:
            await self.commit()
        await self._record(progress.mark, recorded)
        if progress.indexed:
            log.info("Search index caught up with %d papers (%d read).", progress.indexed, progress.read)
        return progress.indexed

    async def _rest(self, seconds: float) -> None:
        """Leave the interpreter to the searches being served for a while."""
        await asyncio.sleep(seconds)

    async def _record(self, mark: datetime | None, recorded: datetime | None) -> datetime | None:
        """Write the mark to the state file when it moved; return the mark now recorded."""
        if mark is None or mark == recorded:
            return recorded
        await asyncio.to_thread(self._state.write, mark)
        return mark

    def _retake_writer(self) -> bool:
        with self._write_lock:
            return self._take_writer(warn=False)

    def _stage_page(self, papers: Sequence[Paper], rebuild_from: int | None) -> int:
        with self._write_lock:
            return self._stage_locked(papers, committed_hold_none=rebuild_from == self._other_writes)

    def _num_docs(self) -> int:
        return int(self._index.searcher().num_docs)

    def _rebuild_point(self) -> int | None:
        """When the index holds no document, the count of other writes so far (taken together, under the lock)."""
        with self._write_lock:
            return self._other_writes if self._num_docs() == 0 else None

    def _reopen(self) -> None:
        with self._write_lock:
            log.warning("The search index folder %s disappeared; rebuilding it from the store.", self.path)
            self._writer = None
            self._uncommitted.clear()
            self._reached = None
            self._state = IndexState(self.path)
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
        self._last_search = time.monotonic()
        if limit <= 0 or (restrict_to is not None and not restrict_to):
            return []
        return await asyncio.to_thread(self._search_sync, query, limit, restrict_to, require_all_words)

    async def acronym_meanings(self, words: Sequence[str]) -> dict[str, str]:
        """The long form the papers give most often for each acronym among `words`, in lower case (MoE: mixture
        of experts)."""
        acronyms = [word for word in unique(words) if _looks_like_acronym(word)][:MAX_ACRONYMS]
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
                    short, _, long = bytes(value).decode("utf-8", "replace").partition(DEFINITION_SEPARATOR)
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
        return self._queries.full_match_score(query, self._index.searcher())

    async def similar(self, paper: Paper, limit: int) -> list[tuple[str, float]]:
        """Papers sharing the most telling words of `paper`'s title, keywords and abstract, itself left out."""
        self._last_search = time.monotonic()
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
        built = self._queries.build(
            query, self._index.searcher(), restrict_to=restrict_to, require_all_words=require_all_words
        )
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

    def _reranked(self, built: BuiltQuery, limit: int) -> list[tuple[str, float]]:
        """The best papers by words, then the proximity bonus added to the best RERANK_DEPTH of them.

        Two steps keep a query fast at a million papers: the words alone are a flat disjunction that tantivy
        scores with top-k pruning, while phrase clauses would have it score every matching paper; the bonus
        only reorders papers that the words already rank high.
        """
        searcher = self._index.searcher()
        first = self._top(built.query, max(limit, RERANK_DEPTH), searcher)
        if not first:
            return []
        candidates = Query.const_score_query(
            Query.term_set_query(self._schema, "arxiv_id", [arxiv_id for arxiv_id, _ in first]), 0.0
        )
        # Each bonus clause intersected with the candidates on its own: tantivy then checks a phrase's positions
        # only at the candidates. Under one "candidates and any of the clauses", the clauses' union walked their
        # whole postings, reading positions of every paper that holds both words.
        bonus_query = Query.boolean_query(
            [
                (Occur.Should, Query.boolean_query([(Occur.Must, candidates), (Occur.Must, clause)]))
                for clause in built.bonus
            ]
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


def _looks_like_acronym(word: str) -> bool:
    """True for a word written with two capitals or more and nothing but letters and digits (MoE, 3DGS, LLMs)."""
    return word.isalnum() and sum(c.isupper() for c in word) >= 2 and len(word) <= 12


async def open_index(path: Path) -> TantivyIndex:
    """Open (or create) the index in `path`; a missing, corrupt or outdated index is rebuilt empty."""
    return await asyncio.to_thread(TantivyIndex, path)
