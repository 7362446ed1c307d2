"""The sentence model on ONNX Runtime: the same model and the same vectors, loaded in a fraction of a second.

Loading torch and sentence-transformers takes seconds (`import torch` alone is most of them), which made every
`paperboy search` with the semantic extra wait 13 s or more for one query's vector. ONNX Runtime and the
tokenizers library load in about 0.3 s. The ONNX file is made here, once per machine and model, from the model
the package ships (exported by torch, its graph optimized by ONNX Runtime) and kept in a cache folder; so its
provenance is the packaged model's, nothing is downloaded, and its vectors are sentence-transformers' (a cosine
of 1.0000 on the demo papers): vectors stored before stay valid.

Weights are kept in float32. int8 weights (dynamic quantization, one scale per output channel) made a forward
pass 1.5 times as fast on this AVX2 machine, but moved the vectors (a cosine of 0.99 on average with the float
ones, and a text's vector depended on the batch it was in) and cost relevance: on `paperboy bench relevance`
(4,000 distractors) search by meaning alone fell from 0.726 to 0.700 MRR@10 on the first set and from 0.784 to
0.751 on the held-out one, and the hybrid ranking from 0.588 to 0.549 on the descriptions.

Only models that the ONNX graph and numpy reproduce are built: a BERT-like transformer, mean pooling, then
normalization (all-MiniLM-L6-v2 and most sentence-transformers models). Any other runs on sentence-transformers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.vectors.model import ModelChoice

if TYPE_CHECKING:
    # numpy is imported where vectors are made: whether a model can be built is asked without the extra.
    import numpy as np

log = logging.getLogger(__name__)

# Bumped when the way the file is made changes, so that an old build is not used.
BUILD_VERSION = 3
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
# Texts per forward pass. Texts are sorted by length first, so a batch pads to about its own length.
BATCH = 32
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# A staging folder this old belongs to a build that was killed (a build takes a minute at most).
ABANDONED_SECONDS = 3600.0


def default_cache_dir() -> Path:
    """Where built models are kept: PAPERBOY_MODEL_CACHE, else the user's cache folder."""
    # Read here rather than through the settings: every process that embeds (the CLI, `paperboy run`, the
    # benchmarks) shares one build, whatever composed it.
    configured = os.environ.get("PAPERBOY_MODEL_CACHE", "").strip()
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "paperboy" / "models"


def onnx_runtime_installed() -> bool:
    """True when ONNX Runtime and the tokenizers library can be imported."""
    import importlib.util

    try:
        return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "tokenizers"))
    except (ImportError, ValueError):
        return False


def mean_pooled(folder: Path) -> bool:
    """True when a sentence-transformers folder is a transformer, mean pooling and (optionally) normalization."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        kinds = [str(module["type"]).rsplit(".", 1)[-1] for module in modules]
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return False
    modes = [key for key, value in pooling.items() if key.startswith("pooling_mode") and value is True]
    return (
        kinds[:2] == ["Transformer", "Pooling"]
        and kinds[2:] in ([], ["Normalize"])
        and modes == ["pooling_mode_mean_tokens"]
        and (folder / TOKENIZER_FILE).is_file()
    )


def build_folder(choice: ModelChoice, cache_dir: Path | None = None) -> Path:
    """The folder the ONNX build of a local model goes to (it may not exist yet)."""
    source = Path(choice.source).resolve()
    weights = sorted(p for p in source.glob("*.safetensors")) or sorted(source.glob("*.bin"))
    # The weights' size and time stand for their content: a model replaced in place is built again.
    stamp = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in weights]
    digest = hashlib.sha256(json.dumps([str(source), stamp, BUILD_VERSION]).encode()).hexdigest()[:16]
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in choice.key.rsplit("/", 1)[-1])[:60]
    return (cache_dir or default_cache_dir()) / f"{name}-{digest}"


def build(source: Path, folder: Path) -> Path:
    """Export the model in `source` to ONNX, optimize its graph and keep it in `folder`; return it.

    Made in a temporary folder beside the target and renamed into place, so that a process never sees half a
    build; two processes building at once both succeed, and one build is kept.
    """
    if (folder / MODEL_FILE).is_file():
        return folder
    began = time.perf_counter()
    log.info("Building the ONNX model of %s once (a minute at most); it is kept in %s.", source, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(folder)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        _export(source, staging / "exported.onnx")
        _optimize(staging / "exported.onnx", staging / MODEL_FILE)
        (staging / "exported.onnx").unlink()
        shutil.copyfile(source / TOKENIZER_FILE, staging / TOKENIZER_FILE)
        (staging / "build.json").write_text(
            json.dumps({"source": str(source), "build_version": BUILD_VERSION}), encoding="utf-8"
        )
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / MODEL_FILE).is_file():
                raise
            # Another process finished the same build first; its copy is as good.
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("ONNX model built in %.1f s.", time.perf_counter() - began)
    return folder


def _remove_abandoned(folder: Path) -> None:
    """Delete staging folders of this build that a killed process left, an hour old or more."""
    for staging in folder.parent.glob(f".{folder.name}-*"):
        with contextlib.suppress(OSError):
            if time.time() - staging.stat().st_mtime > ABANDONED_SECONDS:
                shutil.rmtree(staging, ignore_errors=True)


def _export(source: Path, target: Path) -> None:
    """The transformer's token vectors as an ONNX graph (pooling is done in numpy)."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(source)).eval()

    class TokenVectors(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            output = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return output.last_hidden_state

    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "token_vectors")}
    with torch.no_grad():
        torch.onnx.export(
            TokenVectors(model),
            (sample, sample, torch.zeros_like(sample)),
            str(target),
            input_names=list(_INPUTS),
            output_names=["token_vectors"],
            dynamic_axes=axes,
            opset_version=17,
            # The TorchScript exporter: the newer one needs onnxscript, and this graph is a plain BERT.
            dynamo=False,
        )


