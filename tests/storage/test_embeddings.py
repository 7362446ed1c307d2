"""Paper embeddings on SQLite and PostgreSQL: saving a paper's vector again replaces it (each dialect's upsert)."""

from __future__ import annotations

from storage.sql.store import SqlStore
from tests.storage.factories import make_paper

MODEL = "test-model"


async def test_saving_a_vector_again_replaces_it_and_keeps_one_row_per_model_and_paper(
    store: SqlStore,
) -> None:
    await store.upsert_papers([make_paper("2501.00001"), make_paper("2501.00002")])
    await store.save_embeddings(MODEL, 2, [("2501.00001", "hash-a", b"\x00\x3c\x00\x00")])
    await store.save_embeddings("other-model", 2, [("2501.00001", "hash-o", b"\x00\x00\x00\x3c")])

    await store.save_embeddings(
        MODEL,
        2,
        [("2501.00001", "hash-b", b"\x00\x00\x00\x3c"), ("2501.00002", "hash-c", b"\x00\x3c\x00\x00")],
    )

    stored = await store.embeddings_since(MODEL, None, "", 10)
    assert [(row.arxiv_id, row.text_hash, row.vector) for row in stored] == [
        ("2501.00001", "hash-b", b"\x00\x00\x00\x3c"),
        ("2501.00002", "hash-c", b"\x00\x3c\x00\x00"),
    ]
    assert await store.count_embeddings(MODEL) == 2
    assert await store.embedding_hashes("other-model", ["2501.00001"]) == {"2501.00001": "hash-o"}
