"""The shipped demo papers: 50 real papers in the Daily Papers item shape, read through the live parser."""

from __future__ import annotations

import json
from datetime import date, timedelta
from importlib.resources import files

from adapters.sources.hf import parse_daily_papers_page
from bot.domain import Paper

DEMO_RESOURCE = ("demo", "daily_papers_demo.json")


def read_demo_payload() -> object:
    """The raw JSON list of Daily Papers items shipped with the package."""
    resource = files("adapters.sources").joinpath(*DEMO_RESOURCE)
    return json.loads(resource.read_text(encoding="utf-8"))


def load_demo_papers(today: date | None = None) -> list[Paper]:
    """The demo papers; with `today`, featured days shift so that the demo's latest day becomes `today`."""
    papers, _skipped = parse_daily_papers_page(read_demo_payload())
    if today is None:
        return papers
    featured = [p.featured_on for p in papers if p.featured_on is not None]
    if not featured:
        return papers
    # Shift by one offset for all papers, so a demo spanning several days keeps its shape.
    shift: timedelta = today - max(featured)
    for paper in papers:
        if paper.featured_on is not None:
            paper.featured_on = paper.featured_on + shift
    return papers
