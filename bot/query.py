"""The one query language of search and topics, parsed into a neutral structure that never raises."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

MAX_QUERY_LENGTH = 500

QUERY_HELP = (
    'Plain words rank by relevance; also "exact phrase", -excluded, author:Name, cat:cs.CL, org:Name, '
    "since:YYYY-MM-DD."
)

_FIELDS = ("author", "cat", "org", "since")
# One token: an optional minus, an optional known field prefix, then a quoted value (closed or left open) or a bare run.
_TOKEN = re.compile(
    r'(?P<neg>-)?(?:(?P<field>[A-Za-z]+):)?(?:"(?P<quoted>[^"]*)(?P<close>"?)|(?P<bare>[^\s"]+))'
)
# Words of the query as the index sees them: letters and digits; anything else is a separator, so that
# characters with a meaning to an index (* ( ) : ^ ~ …) are taken as plain text.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CATEGORY = re.compile(r"^[a-z\-]+(\.[a-z\-]+)?$", re.IGNORECASE)


class QueryError(ValueError):
    """A query that cannot be run, with one sentence that says what would work."""


@dataclass(slots=True)
class SearchQuery:
    """A parsed query: ranked words, required phrases, exclusions and field filters."""

    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    excluded_words: list[str] = field(default_factory=list)
    excluded_phrases: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)
    since: date | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def has_positive_clause(self) -> bool:
        """True when the query asks for something, not only excludes."""
        return bool(self.words or self.phrases or self.authors or self.categories or self.orgs or self.since)

    def describe(self) -> str:
        """A normalized text form, used to compare topics and to echo the query back."""
        parts: list[str] = list(self.words)
        parts += [f'"{p}"' for p in self.phrases]
        parts += [f"-{w}" for w in self.excluded_words]
        parts += [f'-"{p}"' for p in self.excluded_phrases]
        parts += [f'author:"{a}"' if " " in a else f"author:{a}" for a in self.authors]
        parts += [f"cat:{c}" for c in self.categories]
        parts += [f'org:"{o}"' if " " in o else f"org:{o}" for o in self.orgs]
        if self.since:
            parts.append(f"since:{self.since.isoformat()}")
        return " ".join(parts)


def words_of(text: str) -> list[str]:
    """Split text into the plain words the index understands (letters and digits only)."""
    return _WORD.findall(text)


def _clean_value(text: str) -> str:
    return " ".join(words_of(text))


def parse_query(text: str) -> SearchQuery:
    """Parse any text into a SearchQuery; problems are reported in `problems`, never raised."""
    query = SearchQuery()
    if len(text) > MAX_QUERY_LENGTH:
        query.problems.append(f"That query is {len(text)} characters long; keep it under {MAX_QUERY_LENGTH}.")
        return query
    for match in _TOKEN.finditer(text):
        negative = bool(match.group("neg"))
        field_name = (match.group("field") or "").lower()
        quoted = match.group("quoted")
        value = quoted if quoted is not None else (match.group("bare") or "")
        if field_name and field_name not in _FIELDS:
            # An unknown prefix such as `foo:bar` or `NEAR:` is only text.
            value = f"{match.group('field')} {value}"
            field_name = ""
        if field_name:
            _add_field(query, field_name, value, negative)
        elif quoted is not None:
            phrase = _clean_value(value)
            if not phrase:
                continue
            if len(phrase.split()) == 1:
                (query.excluded_words if negative else query.words).append(phrase)
            else:
                (query.excluded_phrases if negative else query.phrases).append(phrase)
        else:
            for word in words_of(value):
                (query.excluded_words if negative else query.words).append(word)
    return query


def _add_field(query: SearchQuery, field_name: str, value: str, negative: bool) -> None:
    if negative:
        # Negated filters are rare; treat the value as excluded words rather than guess.
        query.excluded_words.extend(words_of(value))
        return
    if field_name == "since":
        try:
            query.since = date.fromisoformat(value.strip())
        except ValueError:
            query.problems.append(f"since: takes a date like since:2024-05-01, not {value.strip()!r}.")
        return
    if field_name == "cat":
        category = value.strip()
        if not _CATEGORY.match(category):
            query.problems.append(f"cat: takes an arXiv category like cat:cs.CL, not {category!r}.")
            return
        query.categories.append(category)
        return
    cleaned = _clean_value(value)
    if not cleaned:
        query.problems.append(f"{field_name}: needs a name, e.g. {field_name}:Kusupati.")
        return
    (query.authors if field_name == "author" else query.orgs).append(cleaned)


def validate_query(query: SearchQuery) -> None:
    """Raise QueryError with one sentence when the query cannot be run."""
    if query.problems:
        raise QueryError(query.problems[0])
    if not query.has_positive_clause:
        raise QueryError(f"Tell me what to look for. {QUERY_HELP}")
