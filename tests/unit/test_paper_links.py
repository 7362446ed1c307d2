"""Paper links in chat text: every way people write an arXiv, Hugging Face or alphaXiv link gives the bare id;
look-alike hosts and longer numbers give nothing; any text is read without an exception (property tests)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.links import MAX_LINKED_PAPERS, PaperLink, find_paper_links, linked_papers, paper_link

QUICK = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

NEW_IDS = st.builds(
    lambda yymm, number: f"{yymm:04d}.{number}",
    st.integers(min_value=701, max_value=9912),
    st.one_of(st.integers(1000, 9999).map(str), st.integers(10000, 99999).map(str)),
)
OLD_IDS = st.builds(
    lambda archive, number: f"{archive}/{number:07d}",
    st.sampled_from(["hep-th", "astro-ph", "cond-mat", "math.GT", "cs"]),
    st.integers(0, 9_999_999),
)
VERSIONS = st.one_of(st.just(""), st.integers(1, 30).map(lambda v: f"v{v}"))
SCHEMES = st.sampled_from(["https://", "http://", ""])
# Where a link sits in a message: bare, in Slack's <url|label> or <url>, in Markdown, or before punctuation.
WRAPPINGS = st.sampled_from(["{}", "<{}>", "<{}|the paper>", "[paper]({})", "({})", "{}.", "{},", '"{}"'])
# Text around a link: anything, as long as a space keeps it from gluing onto the address.
FILLER = st.text(max_size=40).map(lambda text: f"{text} " if text else "")


def addresses(arxiv_id: str, version: str, scheme: str) -> list[str]:
    """Every page of one paper that the bot turns into a card."""
    return [
        f"{scheme}arxiv.org/abs/{arxiv_id}{version}",
        f"{scheme}www.arxiv.org/abs/{arxiv_id}{version}",
        f"{scheme}arxiv.org/pdf/{arxiv_id}{version}",
        f"{scheme}arxiv.org/pdf/{arxiv_id}{version}.pdf",
        f"{scheme}huggingface.co/papers/{arxiv_id}",
        f"{scheme}alphaxiv.org/abs/{arxiv_id}{version}",
    ]


def bare(arxiv_id: str) -> str:
    """The id as the store keeps it (old-style archive lower case, subject class upper case)."""
    if "/" not in arxiv_id:
        return arxiv_id
    archive, number = arxiv_id.split("/")
    name, _, subject = archive.partition(".")
    return f"{name.lower()}.{subject.upper()}/{number}" if subject else f"{name.lower()}/{number}"


@QUICK
@given(
    st.one_of(NEW_IDS, OLD_IDS),
    VERSIONS,
    SCHEMES,
    st.integers(0, 5),
    WRAPPINGS,
    FILLER,
    FILLER,
)
def test_a_paper_link_anywhere_in_a_message_is_found_as_written_with_its_bare_id(
    arxiv_id: str, version: str, scheme: str, page: int, wrapping: str, before: str, after: str
) -> None:
    url = addresses(arxiv_id, version, scheme)[page]
    text = before + wrapping.format(url) + " " + after

    found = find_paper_links(text)

    assert PaperLink(url, bare(arxiv_id)) in found


@QUICK
@given(st.one_of(NEW_IDS, OLD_IDS), VERSIONS, SCHEMES, st.integers(0, 5))
def test_an_address_slack_says_was_shared_names_its_paper(
    arxiv_id: str, version: str, scheme: str, page: int
) -> None:
    url = addresses(arxiv_id, version, scheme)[page]

    assert paper_link(url) == PaperLink(url, bare(arxiv_id))
    assert paper_link(url + "?context=cs") == PaperLink(url + "?context=cs", bare(arxiv_id))


@QUICK
@given(st.text(max_size=300))
def test_any_text_is_read_and_every_link_found_is_in_it_and_names_its_paper_again(text: str) -> None:
    for link in find_paper_links(text):
        assert link.url in text
        assert paper_link(link.url) == link


@QUICK
@given(
    NEW_IDS,
    st.sampled_from(
        ["notarxiv.org", "arxiv.org.evil.com", "arxiv.com", "huggingface.co/models", "alphaxiv.org/x"]
    ),
    st.sampled_from(["/abs/", "/pdf/", "/papers/", "/"]),
)
def test_look_alike_hosts_and_other_pages_are_not_paper_links(arxiv_id: str, host: str, path: str) -> None:
    assert find_paper_links(f"see https://{host}{path}{arxiv_id} now") == []


@QUICK
@given(NEW_IDS, st.integers(0, 9))
def test_an_id_glued_to_more_digits_is_not_taken_for_a_shorter_one(arxiv_id: str, digit: int) -> None:
    # 2205.1314700 is no paper id; reading 2205.13147 out of it would unfurl the wrong paper.
    assert find_paper_links(f"arxiv.org/abs/{arxiv_id}{digit}{digit}") == []


def test_a_link_inside_another_site_is_not_the_papers_page() -> None:
    assert find_paper_links("https://example.com/arxiv.org/abs/2205.13147") == []
    assert find_paper_links("mail me at me@arxiv.org/abs/2205.13147") == []


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        (
            "Read <https://arxiv.org/abs/2205.13147v2> and <https://huggingface.co/papers/2311.13681|this one>.",
            ["https://arxiv.org/abs/2205.13147v2", "https://huggingface.co/papers/2311.13681"],
        ),
        ("pdf: https://arxiv.org/pdf/2205.13147v1.pdf.", ["https://arxiv.org/pdf/2205.13147v1.pdf"]),
        (
            "twice https://arxiv.org/abs/2205.13147 https://arxiv.org/abs/2205.13147",
            ["https://arxiv.org/abs/2205.13147"],
        ),
    ],
)
def test_links_come_in_the_order_written_each_address_once(text: str, urls: list[str]) -> None:
    assert [link.url for link in find_paper_links(text)] == urls


def test_a_message_names_each_paper_once_and_at_most_five() -> None:
    ids = [f"2501.{n:05d}" for n in range(1, 9)]
    links = [PaperLink(f"https://arxiv.org/abs/{i}", i) for i in ids]
    links.insert(1, PaperLink(f"https://huggingface.co/papers/{ids[0]}", ids[0]))

    assert linked_papers(links) == ids[:MAX_LINKED_PAPERS]
