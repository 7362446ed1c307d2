"""Search behaviour of the index: relevance, the query language's clauses and filters, and hostile input."""

from __future__ import annotations

from datetime import date

import pytest

from bot.query import SearchQuery, parse_query
from storage.search.index import TantivyIndex
from tests.search.conftest import LIBRARY, Fill, ids_for, paper


async def test_title_match_ranks_above_abstract_only_match(fill: Fill) -> None:
    index = await fill(
        [
            paper("2401.00001", "Gradient Descent Revisited", "We study optimisation of matryoshka dolls."),
            paper("2401.00002", "Matryoshka Dolls for Optimisation", "We study gradient descent."),
        ]
    )
    assert await ids_for(index, "matryoshka") == ["2401.00002", "2401.00001"]


async def test_a_paper_need_not_contain_every_word(fill: Fill) -> None:
    index = await fill(LIBRARY)
    found = await ids_for(index, "matryoshka pineapple")
    assert found == ["2205.13147"]


async def test_papers_with_more_of_the_words_rank_first(fill: Fill) -> None:
    index = await fill(LIBRARY)
    found = await ids_for(index, "gaussian splatting rendering")
    assert found[:2] == ["2308.04079", "2501.00001"]


async def test_stemming_matches_other_forms_of_a_word(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert "2501.00001" in await ids_for(index, "compress codebook")
    assert "2308.04079" in await ids_for(index, "Radiance Fields rendered")


async def test_accents_are_folded_in_text_and_authors(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, "author:Scholkopf") == ["2501.00001"]
    assert await ids_for(index, "author:Schölkopf") == ["2501.00001"]
    assert await ids_for(index, "author:leimkuhler") == ["2308.04079"]


async def test_keywords_and_ai_summary_are_searched(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, '"parameter efficient"') == ["2106.09685"]
    assert await ids_for(index, "twenty smaller") == ["2501.00001"]


async def test_a_phrase_must_appear_with_its_words_in_order(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, '"representation learning"') == ["2205.13147"]
    assert await ids_for(index, '"learning rate"') == ["2502.00002"]
    assert await ids_for(index, '"rate learning"') == []


async def test_a_phrase_with_stop_words_inside_matches_the_text(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, '"state of the art"') == ["2308.04079"]


async def test_a_phrase_is_required_and_words_beside_it_rank(fill: Fill) -> None:
    index = await fill(LIBRARY)
    found = await ids_for(index, '"low rank" language')
    assert found == ["2106.09685"]


async def test_excluded_word_removes_papers_that_have_it_anywhere(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert set(await ids_for(index, "gaussian")) == {"2308.04079", "2501.00001"}
    assert await ids_for(index, "gaussian -codebooks") == ["2308.04079"]
    # Excluded words are looked up in every field, authors included.
    assert await ids_for(index, "gaussian -kerbl") == ["2501.00001"]


async def test_excluded_phrase_removes_only_papers_with_the_phrase(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, 'gaussian -"real time"') == ["2501.00001"]
    assert set(await ids_for(index, 'gaussian -"time real"')) == {"2308.04079", "2501.00001"}


async def test_author_filter_matches_a_surname_or_a_full_name_in_order(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, "author:Kusupati") == ["2205.13147"]
    assert await ids_for(index, 'author:"aditya kusupati"') == ["2205.13147"]
    assert await ids_for(index, 'author:"Kusupati Aditya"') == []
    assert await ids_for(index, "author:Kusupati gaussian") == []


async def test_author_filter_does_not_stem_names(fill: Fill) -> None:
    index = await fill([paper("2401.00001", "On Kernels", authors=["Ann Learning"])])
    assert await ids_for(index, "author:Learning") == ["2401.00001"]
    assert await ids_for(index, "author:Learn") == []


async def test_plain_word_also_finds_an_author(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, "drettakis") == ["2308.04079"]


async def test_category_filter_needs_the_exact_category_in_any_case(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, "cat:cs.CL") == ["2106.09685"]
    assert await ids_for(index, "cat:CS.cl") == ["2106.09685"]
    assert await ids_for(index, "cat:cs.C") == []
    assert await ids_for(index, "learning cat:cs.CV") == ["2205.13147", "2501.00001"]


async def test_org_filter_matches_the_organization(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, "org:google") == ["2205.13147"]
    assert await ids_for(index, 'org:"Google Research"') == ["2205.13147"]
    assert await ids_for(index, "org:Microsoft adaptation") == ["2106.09685"]
    assert await ids_for(index, "org:Microsoft matryoshka") == []


async def test_since_uses_the_featured_day_before_the_arxiv_date(fill: Fill) -> None:
    index = await fill(LIBRARY)
    # 2501.00001 was published 2024-12-30 but featured 2025-01-02.
    assert await ids_for(index, "since:2025-01-01") == ["2502.00002", "2501.00001"]
    assert await ids_for(index, "since:2025-01-03") == ["2502.00002"]
    assert set(await ids_for(index, "gaussian since:2023-08-09")) == {"2501.00001", "2308.04079"}
    assert await ids_for(index, "gaussian since:2023-08-10") == ["2501.00001"]


async def test_filters_alone_list_the_newest_ids_first(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, "cat:cs.LG") == ["2502.00002", "2205.13147", "2106.09685"]


async def test_restrict_to_searches_only_among_the_given_ids(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, "gaussian", restrict_to={"2501.00001", "2106.09685"}) == ["2501.00001"]
    assert await ids_for(index, "gaussian", restrict_to=set()) == []
    assert await ids_for(index, "cat:cs.LG", restrict_to=["2205.13147", "9999.99999"]) == ["2205.13147"]


async def test_require_all_words_needs_every_word_in_some_field(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert set(await ids_for(index, "gaussian rendering")) == {"2308.04079", "2501.00001"}
    assert await ids_for(index, "gaussian real-time", require_all_words=True) == ["2308.04079"]
    # A word may be found in one field and the next in another (here: title and summary).
    assert await ids_for(index, "codebooks smaller", require_all_words=True) == ["2501.00001"]
    assert await ids_for(index, "gaussian pineapple", require_all_words=True) == []


async def test_require_all_words_ignores_stop_words(fill: Fill) -> None:
    index = await fill(LIBRARY)
    found = await ids_for(index, "the gaussian of splatting", require_all_words=True)
    assert set(found) == {"2308.04079", "2501.00001"}


async def test_limit_caps_the_results(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert len(await ids_for(index, "learning", limit=2)) == 2
    assert await ids_for(index, "learning", limit=0) == []


async def test_equal_scores_are_ordered_by_newest_id_even_at_the_cut_off(index: TantivyIndex) -> None:
    twins = [paper(f"2401.{n:05d}", "Identical Twins", "Same words.") for n in range(1, 40)]
    await index.add_papers(list(reversed(twins)))
    found = await ids_for(index, "twins", limit=3)
    assert found == ["2401.00039", "2401.00038", "2401.00037"]
    assert await ids_for(index, "twins", limit=3) == found


async def test_scores_are_positive_and_descending(fill: Fill) -> None:
    index = await fill(LIBRARY)
    hits = await index.search(parse_query("gaussian splatting learned"), 10)
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)


@pytest.mark.parametrize("text", ["the", "of the and", '"to be or not to be"', "!!!", ""])
async def test_a_query_of_stop_words_or_nothing_finds_nothing(fill: Fill, text: str) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, text) == []


async def test_stop_words_beside_a_filter_leave_the_filter(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, "the cat:cs.CL") == ["2106.09685"]


async def test_an_empty_query_object_finds_nothing(index: TantivyIndex) -> None:
    await index.add_papers(LIBRARY)
    assert await index.search(SearchQuery(), 10) == []
    assert await index.search(SearchQuery(excluded_words=["gaussian"]), 10) == []


HOSTILE = [
    '"',
    '""',
    "*",
    "gauss*",
    "NEAR",
    "gaussian NEAR splatting",
    "gaussian OR splatting",
    "gaussian AND NOT splatting",
    "(",
    ")",
    "(gaussian",
    "title:gaussian",
    ":",
    "::",
    "a:b:c",
    '"open quote gaussian',
    'author:"open',
    "cat:",
    "since:",
    "since:tomorrow",
    "-",
    "--",
    '-"',
    "^2 ~1 +gaussian",
    "\\",
    "[1 TO 5]",
    "{}",
    "gaussian~2",
    "splatting^10",
    "!" * 500,
    "():*\"'^~[]{}<>\\/|&!?,.;@#$%=+-" * 15,
    "🚀 gaussian 🦀",
    "👩‍🔬",
    "日本語 検索",
    "\x00\x01\x02",
    "a" * 499,
    "IN SET ['x']",
]


@pytest.mark.parametrize("text", HOSTILE)
async def test_hostile_input_never_raises(index: TantivyIndex, text: str) -> None:
    await index.add_papers(LIBRARY)
    hits = await index.search(parse_query(text), 10)
    assert all(arxiv_id in {p.arxiv_id for p in LIBRARY} for arxiv_id, _ in hits)
    await index.search(parse_query(text), 10, require_all_words=True)


async def test_hostile_words_handed_over_unparsed_never_raise(index: TantivyIndex) -> None:
    await index.add_papers(LIBRARY)
    # A caller that builds a query by hand may pass anything as a word, phrase or filter value.
    query = SearchQuery(
        words=['"', "*", "NEAR", "OR", "(", ")", ":", "title:x", "a" * 5000],
        phrases=['"open', "x OR y", "(a b)"],
        excluded_words=["*", ":"],
        excluded_phrases=['"'],
        authors=["O'Brien (ed.)"],
        categories=['cs.CL" OR "x'],
        orgs=["*"],
    )
    assert await index.search(query, 10) == []


async def test_operators_are_plain_words_when_they_are_in_the_text(index: TantivyIndex) -> None:
    await index.add_papers([paper("2401.00001", "Near Field OR Far Field")])
    assert await ids_for(index, "NEAR") == ["2401.00001"]
    assert await ids_for(index, "near field") == ["2401.00001"]


async def test_readding_a_paper_replaces_it_without_duplicates(index: TantivyIndex) -> None:
    await index.add_papers(LIBRARY)
    await index.add_papers(LIBRARY)
    assert await ids_for(index, "matryoshka") == ["2205.13147"]
    renamed = paper("2205.13147", "Nested Embeddings for Everyone")
    await index.add_papers([renamed])
    assert await ids_for(index, "nested embeddings") == ["2205.13147"]
    assert await ids_for(index, "matryoshka") == []
    assert await ids_for(index, "cat:cs.LG") == ["2502.00002", "2106.09685"]


async def test_the_same_paper_twice_in_one_batch_is_indexed_once(index: TantivyIndex) -> None:
    first = paper("2401.00001", "Old Title")
    second = paper("2401.00001", "New Title")
    await index.add_papers([first, second])
    assert await ids_for(index, "title") == ["2401.00001"]
    assert await ids_for(index, "old") == []


async def test_a_withdrawn_paper_leaves_search(index: TantivyIndex) -> None:
    await index.add_papers(LIBRARY)
    withdrawn = paper("2308.04079", "3D Gaussian Splatting", withdrawn=True)
    await index.add_papers([withdrawn])
    assert await ids_for(index, "gaussian") == ["2501.00001"]


async def test_papers_are_searchable_right_after_they_are_added(index: TantivyIndex) -> None:
    for n in range(5):
        await index.add_papers([paper(f"2401.{n:05d}", f"Topic number{n}")])
        assert await ids_for(index, f"number{n}") == [f"2401.{n:05d}"]


async def test_papers_without_dates_are_left_out_by_since_only(index: TantivyIndex) -> None:
    await index.add_papers([paper("2401.00001", "Undated Work")])
    assert await ids_for(index, "undated") == ["2401.00001"]
    assert await ids_for(index, "undated since:2000-01-01") == []
    assert await ids_for(index, f"undated since:{date.today().isoformat()}") == []


async def test_a_paper_staged_twice_before_a_commit_is_indexed_once(index: TantivyIndex) -> None:
    await index.stage_papers([paper("2401.00001", "Old Title")])
    await index.stage_papers([paper("2401.00001", "New Title")])
    await index.commit()
    assert await ids_for(index, "title") == ["2401.00001"]
    assert await ids_for(index, "old") == []


@pytest.mark.parametrize("day", [date(1, 1, 1), date(1970, 1, 1), date(9999, 12, 31)])
async def test_since_at_the_edges_of_the_calendar_never_raises(index: TantivyIndex, day: date) -> None:
    await index.add_papers(LIBRARY)
    hits = await index.search(SearchQuery(since=day), 10)
    assert len(hits) == (0 if day.year == 9999 else len(LIBRARY))


async def test_a_paper_with_an_impossible_date_is_indexed_without_it(index: TantivyIndex) -> None:
    await index.add_papers([paper("2401.00001", "Ancient Scrolls", published=date(1, 1, 1))])
    assert await ids_for(index, "ancient") == ["2401.00001"]
    assert await ids_for(index, "ancient since:1900-01-01") == []


async def test_withdrawing_and_restoring_a_paper_before_a_commit_keeps_it(index: TantivyIndex) -> None:
    await index.add_papers(LIBRARY)
    await index.stage_papers([paper("2308.04079", "3D Gaussian Splatting", withdrawn=True)])
    await index.stage_papers([LIBRARY[1]])
    await index.commit()
    assert await ids_for(index, "drettakis") == ["2308.04079"]
