"""Turning the core's parsed `SearchQuery` into tantivy queries: weighted word clauses, typo corrections, phrases,
filters, exclusions and the proximity and full-title bonus clauses. No query-string parser is involved."""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import tantivy
from tantivy import FieldType, Occur, Query

from bot.query import SearchQuery
from storage.search.schema import TEXT_FIELDS, Analyzers, midnight, unique
from storage.search.spelling import MAX_TYPO_WORDS, TYPO_MIN_LENGTH, TYPO_WEIGHT, corrections, is_rare

# Weight of a plain word found in each field of storage.search.schema.TEXT_FIELDS, in that order. `aliases`
# makes "MRL" find Matryoshka Representation Learning and "SDF" find UniSDF.
WORD_FIELDS: tuple[tuple[str, float], ...] = (
    ("title", 3.0),
    ("aliases", 3.0),
    ("keywords", 2.0),
    ("ai_summary", 1.5),
    ("abstract", 1.0),
)
AUTHOR_WORD_BOOST = 3.0
# Fields held by few papers (keywords and summaries come from Hugging Face only) or whose length says nothing
# (a long author list): BM25's length normalisation against the average over all papers would crush their
# matches, so a match there scores its field's weight times the word's idf, whatever the length.
FLAT_FIELDS = frozenset({"aliases", "keywords", "ai_summary", "authors"})
# Proximity: two words of the query found near each other in the abstract (at most `slop` positions apart)
# add a phrase score, so a paper about "sparse activation" beats one that says sparse here and activation there.
# The pairs are neighbours in the query and words one apart ("speed up llm inference" pairs llm with inference
# and speed with llm), as in the sequential dependence model of Metzler and Croft. Only the abstract: a title
# match already weighs three times a word of the abstract, and a bonus there doubled it for short titles that
# happen to hold two query words. Weight and slop were chosen on `paperboy bench relevance` (see its README
# section): every weight from 1.5 to 6 did better than the first release's title-and-abstract bonus.
PROXIMITY_FIELDS: tuple[tuple[str, float, int], ...] = (("abstract", 2.5, 8),)
PROXIMITY_SPAN = 2
MAX_PROXIMITY_PAIRS = 6
# A title holding every word of a query of two words or more is what a person who half-remembers a title
# means: its title words score again, times this, so that "gaussian splatting rendering" finds "3D Gaussian
# Splatting for Real-Time Radiance Field Rendering" before a short title with one of the words and an abstract
# with the rest. It cost the relevance benchmark 0.006 of MRR (one query one place down).
TITLE_ALL_WORDS_WEIGHT = 2.0
# What a scored term reads of its postings: frequencies for BM25, not positions (tantivy's default), which only
# phrases need. Reading positions too made every term touch the positions file, as large as the postings.
SCORED = "freq"
# Words that say little in a query but are not stop words of the index (which keeps "how" or "only" for
# phrases): left out of a query's plain words when it has others.
QUERY_STOP_WORDS = frozenset(
    [
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "any",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "nor",
        "now",
        "only",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "than",
        "them",
        "themselves",
        "those",
        "through",
        "too",
        "under",
        "until",
        "up",
        "very",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "would",
        "you",
        "your",
        "yours",
        "via",
        "using",
        "use",
        "based",
        "towards",
        "toward",
        "paper",
        "papers",
        "approach",
        "method",
        "methods",
        "study",
        "novel",
        "new",
        "one",
        "like",
        "may",
        "might",
        "must",
        "shall",
        "whose",
    ]
)
# A quoted phrase must appear in one of these.
PHRASE_FIELDS: tuple[tuple[str, float], ...] = (
    ("title", 3.0),
    ("keywords", 2.0),
    ("ai_summary", 1.5),
    ("abstract", 1.0),
)


@dataclass(frozen=True, slots=True)
class Ranking:
    """Which relevance features queries use: all by default; `paperboy bench relevance` compares them."""

    proximity: bool = True
    typos: bool = True
    aliases: bool = True
    flat_fields: bool = True
    query_stop_words: bool = True
    author_boost: float = AUTHOR_WORD_BOOST


