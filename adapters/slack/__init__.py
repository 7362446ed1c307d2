"""Paperboy on Slack: /papers commands, digest threads and reaction votes, for one workspace or many."""

from adapters.slack.app import SlackBot, SlackService, build_slack_bot, start_slack
from adapters.slack.config import SlackConfig, SlackConfigError

__all__ = ["SlackBot", "SlackConfig", "SlackConfigError", "SlackService", "build_slack_bot", "start_slack"]
