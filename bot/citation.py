"""BibTeX entries for arXiv papers, in the form arXiv itself recommends (@misc with eprint)."""

from __future__ import annotations

import re
import unicodedata

from bot.domain import Paper

_BIBTEX_SPECIALS = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_"}
_STOP_TITLE_WORDS = {"a", "an", "the", "on", "of", "for", "in", "to", "and", "with", "towards", "toward"}


def _escape(text: str) -> str:
    escaped = "".join(_BIBTEX_SPECIALS.get(ch, ch) for ch in text)
    # Unbalanced braces would break the entry; drop them rather than guess the intent.
    return escaped if escaped.count("{") == escaped.count("}") else escaped.replace("{", "").replace("}", "")


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def _year(paper: Paper) -> str:
    if paper.published:
        return str(paper.published.year)
    match = re.match(r"^(\d{2})(\d{2})\.", paper.arxiv_id)
    if match:
        return f"20{match.group(1)}"
    match = re.search(r"/(\d{2})\d{5}$", paper.arxiv_id)
    if match:
        yy = int(match.group(1))
        return f"{1900 + yy if yy >= 91 else 2000 + yy}"
    return ""


def citation_key(paper: Paper) -> str:
    """A readable key: first author's last name, year, first significant title word (kusupati2022matryoshka)."""
    last_name = (
        _ascii_word(paper.authors[0].split()[-1]) if paper.authors and paper.authors[0].split() else ""
    )
    title_words = [_ascii_word(w) for w in paper.title.split()]
    first_word = next((w for w in title_words if w and w not in _STOP_TITLE_WORDS), "")
    key = f"{last_name or 'arxiv'}{_year(paper)}{first_word}"
    return key or _ascii_word(paper.arxiv_id)


def bibtex_entry(paper: Paper) -> str:
    """The paper as a BibTeX @misc entry with eprint, archivePrefix, primaryClass (when known) and url."""
    fields: list[tuple[str, str]] = [
        ("title", "{" + _escape(paper.title) + "}"),
        ("author", _escape(" and ".join(paper.authors)) if paper.authors else "Unknown"),
    ]
    year = _year(paper)
    if year:
        fields.append(("year", year))
    fields += [("eprint", paper.arxiv_id), ("archivePrefix", "arXiv")]
    if paper.primary_category:
        fields.append(("primaryClass", paper.primary_category))
    if paper.doi:
        fields.append(("doi", paper.doi))
    fields.append(("url", paper.abs_url))
    body = ",\n".join(f"  {name:<13} = {{{value}}}" for name, value in fields)
    return f"@misc{{{citation_key(paper)},\n{body}\n}}"
