"""`paperboy bench search` on a few hundred papers: the lines the ingest and index-build numbers are read from."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.bench.search import bench_search


async def test_the_search_bench_reports_ingest_catch_up_and_build_with_their_cpu(tmp_path: Path) -> None:
    report = await bench_search(300, None, 10, tmp_path)
    lines = {line.split(":")[0]: line for line in report.splitlines()}

    ingest = lines["ingest snapshot (store + index)"]
    assert re.search(r": 300 new, 0 skipped in [\d.]+ s = [\d,]+ papers/s, CPU [\d,]+ µs a paper$", ingest)
    assert "(0 papers rewritten)" in lines["catch-up of the ingested index (next start)"]
    build = lines["index build from the store (a new replica's catch-up)"]
    assert re.search(
        r": 300 papers in [\d.]+ s = [\d,]+ papers/s, CPU [\d,]+ µs a paper, \d+ MB on disk$", build
    )
