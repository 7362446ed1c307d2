"""The Discord adapter: `/papers` app commands, digest threads, votes by reaction and button."""

from adapters.discord.client import DiscordRunner, PaperboyDiscord, start_discord

__all__ = ["DiscordRunner", "PaperboyDiscord", "start_discord"]
