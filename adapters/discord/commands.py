"""The `/papers` app-command group: typed options turned into neutral commands, answers rendered as embeds."""

from __future__ import annotations

import asyncio
import logging
from functools import cache
from typing import Any, Literal
from zoneinfo import available_timezones

import discord
from discord import app_commands

from adapters.discord.limits import MAX_ITEMS, clip
from adapters.discord.message import DiscordMessage
from adapters.discord.render import render
from adapters.discord.views import ShareButton, in_server
from bot.commands import (
    MAX_SEARCH_LIMIT,
    WEEKDAYS,
    Cite,
    Command,
    CommandContext,
    ForgetMe,
    ForMe,
    ListTopics,
    MyCitations,
    MyVotes,
    PostDigest,
    Schedule,
    ScheduleRecap,
    Search,
    ShowHelp,
    ShowMyHelp,
    ShowPaper,
    Similar,
    Subscribe,
    Top,
    Trending,
    Unsubscribe,
)
from bot.core import Paperboy, person_of
from bot.domain import MAX_DIGEST_SIZE, ChannelRef, Topic
from bot.replies import ErrorReply, PaperCard, PaperList, Reply

log = logging.getLogger(__name__)

# Discord kills an interaction token that gets no answer in 3 s; past this, defer and follow up.
DEFER_AFTER_SECONDS = 2.0
CHOICES_LIMIT = 25
CHOICE_TEXT_LIMIT = 100
MANAGE_ONLY = (
    "Only people with the Manage Channels permission can change this channel's topics, schedule or digest."
)
COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Asia/Singapore",
    "Australia/Sydney",
    "Africa/Lagos",
)


@cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def timezone_choices(current: str) -> list[app_commands.Choice[str]]:
    """Up to 25 IANA zones for what was typed: prefix matches first, then any part of the name."""
    typed = current.strip().lower().replace(" ", "_")
    if not typed:
        names: list[str] = list(COMMON_ZONES)
    else:
        zones = _zone_names()
        starts = [
            z for z in zones if z.lower().startswith(typed) or z.lower().split("/")[-1].startswith(typed)
        ]
        inside = [z for z in zones if typed in z.lower() and z not in starts]
        names = starts + inside
    return [app_commands.Choice(name=z, value=z) for z in names[:CHOICES_LIMIT]]


def topic_choices(topics: list[Topic], current: str) -> list[app_commands.Choice[str]]:
    """The topics that contain what was typed (or have its number), as choices."""
    typed = current.strip().casefold()
    choices = []
    for topic in topics:
        if typed and typed not in topic.query.casefold() and typed != str(topic.position):
            continue
        # A topic longer than a choice value is named by its number, which unsubscribe accepts too.
        value = topic.query if len(topic.query) <= CHOICE_TEXT_LIMIT else str(topic.position)
        choices.append(
            app_commands.Choice(name=clip(f"{topic.position}. {topic.query}", CHOICE_TEXT_LIMIT), value=value)
        )
    return choices[:CHOICES_LIMIT]


def schedule_changes(
    time: str | None, timezone: str | None, days: str | None, papers: int | None, state: str | None
) -> list[Schedule]:
    """The `/papers schedule` lines the typed options stand for (the core parses them): settings, then on/off."""
    words = [w for w in (time, timezone, days) if w]
    if papers is not None:
        words.append(f"papers {papers}")
    changes = [Schedule(" ".join(words))] if words else []
    if state:
        changes.append(Schedule(state))
    return changes


def context_of(interaction: discord.Interaction[Any]) -> CommandContext:
    """Where and by whom a command was given, and whether they may manage the channel."""
    channel = ChannelRef("discord", str(interaction.guild_id), str(interaction.channel_id))
    return CommandContext(
        channel=channel,
        user=str(interaction.user.id),
        can_manage=interaction.permissions.manage_channels,
        manage_rule=MANAGE_ONLY,
    )


def message_for(reply: Reply, command: Command, *, dm_guild: str | None = None) -> DiscordMessage:
    """The reply rendered, private or public as the command says (errors always private).

    An answer in a direct message (`dm_guild`: the server it is about) gets buttons that name that server.
    """
    message = render(reply)
    private = command.private or isinstance(reply, ErrorReply)
    message.ephemeral = private
    if dm_guild is not None:
        message.items = in_server(message.items, dm_guild)
    elif private and command.shareable and isinstance(reply, PaperCard | PaperList) and message.items:
        shown = [reply.item] if isinstance(reply, PaperCard) else list(reply.items)
        if shown:
            message.items = [*message.items, ShareButton(shown[0].paper.arxiv_id)][:MAX_ITEMS]
    return message


