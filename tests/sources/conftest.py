"""Fakes at the network edge for the source tests: scripted httpx transports, a sleep that only records."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.sources.http import RetryPolicy

# A copy of ../shared/reference/hf-daily-papers-item.json, so that the tests need nothing outside the repository.
REFERENCE = Path(__file__).resolve().parents[1] / "data" / "hf-daily-papers-item.json"

Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class RecordedSleep:
    """An injected sleep: remembers every wait instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Script:
    """A MockTransport handler answering each request with the next scripted step (the last one repeats)."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    def client(self, base_url: str = "http://hf.test") -> httpx.AsyncClient:
        """An AsyncClient whose every request this script answers."""
        return httpx.AsyncClient(base_url=base_url, transport=httpx.MockTransport(self))


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


@pytest.fixture
def policy() -> RetryPolicy:
    return RetryPolicy(attempts=4, backoff_initial=0.5, backoff_max=8.0, jitter=0.5)


def reference_item() -> dict[str, Any]:
    """A fresh copy of the real Daily Papers item."""
    items: list[dict[str, Any]] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return copy.deepcopy(items[0])


def make_item(arxiv_id: str, *, upvotes: object = 5, day: str = "2025-09-01", **paper: Any) -> dict[str, Any]:
    """A Daily Papers item in the real shape for one paper; `upvotes` may be a wrong type, as a broken feed sends."""
    item = reference_item()
    item["paper"].update(
        {
            "id": arxiv_id,
            "title": f"Paper {arxiv_id}",
            "upvotes": upvotes,
            "submittedOnDailyAt": f"{day}T04:00:00.000Z",
            **paper,
        }
    )
    item["title"] = item["paper"]["title"]
    item["thumbnail"] = f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{arxiv_id}.png"
    return item


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    """A JSON response as Hugging Face sends it."""
    return httpx.Response(status, json=payload, headers=headers)
