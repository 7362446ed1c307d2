"""The index folder on disk: our state file beside tantivy's files, which files are tantivy's, and its writer lock.

The state file says which schema version wrote the folder and how far catch-up has read the store (its mark).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from storage.search.schema import SCHEMA_VERSION

STATE_FILE = "paperboy-index.json"
# Files tantivy writes into an index folder; only these are deleted when the index is rebuilt, so that a
# misconfigured PAPERBOY_INDEX_DIR pointing at a folder with other files never loses them.
_TANTIVY_FILE = re.compile(
    r"^(?:meta\.json|\.managed\.json|\.tantivy-(?:meta|writer)\.lock|[0-9a-f]{32}(?:\.\d+)?\.[a-z]+)$"
)


def _is_tantivy_file(name: str) -> bool:
    return bool(_TANTIVY_FILE.match(name))


def writer_lock_busy(path: Path) -> bool:
    """True when another writer (in any process) holds tantivy's writer lock on the folder."""
    lock_file = path / ".tantivy-writer.lock"
    if not lock_file.exists():
        return False
    # tantivy takes an advisory flock on this file; probing it the same way tells whether someone holds it.
    with open(lock_file, "rb") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


def wipe(path: Path) -> None:
    """Delete tantivy's files and our state file from the folder, and nothing else."""
    for entry in path.iterdir():
        if entry.is_file() and (entry.name == STATE_FILE or _is_tantivy_file(entry.name)):
            entry.unlink(missing_ok=True)


class IndexState:
    """Schema version and catch-up mark, kept in a small JSON file beside the index (or in memory).

    The mark is the newest store stamp (`updated_at`) whose papers the index holds, and every paper stamped
    at or before it: catch-up reads only what is stamped after it. Folders written before marks existed
    have a `watermark` instead, read with a safety margin once (see TantivyIndex.catch_up).
    """

    def __init__(self, path: Path | None) -> None:
        self.file = path / STATE_FILE if path is not None else None
        self._memory: dict[str, Any] = {}

    def read(self) -> dict[str, Any]:
        """The state file's content ({} when missing or unreadable)."""
        if self.file is None:
            return dict(self._memory)
        try:
            data = json.loads(self.file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def schema_version(self) -> int | None:
        """The schema version that wrote the folder, if known."""
        value = self.read().get("schema_version")
        return value if isinstance(value, int) else None

    def mark(self) -> datetime | None:
        """The store stamp catch-up has read through, or None (read everything)."""
        return _moment(self.read().get("mark"))

    def legacy_watermark(self) -> datetime | None:
        """The watermark of a state file written before marks existed (None once a mark is recorded)."""
        data = self.read()
        return None if "mark" in data else _moment(data.get("watermark"))

    def write(self, mark: datetime | None) -> None:
        """Record the schema version and the mark (atomically: a crash leaves the old file or the new one)."""
        data = {"schema_version": SCHEMA_VERSION, "mark": mark.isoformat() if mark is not None else None}
        if self.file is None:
            self._memory = data
            return
        temporary = self.file.with_name(self.file.name + ".tmp")
        temporary.write_text(json.dumps(data))
        os.replace(temporary, self.file)


def _moment(value: object) -> datetime | None:
    """A timestamp written by `datetime.isoformat`, or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