async def send_reply(
    interaction: discord.Interaction[Any],
    reply: Reply,
    command: Command,
    *,
    deferred_private: bool = False,
    dm_guild: str | None = None,
) -> None:
    """Answer an interaction, or replace the deferred answer; a private answer stays private."""
    message = message_for(reply, command, dm_guild=dm_guild)
    if not interaction.response.is_done():
        await interaction.response.send_message(**message.send_kwargs(), ephemeral=message.ephemeral)
        return
    if message.ephemeral and not deferred_private:
        # The deferral was public (a command meant for the channel) but the answer is for the asker only
        # (an error): remove the public "thinking…" and answer privately instead.
        await interaction.delete_original_response()
        await interaction.followup.send(**message.send_kwargs(), ephemeral=True)
        return
    await interaction.edit_original_response(**message.edit_kwargs())


async def answer(
    paperboy: Paperboy,
    interaction: discord.Interaction[Any],
    *commands: Command,
    slow: bool = False,
    ctx: CommandContext | None = None,
) -> None:
    """Run commands in order and answer with the last reply: at once when quick, deferred when slow.

    A deferred answer is deferred as private or public as the command says, so that a slow private answer
    never shows in the channel. `ctx` is where the commands run when it is not the interaction's channel
    (a button pressed in a direct message runs in the server the message came from).
    """
    ctx = ctx or context_of(interaction)
    dm_guild = ctx.channel.workspace if interaction.guild_id is None else None

    async def run() -> tuple[Reply, Command]:
        reply: Reply | None = None
        for command in commands:
            reply = await paperboy.execute(ctx, command)
            if isinstance(reply, ErrorReply):
                return reply, command
        assert reply is not None
        return reply, commands[-1]

    work = asyncio.ensure_future(run())
    if not slow:
        done, _ = await asyncio.wait({work}, timeout=DEFER_AFTER_SECONDS)
        if done:
            await send_reply(interaction, *work.result(), dm_guild=dm_guild)
            return
    private = all(command.private for command in commands)
    await interaction.response.defer(ephemeral=private, thinking=True)
    reply, command = await work
    await send_reply(interaction, reply, command, deferred_private=private, dm_guild=dm_guild)


