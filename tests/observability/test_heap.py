"""Freed memory goes back to the system: a trim returns the free pages below what is still in use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adapters.ops.heap import limit_malloc_arenas, trim_heap

glibc_only = pytest.mark.skipif(
    not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"),
    reason="malloc_trim and mallopt are glibc's",
)


def _anonymous_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon in /proc/self/status")


@glibc_only
def test_a_trim_gives_back_freed_memory_that_the_heap_kept() -> None:
    # Blocks above pymalloc's 512 bytes and below malloc's mmap threshold come from the heap; the block made
    # last keeps the heap's top in use, so freeing the others leaves free pages that free() alone keeps.
    blocks = [bytearray(4000) for _ in range(20_000)]
    pinned = bytearray(4000)
    del blocks
    before = _anonymous_mb()

    assert trim_heap()

    assert before - _anonymous_mb() > 40, "about 80 MB were freed below the pinned block"
    assert len(pinned) == 4000


@glibc_only
def test_the_arena_limit_is_set_unless_the_operator_set_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not limit_malloc_arenas()
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=4")
    assert not limit_malloc_arenas()
    monkeypatch.delenv("GLIBC_TUNABLES")

    assert limit_malloc_arenas()
