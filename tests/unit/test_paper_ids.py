import pytest

from bot.ids import InvalidPaperId, normalize_arxiv_id


@pytest.mark.parametrize(
    "text",
    [
        "2205.13147",
        "2205.13147v2",
        "arXiv:2205.13147",
        "arxiv.org/abs/2205.13147",
        "https://arxiv.org/abs/2205.13147v3",
        "https://arxiv.org/pdf/2205.13147.pdf",
        "https://arxiv.org/pdf/2205.13147v1",
        "https://huggingface.co/papers/2205.13147",
        "<https://huggingface.co/papers/2205.13147|Matryoshka>",
        " https://www.arxiv.org/abs/2205.13147?context=cs ",
    ],
)
def test_every_way_of_naming_a_paper_gives_the_bare_id(text: str) -> None:
    assert normalize_arxiv_id(text) == "2205.13147"


def test_old_style_ids_are_kept_with_their_archive() -> None:
    assert normalize_arxiv_id("https://arxiv.org/abs/hep-th/9901001v2") == "hep-th/9901001"
    assert normalize_arxiv_id("math.gt/0309136") == "math.GT/0309136"


@pytest.mark.parametrize(
    "text", ["", "hello", "2205.131", "12345.67890", "arxiv.org/abs/", "../../etc/passwd"]
)
def test_non_ids_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(InvalidPaperId, match=r"2205\.13147"):
        normalize_arxiv_id(text)
