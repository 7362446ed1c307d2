"""Typo tolerance: telling a word that is perhaps misspelt, and the closest words the index has instead.

A word that (almost) no paper has is corrected to the closest words of the titles and author names (one edit,
two from eight letters on, a swap of neighbours counting one), which are then searched as usual at a lower
weight (storage.search.query). Bounded: words of four letters or more, three words a query, and only the most
frequent dictionary words sharing the first two letters are compared.
"""

from __future__ import annotations

from collections.abc import Sequence

import tantivy
from tantivy import Query

from storage.search.schema import unique

TYPO_MAX_DOC_FREQ = 2
TYPO_MIN_LENGTH = 4
TYPO_TWO_EDITS_FROM = 8
MAX_TYPO_WORDS = 3
TYPO_CANDIDATES = 5000
TYPO_CORRECTIONS = 2
TYPO_WEIGHT = 0.8


def is_rare(
    tokens: Sequence[str],
    names: Sequence[str],
    searcher: tantivy.Searcher,
    word_fields: Sequence[tuple[str, float]],
) -> bool:
    """True when at most TYPO_MAX_DOC_FREQ papers have the word anywhere: perhaps it is misspelt."""
    seen = 0
    for token in tokens:
        for field, _ in word_fields:
            seen += searcher.doc_freq(field, token)
    for token in names:
        seen += searcher.doc_freq("authors", token)
    return seen <= TYPO_MAX_DOC_FREQ


def corrections(
    word: str,
    tokens: Sequence[str],
    names: Sequence[str],
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
) -> tuple[list[str], list[str]]:
    """The closest title words to the word's tokens, and the closest author names to its name tokens."""
    distance = 2 if len(word) >= TYPO_TWO_EDITS_FROM else 1
    fixed_tokens = [c for t in tokens for c in closest_terms(searcher, schema, "title", t, distance)]
    fixed_names = [c for t in names for c in closest_terms(searcher, schema, "authors", t, distance)]
    return unique(fixed_tokens), unique(fixed_names)


def closest_terms(
    searcher: tantivy.Searcher, schema: tantivy.Schema, field: str, token: str, distance: int
) -> list[str]:
    """Up to TYPO_CORRECTIONS dictionary words of `field` at the least edit distance (at most `distance`) from
    `token`, the most frequent first; words with digits are never corrected.

    tantivy's fuzzy automaton finds the papers with a close word; only the words sharing the first two letters
    of those papers (at most TYPO_CANDIDATES) are then compared here, which keeps a correction to milliseconds.
    """
    if len(token) < TYPO_MIN_LENGTH or not token.isalpha():
        return []  # numbers and names with digits (gpt4, number1) are meant as written
    near = Query.fuzzy_term_query(schema, field, token, distance=distance, transposition_cost_one=True)
    best: list[tuple[int, int, str]] = []
    for term, count in searcher.terms_with_prefix(field, token[:2], filter_query=near, limit=TYPO_CANDIDATES):
        if term == token or abs(len(term) - len(token)) > distance:
            continue
        edits = edit_distance(token, term, distance)
        if edits <= distance:
            best.append((edits, -count, term))
    best.sort()
    if not best:
        return []
    nearest = best[0][0]
    return [term for edits, _, term in best if edits == nearest][:TYPO_CORRECTIONS]


def edit_distance(a: str, b: str, limit: int) -> int:
    """Edits (insert, delete, replace, swap of neighbours) from a to b; anything above `limit` is limit + 1."""
    previous_previous: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous_previous[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous_previous, previous = previous, current
    return min(previous[-1], limit + 1)
