"""Discord's "Paper card" message command (Apps → Paperboy → Paper card): the arXiv, Hugging Face and alphaXiv
links of a chosen message, answered with their cards for the whole channel.

Bots cannot unfurl on Discord, and reading every message would need the privileged message-content intent; a
message command carries the chosen message in the interaction (`data.resolved.messages`), so neither is needed.
Reactions on the answer count as votes for each of its papers, as on a shared card.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import discord
from discord import app_commands

from adapters.discord import commands
from adapters.discord.commands import context_of
from adapters.discord.render import link_cards_message
from bot.commands import CardsForLinks, CardsShown
from bot.core import Paperboy
from bot.links import find_paper_links
from bot.replies import ErrorReply, LinkCards

log = logging.getLogger(__name__)

PAPER_CARD = "Paper card"
NO_LINKS = "That message has no arXiv, Hugging Face or alphaXiv paper link."
NOT_FOUND = "I could not find the papers behind those links just now; try again in a minute."
IN_A_SERVER = "Paperboy's Paper card works inside a server."


def message_text(message: discord.Message) -> str:
    """What a message says: its text and, for a message that is all embeds, their links, titles and text."""
    parts = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.url or "", embed.title or "", embed.description or ""]
    return "\n".join(part for part in parts if part)


async def show_paper_cards(
    paperboy: Paperboy,
    interaction: discord.Interaction[Any],
    message: discord.Message,
    *,
    seed_emoji: str | None = None,
) -> None:
    """Answer "Paper card" on a message: its papers' cards for the channel, remembered for reaction votes.

    Quick answers come at once; a slow one (a paper fetched from arXiv) is deferred publicly first. When no
    paper can be shown, only the asker is told why.
    """
    if interaction.guild_id is None:
        await interaction.response.send_message(IN_A_SERVER, ephemeral=True)
        return
    links = find_paper_links(message_text(message))
    if not links:
        await interaction.response.send_message(NO_LINKS, ephemeral=True)
        return
    ctx = context_of(interaction)
    work = asyncio.ensure_future(paperboy.execute(ctx, CardsForLinks(tuple(links))))
    done, _ = await asyncio.wait({work}, timeout=commands.DEFER_AFTER_SECONDS)
    deferred = not done
    if deferred:
        await interaction.response.defer(thinking=True)
    reply = await work
    if not isinstance(reply, LinkCards) or not reply.cards:
        text = reply.text if isinstance(reply, ErrorReply) else NOT_FOUND
        if deferred:
            # The public "thinking…" goes; the reason is for the asker only.
            await interaction.delete_original_response()
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
        return
    rendered = link_cards_message(reply)
    posted: discord.InteractionMessage | None
    if deferred:
        posted = await interaction.edit_original_response(**rendered.edit_kwargs())
    else:
        callback = await interaction.response.send_message(**rendered.send_kwargs())
        resource = callback.resource
        posted = resource if isinstance(resource, discord.InteractionMessage) else None
        if posted is None:
            posted = await interaction.original_response()
    papers = tuple(dict.fromkeys(card.item.paper.arxiv_id for card in reply.cards))
    await paperboy.execute(ctx, CardsShown(str(posted.id), papers))
    if seed_emoji:
        # The bot's own 👍 shows how to vote; it is no vote itself.
        with contextlib.suppress(discord.HTTPException):
            await posted.add_reaction(seed_emoji)


def paper_card_menu(paperboy: Paperboy, *, seed_emoji: str | None = None) -> app_commands.ContextMenu:
    """The "Paper card" message command, in servers only."""

    async def paper_card(interaction: discord.Interaction[Any], message: discord.Message) -> None:
        await show_paper_cards(paperboy, interaction, message, seed_emoji=seed_emoji)

    return app_commands.ContextMenu(
        name=PAPER_CARD, callback=paper_card, allowed_contexts=app_commands.AppCommandContext(guild=True)
    )
