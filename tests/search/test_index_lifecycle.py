"""The index as derived data: catch-up from the store, rebuilds of missing or broken folders, one writer."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

import storage.search.index as search_index
from bot.domain import Paper
from storage.search.folder import STATE_FILE
from storage.search.index import open_index
from storage.sql import SqlStore
from tests.search.conftest import LIBRARY, FakePaperStore, ids_for, paper


async def _stored(papers: list[Paper]) -> FakePaperStore:
    store = FakePaperStore()
    await store.upsert_papers(papers)
    return store


async def test_catch_up_on_an_empty_index_indexes_the_whole_store(tmp_path: Path) -> None:
    store = await _stored(LIBRARY)
    index = await open_index(tmp_path / "index")
    try:
        assert await index.catch_up(store) == len(LIBRARY)
        assert await ids_for(index, "matryoshka") == ["2205.13147"]
        assert await ids_for(index, "cat:cs.LG") == ["2502.00002", "2205.13147", "2106.09685"]
    finally:
        await index.close()


async def test_catch_up_reads_the_store_batch_by_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "CATCH_UP_BATCH", 2)
    store = await _stored(LIBRARY)
    index = await open_index(tmp_path / "index")
    try:
        assert await index.catch_up(store) == len(LIBRARY)
        assert len(await ids_for(index, "since:2000-01-01", limit=50)) == len(LIBRARY)
    finally:
        await index.close()


async def test_catch_up_picks_up_only_what_changed(tmp_path: Path) -> None:
    store = await _stored(LIBRARY)
    store.tick(minutes=30)
    await store.upsert_papers([paper("2503.00001", "The Last One Stamped Before The Mark")])
    index = await open_index(tmp_path / "index")
    try:
        assert await index.catch_up(store) == len(LIBRARY) + 1
        store.tick(minutes=30)
        await store.upsert_papers(
            [
                paper("2205.13147", "Nested Dolls of Embeddings", categories=["cs.LG"]),
                paper("2503.00003", "A Brand New Paper on Dolls"),
            ]
        )
        returned = store.papers_returned
        assert await index.catch_up(store) == 2
        # Only the two papers written since: the one stamped at the mark is not read again.
        assert store.papers_returned - returned == 2
        assert set(await ids_for(index, "dolls")) == {"2503.00003", "2205.13147"}
        assert await ids_for(index, "matryoshka") == []
        store.tick(minutes=30)
        assert await index.catch_up(store) == 0
    finally:
        await index.close()


async def test_a_catch_up_with_nothing_new_reads_no_paper_even_seconds_after_a_write(tmp_path: Path) -> None:
    store = await _stored(LIBRARY)
    index = await open_index(tmp_path / "index")
    try:
        await index.catch_up(store)
        returned = store.papers_returned
        # No time passes: the last write is as recent as it gets.
        assert await index.catch_up(store) == 0
        assert await index.catch_up(store) == 0
        assert store.papers_returned == returned
        assert store.reads[-1] == store.papers["2205.13147"].updated_at
    finally:
        await index.close()


async def test_after_a_restart_catch_up_starts_from_the_recorded_mark(tmp_path: Path) -> None:
    store = await _stored(LIBRARY)
    store.tick(minutes=10)
    await store.upsert_papers([paper("2503.00003", "Late Arrival")])
    index = await open_index(tmp_path / "index")
    await index.catch_up(store)
    await index.close()

    reopened = await open_index(tmp_path / "index")
    try:
        returned = store.papers_returned
        assert await reopened.catch_up(store) == 0
        assert store.papers_returned == returned
        assert store.reads[-1] == store.papers["2503.00003"].updated_at
        assert await ids_for(reopened, "matryoshka") == ["2205.13147"]
    finally:
        await reopened.close()


async def test_a_state_file_from_before_marks_is_read_with_its_margin_once(tmp_path: Path) -> None:
    store = await _stored(LIBRARY)
    folder = tmp_path / "index"
    index = await open_index(folder)
    await index.catch_up(store)
    await index.close()
    # As the previous version wrote it: a watermark, papers stamped within two minutes before it read again.
    watermark = store.papers["2205.13147"].updated_at
    assert watermark is not None
    state = json.loads((folder / STATE_FILE).read_text())
    (folder / STATE_FILE).write_text(
        json.dumps({"schema_version": state["schema_version"], "watermark": watermark.isoformat()})
    )

    reopened = await open_index(folder)
    try:
        assert await reopened.catch_up(store) == 0
        assert store.reads[-1] == watermark - timedelta(minutes=2)
        assert await reopened.catch_up(store) == 0
        assert store.reads[-1] == watermark
    finally:
        await reopened.close()


async def test_a_catch_up_rests_between_batches_only_while_searches_are_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "CATCH_UP_BATCH", 2)
    store = await _stored(LIBRARY)
    index = await open_index(tmp_path / "index")
    rests: list[float] = []

    async def rest(seconds: float) -> None:
        rests.append(seconds)

    monkeypatch.setattr(index, "_rest", rest)
    try:
        # Nobody searches yet (a replica starting up): the catch-up runs at full speed.
        assert await index.catch_up(store) == len(LIBRARY)
        assert rests == []
        assert await ids_for(index, "matryoshka") == ["2205.13147"]
        store.tick()
        await store.upsert_papers([paper(f"2504.{n:05d}", f"Later paper {n}") for n in range(6)])
        # Searches are being served: a rest after each of the three batches, as long as the batch took.
        assert await index.catch_up(store) == 6
        assert len(rests) == 3
        assert all(seconds >= 0 for seconds in rests)
    finally:
        await index.close()


async def test_papers_indexed_directly_are_not_rewritten_when_catch_up_reads_them(tmp_path: Path) -> None:
    store = await _stored(LIBRARY)
    index = await open_index(tmp_path / "index")
    try:
        # As after `ingest snapshot`: the store and the index were written side by side.
        await index.add_papers(LIBRARY)
        assert await index.catch_up(store) == 0
        changed = paper("2205.13147", "Matryoshka Dolls Everywhere", categories=["cs.LG"])
        store.tick()
        await store.upsert_papers([changed])
        assert await index.catch_up(store) == 1
        assert await ids_for(index, "dolls") == ["2205.13147"]
    finally:
        await index.close()


async def test_a_paper_withdrawn_in_the_store_leaves_the_index_on_catch_up(tmp_path: Path) -> None:
    store = await _stored(LIBRARY)
    index = await open_index(tmp_path / "index")
    try:
        await index.catch_up(store)
        store.tick()
        await store.upsert_papers([paper("2308.04079", "3D Gaussian Splatting", withdrawn=True)])
        assert await index.catch_up(store) == 1
        assert await ids_for(index, "gaussian") == ["2501.00001"]
    finally:
        await index.close()


async def test_a_deleted_index_folder_is_rebuilt_from_the_store(tmp_path: Path) -> None:
    store = await _stored(LIBRARY)
    folder = tmp_path / "index"
    index = await open_index(folder)
    await index.catch_up(store)
    await index.close()
    shutil.rmtree(folder)

    reopened = await open_index(folder)
    try:
        assert await ids_for(reopened, "matryoshka") == []
        assert await reopened.catch_up(store) == len(LIBRARY)
        assert await ids_for(reopened, "matryoshka") == ["2205.13147"]
    finally:
        await reopened.close()


async def test_an_index_folder_deleted_while_open_is_rebuilt_by_catch_up(tmp_path: Path) -> None:
    store = await _stored(LIBRARY)
    folder = tmp_path / "index"
    index = await open_index(folder)
    try:
        await index.catch_up(store)
        shutil.rmtree(folder)
        assert await index.catch_up(store) == len(LIBRARY)
        assert await ids_for(index, "matryoshka") == ["2205.13147"]
        assert (folder / "meta.json").exists()
        await index.add_papers([paper("2503.00003", "Written After The Rebuild")])
        assert await ids_for(index, "rebuild") == ["2503.00003"]
    finally:
        await index.close()


async def test_a_corrupt_index_is_rebuilt_empty_and_refilled(tmp_path: Path) -> None:
    store = await _stored(LIBRARY)
    folder = tmp_path / "index"
    index = await open_index(folder)
    await index.catch_up(store)
    await index.close()
    (folder / "meta.json").write_text("{ not json")

    reopened = await open_index(folder)
    try:
        assert await ids_for(reopened, "matryoshka") == []
        assert await reopened.catch_up(store) == len(LIBRARY)
        assert await ids_for(reopened, "matryoshka") == ["2205.13147"]
    finally:
        await reopened.close()


async def test_an_index_of_another_schema_version_is_rebuilt(tmp_path: Path) -> None:
    store = await _stored(LIBRARY)
    folder = tmp_path / "index"
    index = await open_index(folder)
    await index.catch_up(store)
    await index.close()
    state = json.loads((folder / STATE_FILE).read_text())
    (folder / STATE_FILE).write_text(json.dumps({**state, "schema_version": -1}))

    reopened = await open_index(folder)
    try:
        # The old mark went with the old index: catch-up reads everything again.
        assert await reopened.catch_up(store) == len(LIBRARY)
    finally:
        await reopened.close()


async def test_a_rebuild_deletes_only_the_index_files(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    index = await open_index(folder)
    await index.close()
    (folder / "notes.txt").write_text("mine")
    (folder / "meta.json").write_text("garbage")
    reopened = await open_index(folder)
    await reopened.close()
    assert (folder / "notes.txt").read_text() == "mine"


async def test_a_second_process_on_the_folder_searches_read_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "index"
    writer = await open_index(folder)
    await writer.add_papers(LIBRARY)
    caplog.set_level(logging.WARNING)
    reader = await open_index(folder)
    try:
        assert reader.read_only
        assert await ids_for(reader, "matryoshka") == ["2205.13147"]
        await reader.add_papers([paper("2503.00003", "Never Written")])
        assert await reader.catch_up(await _stored(LIBRARY)) == 0
        assert "read-only" in caplog.text
        assert await ids_for(writer, "written") == []
    finally:
        await writer.close()
    try:
        # Once the writer is gone the next write takes its place.
        await reader.add_papers([paper("2503.00003", "Written At Last")])
        assert not reader.read_only
        assert await ids_for(reader, "written") == ["2503.00003"]
    finally:
        await reader.close()


async def test_catch_up_follows_a_real_store(store: SqlStore, tmp_path: Path) -> None:
    await store.upsert_papers(LIBRARY)
    index = await open_index(tmp_path / "index")
    try:
        assert await index.catch_up(store) == len(LIBRARY)
        await store.upsert_papers([paper("2205.13147", "Nested Dolls of Embeddings", categories=["cs.LG"])])
        assert await index.catch_up(store) == 1
        assert await ids_for(index, "dolls") == ["2205.13147"]
    finally:
        await index.close()


async def test_two_processes_opening_a_new_folder_at_once_share_it(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    first, second = await asyncio.gather(open_index(folder), open_index(folder))
    try:
        assert sorted([first.read_only, second.read_only]) == [False, True]
        writer = second if first.read_only else first
        await writer.add_papers(LIBRARY)
        assert await ids_for(writer, "matryoshka") == ["2205.13147"]
    finally:
        await first.close()
        await second.close()
