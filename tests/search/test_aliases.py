"""The other names of a paper: acronyms it defines, a title's short name, the parts of coined names."""

from __future__ import annotations

from storage.search.aliases import (
    acronym_definitions,
    aliases_of,
    defined_acronyms,
    name_parts,
    title_acronym,
)


def test_an_acronym_is_defined_when_its_letters_start_the_words_before_it() -> None:
    text = (
        "Matryoshka Representation Learning (MRL) encodes information; sparse autoencoders (SAEs) help; "
        "3D Gaussian splatting (3DGS) renders; we call it Foo (BAR)."
    )
    assert defined_acronyms(text) == ["MRL", "SAE", "3DGS"]


def test_a_parenthesis_that_is_no_acronym_is_left_alone() -> None:
    assert defined_acronyms("as shown before (see Table 2) and in (Smith, 2020)") == []


def test_a_title_short_name_counts_when_its_capitals_spell_the_rest() -> None:
    assert title_acronym("ICLR: In-Context Learning of Representations") == ["ICLR"]
    assert title_acronym("LaVCa: LLM-assisted Visual Cortex Captioning") == ["LaVCa"]
    assert title_acronym("CoreInfer: Accelerating Large Language Model Inference") == []
    assert title_acronym("No colon here") == []


def test_coined_names_split_into_their_parts_and_plurals_stay_whole() -> None:
    assert name_parts("UniSDF and NeuRBF beat CodeGen2") == ["Uni", "SDF", "Neu", "RBF", "Code", "Gen", "2"]
    assert name_parts("LLMs and NeRFs") == ["Ne", "RF"]
    assert name_parts("plain words only") == []


def test_aliases_of_a_paper_are_one_text_without_repeats() -> None:
    text = aliases_of("UniSDF: Unifying Scenes", "Signed distance functions (SDF) and UniSDF again.")
    assert text.split() == ["SDF", "Uni"]


def test_a_definition_keeps_the_shortest_long_form_that_spells_the_acronym() -> None:
    text = (
        "We study a sparse Mixture-of-Experts (MoE) model and large language models (LLMs); "
        "in our new Matryoshka Representation Learning (MRL) approach, see (Table 2)."
    )
    assert acronym_definitions(text) == [
        ("MoE", "Mixture of Experts"),
        ("LLM", "large language models"),
        ("MRL", "Matryoshka Representation Learning"),
    ]
