"""The other names of a paper: acronyms it defines, a title's short name, the parts of coined names."""

from __future__ import annotations

import json
from importlib import resources

from hypothesis import given, settings
from hypothesis import strategies as st

from storage.search.aliases import (
    _MIXED,
    _PARTS,
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


def _name_parts_word_by_word(text: str) -> list[str]:
    """name_parts as first written: the coined-name pattern tried on each word with a capital."""
    parts: list[str] = []
    for word in text.split():
        for match in _MIXED.finditer(word):
            name = match.group(0)
            if len(name) > 2 and name.endswith("s") and name[-2].isupper():
                name = name[:-1]
            pieces = _PARTS.findall(name)
            if len(pieces) > 1:
                parts.extend(pieces)
    return list(dict.fromkeys(parts))


# Letters, digits, the white space str.split knows beyond ASCII, non-ASCII letters and a lone surrogate.
_NAME_ALPHABET = "aAbBzZsS09 -_().,;:/\n\t\x1c\x85\xa0\u2009\u3000éÉ\u0130\u212a\u01c5\ud800"


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet=_NAME_ALPHABET, max_size=60))
def test_name_parts_finds_what_the_pattern_finds_word_by_word(text: str) -> None:
    assert name_parts(text) == _name_parts_word_by_word(text)


def test_name_parts_of_real_abstracts_match_the_word_by_word_pattern() -> None:
    items = json.loads(
        (resources.files("adapters.sources") / "demo" / "daily_papers_demo.json").read_text(encoding="utf-8")
    )
    texts = [text for item in items for text in (item["paper"]["title"], item["paper"].get("summary", ""))]
    assert sum(bool(name_parts(text)) for text in texts) > 10
    for text in texts:
        assert name_parts(text) == _name_parts_word_by_word(text)
