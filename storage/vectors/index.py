"""The semantic index: sentence-transformers embeddings of papers, searched by brute force over a numpy matrix.

At 100,000 papers of 384 dimensions the matrix is 150 MB of float32 and one query is a matrix-vector product
of a few milliseconds, so no approximate index is needed. Vectors live in the database (float16, see
`storage.sql.embeddings`) and in memory here; each process loads them on first use and catches up with what other
processes stored every minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import queue
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

import numpy as np

from bot.domain import Paper
from storage.vectors.model import ModelChoice
from storage.vectors.store import EmbeddingStore

log = logging.getLogger(__name__)
T = TypeVar("T")

# Texts per forward pass of the model: larger batches are barely faster on a CPU and hold the lock longer.
EMBED_BATCH = 32
# Papers read from the store per page while embedding or loading.
PAGE = 2000
# Tokens of a paper's text the model reads: the title and the first hundred words or so of the abstract. Twice as
# fast as 256 on a CPU, and as good on the relevance benchmark.
MAX_TOKENS = 128
# Other processes' vectors are picked up this often, re-reading this far back (a late commit is not missed).
SYNC_SECONDS = 60.0
SYNC_MARGIN = timedelta(minutes=2)
QUERY_CACHE_SIZE = 512
# Below this many papers search by meaning ranks by plain cosine: the mean of one or two papers is the papers.
MIN_CENTERED = 3


class Embedder(Protocol):
    """Turns texts into unit vectors."""

    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One float32 unit vector a text, as rows of a matrix."""
        ...


class _ModelThread:
    """One long-lived daemon thread that runs every call into the model, in order.

    A daemon thread, unlike asyncio.to_thread's pool, never holds up the exit of a process told to stop (the
    model may take seconds to load; a replica must exit within its grace period). One thread for all calls,
    because torch sets up its thread pool per calling thread: a fresh thread a query costs tens of milliseconds.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._started = False
        self._lock = threading.Lock()

    def _run(self) -> None:
        while True:
            self._jobs.get()()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if not self._started:
                threading.Thread(target=self._run, name="paperboy-model", daemon=True).start()
                self._started = True
        self._jobs.put(job)


_MODEL_THREAD = _ModelThread()


async def in_daemon_thread(function: Callable[..., T], *args: Any) -> T:
    """Run a slow call (loading the model, a forward pass) on the model's daemon thread and await its result."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            result, error = function(*args), None
        except BaseException as failure:
            result, error = None, failure
        with contextlib.suppress(RuntimeError):  # the loop closed while this ran
            loop.call_soon_threadsafe(settle, result, error)

    _MODEL_THREAD.submit(run)
    return await future


def paper_text(title: str, abstract: str) -> str:
    """What is embedded of a paper: its title, then its abstract (the model reads the first MAX_TOKENS)."""
    return f"{' '.join(title.split())}. {' '.join(abstract.split())}".strip()


