"""Relevance of the lexical ranking: typos, acronyms, coined names, proximity, stop words, sparse fields and
"more like this" — filled directly, and through SQLite and PostgreSQL (the `fill` fixture), so all three agree."""

from __future__ import annotations

from bot.query import parse_query
from storage.search.query import PLAIN_RANKING, WORD_FIELDS
from storage.search.schema import TEXT_FIELDS
from tests.search.conftest import LIBRARY, Fill, ids_for, paper

# Papers that have both words, but apart: "sparse" in the title, "activation" in the abstract.
NOISE = [
    paper(f"2402.{n:05d}", f"Sparse Methods {n}", "We discuss activation functions at length.")
    for n in range(1, 4)
]


async def test_a_misspelt_title_word_finds_the_paper(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert (await ids_for(index, "matryoshak"))[:1] == ["2205.13147"]
    assert (await ids_for(index, "gausian spalting"))[:2] == ["2308.04079", "2501.00001"]
    assert (await ids_for(index, "representaton lerning"))[:1] == ["2205.13147"]


async def test_a_misspelt_author_name_finds_their_paper(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, "kusupaty") == ["2205.13147"]
    assert await ids_for(index, "drettakys") == ["2308.04079"]


async def test_an_exact_word_ranks_above_a_correction_of_a_typo(fill: Fill) -> None:
    index = await fill([*LIBRARY, paper("2403.00001", "Matryoshak Dolls of Wood", "A toy.")])
    # "matryoshak" is a word of a title now: that paper comes first, the corrections after it.
    assert (await ids_for(index, "matryoshak"))[0] == "2403.00001"


async def test_words_with_digits_are_never_corrected(fill: Fill) -> None:
    index = await fill([paper("2401.00001", "Results on GPT4"), paper("2401.00002", "Results on GPT3")])
    assert await ids_for(index, "gpt5") == []
    assert await ids_for(index, "gpt4") == ["2401.00001"]


async def test_typo_tolerance_can_be_turned_off(fill: Fill) -> None:
    index = await fill(LIBRARY)
    index.ranking = PLAIN_RANKING
    assert await ids_for(index, "matryoshak") == []


async def test_an_acronym_the_paper_defines_finds_it_first(fill: Fill) -> None:
    defines = paper(
        "2401.00001",
        "Records of Patients as Graphs",
        "Electronic Health Records (EHR) hold many concepts; we learn from them.",
    )
    mentions = [
        paper(f"2401.{n:05d}", f"Study {n} of EHR and EHR systems", "EHR EHR data appear in EHR tables.")
        for n in range(2, 6)
    ]
    index = await fill([defines, *mentions])
    assert (await ids_for(index, "EHR"))[0] == "2401.00001"


async def test_a_title_acronym_and_the_parts_of_a_coined_name_are_found(fill: Fill) -> None:
    index = await fill(
        [
            paper("2401.00001", "ICLR: In-Context Learning of Representations", "We study concepts."),
            paper("2401.00002", "UniSDF: Unifying Neural Representations", "Reconstruction of scenes."),
            paper("2401.00003", "Signed distances", "A note about the word iclr and sdf values."),
        ]
    )
    assert (await ids_for(index, "ICLR"))[0] == "2401.00001"
    assert (await ids_for(index, "SDF"))[0] == "2401.00002"


async def test_neighbouring_query_words_near_each_other_rank_first(fill: Fill) -> None:
    close = paper("2401.00009", "Inference Acceleration", "We use sparse activation of neurons for speed.")
    index = await fill([*LIBRARY, *NOISE, close])
    assert (await ids_for(index, "sparse activation"))[0] == "2401.00009"
    index.ranking = PLAIN_RANKING
    # Without the proximity bonus the shorter abstracts of the notes would win.
    assert (await ids_for(index, "sparse activation"))[0] != "2401.00009"


async def test_words_that_say_little_do_not_decide_the_ranking(fill: Fill) -> None:
    index = await fill(
        [
            paper("2401.00001", "How Which When Where", "How which when where would should could."),
            paper("2401.00002", "Gaussian Splatting", "Scenes rendered in real time."),
        ]
    )
    assert await ids_for(index, "how would gaussian splatting work") == ["2401.00002"]
    # A query of such words alone still searches them.
    assert await ids_for(index, "how which") == ["2401.00001"]


async def test_a_keyword_match_is_not_drowned_by_papers_without_keywords(fill: Fill) -> None:
    plain = [paper(f"2401.{n:05d}", f"Paper {n}", "Fine tuning with adapters. " * 20) for n in range(1, 8)]
    tagged = paper("2401.00099", "A Method", "Short.", ai_keywords=["adapters"])
    index = await fill([*plain, tagged])
    assert "2401.00099" in (await ids_for(index, "adapters"))[:3]


async def test_phrases_exclusions_and_filters_still_hold_with_typos(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert await ids_for(index, "gausian -codebooks") == ["2308.04079"]
    assert await ids_for(index, "gausian cat:cs.GR") == ["2308.04079"]
    assert await ids_for(index, 'gausian "learned codebooks"') == ["2501.00001"]
    assert await ids_for(index, "matryoshak author:Kerbl") == []


async def test_require_all_words_accepts_a_corrected_word(fill: Fill) -> None:
    index = await fill(LIBRARY)
    assert set(await ids_for(index, "gausian splatting", require_all_words=True)) == {
        "2308.04079",
        "2501.00001",
    }
    assert await ids_for(index, "gausian pineapple", require_all_words=True) == []


async def test_more_like_this_finds_papers_sharing_telling_words_and_never_the_paper(fill: Fill) -> None:
    index = await fill(LIBRARY)
    splatting = next(p for p in LIBRARY if p.arxiv_id == "2308.04079")
    hits = await index.similar(splatting, 3)
    assert hits[0][0] == "2501.00001"
    assert "2308.04079" not in [arxiv_id for arxiv_id, _ in hits]
    assert await index.similar(splatting, 0) == []


async def test_more_like_this_works_for_a_paper_the_index_does_not_hold(fill: Fill) -> None:
    index = await fill(LIBRARY)
    outsider = paper("2501.09999", "Splatting Gaussian Scenes Faster", "Real-time radiance field rendering.")
    assert (await index.similar(outsider, 2))[0][0] == "2308.04079"


async def test_scores_of_the_ranking_are_positive_and_descending(fill: Fill) -> None:
    index = await fill(LIBRARY)
    hits = await index.search(parse_query("gausian splatting learned representations"), 10)
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True) and all(score > 0 for score in scores)


async def test_an_acronym_is_spelt_out_as_the_papers_that_define_it_do(fill: Fill) -> None:
    index = await fill(
        [
            paper("2401.00001", "Routing Tokens", "A sparse Mixture of Experts (MoE) routes tokens."),
            paper("2401.00002", "Experts at Scale", "Our mixture of experts (MoE) layer scales."),
            paper("2401.00003", "Other Things", "Ministry of Education (MoE) statistics."),
            paper("2401.00004", "Splats", "3D Gaussian splatting (3DGS) renders scenes."),
        ]
    )
    meanings = await index.acronym_meanings(["MoE", "3DGS", "routing", "XYZ"])
    # Two papers of three say mixture of experts, whatever their capitals.
    assert meanings == {"MoE": "mixture of experts", "3DGS": "3d gaussian splatting"}
    # Written in lower case it is a word, not an acronym.
    assert await index.acronym_meanings(["moe"]) == {}


def test_every_text_field_of_the_schema_is_searched_for_plain_words_in_its_order() -> None:
    # A text field without a weight would hold words that no plain query finds; the order is the order in which
    # clause scores are summed, which the relevance numbers were measured with.
    assert tuple(field for field, _ in WORD_FIELDS) == TEXT_FIELDS
