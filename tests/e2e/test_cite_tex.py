"""`paperboy cite` on titles that are TeX, and on a title written to break out of its BibTeX field."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.domain import Paper
from storage.sql import open_store
from tests.e2e.test_console import paperboy
from tests.unit.test_citation import bibtex_fields

MATH = Paper(arxiv_id="2402.00001", title=r"Sparse $\alpha$-Entmax for $k_i$ Heads", authors=["Ada Lovelace"])
EVIL = Paper(arxiv_id="2402.00002", title="Evil}}, url = {http://x}, note = {{x", authors=["Mallory Evil"])


def stored(tmp_path: Path, *papers: Paper) -> Path:
    async def store_them() -> None:
        store = await open_store(f"sqlite:///{tmp_path / 'paperboy.db'}")
        try:
            await store.upsert_papers(papers)
        finally:
            await store.close()

    asyncio.run(store_them())
    return tmp_path


def test_cite_keeps_tex_math_as_math_and_a_hostile_title_adds_no_field(tmp_path: Path) -> None:
    folder = stored(tmp_path, MATH, EVIL)

    math = paperboy(folder, "cite", MATH.arxiv_id)
    evil = paperboy(folder, "cite", EVIL.arxiv_id)

    assert math.returncode == 0, math.stderr
    assert bibtex_fields(math.stdout.strip())["title"] == r"{Sparse $\alpha$-Entmax for $k_i$ Heads}"
    assert evil.returncode == 0, evil.stderr
    fields = bibtex_fields(evil.stdout.strip())
    assert sorted(fields) == ["archiveprefix", "author", "eprint", "title", "url", "year"]
    assert fields["url"] == "https://arxiv.org/abs/2402.00002"
