"""arXiv identifiers: recognise a bare id, a versioned id or a paper URL, and reduce it to the bare id."""

from __future__ import annotations

import re

# New-style ids (0704.0001 onwards: YYMM.NNNN, YYMM.NNNNN since 2015) and old-style ids (hep-th/9901001).
_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
_ID = rf"(?P<id>{_NEW_ID}|{_OLD_ID})(?:v(?P<version>\d+))?"
_BARE = re.compile(rf"^(?:arxiv:)?{_ID}$", re.IGNORECASE)
_URL = re.compile(
    rf"^(?:https?://)?(?:www\.|export\.)?"
    rf"(?:arxiv\.org/(?:abs|pdf|html)/|huggingface\.co/papers/|hf\.co/papers/)"
    rf"{_ID}(?:\.pdf)?/?(?:[?#].*)?$",
    re.IGNORECASE,
)

ID_HELP = (
    "Give an arXiv id or link, e.g. 2205.13147, 2205.13147v2, arxiv.org/abs/2205.13147, "
    "arxiv.org/pdf/2205.13147.pdf or huggingface.co/papers/2205.13147."
)


class InvalidPaperId(ValueError):
    """Raised when a text names no arXiv paper."""


def normalize_arxiv_id(text: str) -> str:
    """Return the bare arXiv id (no version) of an id or URL; raise InvalidPaperId with a sentence otherwise."""
    candidate = text.strip().strip("<>").strip()
    # Slack wraps links as <url|label>; keep the URL part.
    candidate = candidate.split("|", 1)[0]
    match = _BARE.match(candidate) or _URL.match(candidate)
    if match is None:
        shown = candidate if len(candidate) <= 60 else candidate[:57] + "..."
        raise InvalidPaperId(f"{shown!r} is not an arXiv id. {ID_HELP}" if shown else ID_HELP)
    paper_id = match.group("id")
    # Old-style archive names are lower case, the optional subject class upper case (math.GT/0309136).
    if "/" in paper_id:
        archive, number = paper_id.split("/", 1)
        if "." in archive:
            name, subject = archive.split(".", 1)
            archive = f"{name.lower()}.{subject.upper()}"
        else:
            archive = archive.lower()
        paper_id = f"{archive}/{number}"
    return paper_id


def is_arxiv_id(text: str) -> bool:
    """True when the text names an arXiv paper."""
    try:
        normalize_arxiv_id(text)
    except InvalidPaperId:
        return False
    return True