DEFAULT_RANKING = Ranking()
# BM25 over the weighted fields and nothing else: the ranking of the first release.
PLAIN_RANKING = Ranking(
    proximity=False, typos=False, aliases=False, flat_fields=False, query_stop_words=False, author_boost=2.0
)


@dataclass(frozen=True, slots=True)
class BuiltQuery:
    """A tantivy query for a parsed query: whether it ranks by score, and its bonus clauses."""

    query: Query
    scored: bool
    # Proximity and full-title clauses, scored only for the best papers by `query` (TantivyIndex._reranked).
    bonus: tuple[Query, ...] = ()


class QueryBuilder:
    """Builds the tantivy queries of parsed queries for one schema, under a Ranking the caller may change."""

    def __init__(
        self, schema: tantivy.Schema, analyzers: Analyzers, ranking: Ranking = DEFAULT_RANKING
    ) -> None:
        self.schema = schema
        self.analyzers = analyzers
        self.ranking = ranking

    def full_match_score(self, query: SearchQuery, searcher: tantivy.Searcher) -> float:
        """About what a paper with each content word once in its title and once in its abstract scores.

        At tf 1 and an average length BM25 scores a word its idf, so that paper scores the sum of the words'
        idf times the title's and the abstract's weights (proximity bonuses left out).
        """
        weights = dict(WORD_FIELDS)
        per_idf = weights["title"] + weights["abstract"]
        total = 0.0
        for word in self.content_words(query.words):
            tokens = unique(t.text for t in self.analyzers.tokens(self.analyzers.text, word))[:1]
            names = unique(t.text for t in self.analyzers.tokens(self.analyzers.names, word))[:1]
            # How many papers have the word in any field searched: a name, an acronym or a word only some
            # summaries use is no rarer than that. A word no paper has counts as the rarest: no paper can
            # match the whole query then, and the words' ranking is the less telling for it.
            count = max(
                [searcher.doc_freq(field, token) for token in tokens for field, _ in self.word_fields()]
                + [searcher.doc_freq("authors", name) for name in names]
                + [1]
            )
            total += per_idf * _idf(max(searcher.num_docs, 1), count)
        return total

    def build(
        self,
        query: SearchQuery,
        searcher: tantivy.Searcher,
        *,
        restrict_to: Collection[str] | None = None,
        require_all_words: bool = False,
    ) -> BuiltQuery | None:
        """The tantivy query for a parsed query, or None when it asks for nothing the index can match."""
        schema = self.schema
        must: list[Query] = []
        filters: list[Query] = []
        excluded: list[Query] = []

        bonus: list[Query] = []
        words = self.content_words(query.words)
        typo_budget = [MAX_TYPO_WORDS]
        corrected: dict[str, str] = {}
        word_groups = [
            group for word in words if (group := self._word_clauses(word, searcher, typo_budget, corrected))
        ]
        if word_groups:
            if require_all_words:
                must.extend(_any_of(group) for group in word_groups)
            else:
                # One flat disjunction (at least one word somewhere) scores fastest in tantivy.
                must.append(_any_of([clause for group in word_groups for clause in group]))
                if self.ranking.proximity:
                    tokens = self._bonus_tokens(words, corrected)
                    bonus = self._proximity_clauses(tokens) + self._title_clauses(tokens)

        for phrase in unique(query.phrases):
            clauses = self._phrase_clauses(phrase, PHRASE_FIELDS, self.analyzers.text)
            if clauses:
                must.append(_any_of(clauses))
        scored = bool(must)

        for author in unique(query.authors):
            clauses = self._phrase_clauses(author, (("authors", 1.0),), self.analyzers.names)
            if not clauses:
                return None  # an author with no name to match matches nobody
            filters.append(_any_of(clauses))
        for org in unique(query.orgs):
            clauses = self._phrase_clauses(org, (("org", 1.0),), self.analyzers.names)
            if not clauses:
                return None
            filters.append(_any_of(clauses))
        for category in unique(query.categories):
            filters.append(Query.term_query(schema, "categories", category.strip().lower()))
        if query.since is not None:
            since = midnight(query.since)
            if since > tantivy.MAX_DATETIME:
                return None  # no paper can be that recent
            lowest = max(since, tantivy.MIN_DATETIME)
            filters.append(Query.range_query(schema, "date", FieldType.Date, lowest))
        if restrict_to is not None:
            filters.append(Query.term_set_query(schema, "arxiv_id", sorted(set(restrict_to))))

        for word in unique(query.excluded_words):
            excluded.extend(self._excluded_clauses(word))
        for phrase in unique(query.excluded_phrases):
            excluded.extend(self._excluded_clauses(phrase))

        positive = must + ([_all_of(filters, score=0.0)] if filters else [])
        if not positive:
            return None
        if not excluded and len(positive) == 1:
            combined = positive[0]
        else:
            combined = Query.boolean_query(
                [(Occur.Must, clause) for clause in positive]
                + [(Occur.MustNot, clause) for clause in excluded]
            )
        if not scored:
            # Filters alone rank nothing: every match scores the same and the newest come first.
            combined = Query.const_score_query(combined, 1.0)
        return BuiltQuery(combined, scored, tuple(bonus))

    def content_words(self, words: Sequence[str]) -> list[str]:
        """The query's plain words without repeats, and without QUERY_STOP_WORDS when others are left."""
        distinct = unique(words)
        if not self.ranking.query_stop_words:
            return distinct
        content = [word for word in distinct if word.lower() not in QUERY_STOP_WORDS]
        return content or distinct

    def word_fields(self) -> Sequence[tuple[str, float]]:
        """The fields a plain word is searched in with their weights (`aliases` only when the ranking uses it)."""
        if self.ranking.aliases:
            return WORD_FIELDS
        return [(field, boost) for field, boost in WORD_FIELDS if field != "aliases"]

    def _word_clauses(
        self, word: str, searcher: tantivy.Searcher, typo_budget: list[int], corrected: dict[str, str]
    ) -> list[Query]:
        """Scoring clauses for one plain word across the weighted fields; [] when it is only stop words.

        A word that almost no paper has is also searched as its closest corrections (typo tolerance), while
        `typo_budget` (words left that may be corrected) lasts; `corrected` learns each token's best correction.
        """
        tokens = unique(t.text for t in self.analyzers.tokens(self.analyzers.text, word))
        if not tokens:
            return []
        names = unique(t.text for t in self.analyzers.tokens(self.analyzers.names, word))
        clauses = self._token_clauses(tokens, names, searcher, 1.0)
        if (
            self.ranking.typos
            and typo_budget[0] > 0
            and len(word) >= TYPO_MIN_LENGTH
            and is_rare(tokens, names, searcher, self.word_fields())
        ):
            typo_budget[0] -= 1
            fixed_tokens, fixed_names = corrections(word, tokens, names, searcher, self.schema)
            clauses += self._token_clauses(fixed_tokens, fixed_names, searcher, TYPO_WEIGHT)
            if fixed_tokens:
                corrected[tokens[0]] = fixed_tokens[0]
        return clauses

    def _token_clauses(
        self, tokens: Sequence[str], names: Sequence[str], searcher: tantivy.Searcher, weight: float
    ) -> list[Query]:
        """Clauses for analysed tokens in the word fields and name tokens in the authors, times `weight`."""
        clauses: list[Query] = []
        for token in tokens:
            for field, boost in self.word_fields():
                clause = self._term_clause(searcher, field, token, boost * weight)
                if clause is not None:
                    clauses.append(clause)
        for token in names:
            clause = self._term_clause(searcher, "authors", token, self.ranking.author_boost * weight)
            if clause is not None:
                clauses.append(clause)
        return clauses

    def _term_clause(self, searcher: tantivy.Searcher, field: str, token: str, boost: float) -> Query | None:
        """A term scored by BM25 times `boost`, or, in FLAT_FIELDS, `boost` times its idf; None if no paper has it."""
        term = Query.term_query(self.schema, field, token, index_option=SCORED)
        if field not in FLAT_FIELDS or not self.ranking.flat_fields:
            return Query.boost_query(term, boost)
        count = searcher.doc_freq(field, token)
        if count == 0:
            return None
        return Query.const_score_query(term, boost * _idf(searcher.num_docs, count))

    def _bonus_tokens(self, words: Sequence[str], corrected: dict[str, str]) -> list[str]:
        """The first token of each word, as corrected when it was misspelt, in the query's order."""
        return [
            corrected.get(token.text, token.text)
            for word in words
            for token in self.analyzers.tokens(self.analyzers.text, word)[:1]
        ]

    def _title_clauses(self, query_tokens: Sequence[str]) -> list[Query]:
        """A clause matching titles that hold every one of the tokens, scored as a bonus; [] for one token."""
        tokens = unique(query_tokens)
        if len(tokens) < 2:
            return []
        every = [
            (Occur.Must, Query.term_query(self.schema, "title", token, index_option=SCORED))
            for token in tokens
        ]
        # Each word beyond the first makes a chance match less likely, so the bonus grows with them.
        return [Query.boost_query(Query.boolean_query(every), TITLE_ALL_WORDS_WEIGHT * (len(tokens) - 1))]

    def _proximity_clauses(self, tokens: Sequence[str]) -> list[Query]:
        """Phrase clauses with some slop for tokens close together in the query, scored as a bonus."""
        pairs = [
            pair
            for gap in range(1, PROXIMITY_SPAN + 1)
            for pair in [(a, b) for a, b in zip(tokens, tokens[gap:], strict=False) if a != b][
                :MAX_PROXIMITY_PAIRS
            ]
        ]
        clauses: list[Query] = []
        for first, second in pairs:
            for field, boost, slop in PROXIMITY_FIELDS:
                phrase = Query.phrase_query(self.schema, field, [first, second], slop=slop)
                clauses.append(Query.boost_query(phrase, boost))
        return clauses

    def _phrase_clauses(
        self, text: str, fields: Sequence[tuple[str, float]], analyzer: tantivy.TextAnalyzer
    ) -> list[Query]:
        """One clause per field matching the words of `text` in order; [] when nothing is left to match."""
        tokens = self.analyzers.tokens(analyzer, text)
        if not tokens:
            return []
        schema = self.schema
        clauses: list[Query] = []
        for field, boost in fields:
            if len(tokens) == 1:
                query = Query.term_query(schema, field, tokens[0].text, index_option=SCORED)
            else:
                # Offsets keep the gaps of removed stop words: "state of the art" matches only that order.
                first = tokens[0].position
                words: list[str | tuple[int, str]] = [(t.position - first, t.text) for t in tokens]
                query = Query.phrase_query(schema, field, words)
            clauses.append(Query.boost_query(query, boost) if boost != 1.0 else query)
        return clauses

    def _excluded_clauses(self, text: str) -> list[Query]:
        """Clauses that match a paper having this word or phrase in any searchable field."""
        return self._phrase_clauses(
            text, [(name, 1.0) for name in TEXT_FIELDS], self.analyzers.text
        ) + self._phrase_clauses(text, (("authors", 1.0),), self.analyzers.names)


def _any_of(clauses: Sequence[Query]) -> Query:
    if len(clauses) == 1:
        return clauses[0]
    return Query.boolean_query([(Occur.Should, clause) for clause in clauses])


def _all_of(clauses: Sequence[Query], *, score: float) -> Query:
    combined = clauses[0] if len(clauses) == 1 else Query.boolean_query([(Occur.Must, c) for c in clauses])
    return Query.const_score_query(combined, score)


def _idf(num_docs: int, doc_freq: int) -> float:
    """BM25's inverse document frequency, as tantivy computes it."""
    return math.log(1.0 + (num_docs - doc_freq + 0.5) / (doc_freq + 0.5))
