"""Ingest of the arXiv metadata snapshot: mapping, broken lines, batches, and running it twice."""

from __future__ import annotations

import gzip
import json
import logging
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from adapters.sources.snapshot import SnapshotLineInvalid, SnapshotReadFailed, ingest_snapshot, parse_line
from storage.search.index import open_index
from storage.sql import SqlStore
from tests.search.conftest import FakePaperStore, ids_for


def _record(arxiv_id: str, title: str, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": arxiv_id,
        "submitter": "Someone",
        "authors": "A. Person and B. Person",
        "title": title,
        "comments": "12 pages",
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": "cs.CL cs.LG",
        "license": None,
        "abstract": "  An abstract\n  over two lines.\n",
        "versions": [
            {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
            {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
        ],
        "update_date": "2008-11-13",
        "authors_parsed": [["Person", "A.", ""], ["Person", "B.", "Jr"]],
    }
    record.update(fields)
    return record


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


SNAPSHOT_LINES = [
    json.dumps(_record("0704.0001", "Calculation of prompt diphoton\n  production cross sections")),
    json.dumps(_record("0704.0002", "Sparsity-certifying Graph Decompositions", categories="math.CO cs.CG")),
    "{ this line is broken",
    "",
    json.dumps({"id": "0704.0003", "abstract": "no title here"}),
    json.dumps(["not", "an", "object"]),
    json.dumps(_record("hep-th/9901001", "Old Style Identifiers Still Work", versions=[])),
    json.dumps(_record("0704.0004v3", "A Versioned Identifier")),
]


async def test_snapshot_lines_map_to_papers() -> None:
    paper = parse_line(SNAPSHOT_LINES[0])
    assert paper is not None
    assert paper.arxiv_id == "0704.0001"
    assert paper.title == "Calculation of prompt diphoton production cross sections"
    assert paper.abstract == "An abstract over two lines."
    assert paper.authors == ["A. Person", "B. Person Jr"]
    assert paper.published == date(2007, 4, 2)
    assert paper.categories == ["cs.CL", "cs.LG"]
    assert paper.comment == "12 pages"
    assert paper.journal_ref is None


async def test_published_falls_back_on_the_update_date_and_ids_lose_their_version() -> None:
    old = parse_line(SNAPSHOT_LINES[6])
    versioned = parse_line(SNAPSHOT_LINES[7])
    assert old is not None and versioned is not None
    assert old.published == date(2008, 11, 13)
    assert versioned.arxiv_id == "0704.0004"


async def test_authors_fall_back_on_the_free_text_list() -> None:
    record = _record("0704.0005", "T", authors_parsed=None, authors="Ann Lee, Bo Chen and Cy Wu")
    paper = parse_line(json.dumps(record))
    assert paper is not None
    assert paper.authors == ["Ann Lee", "Bo Chen", "Cy Wu"]


async def test_ingest_skips_and_counts_broken_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    snapshot = _write(tmp_path / "arxiv.json", SNAPSHOT_LINES)
    store = FakePaperStore()
    index = await open_index(tmp_path / "index")
    try:
        counts = await ingest_snapshot(snapshot, store, index, batch_size=2, progress=False)
        assert counts.skipped == 3
        assert counts.new == 4
        assert sorted(store.papers) == ["0704.0001", "0704.0002", "0704.0004", "hep-th/9901001"]
        assert await ids_for(index, "diphoton") == ["0704.0001"]
        assert await ids_for(index, "cat:math.CO") == ["0704.0002"]
        assert await ids_for(index, "author:person", limit=10) == [
            "hep-th/9901001",
            "0704.0004",
            "0704.0002",
            "0704.0001",
        ]
    finally:
        await index.close()


async def test_ingesting_the_same_snapshot_twice_duplicates_nothing(tmp_path: Path) -> None:
    snapshot = _write(tmp_path / "arxiv.json", SNAPSHOT_LINES)
    store = FakePaperStore()
    index = await open_index(tmp_path / "index")
    try:
        await ingest_snapshot(snapshot, store, index, batch_size=3, progress=False)
        again = await ingest_snapshot(snapshot, store, index, batch_size=3, progress=False)
        assert again.new == 0 and again.updated == 0
        assert again.unchanged == 4
        assert len(store.papers) == 4
        assert await ids_for(index, "diphoton") == ["0704.0001"]
        assert len(await ids_for(index, "since:1990-01-01", limit=50)) == 4
    finally:
        await index.close()


async def test_a_paper_listed_twice_in_a_snapshot_is_stored_once_with_its_last_line(tmp_path: Path) -> None:
    snapshot = _write(
        tmp_path / "arxiv.json",
        [json.dumps(_record("0704.0001", "First Title")), json.dumps(_record("0704.0001", "Second Title"))],
    )
    store = FakePaperStore()
    index = await open_index(tmp_path / "index")
    try:
        counts = await ingest_snapshot(snapshot, store, index, progress=False)
        assert counts.new == 1
        assert store.papers["0704.0001"].title == "Second Title"
        assert await ids_for(index, "title") == ["0704.0001"]
        assert await ids_for(index, "first") == []
    finally:
        await index.close()


async def test_ingest_reads_a_gzipped_snapshot_with_a_progress_bar(tmp_path: Path) -> None:
    snapshot = tmp_path / "arxiv.json.gz"
    with gzip.open(snapshot, "wt") as handle:
        handle.write("\n".join(SNAPSHOT_LINES) + "\n")
    store = FakePaperStore()
    index = await open_index(tmp_path / "index")
    try:
        counts = await ingest_snapshot(snapshot, store, index, progress=True)
        assert (counts.new, counts.skipped) == (4, 3)
        assert await ids_for(index, "decompositions") == ["0704.0002"]
    finally:
        await index.close()


async def test_ingest_into_a_real_store_is_idempotent(store: SqlStore, tmp_path: Path) -> None:
    snapshot = _write(tmp_path / "arxiv.json", SNAPSHOT_LINES)
    index = await open_index(tmp_path / "index")
    try:
        first = await ingest_snapshot(snapshot, store, index, batch_size=2, progress=False)
        second = await ingest_snapshot(snapshot, store, index, batch_size=2, progress=False)
        assert (first.new, first.skipped) == (4, 3)
        assert (second.new, second.updated, second.skipped) == (0, 0, 3)
        assert await store.count_papers() == 4
        stored = await store.get_paper("0704.0001")
        assert stored is not None and stored.authors == ["A. Person", "B. Person Jr"]
        assert await ids_for(index, "diphoton") == ["0704.0001"]
    finally:
        await index.close()


async def test_a_line_whose_id_is_not_an_arxiv_id_is_skipped(tmp_path: Path) -> None:
    snapshot = _write(
        tmp_path / "arxiv.json",
        [
            json.dumps(_record("not an id", "Some Title")),
            json.dumps(_record("Hep-TH/9901001v2", "Old Title")),
        ],
    )
    store = FakePaperStore()
    index = await open_index(tmp_path / "index")
    try:
        counts = await ingest_snapshot(snapshot, store, index, progress=False)
        assert (counts.new, counts.skipped) == (1, 1)
        assert list(store.papers) == ["hep-th/9901001"]
    finally:
        await index.close()


async def test_a_worker_process_parses_a_snapshot_into_the_same_papers_and_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    snapshot = tmp_path / "arxiv.json.gz"
    with gzip.open(snapshot, "wt") as handle:
        handle.write("\n".join(SNAPSHOT_LINES) + "\n")
    results = []
    for in_worker in (False, True):
        store = FakePaperStore()
        index = await open_index(tmp_path / f"index-{in_worker}")
        caplog.clear()
        try:
            counts = await ingest_snapshot(
                snapshot, store, index, batch_size=2, progress=False, parse_in_worker=in_worker
            )
            assert await ids_for(index, "diphoton") == ["0704.0001"]
        finally:
            await index.close()
        warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
        results.append((counts, store.papers, warnings))
    assert results[0] == results[1]
    counts, papers, warnings = results[1]
    assert (counts.new, counts.skipped) == (4, 3)
    assert papers["0704.0001"].authors == ["A. Person", "B. Person Jr"]
    assert warnings[0].startswith("Snapshot line 3 skipped: not JSON")


async def test_a_snapshot_the_worker_cannot_read_fails_with_a_sentence(tmp_path: Path) -> None:
    snapshot = tmp_path / "arxiv.json.gz"
    snapshot.write_bytes(b"this is not gzip")
    index = await open_index(tmp_path / "index")
    try:
        with pytest.raises(SnapshotReadFailed, match=r"Reading .*arxiv\.json\.gz failed"):
            await ingest_snapshot(snapshot, FakePaperStore(), index, progress=False, parse_in_worker=True)
    finally:
        await index.close()


async def test_a_line_the_fast_parser_refuses_is_read_as_before() -> None:
    # A lone surrogate in a string: orjson refuses it, the standard library takes it.
    line = json.dumps(_record("0704.0009", "Odd \ud800 title"), ensure_ascii=True)
    paper = parse_line(line)
    assert paper is not None and paper.title == "Odd \ud800 title"
    with pytest.raises(SnapshotLineInvalid, match="not JSON"):
        parse_line("{ this line is broken")