class PapersGroup(app_commands.Group):
    """`/papers …`: one subcommand per entry of the core grammar."""

    def __init__(self, paperboy: Paperboy) -> None:
        super().__init__(
            name="papers",
            description="Trending research papers from Hugging Face Daily Papers",
            guild_only=True,
        )
        self.paperboy = paperboy

    @app_commands.command(name="search", description="Find papers")
    @app_commands.describe(
        query='Words, "a phrase", -word, author:Name, cat:cs.CL, org:Name, since:2024-01-01',
        limit="How many papers (1-20)",
    )
    async def search(
        self,
        interaction: discord.Interaction[Any],
        query: app_commands.Range[str, 1, 300],
        limit: app_commands.Range[int, 1, MAX_SEARCH_LIMIT] = 5,
    ) -> None:
        """Find papers."""
        await answer(self.paperboy, interaction, Search(query, limit))

    @app_commands.command(name="trending", description="The most upvoted papers of the day, week or month")
    @app_commands.describe(window="Which period")
    async def trending(
        self, interaction: discord.Interaction[Any], window: Literal["day", "week", "month"] = "day"
    ) -> None:
        """Trending papers."""
        await answer(self.paperboy, interaction, Trending(window))

    @app_commands.command(name="top", description="The papers this server voted for most, and where")
    @app_commands.describe(window="Which period: the last week, the last month, or all time")
    async def top(
        self, interaction: discord.Interaction[Any], window: Literal["week", "month", "all"] = "week"
    ) -> None:
        """The leaderboard."""
        await answer(self.paperboy, interaction, Top(window))

    @app_commands.command(name="paper", description="One paper in full")
    @app_commands.rename(arxiv_id="id")
    @app_commands.describe(arxiv_id="arXiv id or URL, e.g. 2205.13147")
    async def paper(
        self, interaction: discord.Interaction[Any], arxiv_id: app_commands.Range[str, 1, 200]
    ) -> None:
        """One paper in full."""
        await answer(self.paperboy, interaction, ShowPaper(arxiv_id))

    @app_commands.command(name="cite", description="A BibTeX entry for a paper")
    @app_commands.rename(arxiv_id="id")
    @app_commands.describe(arxiv_id="arXiv id or URL, e.g. 2205.13147")
    async def cite(
        self, interaction: discord.Interaction[Any], arxiv_id: app_commands.Range[str, 1, 200]
    ) -> None:
        """A BibTeX entry."""
        await answer(self.paperboy, interaction, Cite(arxiv_id))

    @app_commands.command(name="similar", description="Papers like one paper")
    @app_commands.rename(arxiv_id="id")
    @app_commands.describe(arxiv_id="arXiv id or URL, e.g. 2205.13147")
    async def similar(
        self, interaction: discord.Interaction[Any], arxiv_id: app_commands.Range[str, 1, 200]
    ) -> None:
        """Papers like one paper."""
        await answer(self.paperboy, interaction, Similar(arxiv_id))

    @app_commands.command(name="subscribe", description="Add a topic to this channel's daily digest")
    @app_commands.describe(topic='A query, e.g. "gaussian splatting" or cat:cs.CL')
    async def subscribe(
        self, interaction: discord.Interaction[Any], topic: app_commands.Range[str, 1, 300]
    ) -> None:
        """Add a topic."""
        await answer(self.paperboy, interaction, Subscribe(topic))

    @app_commands.command(name="unsubscribe", description="Remove a topic from this channel's digest")
    @app_commands.describe(topic="The topic, or its number in /papers topics")
    async def unsubscribe(
        self, interaction: discord.Interaction[Any], topic: app_commands.Range[str, 1, 300]
    ) -> None:
        """Remove a topic."""
        await answer(self.paperboy, interaction, Unsubscribe(topic))

    @unsubscribe.autocomplete("topic")
    async def _topic_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """The channel's topics that contain what was typed."""
        ctx = context_of(interaction)
        return topic_choices(await self.paperboy.topics.of_channel(ctx.channel), current)

    @app_commands.command(name="topics", description="This channel's topics")
    async def topics(self, interaction: discord.Interaction[Any]) -> None:
        """List topics."""
        await answer(self.paperboy, interaction, ListTopics())

    @app_commands.command(name="schedule", description="See or change when this channel's digest comes")
    @app_commands.describe(
        time="Time of day, e.g. 09:00 or 9am",
        timezone="IANA time zone, e.g. Europe/Berlin",
        days="Weekdays only, or every day",
        papers=f"Papers per digest (1-{MAX_DIGEST_SIZE})",
        state="off pauses the digest, on resumes it",
        recap="The day of the weekly recap of this server's votes, or off",
    )
    async def schedule(
        self,
        interaction: discord.Interaction[Any],
        time: app_commands.Range[str, 1, 20] | None = None,
        timezone: app_commands.Range[str, 1, 64] | None = None,
        days: Literal["weekdays", "daily"] | None = None,
        papers: app_commands.Range[int, 1, MAX_DIGEST_SIZE] | None = None,
        state: Literal["on", "off"] | None = None,
        recap: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "off"]
        | None = None,
    ) -> None:
        """Show or change the schedule."""
        commands: list[Command] = [*schedule_changes(time, timezone, days, papers, state)]
        if recap:
            commands.append(ScheduleRecap(None if recap == "off" else WEEKDAYS.index(recap)))
        # No option typed: show the schedule.
        await answer(self.paperboy, interaction, *(commands or [Schedule("")]))

    @schedule.autocomplete("timezone")
    async def _timezone_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """IANA zones matching what was typed."""
        return timezone_choices(current)

    @app_commands.command(name="digest", description="Post today's digest now, in a thread")
    async def digest(self, interaction: discord.Interaction[Any]) -> None:
        """Post the digest."""
        await answer(self.paperboy, interaction, PostDigest(), slow=True)

    @app_commands.command(name="help", description="What Paperboy can do")
    async def help(self, interaction: discord.Interaction[Any]) -> None:
        """Show help."""
        await answer(self.paperboy, interaction, ShowHelp())

    # ----- `/papers me …`: a person's own digest (by DM), reading list and data, answered privately -----

    # A subcommand group: Discord nests at most one level (command → group → subcommand), which this is.
    me = app_commands.Group(
        name="me", description="Your own digest by direct message, your votes as a reading list, your data"
    )

    @me.command(name="subscribe", description="Add a topic to your own daily digest, sent to you by DM")
    @app_commands.describe(topic='A query, e.g. "video diffusion" or cat:cs.CV')
    async def me_subscribe(
        self, interaction: discord.Interaction[Any], topic: app_commands.Range[str, 1, 300]
    ) -> None:
        """Add a topic to the asker's own digest."""
        await answer(self.paperboy, interaction, ForMe(Subscribe(topic)))

    @me.command(name="unsubscribe", description="Remove a topic from your own digest")
    @app_commands.describe(topic="The topic, or its number in /papers me topics")
    async def me_unsubscribe(
        self, interaction: discord.Interaction[Any], topic: app_commands.Range[str, 1, 300]
    ) -> None:
        """Remove one of the asker's topics."""
        await answer(self.paperboy, interaction, ForMe(Unsubscribe(topic)))

    @me_unsubscribe.autocomplete("topic")
    async def _my_topic_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """The asker's own topics in this server that contain what was typed."""
        return topic_choices(
            await self.paperboy.topics.of_channel(person_of(context_of(interaction))), current
        )

    @me.command(name="topics", description="Your topics, and when your next digest comes")
    async def me_topics(self, interaction: discord.Interaction[Any]) -> None:
        """List the asker's topics."""
        await answer(self.paperboy, interaction, ForMe(ListTopics()))

    @me.command(name="schedule", description="See or change when your own digest comes")
    @app_commands.describe(
        time="Time of day, e.g. 08:00 or 8am",
        timezone="IANA time zone, e.g. Europe/Berlin",
        days="Weekdays only, or every day",
        papers=f"Papers per digest (1-{MAX_DIGEST_SIZE})",
        state="off pauses your digest, on resumes it",
    )
    async def me_schedule(
        self,
        interaction: discord.Interaction[Any],
        time: app_commands.Range[str, 1, 20] | None = None,
        timezone: app_commands.Range[str, 1, 64] | None = None,
        days: Literal["weekdays", "daily"] | None = None,
        papers: app_commands.Range[int, 1, MAX_DIGEST_SIZE] | None = None,
        state: Literal["on", "off"] | None = None,
    ) -> None:
        """Show or change the asker's own schedule."""
        changes = schedule_changes(time, timezone, days, papers, state) or [Schedule("")]
        await answer(self.paperboy, interaction, *(ForMe(change) for change in changes))

    @me_schedule.autocomplete("timezone")
    async def _my_timezone_choices(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """IANA zones matching what was typed."""
        return timezone_choices(current)

    @me.command(name="digest", description="Send me today's digest now, by direct message")
    async def me_digest(self, interaction: discord.Interaction[Any]) -> None:
        """Send the asker's own digest now."""
        await answer(self.paperboy, interaction, ForMe(PostDigest()), slow=True)

    @me.command(name="votes", description="The papers you voted for in this server, newest first")
    @app_commands.describe(window="Which period: the last week, the last month, or all time")
    async def me_votes(
        self, interaction: discord.Interaction[Any], window: Literal["week", "month", "all"] = "all"
    ) -> None:
        """The asker's reading list."""
        await answer(self.paperboy, interaction, MyVotes(window))

    @me.command(name="cite", description="A .bib file of the papers you voted for")
    @app_commands.describe(window="Which period: the last week, the last month, or all time")
    async def me_cite(
        self, interaction: discord.Interaction[Any], window: Literal["week", "month", "all"] = "all"
    ) -> None:
        """The asker's votes as BibTeX."""
        await answer(self.paperboy, interaction, MyCitations(window))

    @me.command(name="forget", description="Delete everything Paperboy keeps about you in this server")
    @app_commands.describe(confirm="True deletes it; without it you see what would be deleted")
    async def me_forget(self, interaction: discord.Interaction[Any], confirm: bool = False) -> None:
        """Say what would be deleted, or delete it."""
        await answer(self.paperboy, interaction, ForgetMe(confirmed=confirm))

    @me.command(name="help", description="What you can do for yourself")
    async def me_help(self, interaction: discord.Interaction[Any]) -> None:
        """Show the personal commands."""
        await answer(self.paperboy, interaction, ShowMyHelp())


async def on_command_error(
    interaction: discord.Interaction[Any], error: app_commands.AppCommandError
) -> None:
    """Tell the user, privately, why a command did not run."""
    if isinstance(error, app_commands.MissingPermissions):
        text = MANAGE_ONLY
    elif isinstance(error, app_commands.NoPrivateMessage):
        text = "Paperboy's commands work inside a server channel."
    elif isinstance(error, app_commands.CheckFailure):
        text = "You can't use that command here."
    else:
        log.error("app command failed", exc_info=error)
        text = "Something went wrong on my side; please try again in a minute."
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the user about a failed command")
