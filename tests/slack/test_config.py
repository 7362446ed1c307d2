"""Slack settings: which mode they select, and one sentence when they cannot work."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.settings import Settings
from adapters.slack.config import SlackConfig, SlackConfigError


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes counts, not the SLACK_* variables of whoever runs the tests."""
    import os

    for name in list(os.environ):
        if name.startswith(("SLACK_", "PAPERBOY_")):
            monkeypatch.delenv(name)


def config_from(**env: str) -> SlackConfig:
    # Any: pydantic validates each variable's string into its field's type.
    variables: dict[str, Any] = dict(env)
    return SlackConfig.from_settings(Settings(_env_file=None, **variables))


def test_bot_token_and_signing_secret_serve_one_workspace_over_http() -> None:
    config = config_from(
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL="http://127.0.0.1:9/api",
        PAPERBOY_PORT="4000",
    )
    config.validate()
    assert not config.uses_oauth and not config.socket_mode
    assert config.base_url == "http://127.0.0.1:9/api/"
    assert config.port == 4000
    assert config.vote_emoji == ("+1", "thumbsup", "arrow_up")
    assert config.post_interval == 1.0


def test_vote_emoji_and_pacing_can_be_chosen() -> None:
    config = config_from(
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_SIGNING_SECRET="s",
        PAPERBOY_SLACK_VOTE_EMOJI=":rocket:, star",
        PAPERBOY_SLACK_POST_INTERVAL="0.5",
    )
    assert config.vote_emoji == ("rocket", "star")
    assert config.post_interval == 0.5


def test_client_id_and_secret_serve_many_workspaces_and_ask_users_read_to_know_members_from_guests() -> None:
    config = config_from(SLACK_CLIENT_ID="1.2", SLACK_CLIENT_SECRET="c", SLACK_SIGNING_SECRET="s")
    config.validate()
    assert config.uses_oauth
    assert config.oauth_scopes == (
        "commands",
        "chat:write",
        "reactions:read",
        "channels:history",
        "groups:history",
        "users:read",
        "links:read",
        "links:write",
        "im:write",
        "im:history",
        "files:write",
    )
    admins = config_from(
        SLACK_CLIENT_ID="1.2",
        SLACK_CLIENT_SECRET="c",
        SLACK_SIGNING_SECRET="s",
        PAPERBOY_SLACK_ADMINS_ONLY="true",
    )
    assert admins.oauth_scopes == config.oauth_scopes


def test_an_app_token_selects_socket_mode_even_with_oauth_settings() -> None:
    config = config_from(
        SLACK_APP_TOKEN="xapp-1", SLACK_BOT_TOKEN="xoxb-1", SLACK_CLIENT_ID="1.2", SLACK_CLIENT_SECRET="c"
    )
    config.validate()
    assert config.socket_mode and not config.uses_oauth


@pytest.mark.parametrize(
    ("env", "sentence"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "Set SLACK_SIGNING_SECRET"),
        ({"SLACK_SIGNING_SECRET": "s"}, "Set SLACK_BOT_TOKEN for one workspace"),
        (
            {"SLACK_SIGNING_SECRET": "s", "SLACK_CLIENT_ID": "1.2"},
            "Set both SLACK_CLIENT_ID and SLACK_CLIENT_SECRET",
        ),
        ({"SLACK_APP_TOKEN": "xapp-1"}, "Socket Mode (SLACK_APP_TOKEN) also needs SLACK_BOT_TOKEN"),
    ],
)
def test_incomplete_settings_say_what_to_set(env: dict[str, str], sentence: str) -> None:
    with pytest.raises(SlackConfigError, match=sentence.replace("(", r"\(").replace(")", r"\)")):
        config_from(**env).validate()
