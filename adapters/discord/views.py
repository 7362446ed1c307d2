"""The persistent buttons: DynamicItems whose custom_id names the paper, so they outlive restarts.

In a direct message (a person's own digest) the Upvote and More like this buttons also name the server the
digest belongs to (`…:g<guild id>`): an interaction in a DM carries no guild, and the vote must count in that
server, never in another.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, Protocol, Self, cast

import discord

from bot.commands import Command, SharePaper, Similar, ToggleVote

log = logging.getLogger(__name__)

CUSTOM_ID_PREFIX = "paperboy:upvote:"
# arXiv ids: new style 2205.13147, old style hep-th/9901001 (about 20 characters at most); a custom_id holds at
# most 100 characters, which `custom_id` checks, guild id (at most 20 digits) included.
_ARXIV_PART = r"(?P<arxiv_id>[A-Za-z0-9][A-Za-z0-9.\-/]{0,70})"
_GUILD_PART = r"(?::g(?P<guild>\d{1,20}))?"
UPVOTE_TEMPLATE = re.compile(r"paperboy:upvote:" + _ARXIV_PART + _GUILD_PART)
SIMILAR_PREFIX = "paperboy:similar:"
SIMILAR_TEMPLATE = re.compile(r"paperboy:similar:" + _ARXIV_PART + _GUILD_PART)
CUSTOM_ID_LIMIT = 100
SHARE_PREFIX = "paperboy:share:"
SHARE_TEMPLATE = re.compile(r"paperboy:share:(?P<arxiv_id>[A-Za-z0-9][A-Za-z0-9.\-/]{0,70})")


class ButtonHandler(Protocol):
    """The client behind the buttons: discord.py recreates dynamic items, which reach the core through it."""

    async def press(
        self, interaction: discord.Interaction[Any], command: Command, *, guild: str | None = None
    ) -> None:
        """Run the command a button stands for and answer the presser (`guild`: a DM button's server)."""
        ...


async def press(interaction: discord.Interaction[Any], command: Command, *, guild: str | None = None) -> None:
    """Hand a pressed button's command to the client that serves the core."""
    handler = cast(ButtonHandler, interaction.client)
    await handler.press(interaction, command, guild=guild)


def custom_id(prefix: str, arxiv_id: str, guild: str | None) -> str:
    """A button's custom_id: the paper, and the server for a button sent in a direct message."""
    value = f"{prefix}{arxiv_id}" + (f":g{guild}" if guild else "")
    if len(value) > CUSTOM_ID_LIMIT:
        # Discord would refuse the whole message; no arXiv id is this long.
        raise ValueError(f"a button's custom_id is over {CUSTOM_ID_LIMIT} characters: {value!r}")
    return value


def frozen_view(items: Sequence[discord.ui.Item[Any]]) -> discord.ui.View:
    """A view holding `items` that discord.py serializes but never stores.

    The buttons are dynamic items, dispatched from their custom_id alone; a stored view would run the same
    callback a second time (a toggle twice is no vote) and would pile up in memory with every digest.
    """
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    view.stop()
    return view


def in_server(items: Sequence[discord.ui.Item[Any]], guild: str) -> list[discord.ui.Item[Any]]:
    """An answer's buttons for a direct message: voting ones name `guild`; Share in channel has no channel."""
    placed: list[discord.ui.Item[Any]] = []
    for item in items:
        moved: discord.ui.Item[Any] | None = item
        if isinstance(item, UpvoteButton) and item.guild is None:
            moved = UpvoteButton(item.arxiv_id, label=item.item.label or "Upvote", guild=guild)
        elif isinstance(item, SimilarButton) and item.guild is None:
            moved = SimilarButton(item.arxiv_id, guild=guild)
        elif isinstance(item, ShareButton):
            moved = None
        if moved is not None:
            moved.row = item.row
            placed.append(moved)
    return placed


class UpvoteButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=UPVOTE_TEMPLATE):
    """'Upvote': toggles the presser's vote for the paper its custom_id names (in its server, for a DM)."""

    def __init__(self, arxiv_id: str, *, label: str = "Upvote", guild: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji="⬆️",
                style=discord.ButtonStyle.primary,
                custom_id=custom_id(CUSTOM_ID_PREFIX, arxiv_id, guild),
            )
        )
        self.arxiv_id = arxiv_id
        self.guild = guild

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the button from a pressed component's custom_id."""
        label = getattr(item, "label", None) or "Upvote"
        return cls(match["arxiv_id"], label=label, guild=match["guild"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Toggle the vote and tell the presser, privately, where the paper stands."""
        await press(interaction, ToggleVote(self.arxiv_id), guild=self.guild)


class SimilarButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=SIMILAR_TEMPLATE):
    """'More like this': shows the presser, privately, the papers most like the one its custom_id names."""

    def __init__(self, arxiv_id: str, *, guild: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label="More like this",
                emoji="🔎",
                style=discord.ButtonStyle.secondary,
                custom_id=custom_id(SIMILAR_PREFIX, arxiv_id, guild),
            )
        )
        self.arxiv_id = arxiv_id
        self.guild = guild

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the button from a pressed component's custom_id."""
        return cls(match["arxiv_id"], guild=match["guild"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Answer privately with the papers most like this one."""
        await press(interaction, Similar(self.arxiv_id), guild=self.guild)


class ShareButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=SHARE_TEMPLATE):
    """'Share in channel': posts the paper's card for everyone, where reactions count as votes."""

    def __init__(self, arxiv_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Share in channel",
                emoji="📣",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{SHARE_PREFIX}{arxiv_id}",
            )
        )
        self.arxiv_id = arxiv_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the button from a pressed component's custom_id."""
        return cls(match["arxiv_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Share the paper in the channel the button was pressed in."""
        await press(interaction, SharePaper(self.arxiv_id))
