"""Hugging Face Daily Papers: the item parser (shared by live data and the demo set) and the HTTP client."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from adapters.sources.errors import PageInvalid, SourceError
from adapters.sources.http import RetryPolicy, Sleep, SourceClient, get_with_retries, make_client
from bot.domain import Paper
from bot.ids import InvalidPaperId, normalize_arxiv_id

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
        try:
            return normalize_arxiv_id(value)
        except InvalidPaperId:
            raise ValueError(f"{value[:60]!r} is not an arXiv id") from None

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


# ----- the HTTP client -----

HF_DEFAULT_URL = "https://huggingface.co"
DAILY_PAPERS_PATH = "/api/daily_papers"
SOURCE_NAME = "Hugging Face"
PAGE_SIZE = 50
# A day holds a few dozen papers, a month a few thousand; more pages than this means a server ignoring `p`.
MAX_PAGES = 200
MAX_SINCE_DAYS = 366
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(slots=True)
class FetchResult:
    """What one Daily Papers fetch brought: papers (each once), invalid items skipped, pages, warnings."""

    papers: list[Paper] = field(default_factory=list)
    skipped: int = 0
    pages: int = 0
    warnings: list[str] = field(default_factory=list)

    def extend(self, other: FetchResult) -> None:
        """Add another fetch's papers (a paper already present is kept once), counts and warnings."""
        known = {p.arxiv_id for p in self.papers}
        self.papers.extend(p for p in other.papers if p.arxiv_id not in known)
        self.skipped += other.skipped
        self.pages += other.pages
        self.warnings.extend(other.warnings)


class InvalidPeriod(ValueError):
    """A --date, --week or --month value that Hugging Face would not understand."""


def parse_week(text: str) -> str:
    """Validate an ISO week `YYYY-Www` (e.g. 2025-W36) and return it; raise InvalidPeriod otherwise."""
    match = _WEEK.match(text.strip())
    if match:
        try:
            date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
            return text.strip()
        except ValueError:
            pass
    raise InvalidPeriod(f"{text!r} is not an ISO week; write YYYY-Www, e.g. 2025-W36.")


def parse_month(text: str) -> str:
    """Validate a month `YYYY-MM` (e.g. 2025-09) and return it; raise InvalidPeriod otherwise."""
    match = _MONTH.match(text.strip())
    if match and 1 <= int(match.group(2)) <= 12:
        return text.strip()
    raise InvalidPeriod(f"{text!r} is not a month; write YYYY-MM, e.g. 2025-09.")


def decode_json(response: httpx.Response, source: str) -> Any:
    """The JSON body of a response; PageInvalid with one sentence for an HTML page or broken JSON."""
    body = response.content
    content_type = response.headers.get("Content-Type", "")
    if "html" in content_type or body.lstrip()[:1] == b"<":
        raise PageInvalid(
            f"{source} answered with an HTML page instead of JSON (HTTP {response.status_code} from "
            f"{response.request.url}); the service may be down or the address wrong."
        )
    if not body.strip():
        raise PageInvalid(f"{source} answered with an empty body at {response.request.url}.")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PageInvalid(
            f"{source} sent broken or truncated JSON at {response.request.url} ({error}); "
            "nothing from it was stored."
        ) from error


class HuggingFaceClient(SourceClient):
    """Reads `/api/daily_papers` by day, ISO week or month, following pages until the last one."""

    def __init__(
        self,
        base_url: str = HF_DEFAULT_URL,
        http: httpx.AsyncClient | None = None,
        *,
        policy: RetryPolicy | None = None,
        page_size: int = PAGE_SIZE,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self.http = http or make_client(self.base_url, policy=self.policy)
        self.page_size = page_size
        self.sleep = sleep

    async def fetch(
        self, *, date: date | None = None, week: str | None = None, month: str | None = None
    ) -> FetchResult:
        """Every Daily Papers item of one day, ISO week (YYYY-Www) or month (YYYY-MM), all pages.

        Raises SourceError (one sentence) when a page cannot be read; nothing is returned in part.
        """
        given = [name for name, value in (("date", date), ("week", week), ("month", month)) if value]
        if len(given) != 1:
            raise InvalidPeriod("Give exactly one of date, week or month.")
        if date is not None:
            params: dict[str, str] = {"date": date.isoformat()}
        elif week is not None:
            params = {"week": parse_week(week)}
        else:
            params = {"month": parse_month(month or "")}
        result = await self._fetch_pages(params)
        if date is not None and not result.papers and not result.skipped and date.weekday() < 5:
            result.warnings.append(
                f"Hugging Face listed no papers for {date:%A} {date.isoformat()}; "
                "it may not have published that day yet."
            )
        return result

    async def fetch_since(self, since: date, until: date) -> FetchResult:
        """Every day from `since` to `until` inclusive, one request chain a day (weekends may be empty)."""
        if since > until:
            raise InvalidPeriod(f"{since.isoformat()} is after {until.isoformat()}; give a day in the past.")
        if (until - since).days >= MAX_SINCE_DAYS:
            raise InvalidPeriod(f"--since reaches back more than {MAX_SINCE_DAYS} days; use --month instead.")
        result = FetchResult()
        day = since
        while day <= until:
            result.extend(await self.fetch(date=day))
            day += timedelta(days=1)
        return result

    async def _fetch_pages(self, params: dict[str, str]) -> FetchResult:
        result = FetchResult()
        seen: dict[str, Paper] = {}
        for page in range(MAX_PAGES):
            response = await get_with_retries(
                self.http,
                DAILY_PAPERS_PATH,
                params={**params, "p": page, "limit": self.page_size},
                source=SOURCE_NAME,
                policy=self.policy,
                sleep=self.sleep,
            )
            payload = decode_json(response, SOURCE_NAME)
            papers, skipped = parse_daily_papers_page(payload)
            result.pages += 1
            result.skipped += skipped
            fresh = [p for p in papers if p.arxiv_id not in seen]
            for paper in fresh:
                seen[paper.arxiv_id] = paper
            # A short page is the last; a page of nothing new means the server ignores `p`: stop either way.
            if len(payload) < self.page_size or (payload and not fresh and not skipped):
                break
        else:
            raise SourceError(
                f"Hugging Face kept sending pages after {MAX_PAGES} of them; "
                "stopped without storing anything."
            )
        result.papers = list(seen.values())
        return result
