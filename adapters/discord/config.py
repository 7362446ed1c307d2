"""Discord-specific configuration: where the REST API and gateway live, which shards run here, vote emojis."""

from __future__ import annotations

from dataclasses import dataclass

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

DEFAULT_API_URL = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"
DEFAULT_VOTE_EMOJIS = ("👍", "⬆️")
VOTE_EMOJIS_ENV = "PAPERBOY_DISCORD_VOTE_EMOJIS"


class DiscordConfigError(ValueError):
    """A Discord setting that cannot be used, with a sentence that says what would work."""


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """How many shards the bot has in all, and which of them this replica runs (None: let Discord decide)."""

    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None


def parse_shard_ids(text: str) -> tuple[int, ...]:
    """Parse `0,1,2` or `0-3` or `0-1,4` into sorted distinct shard ids."""
    ids: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise DiscordConfigError(
                f"DISCORD_SHARD_IDS must list shard numbers like 0,1,2 or 0-3, not {text!r}."
            )
        low, high = int(first), int(last) if dash else int(first)
        if high < low:
            raise DiscordConfigError(f"The shard range {part!r} runs backwards; write it as {high}-{low}.")
        ids.update(range(low, high + 1))
    if not ids:
        raise DiscordConfigError("DISCORD_SHARD_IDS is empty; list shard numbers like 0,1 or leave it unset.")
    return tuple(sorted(ids))


def shard_plan(shard_count: int | None, shard_ids: str | None) -> ShardPlan:
    """Check DISCORD_SHARD_COUNT / DISCORD_SHARD_IDS together."""
    if shard_count is None:
        if shard_ids:
            raise DiscordConfigError(
                "DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT too, so every replica agrees on the total."
            )
        return ShardPlan()
    if shard_count < 1:
        raise DiscordConfigError(f"DISCORD_SHARD_COUNT must be at least 1, not {shard_count}.")
    if not shard_ids:
        return ShardPlan(shard_count, None)
    ids = parse_shard_ids(shard_ids)
    if ids[-1] >= shard_count:
        raise DiscordConfigError(
            f"Shard {ids[-1]} does not exist with DISCORD_SHARD_COUNT={shard_count}; "
            f"use 0 to {shard_count - 1}."
        )
    return ShardPlan(shard_count, ids)


def vote_emojis(raw: str | None) -> tuple[str, ...]:
    """The reaction emojis that count as votes: PAPERBOY_DISCORD_VOTE_EMOJIS (comma-separated), or 👍 ⬆️."""
    chosen = tuple(e.strip() for e in (raw or "").split(",") if e.strip())
    return chosen or DEFAULT_VOTE_EMOJIS


def point_discord_at(api_url: str | None, gateway_url: str | None) -> None:
    """Send REST calls to `api_url`, open the gateway at `gateway_url` (None: Discord's own addresses).

    discord.py builds every REST URL, interaction callbacks and webhooks included, from the class attribute
    `discord.http.Route.BASE` (the library itself rewrites it in `_set_api_version`), and opens the gateway
    at `DiscordWebSocket.DEFAULT_GATEWAY` whenever it has no resume URL (first connect, invalidated session).
    Both are process-wide, which fits: one process runs one Discord bot.
    """
    Route.BASE = (api_url or DEFAULT_API_URL).rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url or DEFAULT_GATEWAY_URL)


def uses_custom_api() -> bool:
    """True when REST calls go somewhere other than Discord (a proxy or a test fake)."""
    return Route.BASE != DEFAULT_API_URL


def minimal_intents(*, members: bool = False) -> discord.Intents:
    """Only what the bot needs: guilds (channels, threads, joins and removals) and guild reactions (votes).

    `members` adds the privileged Server Members Intent, whose member-remove event lets a person who leaves
    a server be forgotten there; only when the developer portal has it enabled (else the gateway refuses).
    """
    intents = discord.Intents.none()
    intents.guilds = True
    intents.guild_reactions = True
    intents.members = members
    return intents


def member_events_allowed(flags: discord.ApplicationFlags) -> bool:
    """True when the developer portal enabled the Server Members Intent for this application."""
    return bool(flags.gateway_guild_members or flags.gateway_guild_members_limited)
