"""Errors every paper source raises, so commands and the refresh job can report them in one sentence."""

from __future__ import annotations


class SourceError(Exception):
    """A paper source could not be read; the message is one sentence a person can act on."""


class PageInvalid(SourceError, ValueError):
    """A response arrived but is not in the shape the source promises (HTML, truncated JSON, not a list)."""


class ResponseTooLarge(SourceError):
    """A source's answer is larger than PAPERBOY_SOURCE_MAX_BYTES; it is refused, never retried."""
