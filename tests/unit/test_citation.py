from datetime import date

from bot.citation import bibtex_entry
from bot.domain import Paper


def test_bibtex_entry_is_misc_with_eprint_archive_prefix_primary_class_and_url() -> None:
    paper = Paper(
        arxiv_id="2205.13147",
        title="Matryoshka Representation Learning",
        authors=["Aditya Kusupati", "Gantavya Bhatt"],
        published=date(2022, 5, 26),
        categories=["cs.LG", "cs.CV"],
    )
    entry = bibtex_entry(paper)
    assert entry.startswith("@misc{kusupati2022matryoshka,")
    assert "title         = {{Matryoshka Representation Learning}}" in entry
    assert "author        = {Aditya Kusupati and Gantavya Bhatt}" in entry
    assert "eprint        = {2205.13147}" in entry
    assert "archivePrefix = {arXiv}" in entry
    assert "primaryClass  = {cs.LG}" in entry
    assert "url           = {https://arxiv.org/abs/2205.13147}" in entry
    assert entry.endswith("}")


def test_unknown_category_leaves_primary_class_out_and_specials_are_escaped() -> None:
    entry = bibtex_entry(Paper(arxiv_id="2401.00001", title="Q&A at 100% {speed", authors=["Émile Zola"]))
    assert "primaryClass" not in entry
    assert r"Q\&A at 100\% speed" in entry
    assert entry.startswith("@misc{zola2024qa,")


def bibtex_fields(entry: str) -> dict[str, str]:
    """The fields of one entry as BibTeX reads them: a braced value ends at the brace that balances it.

    BibTeX counts every brace, escaped or not, so this is the reading that decides whether a title can add a
    field. Raises AssertionError on anything BibTeX would refuse (an unclosed value, text after the entry).
    """
    head, _, rest = entry.partition(",")
    assert head.startswith("@misc{")
    fields: dict[str, str] = {}
    position = 0
    while True:
        while position < len(rest) and rest[position] in " \n,":
            position += 1
        if rest[position:] == "}":
            return fields
        name_end = rest.index("=", position)
        name = rest[position:name_end].strip().lower()
        position = name_end + 1
        while rest[position] == " ":
            position += 1
        assert rest[position] == "{", f"field {name} is not braced"
        depth, start = 0, position
        for position in range(start, len(rest)):
            depth += {"{": 1, "}": -1}.get(rest[position], 0)
            if depth == 0:
                break
        assert depth == 0, f"field {name} never closes"
        assert name not in fields, f"field {name} given twice"
        fields[name] = rest[start + 1 : position]
        position += 1


def test_tex_math_in_a_title_stays_math() -> None:
    title = r"$\alpha$-Divergences for $x_1$ and $O(n^2)$ Sparse R&D_sets"
    entry = bibtex_entry(Paper(arxiv_id="2401.00002", title=title, authors=["Ada Lovelace"]))

    fields = bibtex_fields(entry)
    assert fields["title"] == r"{$\alpha$-Divergences for $x_1$ and $O(n^2)$ Sparse R\&D\_sets}"


def test_a_lone_dollar_is_a_dollar_sign_and_author_escapes_are_not_doubled() -> None:
    entry = bibtex_entry(Paper(arxiv_id="2401.00003", title=r"Training for \$5 \& Less: $5 a GPU"))
    assert bibtex_fields(entry)["title"] == r"{Training for \$5 \& Less: \$5 a GPU}"


def test_braces_in_a_title_cannot_add_or_replace_fields() -> None:
    title = "Evil}}, url = {http://x}, note = {{x"
    honest = bibtex_fields(bibtex_entry(Paper(arxiv_id="2401.00004", title="Evil", authors=["A B"])))

    fields = bibtex_fields(bibtex_entry(Paper(arxiv_id="2401.00004", title=title, authors=["A B"])))

    assert list(fields) == list(honest)
    assert fields["url"] == "https://arxiv.org/abs/2401.00004"
    assert "note" not in fields
    assert fields["title"] == "{Evil, url = {http://x}, note = x}"


def test_braces_in_authors_and_doi_cannot_add_fields_either() -> None:
    paper = Paper(
        arxiv_id="2401.00005",
        title="Fine {TeX} Grouping",
        authors=["A}, note = {B"],
        doi="10.1/x}, howpublished = {y",
    )
    fields = bibtex_fields(bibtex_entry(paper))

    assert set(fields) == {"title", "author", "year", "eprint", "archiveprefix", "doi", "url"}
    assert fields["title"] == "{Fine {TeX} Grouping}"
