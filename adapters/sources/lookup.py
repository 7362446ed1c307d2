"""The core's PaperSource: a paper someone linked in chat that the store lacks, fetched from arXiv's API.

The arXiv client keeps arXiv's pace (one request every 3 s for the whole process) and the sources' deadline
(PAPERBOY_SOURCE_DEADLINE), so a link to an unknown paper is answered within that bound or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from adapters.sources.arxiv import ArxivClient
from adapters.sources.errors import SourceError
from bot.domain import Paper

log = logging.getLogger(__name__)


class ArxivPaperSource:
    """Papers by arXiv id for the core; when arXiv is slow, down or refuses, no paper rather than an error."""

    def __init__(self, client: ArxivClient) -> None:
        self.client = client

    async def fetch_papers(self, arxiv_ids: Sequence[str]) -> list[Paper]:
        """The papers arXiv has among these ids; [] when it did not answer in time (the reason is logged)."""
        if not arxiv_ids:
            return []
        try:
            result = await self.client.fetch_by_ids(arxiv_ids)
        except SourceError as error:
            log.warning("arXiv gave no paper for %s: %s", ", ".join(arxiv_ids), error)
            return []
        return result.papers

    async def aclose(self) -> None:
        """Close the arXiv client's connections."""
        await self.client.aclose()
