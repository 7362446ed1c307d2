"""Settings built only from what a test gives (no environment, no `.env`), and the fake outside services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from adapters.settings import Settings
from tests.fakes.services import FakeServices


@pytest.fixture
def make_settings(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Settings]:
    """Settings from keyword variables only: every Paperboy variable of the environment is cleared first."""
    for field in Settings.model_fields.values():
        if field.alias:
            monkeypatch.delenv(field.alias, raising=False)

    def build(**variables: Any) -> Settings:
        return Settings(_env_file=None, **variables)

    return build


@pytest.fixture
async def services() -> AsyncIterator[FakeServices]:
    """The fake Slack, Discord, Hugging Face and arXiv, started."""
    fake = FakeServices()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
