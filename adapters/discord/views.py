"""The persistent Upvote button: a DynamicItem whose custom_id names the paper, so it outlives restarts."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, Protocol, Self, cast

import discord

from bot.commands import Command, SharePaper, Similar, ToggleVote

log = logging.getLogger(__name__)

CUSTOM_ID_PREFIX = "paperboy:upvote:"
# arXiv ids: new style 2205.13147, old style hep-th/9901001; a custom_id holds at most 100 characters.
UPVOTE_TEMPLATE = re.compile(r"paperboy:upvote:(?P<arxiv_id>[A-Za-z0-9][A-Za-z0-9.\-/]{0,70})")
SIMILAR_PREFIX = "paperboy:similar:"
SIMILAR_TEMPLATE = re.compile(r"paperboy:similar:(?P<arxiv_id>[A-Za-z0-9][A-Za-z0-9.\-/]{0,70})")
SHARE_PREFIX = "paperboy:share:"
SHARE_TEMPLATE = re.compile(r"paperboy:share:(?P<arxiv_id>[A-Za-z0-9][A-Za-z0-9.\-/]{0,70})")


class ButtonHandler(Protocol):
    """The client behind the buttons: discord.py recreates dynamic items, which reach the core through it."""

    async def press(self, interaction: discord.Interaction[Any], command: Command) -> None:
        """Run the command a button stands for and answer the presser."""
        ...


async def press(interaction: discord.Interaction[Any], command: Command) -> None:
    """Hand a pressed button's command to the client that serves the core."""
    handler = cast(ButtonHandler, interaction.client)
    await handler.press(interaction, command)


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


class UpvoteButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=UPVOTE_TEMPLATE):
    """'Upvote': toggles the presser's vote for the paper its custom_id names."""

    def __init__(self, arxiv_id: str, *, label: str = "Upvote") -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji="⬆️",
                style=discord.ButtonStyle.primary,
                custom_id=f"{CUSTOM_ID_PREFIX}{arxiv_id}",
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
        label = getattr(item, "label", None) or "Upvote"
        return cls(match["arxiv_id"], label=label)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Toggle the vote and tell the presser, privately, where the paper stands."""
        await press(interaction, ToggleVote(self.arxiv_id))


class SimilarButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=SIMILAR_TEMPLATE):
    """'More like this': shows the presser, privately, the papers most like the one its custom_id names."""

    def __init__(self, arxiv_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="More like this",
                emoji="🔎",
                style=discord.ButtonStyle.secondary,
                custom_id=f"{SIMILAR_PREFIX}{arxiv_id}",
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
        """Answer privately with the papers most like this one."""
        await press(interaction, Similar(self.arxiv_id))


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
