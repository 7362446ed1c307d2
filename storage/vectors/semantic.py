"""Semantic search, the optional `semantic` extra: whether it is installed, and opening it.

This module imports nothing of the extra, so that it can say "off" without numpy or torch installed; the
implementation (`storage.vectors.index`) is imported only when the extra is there. Which model is used is
`storage.vectors.model`'s to say; its names are re-exported here, the one place the application asks about
semantic search.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from storage.vectors.model import DEFAULT_MODEL, ModelChoice, bundled_model_path, choose_model

if TYPE_CHECKING:
    from storage.vectors.index import SemanticSearch
    from storage.vectors.store import EmbeddingStore

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_TOPIC_SIMILARITY",
    "EXTRA_MODULES",
    "ModelChoice",
    "bundled_model_path",
    "choose_model",
    "missing_extra",
    "open_semantic",
]

log = logging.getLogger(__name__)

# Cosine similarity from which a paper matches a channel's topic by meaning, calibrated for the default model
# on the demo papers (`paperboy bench relevance` prints the calibration); another model needs its own.
DEFAULT_TOPIC_SIMILARITY = 0.40
EXTRA_MODULES = ("numpy", "torch", "sentence_transformers")

_said_off = False


def missing_extra() -> str | None:
    """None when the semantic extra is installed, else the name of a module it lacks."""
    for module in EXTRA_MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            # An import hook that refuses the module, or a broken half-imported one: not usable either way.
            found = False
        if not found:
            return module
    return None


def _say_off_once(reason: str) -> None:
    global _said_off
    if not _said_off:
        _said_off = True
        log.info("Semantic search is off (%s); search, topics and similar papers use words only.", reason)


def open_semantic(
    store: EmbeddingStore,
    model: str | None,
    *,
    topic_similarity: float = DEFAULT_TOPIC_SIMILARITY,
    cache_dir: Path | None = None,
) -> SemanticSearch | None:
    """The semantic index over the store's embeddings, or None (said once in the log) when it is off.

    Nothing heavy happens here: the model loads on first use, the vectors on the first search. A local
    mean-pooled model runs on ONNX Runtime when it is installed (built once into `cache_dir`, see
    storage.vectors.onnx); any other on sentence-transformers.
    """
    choice = choose_model(model)
    if choice is None:
        _say_off_once("PAPERBOY_SEMANTIC_MODEL turns it off")
        return None
    missing = missing_extra()
    if missing is not None:
        _say_off_once(
            f"the semantic extra is not installed: no {missing}; pip install 'paperboy-bot[semantic]'"
        )
        return None
    # Imported here, not above: it needs numpy and torch, which this module must do without.
    from storage.vectors.index import MAX_TOKENS, Embedder, SemanticSearch, SentenceEmbedder
    from storage.vectors.onnx import OnnxEmbedder, mean_pooled, onnx_runtime_installed

    embedder: Embedder
    if choice.local and onnx_runtime_installed() and mean_pooled(Path(choice.source)):
        embedder = OnnxEmbedder(choice, max_tokens=MAX_TOKENS, cache_dir=cache_dir)
    else:
        embedder = SentenceEmbedder(choice)
    return SemanticSearch(store, embedder, topic_similarity=topic_similarity)
