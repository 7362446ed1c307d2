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
