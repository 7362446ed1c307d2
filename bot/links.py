"""Paper links in chat: arXiv, Hugging Face and alphaXiv addresses found in text, each with its bare arXiv id.

Links the bot turns into cards (Slack unfurls, Discord's "Paper card"): `arxiv.org/abs/…` and `arxiv.org/pdf/…`
(with or without a version or `.pdf`), `huggingface.co/papers/…` and `alphaxiv.org/abs/…`. Pure functions:
they never raise, whatever the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.ids import InvalidPaperId, normalize_arxiv_id

# Cards one message gets at most: a message that pastes a reading list is answered with its first papers.
MAX_LINKED_PAPERS = 5

# New-style ids (YYMM.NNNN, YYMM.NNNNN since 2015) and old-style ids (hep-th/9901001, math.GT/0309136).
_ID = r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?"
_PAGES = (
    r"(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/",
    r"(?:www\.)?huggingface\.co/papers/",
    r"(?:www\.)?alphaxiv\.org/abs/",
)
# The address ends after the id (and `.pdf`): a longer number or a word glued to it is another thing.
_LINK = (
    rf"(?:https?://)?(?:{'|'.join(_PAGES)}){_ID}(?:\.pdf)?(?![\w.\-]*\w)"
    # A path or query may follow (`?context=cs`, `#S2`, `/`), up to white space or the markup around links.
    r"(?:[/?#][^\s<>|()\[\]\"']*)?"
)
# In running text a host glued to more host (`notarxiv.org`, `arxiv.org.evil`) is not the paper's site.
_IN_TEXT = re.compile(rf"(?<![\w.\-/@]){_LINK}", re.IGNORECASE)
_WHOLE = re.compile(rf"^{_LINK}$", re.IGNORECASE)
# Slack wraps a link as <url> or <url|label>; Discord as <url> (no preview); both may leave a trailing dot.
_TRAILING = ".,;:!?"


@dataclass(frozen=True, slots=True)
class PaperLink:
    """A link to a paper as it was written, and the paper's bare arXiv id (no version)."""

    url: str
    arxiv_id: str


def _link(url: str, raw_id: str) -> PaperLink | None:
    try:
        return PaperLink(url, normalize_arxiv_id(raw_id))
    except InvalidPaperId:
        return None


def paper_link(url: str) -> PaperLink | None:
    """The paper one address names (a link Slack says was shared), or None when it names none."""
    candidate = url.strip()
    match = _WHOLE.match(candidate)
    return _link(candidate, match.group("id")) if match else None


def find_paper_links(text: str) -> list[PaperLink]:
    """Every paper link in a text, in order, each address once (two addresses of one paper are two links)."""
    found: list[PaperLink] = []
    seen: set[str] = set()
    for match in _IN_TEXT.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        if url in seen:
            continue
        link = _link(url, match.group("id"))
        if link is not None:
            seen.add(url)
            found.append(link)
    return found


def linked_papers(links: Iterable[PaperLink]) -> list[str]:
    """The distinct papers the links name, in the order they first appear, at most MAX_LINKED_PAPERS."""
    ids = list(dict.fromkeys(link.arxiv_id for link in links))
    return ids[:MAX_LINKED_PAPERS]
