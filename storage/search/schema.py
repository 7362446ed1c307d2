"""The index's schema: its fields and version, the analyzers that turn text into terms, and a paper's document."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import tantivy

from bot.domain import Paper
from storage.search.aliases import acronym_definitions, aliases_of

# Bump when the schema or an analyzer changes: an index written by another version is rebuilt from the store.
SCHEMA_VERSION = 4

TEXT_ANALYZER = "paper_en"
NAME_ANALYZER = "paper_names"
RAW_LOWER_ANALYZER = "paper_raw_lower"

# The fields a plain word is searched in (storage.search.query weighs them), in the schema's order. `aliases`
# holds the acronyms a paper defines and the parts of its coined names (storage.search.aliases).
TEXT_FIELDS = ("title", "aliases", "keywords", "ai_summary", "abstract")
# Between an acronym and its long form in a stored definition ("MoE\x1fMixture of Experts").
DEFINITION_SEPARATOR = "\x1f"


def _text_analyzer() -> tantivy.TextAnalyzer:
    """Words of titles and abstracts: folded to ASCII, lower case, English stop words out, stemmed."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(64))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        # Stop words before the stemmer: the list holds unstemmed words.
        .filter(tantivy.Filter.stopword("english"))
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def _name_analyzer() -> tantivy.TextAnalyzer:
    """Names of people and organizations: folded and lower case, never stemmed, no stop words."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(64))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def _raw_lower_analyzer() -> tantivy.TextAnalyzer:
    """Whole values compared without case, for arXiv categories."""
    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).filter(tantivy.Filter.lowercase()).build()


def build_schema() -> tantivy.Schema:
    """The index schema; only the arXiv id is stored, the database holds the rest."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("arxiv_id", stored=True, fast=True, tokenizer_name="raw")
    for name in TEXT_FIELDS:
        builder.add_text_field(name, tokenizer_name=TEXT_ANALYZER)
    builder.add_text_field("authors", tokenizer_name=NAME_ANALYZER)
    builder.add_text_field("org", tokenizer_name=NAME_ANALYZER)
    builder.add_text_field("categories", tokenizer_name=RAW_LOWER_ANALYZER, index_option="basic")
    builder.add_date_field("date", indexed=True, fast=True)
    # What the indexed fields held, so that re-reading an unchanged paper writes nothing.
    builder.add_unsigned_field("fingerprint", fast=True)
    # The acronyms the paper defines with their long forms ("MoE\x1fMixture of Experts"), read back to spell out
    # a query's acronyms for the model (TantivyIndex.acronym_meanings); stored, not searched.
    builder.add_bytes_field("definitions", stored=True)
    return builder.build()


@dataclass(frozen=True, slots=True)
class Token:
    """A term of analysed text and its position in the text."""

    text: str
    position: int


class Analyzers:
    """The analyzers of the index, also run in Python on query text so that both sides agree."""

    def __init__(self) -> None:
        self.text = _text_analyzer()
        self.names = _name_analyzer()

    def register(self, index: tantivy.Index) -> None:
        """Give the index the analyzers its schema names."""
        index.register_tokenizer(TEXT_ANALYZER, self.text)
        index.register_tokenizer(NAME_ANALYZER, self.names)
        index.register_tokenizer(RAW_LOWER_ANALYZER, _raw_lower_analyzer())

    @staticmethod
    def tokens(analyzer: tantivy.TextAnalyzer, text: str) -> list[Token]:
        """Tokens with their positions, so phrases keep the gaps left by removed stop words."""
        return [Token(token.text, token.position) for token in analyzer.pre_tokenize(text).tokens]


def unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without repeats (case kept)."""
    return list(dict.fromkeys(item for item in items if item))


def midnight(day: date) -> datetime:
    """The start of a day in UTC, as the `date` field holds it."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def paper_date(paper: Paper) -> datetime | None:
    """The day `since:` compares with: featured on Hugging Face, else published on arXiv."""
    day = paper.featured_on or paper.published
    if day is None:
        return None
    moment = midnight(day)
    # tantivy keeps dates in nanoseconds; a date outside that range is bad data, left undated.
    return moment if tantivy.MIN_DATETIME <= moment <= tantivy.MAX_DATETIME else None


def paper_fingerprint(paper: Paper) -> int:
    """A stable 64-bit digest of everything the index takes from a paper."""
    moment = paper_date(paper)
    parts = (
        paper.title,
        paper.abstract,
        paper.ai_summary or "",
        "\x1e".join(paper.ai_keywords),
        "\x1e".join(paper.authors),
        "\x1e".join(paper.categories).lower(),
        paper.organization or "",
        moment.isoformat() if moment is not None else "",
    )
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def paper_document(paper: Paper, schema: tantivy.Schema, fingerprint: int) -> tantivy.Document:
    """The index document of a paper."""
    values: dict[str, Any] = {
        "arxiv_id": paper.arxiv_id,
        "fingerprint": fingerprint,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "categories": [category.lower() for category in paper.categories],
        "keywords": list(paper.ai_keywords),
    }
    definitions = acronym_definitions(f"{paper.title}. {paper.abstract}")
    values["aliases"] = aliases_of(paper.title, paper.abstract, definitions)
    if definitions:
        values["definitions"] = [
            f"{short}{DEFINITION_SEPARATOR}{long}".encode() for short, long in definitions
        ]
    if paper.ai_summary:
        values["ai_summary"] = paper.ai_summary
    if paper.organization:
        values["org"] = paper.organization
    moment = paper_date(paper)
    if moment is not None:
        values["date"] = moment
    # from_dict types every value by the schema; the keyword constructor guesses and can panic the writer.
    return tantivy.Document.from_dict(values, schema)
