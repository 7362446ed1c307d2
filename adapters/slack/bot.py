"""The Slack adapter: a slack-bolt AsyncApp answering /papers, buttons, reactions, shared paper links (unfurled
as cards), each person's App Home, people who leave, and the install life cycle."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from adapters.slack.blocks import (
    HOME_DIGEST_ACTION,
    HOME_SCHEDULE_ACTION,
    HOME_UNSUBSCRIBE_ACTION,
    SHARE_ACTION,
    SIMILAR_ACTION,
    UPVOTE_ACTION,
    SlackMessage,
    bib_file_message,
    home_view,
    paper_message,
    render_reply,
    unescape,
    unfurl_map,
)
from adapters.slack.connection import PLATFORM, SlackConnection, retry_handlers
from adapters.slack.refusals import SlackPostError
from adapters.slack.runtime import BackgroundWork, ChannelManagers, RecentKeys, slack_error
from adapters.web import WebServer, add_slack_routes, build_web_app
from bot.commands import (
    CardsForLinks,
    Command,
    CommandContext,
    CommandError,
    ForgetMe,
    ForgetWorkspace,
    ForMe,
    ListTopics,
    PersonGone,
    PostDigest,
    ReactionVote,
    Schedule,
    SharePaper,
    ShowHome,
    Similar,
    ToggleVote,
    Unsubscribe,
    parse_command,
)
from bot.core import Paperboy
from bot.domain import ChannelRef
from bot.links import paper_link
from bot.render_text import render_text
from bot.replies import BibFile, ErrorReply, Home, LinkCards, Notice, Reply, SharedPaper

log = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0


def visibility(command: Command | None, reply: Reply) -> tuple[bool, bool]:
    """(private, share button) for an answer: as the command says, and errors always private."""
    if command is None or isinstance(reply, ErrorReply):
        return True, False
    return command.private, command.private and command.shareable


def changes_home(command: Command | None) -> bool:
    """True when a command changes what a person's App Home shows (their digest, topics or data)."""
    match command:
        case ForMe(command=ListTopics()):
            return False
        case ForMe(command=Schedule(args=args)):
            return bool(args.strip())
        case ForMe():
            return True
        case ForgetMe(confirmed=confirmed):
            return confirmed
    return False


def home_command(action_id: str, value: str) -> ForMe | None:
    """The command an App Home button stands for, or None for a value no button of ours carries."""
    if action_id == HOME_UNSUBSCRIBE_ACTION and value.isdigit():
        return ForMe(Unsubscribe(value))
    if action_id == HOME_SCHEDULE_ACTION and value in ("on", "off"):
        return ForMe(Schedule(value))
    if action_id == HOME_DIGEST_ACTION:
        return ForMe(PostDigest())
    return None


def conversation_ref(team: str, channel_id: str, user: str) -> ChannelRef:
    """Where something happened: a channel, or (in the bot's direct messages, D…) the person's own target.

    The bot's messages in a direct message are a person's digest, remembered under `ChannelRef.person`; only
    that person and the bot are in the conversation, so whoever acts there is its person.
    """
    if channel_id.startswith("D") and user:
        return ChannelRef.person(PLATFORM, team, user)
    return ChannelRef(PLATFORM, team, channel_id)


