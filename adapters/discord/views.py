"""The persistent Upvote button: a DynamicItem whose custom_id names the paper, so it outlives restarts."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, Protocol, Self

import discord

from bot.commands import Similar
from bot.core import Paperboy
from bot.domain import Vote, Workspace
from bot.render_text import render_text
from bot.replies import VoteReply

log = logging.getLogger(__name__)

CUSTOM_ID_PREFIX = "paperboy:upvote:"
# arXiv ids: new style 2205.13147, old style hep-th/9901001; a custom_id holds at most 100 characters.
UPVOTE_TEMPLATE = re.compile(r"paperboy:upvote:(?P<arxiv_id>[A-Za-z0-9][A-Za-z0-9.\-/]{0,70})")
SIMILAR_PREFIX = "paperboy:similar:"
SIMILAR_TEMPLATE = re.compile(r"paperboy:similar:(?P<arxiv_id>[A-Za-z0-9][A-Za-z0-9.\-/]{0,70})")


class HasPaperboy(Protocol):
    """A Discord client that carries the core (so dynamic items, recreated by discord.py, can reach it)."""

    paperboy: Paperboy


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
        paperboy: Paperboy | None = getattr(interaction.client, "paperboy", None)
        if paperboy is None:
            return
        await toggle_vote(paperboy, interaction, self.arxiv_id)


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
        """Answer privately with the similar papers (deferred first: search by meaning may take a moment)."""
        paperboy: Paperboy | None = getattr(interaction.client, "paperboy", None)
        if paperboy is None:
            return
        # Imported here: the commands module renders with the buttons of this one.
        from adapters.discord.commands import context_of, send_reply

        await interaction.response.defer(ephemeral=True, thinking=True)
        reply = await paperboy.execute(context_of(interaction), Similar(self.arxiv_id))
        await send_reply(interaction, reply)


async def toggle_vote(paperboy: Paperboy, interaction: discord.Interaction[Any], arxiv_id: str) -> None:
    """Cast or retract the presser's vote; answer privately with the count in this server."""
    if interaction.guild_id is None:
        await interaction.response.send_message("Votes count inside a server.", ephemeral=True)
        return
    try:
        paper = await paperboy.store.get_paper(arxiv_id)
        if paper is None:
            await interaction.response.send_message(
                f"I no longer have {arxiv_id}; the vote was not counted.", ephemeral=True
            )
            return
        workspace = Workspace("discord", str(interaction.guild_id))
        vote = Vote("discord", workspace.workspace, str(interaction.user.id), arxiv_id)
        voted = await paperboy.votes.toggle(vote)
        count = await paperboy.votes.count(arxiv_id, workspace)
    except Exception:
        log.exception("upvote button failed", extra={"arxiv_id": arxiv_id})
        await interaction.response.send_message(
            "Something went wrong on my side; please try again in a minute.", ephemeral=True
        )
        return
    reply = VoteReply(arxiv_id, paper.title, voted, True, count)
    await interaction.response.send_message(render_text(reply), ephemeral=True)