def text_hash(text: str) -> str:
    """A digest of embedded text: a paper whose digest changed is embedded again."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def to_bytes(vector: np.ndarray) -> bytes:
    """A vector as stored: little-endian float16."""
    # Named, so that mypy reads bytes whether numpy's types are installed (the extra) or not.
    stored: bytes = np.asarray(vector, dtype="<f2").tobytes()
    return stored


def from_bytes(data: bytes) -> np.ndarray:
    """A stored vector as float32."""
    return np.frombuffer(data, dtype="<f2").astype(np.float32)


def _from_rows(blobs: Sequence[bytes]) -> np.ndarray:
    """Stored vectors as the rows of one float32 matrix."""
    if len({len(blob) for blob in blobs}) == 1:
        # One conversion for the page rather than one a row: a third of a second at 4,000 papers on a busy CPU.
        return np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), -1).astype(np.float32)
    return np.stack([from_bytes(blob) for blob in blobs])


class SentenceEmbedder:
    """A sentence-transformers model on the CPU, loaded on first use; one forward pass at a time."""

    runtime = "sentence-transformers"

    def __init__(self, choice: ModelChoice, *, device: str = "cpu", max_tokens: int = MAX_TOKENS) -> None:
        self.name = choice.key
        self._choice = choice
        self._device = device
        self._max_tokens = max_tokens
        self._model: Any = None
        self._loading = threading.Lock()
        self._running = threading.Lock()

    def _load(self) -> Any:
        with self._loading:
            if self._model is None:
                if self._choice.local:
                    # A folder on disk needs nothing from the Hub; never let a library try to reach it.
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                began = time.perf_counter()
                from sentence_transformers import SentenceTransformer

                _quiet_transformers()
                model = SentenceTransformer(self._choice.source, device=self._device)
                model.max_seq_length = min(int(model.max_seq_length or self._max_tokens), self._max_tokens)
                self._model = model
                log.info(
                    "Semantic model %s loaded in %.1f s.", self._choice.source, time.perf_counter() - began
                )
            return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of the texts (float32 rows)."""
        model = self._load()
        with self._running:
            vectors = model.encode(
                list(texts),
                batch_size=EMBED_BATCH,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def _quiet_transformers() -> None:
    """Keep the model's loading bars and chatter out of the console."""
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        return
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


class VectorMatrix:
    """Unit vectors by paper id in one growing float32 matrix; top-k by cosine, plain or centered.

    Centered cosine (`top(..., centered=True)`) compares the query and each paper after subtracting the mean of
    all papers' vectors: the part every paper shares says nothing about which one a query means. Without it,
    papers close to the middle of the collection ("hubs": surveys, or texts that mention a bit of everything)
    come close to every query and crowd out the paper that is close to this one. Centering is the usual cure
    for hubs (Suzuki et al., "Centering similarity measures to reduce hubs", EMNLP 2013); on
    `paperboy bench relevance` it raised search by meaning alone from 0.54 to 0.63 MRR@10.
    """

    def __init__(self) -> None:
        self._matrix: np.ndarray | None = None
        self._ids: list[str] = []
        self._rows: dict[str, int] = {}
        self._hashes: dict[str, str] = {}
        # The sum of the vectors held, in float64 so that a long run of replacements does not drift.
        self._sum: np.ndarray | None = None
        # 1 / |row - mean| for every row, worked out once per state of the vectors (see _centered_cosines).
        self._version = 0
        self._inverse_norms: tuple[int, np.ndarray] | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def hash_of(self, arxiv_id: str) -> str | None:
        """The text digest of a paper's vector here, or None."""
        return self._hashes.get(arxiv_id)

    def mean(self) -> np.ndarray | None:
        """The mean of the vectors held, or None when there are none."""
        with self._lock:
            if self._sum is None or not self._ids:
                return None
            return (self._sum / len(self._ids)).astype(np.float32)

    def vector(self, arxiv_id: str) -> np.ndarray | None:
        """A copy of a paper's vector, or None."""
        with self._lock:
            row = self._rows.get(arxiv_id)
            return None if row is None or self._matrix is None else self._matrix[row].copy()

    def upsert(self, ids: Sequence[str], hashes: Sequence[str], vectors: np.ndarray) -> int:
        """Add or replace vectors, scaled to unit length; return how many.

        Rows of another dimension than the matrix's, and rows that are zero or not finite (a corrupt stored
        vector), are skipped: one of the latter in the running sum would spoil every centered score.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if not len(ids):
            return 0
        if vectors.ndim == 2 and len(vectors):
            norms = np.linalg.norm(vectors, axis=1)
            usable = np.isfinite(vectors).all(axis=1) & np.isfinite(norms) & (norms > 0)
            if not usable.all():
                log.warning("Skipped %d paper vectors that are zero or not finite.", int((~usable).sum()))
                ids = [i for i, keep in zip(ids, usable, strict=True) if keep]
                hashes = [h for h, keep in zip(hashes, usable, strict=True) if keep]
                vectors, norms = vectors[usable], norms[usable]
                if not len(ids):
                    return 0
            # Stored as float16, a unit vector comes back only about as long as 1; the centered cosine relies on 1.
            vectors = vectors / norms[:, None]
        with self._lock:
            if self._matrix is None:
                self._matrix = np.zeros((max(1024, len(ids)), vectors.shape[1]), dtype=np.float32)
                self._sum = np.zeros(vectors.shape[1], dtype=np.float64)
            if vectors.shape[1] != self._matrix.shape[1]:
                log.warning(
                    "Skipped %d vectors of %d dimensions; the others have %d.",
                    len(ids),
                    vectors.shape[1],
                    self._matrix.shape[1],
                )
                return 0
            for arxiv_id, digest, vector in zip(ids, hashes, vectors, strict=True):
                row = self._rows.get(arxiv_id)
                if row is None:
                    row = len(self._ids)
                    if row >= self._matrix.shape[0]:
                        grown = np.zeros((self._matrix.shape[0] * 2, self._matrix.shape[1]), dtype=np.float32)
                        grown[:row] = self._matrix[:row]
                        self._matrix = grown
                    self._ids.append(arxiv_id)
                    self._rows[arxiv_id] = row
                else:
                    self._sum -= self._matrix[row]
                self._matrix[row] = vector
                self._sum += self._matrix[row]
                self._hashes[arxiv_id] = digest
            self._version += 1
        return len(ids)

    def _all_inverse_norms(self, matrix: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """The centered lengths' inverses of all rows, kept until the vectors change (the lock is held)."""
        if self._inverse_norms is None or self._inverse_norms[0] != self._version:
            self._inverse_norms = (self._version, _inverse_centered_norms(matrix, mean))
        return self._inverse_norms[1]

    def remove(self, ids: Collection[str]) -> None:
        """Forget papers (the last row moves into each hole)."""
        with self._lock:
            for arxiv_id in ids:
                row = self._rows.pop(arxiv_id, None)
                self._hashes.pop(arxiv_id, None)
                if row is None or self._matrix is None or self._sum is None:
                    continue
                self._sum -= self._matrix[row]
                self._version += 1
                last = len(self._ids) - 1
                if row != last:
                    moved = self._ids[last]
                    self._matrix[row] = self._matrix[last]
                    self._ids[row] = moved
                    self._rows[moved] = row
                self._ids.pop()

    def top(
        self,
        query: np.ndarray,
        limit: int,
        *,
        restrict_to: Collection[str] | None = None,
        exclude: str | None = None,
        centered: bool = False,
    ) -> list[tuple[str, float]]:
        """The `limit` nearest papers as (arxiv_id, cosine), best first; equal scores by newest id first.

        With `centered`, the cosine is taken after subtracting the mean vector from the query and the papers
        (plain below MIN_CENTERED papers, where the mean is nearly the papers themselves).
        """
        with self._lock:
            if self._matrix is None or self._sum is None or not self._ids or limit <= 0:
                return []
            if restrict_to is None:
                rows = None
                matrix = self._matrix[: len(self._ids)]
            else:
                rows = np.fromiter(
                    (row for i in set(restrict_to) if (row := self._rows.get(i)) is not None), dtype=np.int64
                )
                if not len(rows):
                    return []
                matrix = self._matrix[rows]
            if centered and len(self._ids) >= MIN_CENTERED:
                mean = (self._sum / len(self._ids)).astype(np.float32)
                inverse_norms = None if rows is not None else self._all_inverse_norms(matrix, mean)
                similarities = _centered_cosines(matrix, query, mean, inverse_norms)
            else:
                similarities = _dot(matrix, query)
            wanted = min(limit + 1, len(similarities))
            best = np.argpartition(-similarities, wanted - 1)[:wanted] if wanted < len(similarities) else None
            picked = np.arange(len(similarities)) if best is None else best
            found = [
                (self._ids[int(rows[p]) if rows is not None else int(p)], float(similarities[p]))
                for p in picked
            ]
        found = [(arxiv_id, score) for arxiv_id, score in found if arxiv_id != exclude]
        found.sort(key=lambda hit: (-hit[1], _descending(hit[0])))
        return found[:limit]


def _observed(future: asyncio.Future[Any]) -> None:
    """Read a future's outcome, so that an error nobody awaits is not reported as never retrieved."""
    if not future.cancelled():
        future.exception()


def _dot(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """matrix @ vector (or a matrix of column vectors), on the model's thread: by torch when the model runs on it.

    numpy's BLAS keeps a thread pool of its own, which on a small machine fights torch's for the cores: a
    search that embeds the query with one and scans the vectors with the other took three times as long. With
    the model on ONNX Runtime torch is never imported (that is the point: it takes seconds), and numpy does it.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        product: np.ndarray = matrix @ np.ascontiguousarray(vector)
        return product
    return cast(
        np.ndarray, (torch.from_numpy(matrix) @ torch.from_numpy(np.ascontiguousarray(vector))).numpy()
    )


def _inverse_centered_norms(matrix: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """1 / |x - mean| for every unit row x: |x - m|² = 1 - 2 x·m + |m|²."""
    squared = np.maximum(1.0 - 2.0 * _dot(matrix, mean) + float(mean @ mean), 1e-12)
    return np.asarray(1.0 / np.sqrt(squared), dtype=np.float32)


def _centered_cosines(
    matrix: np.ndarray, query: np.ndarray, mean: np.ndarray, inverse_norms: np.ndarray | None = None
) -> np.ndarray:
    """cos(row - mean, query - mean) for every row, without a centered copy of the matrix.

    (x - m)·(q - m) = x·(q - m) - m·(q - m), one matrix-vector product; the rows' centered lengths depend on the
    mean only, so a caller scanning every row passes them in, worked out once (`inverse_norms`).
    """
    shifted = query - mean
    if inverse_norms is None:
        inverse_norms = _inverse_centered_norms(matrix, mean)
    numerators = _dot(matrix, shifted) - float(mean @ shifted)
    cosines = numerators * inverse_norms / max(float(np.linalg.norm(shifted)), 1e-12)
    # Rounding can carry a cosine a hair outside [-1, 1] when a paper is (nearly) the mean itself.
    clipped: np.ndarray = np.clip(cosines, -1.0, 1.0)
    return clipped


def _descending(arxiv_id: str) -> tuple[int, ...]:
    """A sort key that puts larger ids first."""
    return tuple(-ord(char) for char in arxiv_id)


@dataclass(frozen=True, slots=True)
class EmbedProgress:
    """How far `embed_store` got: papers read, papers embedded now, papers that need no new vector."""

    total: int
    read: int
    embedded: int
    current: int


class SemanticSearch:
    """`bot.ports.SemanticIndex` on a sentence-transformers model and a numpy matrix of paper vectors."""

    def __init__(
        self,
        store: EmbeddingStore,
        embedder: Embedder,
        *,
        topic_similarity: float,
        sync_seconds: float = SYNC_SECONDS,
    ) -> None:
        self.topic_similarity = topic_similarity
        self.store = store
        self.embedder = embedder
        self.model = embedder.name
        self._matrix = VectorMatrix()
        self._loaded = False
        self._watermark: datetime | None = None
        self._synced_at = 0.0
        self._sync_seconds = sync_seconds
        self._sync_lock = asyncio.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()

    # ----- vectors from the store -----

    async def catch_up(self) -> int:
        """Load the vectors stored since the last look (all of them the first time); return how many."""
        async with self._sync_lock:
            return await self._catch_up_locked()

    async def _catch_up_locked(self) -> int:
        since = None if not self._loaded or self._watermark is None else self._watermark - SYNC_MARGIN
        started = time.perf_counter()
        loaded = 0
        after = ""
        newest = self._watermark
        while True:
            page = await self.store.embeddings_since(self.model, since, after, PAGE)
            if not page:
                break
            fresh = [row for row in page if self._matrix.hash_of(row.arxiv_id) != row.text_hash]
            if fresh:
                vectors = _from_rows([row.vector for row in fresh])
                loaded += await asyncio.to_thread(
                    self._matrix.upsert, [r.arxiv_id for r in fresh], [r.text_hash for r in fresh], vectors
                )
            for row in page:
                if newest is None or row.updated_at > newest:
                    newest = row.updated_at
            after = page[-1].arxiv_id
            if len(page) < PAGE:
                break
        if not self._loaded:
            log.info(
                "Semantic index: %d paper vectors of %s loaded in %.1f s.",
                len(self._matrix),
                self.model,
                time.perf_counter() - started,
            )
        self._loaded = True
        self._watermark = newest
        self._synced_at = time.monotonic()
        return loaded

    async def _ready(self) -> None:
        """Load the vectors on first use, and pick up other processes' vectors every `sync_seconds`."""
        if self._loaded and time.monotonic() - self._synced_at < self._sync_seconds:
            return
        async with self._sync_lock:
            if not self._loaded or time.monotonic() - self._synced_at >= self._sync_seconds:
                await self._catch_up_locked()

    # ----- searching -----

    async def embed_query(self, text: str) -> np.ndarray:
        """The unit vector of a query, remembered for repeats (topics are asked every day)."""
        key = " ".join(text.split()).lower()
        cached = self._queries.get(key)
        if cached is not None:
            self._queries.move_to_end(key)
            return cached
        [vector] = await in_daemon_thread(self.embedder.encode, [key])
        vector = cast(np.ndarray, vector)
        self._queries[key] = vector
        if len(self._queries) > QUERY_CACHE_SIZE:
            self._queries.popitem(last=False)
        return vector

    def forget_queries(self) -> None:
        """Drop the remembered query vectors (benchmarks time the embedding of each query)."""
        self._queries.clear()

    async def search(
        self, text: str, limit: int, *, restrict_to: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """The papers closest in meaning to `text` as (arxiv_id, centered cosine), best first (see VectorMatrix)."""
        return await self._nearest(text, limit, restrict_to, centered=True)

    async def cosines(self, text: str, arxiv_ids: Collection[str]) -> dict[str, float]:
        """The plain cosine between `text` and each of the papers that has a vector."""
        if not arxiv_ids:
            return {}
        return dict(await self._nearest(text, len(arxiv_ids), arxiv_ids, centered=False))

    async def _nearest(
        self, text: str, limit: int, restrict_to: Collection[str] | None, *, centered: bool
    ) -> list[tuple[str, float]]:
        if limit <= 0 or not text.strip() or (restrict_to is not None and not restrict_to):
            return []
        early = await self._embed_while_loading(text)
        try:
            await self._ready()
            if not len(self._matrix):
                return []  # nothing embedded yet: no need to load the model for the query
            query = await early if early is not None else await self.embed_query(text)
        finally:
            if early is not None:
                # Whatever ended this search (the vectors failed, none was usable), the early vector's outcome
                # is read, so that its error, if any, is not reported as never retrieved.
                early.add_done_callback(_observed)
        return await in_daemon_thread(
            functools.partial(self._matrix.top, query, limit, restrict_to=restrict_to, centered=centered)
        )

    async def _embed_while_loading(self, text: str) -> asyncio.Future[np.ndarray] | None:
        """The query's vector on its way, when this is the first search of a process and vectors are stored.

        The model then loads in its thread while the vectors load (both mostly outside the interpreter): a
        command-line search by meaning at 20,000 papers waited 0.36 s for the vectors, then 0.2 s for the model.
        """
        if self._loaded or not await self.store.embeddings_since(self.model, None, "", 1):
            return None
        return asyncio.ensure_future(self.embed_query(text))

    async def similar(self, paper: Paper, limit: int) -> list[tuple[str, float]]:
        """The papers closest in meaning to `paper`, itself left out."""
        await self._ready()
        if not len(self._matrix):
            return []
        vector = self._matrix.vector(paper.arxiv_id)
        if vector is None:
            [vector] = await in_daemon_thread(self.embedder.encode, [paper_text(paper.title, paper.abstract)])
        return await in_daemon_thread(
            functools.partial(self._matrix.top, vector, limit, exclude=paper.arxiv_id)
        )

    # ----- embedding -----

    async def add_papers(self, papers: Sequence[Paper]) -> int:
        """Embed the papers whose text is new or changed, store the vectors and search them; return how many."""
        latest = {paper.arxiv_id: paper for paper in papers}
        withdrawn = [i for i, p in latest.items() if p.withdrawn]
        if withdrawn:
            self._matrix.remove(withdrawn)
        texts = {i: paper_text(p.title, p.abstract) for i, p in latest.items() if not p.withdrawn}
        if not texts:
            return 0
        stored = await self.store.embedding_hashes(self.model, list(texts))
        todo = [(i, text) for i, text in texts.items() if stored.get(i) != text_hash(text)]
        for start in range(0, len(todo), EMBED_BATCH * 4):
            await self._embed_and_save(todo[start : start + EMBED_BATCH * 4])
        # Vectors another process stored for the rest are picked up by the next sync.
        return len(todo)

    async def _embed_and_save(self, batch: Sequence[tuple[str, str]]) -> None:
        ids = [arxiv_id for arxiv_id, _ in batch]
        digests = [text_hash(text) for _, text in batch]
        vectors = await in_daemon_thread(self.embedder.encode, [text for _, text in batch])
        rows = [(i, d, to_bytes(v)) for i, d, v in zip(ids, digests, vectors, strict=True)]
        await self.store.save_embeddings(self.model, int(vectors.shape[1]), rows)
        if self._loaded:
            await asyncio.to_thread(self._matrix.upsert, ids, digests, vectors)

    async def embed_store(self, on_progress: Callable[[EmbedProgress], None] | None = None) -> EmbedProgress:
        """Embed every stored paper that has no vector for its current text, saving each batch (resumable)."""
        total = await self.store.count_papers()
        read = embedded = current = 0
        after = ""
        pending: list[tuple[str, str]] = []

        def report() -> None:
            if on_progress is not None:
                on_progress(EmbedProgress(total, read, embedded, current))

        while True:
            page = await self.store.embedding_sources(self.model, after, PAGE)
            if not page:
                break
            after = page[-1].arxiv_id
            for source in page:
                read += 1
                if source.withdrawn:
                    continue
                text = paper_text(source.title, source.abstract)
                if source.stored_hash == text_hash(text):
                    current += 1
                    continue
                pending.append((source.arxiv_id, text))
                if len(pending) >= EMBED_BATCH * 4:
                    await self._embed_and_save(pending)
                    embedded += len(pending)
                    pending = []
                    report()
            report()
            if len(page) < PAGE:
                break
        if pending:
            await self._embed_and_save(pending)
            embedded += len(pending)
        report()
        return EmbedProgress(total, read, embedded, current)

    async def close(self) -> None:
        """Forget the vectors; the model is released with this object."""
        self._matrix = VectorMatrix()
        self._loaded = False
