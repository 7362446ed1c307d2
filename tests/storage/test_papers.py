"""Papers on SQLite and PostgreSQL: upsert counts, merging without blanking, featured days, paging."""

from __future__ import annotations

import json
from datetime import date, timedelta

from bot.domain import UpsertCounts
from storage.sql.store import SqlStore, open_store
from tests.storage.factories import fixed_clock, full_paper, make_paper


async def test_upsert_reports_new_then_unchanged_then_updated(store: SqlStore) -> None:
    first = [make_paper("2501.00001"), make_paper("2501.00002")]
    assert await store.upsert_papers(first) == UpsertCounts(new=2)
    assert await store.upsert_papers(first) == UpsertCounts(unchanged=2)

    changed = [make_paper("2501.00001", hf_upvotes=7), make_paper("2501.00002"), make_paper("2501.00003")]
    assert await store.upsert_papers(changed) == UpsertCounts(new=1, updated=1, unchanged=1)
    assert await store.count_papers() == 3


async def test_every_field_survives_a_round_trip(store: SqlStore) -> None:
    paper = full_paper()
    await store.upsert_papers([paper])

    stored = await store.get_paper("2205.13147")

    assert stored is not None
    assert stored.updated_at is not None and stored.updated_at.tzinfo is not None
    paper.updated_at = stored.updated_at
    assert stored == paper


async def test_a_partial_record_never_blanks_what_is_stored(store: SqlStore) -> None:
    full = make_paper(
        "2501.00010",
        title="Full title",
        authors=["Ada Lovelace"],
        abstract="An abstract.",
        featured_on=date(2025, 1, 3),
        hf_upvotes=12,
        num_comments=4,
        ai_summary="Summary.",
        ai_keywords=["k"],
        github_repo="https://github.com/a/b",
        github_stars=50,
        categories=["cs.CL"],
    )
    await store.upsert_papers([full])
    # What an arXiv-only source knows of the same paper: no Hugging Face fields at all.
    partial = make_paper("2501.00010", title="", published=date(2025, 1, 2), categories=[])

    counts = await store.upsert_papers([partial])

    stored = await store.get_paper("2501.00010")
    assert counts == UpsertCounts(updated=1)
    assert stored is not None
    assert stored.title == "Full title"
    assert stored.authors == ["Ada Lovelace"]
    assert stored.abstract == "An abstract."
    assert stored.published == date(2025, 1, 2)
    assert stored.featured_on == date(2025, 1, 3)
    assert (stored.hf_upvotes, stored.num_comments, stored.github_stars) == (12, 4, 50)
    assert stored.ai_summary == "Summary." and stored.ai_keywords == ["k"]
    assert stored.categories == ["cs.CL"]


async def test_later_counts_replace_earlier_ones_even_when_lower(store: SqlStore) -> None:
    await store.upsert_papers([make_paper("2501.00011", hf_upvotes=30, num_comments=5, github_stars=9)])

    await store.upsert_papers([make_paper("2501.00011", hf_upvotes=28, num_comments=2, github_stars=0)])

    stored = await store.get_paper("2501.00011")
    assert stored is not None
    assert (stored.hf_upvotes, stored.num_comments, stored.github_stars) == (28, 2, 0)


async def test_withdrawn_sticks_once_a_source_says_so(store: SqlStore) -> None:
    await store.upsert_papers([make_paper("2501.00012", withdrawn=True)])

    counts = await store.upsert_papers([make_paper("2501.00012", withdrawn=False)])

    stored = await store.get_paper("2501.00012")
    assert counts == UpsertCounts(unchanged=1)
    assert stored is not None and stored.withdrawn


async def test_duplicates_in_one_batch_are_stored_once_and_merged(store: SqlStore) -> None:
    batch = [
        make_paper("2501.00020", hf_upvotes=3, abstract="From Hugging Face."),
        make_paper("2501.00021"),
        make_paper("2501.00020", title="Later title", categories=["cs.AI"]),
    ]

    counts = await store.upsert_papers(batch)

    stored = await store.get_paper("2501.00020")
    assert counts == UpsertCounts(new=2)
    assert await store.count_papers() == 2
    assert stored is not None
    assert (stored.title, stored.abstract, stored.hf_upvotes, stored.categories) == (
        "Later title",
        "From Hugging Face.",
        3,
        ["cs.AI"],
    )


async def test_an_empty_batch_changes_nothing(store: SqlStore) -> None:
    assert await store.upsert_papers([]) == UpsertCounts()
    assert await store.count_papers() == 0


async def test_a_batch_larger_than_one_query_chunk_is_counted_whole(store: SqlStore) -> None:
    batch = [make_paper(f"2502.{n:05d}") for n in range(4500)]
    assert await store.upsert_papers(batch) == UpsertCounts(new=4500)

    again = [make_paper(f"2502.{n:05d}", hf_upvotes=1 if n % 2 else 0) for n in range(4500)]
    assert await store.upsert_papers(again) == UpsertCounts(updated=2250, unchanged=2250)


