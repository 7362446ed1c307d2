"""Hugging Face Daily Papers: the item parser (shared by live data and the demo set) and the HTTP client."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from adapters.sources.errors import PageInvalid
from bot.domain import Paper

# New-style ids (2205.13147) and old-style ones (hep-th/9901001); a trailing version is dropped.
_ARXIV_ID = re.compile(r"^(?P<id>\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$")
_SPACES = re.compile(r"\s+")


class ItemInvalid(ValueError):
    """Raised when a Daily Papers item lacks a required field or has one of the wrong type."""


class _Lenient(BaseModel):
    # Hugging Face adds fields freely; only the ones the bot shows are read, the rest ignored.
    model_config = ConfigDict(extra="ignore")


class _Author(_Lenient):
    name: str


class _Organization(_Lenient):
    name: str | None = None
    fullname: str | None = None

    def label(self) -> str | None:
        """The organization's display name."""
        return self.name or self.fullname


class _HFPaper(_Lenient):
    id: str
    title: str
    authors: list[_Author] = []
    summary: str = ""
    publishedAt: datetime | None = None
    submittedOnDailyAt: datetime | None = None
    upvotes: int = 0
    githubRepo: str | None = None
    githubStars: int | None = None
    projectPage: str | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] | None = None
    organization: _Organization | None = None
    withdrawnAt: datetime | str | None = None

    @field_validator("id")
    @classmethod
    def _bare_arxiv_id(cls, value: str) -> str:
        match = _ARXIV_ID.match(value.strip())
        if match is None:
            raise ValueError(f"{value!r} is not an arXiv id")
        return match.group("id")

    @field_validator("title")
    @classmethod
    def _nonblank_title(cls, value: str) -> str:
        collapsed = _SPACES.sub(" ", value).strip()
        if not collapsed:
            raise ValueError("the title is empty")
        return collapsed


class _HFItem(_Lenient):
    paper: _HFPaper
    numComments: int = 0
    thumbnail: str | None = None
    organization: _Organization | None = None


def _day(moment: datetime | None) -> date | None:
    # Hugging Face writes UTC instants ("…Z"); the calendar day in UTC is the day it shows.
    return moment.date() if moment is not None else None


def _blank_to_none(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text or None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "item"
    return f"{where}: {first['msg']}"


def parse_daily_papers_item(item: dict[str, Any]) -> Paper:
    """Map one `/api/daily_papers` item to a Paper; raise ItemInvalid when a required field is bad."""
    if not isinstance(item, dict):
        raise ItemInvalid(f"a Daily Papers item must be a JSON object, not {type(item).__name__}")
    try:
        parsed = _HFItem.model_validate(item)
    except ValidationError as error:
        raise ItemInvalid(f"invalid Daily Papers item ({_describe(error)})") from error
    paper = parsed.paper
    organization = paper.organization or parsed.organization
    return Paper(
        arxiv_id=paper.id,
        title=paper.title,
        authors=[author.name.strip() for author in paper.authors if author.name.strip()],
        abstract=paper.summary.strip(),
        published=_day(paper.publishedAt),
        featured_on=_day(paper.submittedOnDailyAt),
        hf_upvotes=paper.upvotes,
        num_comments=parsed.numComments,
        ai_summary=_blank_to_none(paper.ai_summary),
        ai_keywords=[k.strip() for k in paper.ai_keywords or [] if k.strip()],
        github_repo=_blank_to_none(paper.githubRepo),
        github_stars=paper.githubStars,
        project_page=_blank_to_none(paper.projectPage),
        organization=organization.label() if organization is not None else None,
        thumbnail=_blank_to_none(parsed.thumbnail),
        withdrawn=bool(paper.withdrawnAt),
    )


def parse_daily_papers_page(payload: Any) -> tuple[list[Paper], int]:
    """Parse one page of `/api/daily_papers` into (papers, skipped items); raise PageInvalid when not a list.

    An item that fails validation is skipped and counted; a paper listed twice is kept once (first wins).
    """
    if not isinstance(payload, list):
        raise PageInvalid(
            f"Hugging Face answered with a JSON {type(payload).__name__} where a list of papers was expected."
        )
    papers: dict[str, Paper] = {}
    skipped = 0
    for item in payload:
        try:
            paper = parse_daily_papers_item(item)
        except ItemInvalid:
            skipped += 1
            continue
        papers.setdefault(paper.arxiv_id, paper)
    return list(papers.values()), skipped