def _optimize(source: Path, target: Path) -> None:
    """The graph with ONNX Runtime's fusions (attention, layer norm, GELU) done: loading it then skips them.

    Optimizing at every load took about half of the 0.9 s a session took to open on a busy machine. Fusions
    of the "extended" level depend on the execution provider (the CPU's, here), not on the processor.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(target)
    onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


class OnnxEmbedder:
    """A mean-pooled sentence model on ONNX Runtime, built on first use; one forward pass at a time."""

    runtime = "ONNX Runtime"

    def __init__(self, choice: ModelChoice, *, max_tokens: int, cache_dir: Path | None = None) -> None:
        self.name = choice.key
        self._choice = choice
        self._max_tokens = max_tokens
        self._cache_dir = cache_dir
        self._session: Any = None
        self._tokenizer: Any = None
        self._loading = threading.Lock()
        self._running = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        with self._loading:
            if self._session is None:
                began = time.perf_counter()
                folder = build(Path(self._choice.source), build_folder(self._choice, self._cache_dir))
                import onnxruntime
                from tokenizers import Tokenizer

                options = onnxruntime.SessionOptions()
                # Optimized when built (_optimize).
                options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
                # Between two passes the pool's threads sleep rather than spin: a search scans the vectors
                # with numpy right after embedding its query, on the same two cores.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                session = onnxruntime.InferenceSession(
                    str(folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
                )
                tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
                tokenizer.enable_truncation(max_length=self._max_tokens)
                tokenizer.no_padding()
                self._session, self._tokenizer = session, tokenizer
                log.info("Semantic model %s (ONNX) loaded in %.1f s.", self.name, time.perf_counter() - began)
            return self._session, self._tokenizer

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of the texts (float32 rows), batched by length."""
        import numpy as np

        session, tokenizer = self._load()
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with self._running:
            encodings = tokenizer.encode_batch(list(texts))
            order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
            rows: list[np.ndarray | None] = [None] * len(texts)
            for start in range(0, len(order), BATCH):
                batch = order[start : start + BATCH]
                width = max(len(encodings[i].ids) for i in batch)
                ids = np.zeros((len(batch), width), dtype=np.int64)
                mask = np.zeros((len(batch), width), dtype=np.int64)
                for row, i in enumerate(batch):
                    length = len(encodings[i].ids)
                    ids[row, :length] = encodings[i].ids
                    mask[row, :length] = 1
                [tokens] = session.run(
                    None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
                )
                weights = mask[:, :, None].astype(np.float32)
                pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
                norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
                for row, i in enumerate(batch):
                    rows[i] = pooled[row] / norms[row]
        return np.stack([row for row in rows if row is not None]).astype(np.float32)
