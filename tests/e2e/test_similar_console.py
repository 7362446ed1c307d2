"""`/papers similar` in the console, end to end: by words without the semantic extra, by meaning with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.vectors.semantic import missing_extra
from tests.conftest import skip_without_semantic_extra
from tests.e2e.test_console import paperboy

MATRYOSHKA = "2205.13147"


def similar_titles(output: str) -> list[str]:
    """The titles of the numbered papers of a list, in order."""
    return [
        line.split(". ", 1)[1].rsplit(" [", 1)[0]
        for line in output.splitlines()
        if line[:3].strip(". ").isdigit()
    ]


@pytest.mark.parametrize("model", ["off", pytest.param("default", marks=pytest.mark.semantic)])
def test_similar_prints_the_papers_most_like_the_one_named(tmp_path: Path, model: str) -> None:
    if model == "default":
        skip_without_semantic_extra(missing_extra())
    env = {"PAPERBOY_SEMANTIC_MODEL": "off" if model == "off" else ""}
    ingested = paperboy(tmp_path, "ingest", "demo", env=env)
    assert ingested.returncode == 0, ingested.stderr

    result = paperboy(
        tmp_path, "run", "--console", stdin=f"/papers similar {MATRYOSHKA}\n/papers similar\n", env=env
    )

    assert result.returncode == 0, result.stderr
    assert "Papers like “Matryoshka Representation Learning”" in result.stdout
    titles = similar_titles(result.stdout)
    assert len(titles) == 5
    assert "2D Matryoshka Sentence Embeddings" in titles[:2]
    assert "Matryoshka Representation Learning" not in titles
    assert "Tell me which paper, e.g. /papers similar 2205.13147." in result.stdout