async def test_get_papers_leaves_unknown_ids_out(store: SqlStore) -> None:
    await store.upsert_papers([make_paper("2501.00030"), make_paper("2501.00031")])

    found = await store.get_papers(["2501.00030", "2501.99999", "2501.00031", "2501.00030"])

    assert sorted(found) == ["2501.00030", "2501.00031"]
    assert found["2501.00031"].title == "Paper 2501.00031"
    assert await store.get_paper("2501.99999") is None


async def test_featured_papers_are_those_of_the_days_asked_without_withdrawn_ones(store: SqlStore) -> None:
    await store.upsert_papers(
        [
            make_paper("2501.00040", featured_on=date(2025, 1, 9)),
            make_paper("2501.00041", featured_on=date(2025, 1, 10)),
            make_paper("2501.00042", featured_on=date(2025, 1, 12)),
            make_paper("2501.00043", featured_on=date(2025, 1, 13)),
            make_paper("2501.00044", featured_on=date(2025, 1, 11), withdrawn=True),
            make_paper("2501.00045"),
        ]
    )

    featured = await store.papers_featured_between(date(2025, 1, 10), date(2025, 1, 12))

    assert [paper.arxiv_id for paper in featured] == ["2501.00041", "2501.00042"]


async def test_changed_since_pages_by_id_and_sees_only_later_changes(database_url: str) -> None:
    clock = fixed_clock()
    store = await open_store(database_url, clock=clock)
    try:
        await store.upsert_papers([make_paper(f"2503.{n:05d}") for n in range(5)])
        clock.moment += timedelta(minutes=5)
        mark = clock.moment
        await store.upsert_papers([make_paper("2503.00001", hf_upvotes=2), make_paper("2503.00009")])
        await store.upsert_papers([make_paper("2503.00003")])  # unchanged: must not count as changed

        everything: list[str] = []
        after = ""
        while page := await store.papers_changed_since(None, after, 2):
            everything += [paper.arxiv_id for paper in page]
            after = page[-1].arxiv_id
        recent = await store.papers_changed_since(mark, "", 10)
    finally:
        await store.close()

    assert everything == [f"2503.{n:05d}" for n in (0, 1, 2, 3, 4, 9)]
    assert [paper.arxiv_id for paper in recent] == ["2503.00001", "2503.00009"]
    assert all(paper.updated_at == mark for paper in recent)


async def test_an_upsert_hands_back_its_stamp_the_newest_before_it_and_the_papers_as_stored(
    store: SqlStore,
) -> None:
    first = await store.upsert_papers([make_paper("2501.00001", featured_on=date(2025, 1, 3))])
    assert first.previous is None and first.stamp is not None
    assert [paper.arxiv_id for paper in first.stored] == ["2501.00001"]

    # A merge stores what both sources said; a paper given twice is merged too; an unchanged one is not stored.
    second = await store.upsert_papers(
        [
            make_paper("2501.00001", title="", hf_upvotes=5),
            make_paper("2501.00002", authors=["Ada"]),
            make_paper("2501.00002", title="", categories=["cs.CL"]),
        ]
    )
    third = await store.upsert_papers([make_paper("2501.00002", authors=["Ada"], categories=["cs.CL"])])

    assert second.previous == first.stamp
    assert second.stamp is not None and second.stamp > first.stamp
    stored = {paper.arxiv_id: paper for paper in second.stored}
    assert sorted(stored) == ["2501.00001", "2501.00002"]
    assert (stored["2501.00001"].title, stored["2501.00001"].featured_on) == (
        "Paper 2501.00001",
        date(2025, 1, 3),
    )
    assert stored["2501.00001"].hf_upvotes == 5
    assert (stored["2501.00002"].authors, stored["2501.00002"].categories) == (["Ada"], ["cs.CL"])
    for arxiv_id, paper in stored.items():
        kept = await store.get_paper(arxiv_id)
        assert kept is not None and kept.updated_at == second.stamp
        paper.updated_at = kept.updated_at
        assert paper == kept
    assert third == UpsertCounts(unchanged=1) and third.stored == () and third.previous == second.stamp


async def test_lists_and_days_are_stored_as_sqlalchemy_writes_them_and_read_back_by_catch_up(
    store: SqlStore,
) -> None:
    authors = ["Zoë Æther", 'A "quoted" \\ name', "emoji 😀", ""]
    odd = ["lone \ud800 surrogate"] if store.engine.dialect.name == "sqlite" else []
    await store.upsert_papers(
        [
            make_paper(
                "2501.00042",
                authors=authors,
                categories=["cs.CL"],
                ai_keywords=odd,
                published=date(999, 12, 31),
            )
        ]
    )
    async with store.engine.connect() as conn:
        result = await conn.exec_driver_sql(
            "SELECT CAST(authors AS TEXT), CAST(categories AS TEXT), CAST(ai_keywords AS TEXT), "
            "CAST(published AS TEXT) FROM papers"
        )
        row = result.one()
    assert tuple(row) == (json.dumps(authors), json.dumps(["cs.CL"]), json.dumps(odd), "0999-12-31")
    read = [paper async for batch in store.papers_changed_after(None, 10) for paper in batch]
    assert [(p.authors, p.categories, p.ai_keywords, p.published) for p in read] == [
        (authors, ["cs.CL"], odd, date(999, 12, 31))
    ]
