"""One Discord message as Paperboy sends it: text, embeds, buttons, an attachment, private or not."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import discord

from adapters.discord.limits import CONTENT_LIMIT, EMBEDS_PER_MESSAGE, clip
from adapters.discord.views import frozen_view


@dataclass
class DiscordMessage:
    """One Discord message: text, embeds, buttons, an attachment, and whether only the asker sees it."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    items: list[discord.ui.Item[Any]] = field(default_factory=list)
    file_name: str | None = None
    file_text: str | None = None
    ephemeral: bool = False

    def view(self) -> discord.ui.View | None:
        """The buttons as a view that discord.py will not keep in memory (the buttons are dynamic items)."""
        return frozen_view(self.items) if self.items else None

    def file(self) -> discord.File | None:
        """The attachment, when the answer carries one."""
        if self.file_name is None or self.file_text is None:
            return None
        return discord.File(io.BytesIO(self.file_text.encode("utf-8")), filename=self.file_name)

    def send_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `send`, `followup.send` and `response.send_message`."""
        kwargs: dict[str, Any] = {}
        if self.content:
            kwargs["content"] = clip(self.content, CONTENT_LIMIT)
        if self.embeds:
            kwargs["embeds"] = self.embeds[:EMBEDS_PER_MESSAGE]
        view = self.view()
        if view is not None:
            kwargs["view"] = view
        attachment = self.file()
        if attachment is not None:
            kwargs["file"] = attachment
        return kwargs

    def edit_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for editing a deferred answer in place."""
        kwargs = self.send_kwargs()
        kwargs.setdefault("content", None)
        kwargs.setdefault("embeds", [])
        attachment = kwargs.pop("file", None)
        if attachment is not None:
            kwargs["attachments"] = [attachment]
        return kwargs
