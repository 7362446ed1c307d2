"""The app manifest asks for what the adapter uses: its scopes, events, command and URLs."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.slack.config import BOT_SCOPES, SlackConfig

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "slack-app-manifest.yml"


def list_under(text: str, key: str) -> list[str]:
    """The `- item` entries of a YAML list following `key:` (comments dropped)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"{key}:")
    indent = len(lines[start]) - len(lines[start].lstrip())
    items = []
    for line in lines[start + 1 :]:
        stripped = line.split("#", 1)[0].strip()
        if not line.strip() or line.strip().startswith("#"):
            continue
        if len(line) - len(line.lstrip()) <= indent and not stripped.startswith("-"):
            break
        if stripped.startswith("- "):
            items.append(stripped[2:].strip())
    return items


def test_manifest_scopes_and_events_match_the_adapter() -> None:
    text = MANIFEST.read_text()
    assert list_under(text, "bot") == list(BOT_SCOPES)
    assert set(list_under(text, "bot_events")) == {
        "reaction_added",
        "reaction_removed",
        "app_uninstalled",
        "tokens_revoked",
        "link_shared",
        "app_home_opened",
        "user_change",
    }


def test_manifest_turns_on_the_home_tab_and_the_messages_tab_direct_messages_need() -> None:
    text = MANIFEST.read_text()
    features = text.split("\nfeatures:\n", 1)[1].split("\noauth_config:", 1)[0]
    app_home = features.split("  app_home:\n", 1)[1]
    assert "    home_tab_enabled: true" in app_home
    assert "    messages_tab_enabled: true" in app_home


def test_manifest_points_every_request_at_slack_events() -> None:
    text = MANIFEST.read_text()
    urls = re.findall(r"(?:url|request_url): (\S+)", text)
    assert urls and all(u.endswith("/slack/events") for u in urls)
    assert "https://paperboy.example.com/slack/oauth_redirect" in list_under(text, "redirect_urls")
    assert f"- command: {SlackConfig(signing_secret='x').command}" in text
    assert "is_enabled: true" in text


def test_manifest_lists_the_paper_sites_whose_links_are_unfurled() -> None:
    assert list_under(MANIFEST.read_text(), "unfurl_domains") == [
        "arxiv.org",
        "huggingface.co",
        "alphaxiv.org",
    ]