class SlackBot:
    """Paperboy on Slack: the Bolt app, its listeners, the digest publisher and (OAuth) the installations."""

    def __init__(self, paperboy: Paperboy, connection: SlackConnection) -> None:
        self.paperboy = paperboy
        self.connection = connection
        self.config = connection.config
        self.session = connection.session
        self.installations = connection.installations
        self.client = connection.client
        self.publisher = connection.publisher
        self.bolt = self._build_bolt()
        self.work = BackgroundWork(self.config.work_concurrency)
        self.events_seen = RecentKeys()
        self.clicks_seen = RecentKeys()
        self.managers = ChannelManagers(admins_only=self.config.admins_only)
        # One Home publish at a time per person: each reads the store after the one before it published, so
        # a slower, older read never lands last and leaves a stale Home.
        self._home_turns: dict[tuple[str, str], asyncio.Lock] = {}
        self._register()

    # ----- wiring -----

    def _build_bolt(self) -> AsyncApp:
        common: dict[str, Any] = {
            "name": "paperboy",
            "logger": log,
            "signing_secret": self.config.signing_secret,
            "client": self.client,
            # Every listener acks before it returns and leaves slow work to background tasks, so Bolt answers
            # as soon as the ack is in instead of polling for it.
            "process_before_response": True,
            # Our HTTP route checks each request's signature before Bolt reads it (adapters/web.py); Bolt's
            # own check would log the whole body of every request it refuses. Socket Mode needs no check.
            "request_verification_enabled": False,
        }
        if not self.config.uses_oauth:
            return AsyncApp(**common)
        assert self.installations is not None and self.config.client_id and self.config.client_secret
        oauth = AsyncOAuthSettings(
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            scopes=list(self.config.oauth_scopes),
            user_scopes=[],
            redirect_uri=self.config.redirect_uri,
            installation_store=self.installations.installations,
            installation_store_bot_only=True,
            state_store=self.installations.states,
            logger=log,
        )
        # Bolt's default authorizer would make its own client for token rotation; ours honours SLACK_API_URL.
        authorize = AsyncInstallationStoreAuthorize(
            logger=log,
            installation_store=self.installations.installations,
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            bot_only=True,
            # A token names one installation: its auth.test answer can be kept rather than asked per request.
            cache_enabled=True,
            client=self.client,
        )
        return AsyncApp(
            **common,
            oauth_settings=oauth,
            installation_store=self.installations.installations,
            installation_store_bot_only=True,
            # Bolt accepts an AsyncAuthorize instance here although its annotation names only callables.
            authorize=authorize,  # type: ignore[arg-type]
        )

    def _register(self) -> None:
        app = self.bolt
        app.command(self.config.command)(self._on_command)
        app.action(UPVOTE_ACTION)(self._on_upvote_click)
        app.action(SHARE_ACTION)(self._on_share_click)
        app.action(SIMILAR_ACTION)(self._on_similar_click)
        for home_action in (HOME_UNSUBSCRIBE_ACTION, HOME_SCHEDULE_ACTION, HOME_DIGEST_ACTION):
            app.action(home_action)(self._on_home_click)
        app.event("app_home_opened")(self._on_home_opened)
        app.event("user_change")(self._on_user_change)
        app.event("reaction_added")(self._on_reaction_added)
        app.event("reaction_removed")(self._on_reaction_removed)
        app.event("link_shared")(self._on_link_shared)
        app.event("app_uninstalled")(self._on_uninstalled)
        app.event("tokens_revoked")(self._on_tokens_revoked)

    # ----- /papers -----

    async def _on_command(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        """Acknowledge at once (an empty 200); the answer follows through the response_url."""
        await ack()
        # The workspace whose installation answers (its token's), whatever the payload says of the person.
        authorized = context.authorize_result
        home_team = (authorized.team_id if authorized is not None else None) or body.get("team_id", "")
        # `client` is this request's own (Bolt makes one per request), so the background work may keep it.
        self.work.start(self._answer_command(body, client, home_team), "command")

    async def _answer_command(self, body: dict[str, Any], client: AsyncWebClient, home_team: str) -> None:
        """Answer a /papers line through its response_url (Bolt has acknowledged it already)."""
        team, channel_id, user = body.get("team_id", ""), body.get("channel_id", ""), body.get("user_id", "")
        text = unescape(body.get("text") or "")
        channel = ChannelRef(PLATFORM, team, channel_id)
        command: Command | None = None
        try:
            command = parse_command(text)
        except CommandError as error:
            reply: Reply = ErrorReply(str(error))
        else:
            ctx = CommandContext(channel=channel, user=user)
            if command.changes_channel:
                can_manage, rule = await self.managers.decide(client, home_team, user)
                ctx = CommandContext(channel=channel, user=user, can_manage=can_manage, manage_rule=rule)
            reply = await self.paperboy.execute(ctx, command)
        private, share = visibility(command, reply)
        if isinstance(reply, BibFile):
            message = await self._send_bib_file(team, user, reply)
        else:
            message = render_reply(reply, share=share)
        await self.respond(body.get("response_url"), message, private=private)
        if changes_home(command) and not isinstance(reply, ErrorReply):
            await self.publish_home(client, team, user)

    async def _send_bib_file(self, team: str, user: str, bib: BibFile) -> SlackMessage:
        """Send a person's BibTeX file to their direct messages; say where it went, or show it as text.

        A file keeps every entry whole (a message holds about 140,000 characters of code at most) and stays
        private to the person; the text is what is left when Slack will not take the file.
        """
        person = ChannelRef.person(PLATFORM, team, user)
        try:
            await self.publisher.send_file(person, bib.filename, bib.bibtex, comment=bib.heading)
        except SlackPostError as error:
            log.info("BibTeX file not sent to %s: %s", person, error)
            return bib_file_message(
                bib, preface=f"I could not send it as a file: {error} Here it is as text."
            )
        return render_reply(
            Notice(f"{bib.heading} It is in your direct messages with Paperboy, as {bib.filename}.")
        )

    async def respond(
        self, response_url: str | None, message: SlackMessage, *, private: bool, replace: bool = False
    ) -> bool:
        """Send a message through a response_url (with slack_sdk's retries); True when Slack took it."""
        if not response_url:
            log.warning("no response_url to answer with")
            return False
        hook = AsyncWebhookClient(
            response_url,
            session=self.session,
            retry_handlers=retry_handlers(self.connection.telemetry),
            logger=log,
        )
        payload: dict[str, Any] = {
            "text": message.text,
            "blocks": message.blocks,
            "response_type": "ephemeral" if private else "in_channel",
            "replace_original": replace,
            "unfurl_links": False,
            "unfurl_media": False,
        }
        try:
            response = await hook.send_dict(payload)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("response_url failed: %s", error)
            return False
        if response.status_code != 200:
            log.warning("response_url answered %s: %s", response.status_code, response.body[:200])
            return False
        return True

    # ----- buttons -----

    async def _on_upvote_click(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        self.work.start(self._on_upvote(body, client), "upvote")

    async def _on_share_click(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        self.work.start(self._on_share(body, client), "share")

    async def _on_similar_click(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        self.work.start(self._on_similar(body), "similar")

    def _action_context(self, body: dict[str, Any]) -> tuple[CommandContext, str]:
        """Who pressed a button where, and the value (an arXiv id) the button carries.

        A button in the bot's direct messages or in the App Home (a view, no channel) is the person's own.
        """
        action = (body.get("actions") or [{}])[0]
        team = (body.get("team") or {}).get("id", "")
        user = (body.get("user") or {}).get("id", "")
        container = body.get("container") or {}
        channel_id = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
        if container.get("type") == "view" and user:
            where = ChannelRef.person(PLATFORM, team, user)
        else:
            where = conversation_ref(team, channel_id, user)
        ctx = CommandContext(channel=where, user=user, can_manage=False)
        return ctx, str(action.get("value", ""))

    async def _on_similar(self, body: dict[str, Any]) -> None:
        """Show the clicker, privately, the papers most like the card's paper, each with its buttons."""
        ctx, arxiv_id = self._action_context(body)
        reply = await self.paperboy.execute(ctx, Similar(arxiv_id))
        await self.respond(body.get("response_url"), render_reply(reply, share=True), private=True)

    async def _on_upvote(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        """Toggle the clicker's vote for the card's paper and tell them privately where it stands."""
        ctx, arxiv_id = self._action_context(body)
        action = (body.get("actions") or [{}])[0]
        # Slack may deliver one click twice; the same click (same action_ts) must not toggle twice.
        key = f"{ctx.channel.workspace}:{ctx.user}:{action.get('action_ts')}:{arxiv_id}"
        if self.clicks_seen.seen(key) or not (ctx.channel.workspace and ctx.user and arxiv_id):
            return
        self.clicks_seen.add(key)
        reply = await self.paperboy.execute(ctx, ToggleVote(arxiv_id))
        if (body.get("container") or {}).get("type") == "view":
            # The App Home has no response_url: the Home itself shows the vote, and the counts it changed.
            await self.publish_home(client, ctx.channel.workspace, ctx.user, notice=first_line(reply))
            return
        await self.respond(body.get("response_url"), render_reply(reply), private=True)

    # ----- the App Home -----

    async def publish_home(
        self, client: AsyncWebClient, team: str, user: str, *, notice: str | None = None
    ) -> None:
        """Publish a person's App Home (views.publish) as the core reads it, with a line about what just happened."""
        if not (team and user):
            return
        person = ChannelRef.person(PLATFORM, team, user)
        async with self._home_turns.setdefault((team, user), asyncio.Lock()):
            reply = await self.paperboy.execute(CommandContext(person, user), ShowHome())
            home = reply if isinstance(reply, Home) else None
            if home is None:
                notice = render_text(reply)
            try:
                await client.views_publish(user_id=user, view=home_view(home, notice=notice))
            except SlackApiError as error:
                # not_enabled: the app's Home tab is off (an app made before 0.3); nothing else depends on it.
                log.warning("views.publish for %s answered %s", person, slack_error(error))
            except (aiohttp.ClientError, TimeoutError) as error:
                log.warning("views.publish for %s failed: %s", person, type(error).__name__)

    async def _on_home_opened(
        self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        """A person opened the App Home: its Home tab is published for them (Bolt acks when this returns)."""
        team = str(body.get("team_id") or context.team_id or "")
        user = str(event.get("user") or "")
        # The event names the person's direct-message conversation: no conversations.open needed for it. It is
        # noted in the background: the ack need not wait for the store, whose writers take turns.
        person = ChannelRef.person(PLATFORM, team, user)
        self.work.start(
            self.publisher.direct.note(person, str(event.get("channel") or "")), "direct messages"
        )
        if event.get("tab") == "home":
            self.work.start(self.publish_home(client, team, user), "home")

    async def _on_home_click(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        self.work.start(self._on_home_action(body, client), "home action")

    async def _on_home_action(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        """Run a Home button's command on the person's own digest through the core, then show the Home again."""
        action = (body.get("actions") or [{}])[0]
        team = str((body.get("team") or {}).get("id") or "")
        user = str((body.get("user") or {}).get("id") or "")
        command = home_command(str(action.get("action_id", "")), str(action.get("value", "")))
        key = f"{team}:{user}:{action.get('action_ts')}:{action.get('action_id')}:{action.get('value')}"
        if command is None or not (team and user) or self.clicks_seen.seen(key):
            return
        self.clicks_seen.add(key)
        if isinstance(command.command, PostDigest):
            # The digest takes a second a paper (Slack's pace in one conversation): say so while it goes.
            await self.publish_home(
                client, team, user, notice="Sending today's digest to your direct messages…"
            )
        person = ChannelRef.person(PLATFORM, team, user)
        reply = await self.paperboy.execute(CommandContext(person, user), command)
        await self.publish_home(client, team, user, notice=first_line(reply))

    async def _on_share(self, body: dict[str, Any], client: AsyncWebClient) -> None:
        """Post a paper for the whole channel, where reactions on it count as votes."""
        ctx, arxiv_id = self._action_context(body)
        reply = await self.paperboy.execute(ctx, SharePaper(arxiv_id))
        match reply:
            case SharedPaper(posted=True):
                return
            case SharedPaper(item=item):
                # Not a member: the response_url still reaches the channel, though reactions there cannot count.
                await self.respond(body.get("response_url"), paper_message(item), private=False)
            case _:
                await self.respond(body.get("response_url"), render_reply(reply), private=True)

    # ----- events -----

    async def _on_reaction_added(
        self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await self._on_reaction(body, event, context, cast=True)

    async def _on_reaction_removed(
        self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        await self._on_reaction(body, event, context, cast=False)

    async def _on_reaction(
        self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext, *, cast: bool
    ) -> None:
        """A vote emoji on a paper message the bot posted casts or retracts that person's vote."""
        event_id = str(body.get("event_id", ""))
        if event_id and self.events_seen.seen(event_id):
            return
        item = event.get("item") or {}
        user = event.get("user")
        reaction = str(event.get("reaction", "")).split("::", 1)[0]
        team = body.get("team_id") or context.team_id or ""
        counted = (
            item.get("type") == "message"
            and reaction in self.config.vote_emoji
            and user
            and user != context.bot_user_id
        )
        if counted:
            # In the bot's direct messages, the messages are the person's digest (their own target).
            ctx = CommandContext(
                channel=conversation_ref(team, str(item.get("channel", "")), str(user)), user=str(user)
            )
            await self.paperboy.execute(ctx, ReactionVote(str(item.get("ts", "")), cast, event_id or None))
        # Remembered only once handled: a delivery that failed half-way is retried by Slack and redone.
        if event_id:
            self.events_seen.add(event_id)

    async def _on_link_shared(
        self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """Paper links in a message: acknowledged at once (Bolt acks when this returns), unfurled in the background."""
        event_id = str(body.get("event_id", ""))
        if event_id and self.events_seen.seen(event_id):
            return
        if event_id:
            # A retry that reaches another replica unfurls again: Slack replaces the first unfurl, and the
            # message's papers are remembered once.
            self.events_seen.add(event_id)
        team = str(body.get("team_id") or context.team_id or "")
        self.work.start(self._unfurl(team, event), "unfurl")

    async def _unfurl(self, team: str, event: dict[str, Any]) -> None:
        """Cards for the paper links of a message through the core, shown under them with chat.unfurl.

        A posted message (`channel` and `message_ts`) is remembered, so that 👍 on it votes for each paper;
        links still in the composer (`source: composer`) get cards by their `unfurl_id` only.
        """
        found = (
            paper_link(str(item.get("url", "")))
            for item in event.get("links") or []
            if isinstance(item, dict)
        )
        links = tuple(link for link in found if link is not None)
        if not links or not team:
            return
        in_composer = event.get("source") == "composer"
        channel_id = str(event.get("channel", ""))
        message_ts = None if in_composer else str(event.get("message_ts") or "") or None
        ctx = CommandContext(
            channel=ChannelRef(PLATFORM, team, channel_id), user=str(event.get("user", "")), can_manage=False
        )
        reply = await self.paperboy.execute(ctx, CardsForLinks(links, message_id=message_ts))
        if not isinstance(reply, LinkCards) or not reply.cards:
            return  # no card rather than a broken one (the paper is unknown and arXiv did not answer)
        if message_ts is not None:
            await self.publisher.unfurl(team, unfurl_map(reply), channel=channel_id, ts=message_ts)
        else:
            unfurl_id = str(event.get("unfurl_id", ""))
            await self.publisher.unfurl(team, unfurl_map(reply), unfurl_id=unfurl_id, source="composer")

    async def _on_user_change(
        self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """A person was deactivated (`deleted: true`): everything Paperboy keeps about them there goes."""
        person = event.get("user") or {}
        team = str(body.get("team_id") or context.team_id or "")
        user = str(person.get("id") or "")
        if person.get("deleted") is not True or not (team and user):
            return  # every other profile change (a name, a status, a zone) is none of Paperboy's business
        self.publisher.direct.forget(team, user)
        self.work.start(self._person_gone(team, user), "person gone")

    async def _person_gone(self, team: str, user: str) -> None:
        ctx = CommandContext(ChannelRef.person(PLATFORM, team, user), user)
        reply = await self.paperboy.execute(ctx, PersonGone())
        log.info("a person of %s left: %s", team, first_line(reply))

    async def _on_uninstalled(self, body: dict[str, Any]) -> None:
        """The app was removed from a workspace: forget its installation and every channel's data."""
        self.work.start(self._forget_workspace(body), "uninstall")

    async def _on_tokens_revoked(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """The bot token was revoked: the workspace is as good as uninstalled."""
        tokens = event.get("tokens") or {}
        if tokens.get("bot"):
            self.work.start(self._forget_workspace(body), "tokens revoked")

    async def _forget_workspace(self, body: dict[str, Any]) -> None:
        team = str(body.get("team_id", ""))
        if not team:
            return
        if self.installations is not None:
            await self.installations.delete_team(team, body.get("enterprise_id"))
        await self.paperboy.execute(CommandContext(ChannelRef(PLATFORM, team, ""), ""), ForgetWorkspace())


def first_line(reply: Reply) -> str:
    """The first line of a reply as text: what a notice on the App Home says of it."""
    return render_text(reply).split("\n", 1)[0]


@dataclass
class SlackService:
    """A running Slack adapter; `stop()` ends it cleanly (the connection is closed by whoever opened it)."""

    bot: SlackBot
    server: WebServer | None = None
    socket: AsyncSocketModeHandler | None = None

    @property
    def port(self) -> int | None:
        """The HTTP port actually listened on (useful when PAPERBOY_PORT is 0), or None."""
        return self.server.port if self.server is not None else None

    async def stop(self) -> None:
        """Stop taking requests and let running work finish (briefly)."""
        if self.socket is not None:
            await self.socket.close_async()
        if self.server is not None:
            await self.server.stop()
        await self.bot.work.drain(DRAIN_SECONDS)


async def serve_slack(
    paperboy: Paperboy, connection: SlackConnection, *, web_app: web.Application | None = None
) -> SlackService:
    """Answer Slack with the core: Socket Mode with SLACK_APP_TOKEN, else HTTP on PAPERBOY_PORT or `web_app`.

    When `web_app` is given, the Slack routes are added to it and the caller serves it; otherwise the adapter
    serves its own web application on the configured port.
    """
    config = connection.config
    bot = SlackBot(paperboy, connection)
    service = SlackService(bot)
    try:
        if config.socket_mode:
            service.socket = AsyncSocketModeHandler(bot.bolt, config.app_token, web_client=bot.client)
            await service.socket.connect_async()
        elif web_app is not None:
            add_slack_routes(web_app, bot.bolt, config.signing_secret)
        else:
            app = build_web_app(slack=bot.bolt, signing_secret=config.signing_secret)
            service.server = WebServer(app, config.host, config.port)
            await service.server.start()
    except BaseException:
        await service.stop()
        raise
    mode = (
        "Socket Mode" if config.socket_mode else "many workspaces" if config.uses_oauth else "one workspace"
    )
    where = f"port {service.port}" if service.port is not None else "the shared web app"
    log.info("Slack adapter started: %s, %s", mode, "outbound connection" if config.socket_mode else where)
    return service


__all__ = ["SlackBot", "SlackService", "serve_slack"]
