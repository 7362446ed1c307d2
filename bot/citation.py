"""BibTeX entries for arXiv papers, in the form arXiv itself recommends (@misc with eprint)."""

from __future__ import annotations

import re
import unicodedata

from bot.domain import Paper

_STOP_TITLE_WORDS = {"a", "an", "the", "on", "of", "for", "in", "to", "and", "with", "towards", "toward"}
# Characters LaTeX reads as markup where the title means them as text; `_` is markup only outside math.
_MATH_SPECIALS = {"&": r"\&", "%": r"\%", "#": r"\#"}
_TEXT_SPECIALS = {**_MATH_SPECIALS, "_": r"\_"}
# An unescaped `$$` or `$`: where math starts or ends.
_MATH_DELIMITER = re.compile(r"(?<!\\)(\$\$|\$)")


def _balanced_braces(text: str) -> str:
    """The text with every brace that does not pair up properly removed (with its escaping backslash).

    BibTeX ends a braced value at the `}` that balances the opening one, whatever comes before it (a backslash
    does not protect a brace from BibTeX), so a title such as `x}}, url = {y}, note = {{z` would close the
    title early and add fields. Kept braces all nest inside the value, so nothing can leave it.
    """
    opened: list[int] = []
    unmatched: set[int] = set()
    for index, char in enumerate(text):
        if char == "{":
            opened.append(index)
        elif char == "}":
            if opened:
                opened.pop()
            else:
                unmatched.add(index)
    unmatched.update(opened)
    if not unmatched:
        return text
    drop = set(unmatched)
    for index in unmatched:
        if index > 0 and text[index - 1] == "\\":
            drop.add(index - 1)
    return "".join(char for index, char in enumerate(text) if index not in drop)


def _escape_specials(text: str, specials: dict[str, str]) -> str:
    out: list[str] = []
    for index, char in enumerate(text):
        # Already escaped by the author (arXiv titles often write `\&`): left alone.
        escaped = index > 0 and text[index - 1] == "\\"
        out.append(char if escaped else specials.get(char, char))
    return "".join(out)


def _escape(text: str) -> str:
    """Text for a braced BibTeX value: TeX kept (math, commands, accents), field injection impossible.

    arXiv titles are TeX: `$\\alpha$` stays math. `$` is escaped only when unpaired (a price, not math), `_`
    only outside math, and `&`, `%`, `#` everywhere unless already escaped.
    """
    text = text.rstrip("\\")  # a trailing backslash would escape the closing brace for LaTeX
    parts = _MATH_DELIMITER.split(text)
    delimiters = parts[1::2]
    if len(delimiters) % 2:
        # An odd number of dollars is no math at all: every one is a literal dollar sign.
        return _balanced_braces(_escape_specials(text, {**_TEXT_SPECIALS, "$": r"\$"}))
    out: list[str] = []
    for position, part in enumerate(parts):
        if position % 2:
            out.append(part)  # a delimiter
        elif (position // 2) % 2:
            out.append(_escape_specials(part, _MATH_SPECIALS))
        else:
            out.append(_escape_specials(part, _TEXT_SPECIALS))
    return _balanced_braces("".join(out))


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
        fields.append(("primaryClass", _balanced_braces(paper.primary_category)))
    if paper.doi:
        fields.append(("doi", _balanced_braces(paper.doi)))
    fields.append(("url", paper.abs_url))
    body = ",\n".join(f"  {name:<13} = {{{value}}}" for name, value in fields)
    return f"@misc{{{citation_key(paper)},\n{body}\n}}"
