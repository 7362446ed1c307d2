"""Without the semantic extra, search and the vectors' front modules import nothing of it, and search by meaning
is off with one line in the log. A fresh interpreter refuses numpy, torch and sentence-transformers, so this
runs the same whether or not the extra is installed here."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import importlib
    import logging
    import pkgutil
    import sys

    EXTRA = {"numpy", "torch", "sentence_transformers"}


    class RefuseTheExtra:
        # First on the meta path: these modules are "not installed", whatever site-packages holds.
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in EXTRA:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, RefuseTheExtra())
    logging.basicConfig(level=logging.INFO, format="log|%(name)s|%(message)s", stream=sys.stdout)

    import storage.search
    import storage.sql  # storage.sql.embeddings (the vectors' rows) is the store's side
    import storage.vectors

    # The one module that is the extra: the numpy matrix and the model, imported only when it is installed.
    IMPLEMENTATION = {"storage.vectors.index"}
    for package in (storage.search, storage.sql, storage.vectors):
        for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if module.name not in IMPLEMENTATION:
                importlib.import_module(module.name)
                print("imported|" + module.name)
    print("extra loaded|" + ",".join(sorted(m for m in sys.modules if m.partition(".")[0] in EXTRA)))

    from storage.vectors.semantic import open_semantic

    print("opened|" + repr(open_semantic(object(), None)))
    print("opened again|" + repr(open_semantic(object(), None)))
    """
)


def run_without_the_extra() -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPOSITORY, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_search_and_the_vectors_front_import_without_numpy_and_semantic_search_says_it_is_off() -> None:
    lines = run_without_the_extra()

    imported = {line.split("|")[1] for line in lines if line.startswith("imported|")}
    assert {
        "storage.search.index",
        "storage.search.query",
        "storage.vectors.semantic",
        "storage.sql.embeddings",
    } <= imported
    assert "extra loaded|" in lines  # nothing of numpy, torch or sentence_transformers
    assert "opened|None" in lines and "opened again|None" in lines
    said = [line for line in lines if line.startswith("log|storage.vectors.semantic|")]
    assert said == [
        "log|storage.vectors.semantic|Semantic search is off (the semantic extra is not installed: no numpy; "
        "pip install 'paperboy-bot[semantic]'); search, topics and similar papers use words only."
    ]
