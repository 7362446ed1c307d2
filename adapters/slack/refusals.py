"""What Slack's refusals mean for a digest target: a sentence the people concerned can act on.

A channel's managers read the sentence in `/papers schedule`; a person reads theirs in `/papers me topics` and
`/papers me schedule`, so it tells them what to do and ends with the command that resumes their own digest.
"""

from __future__ import annotations

from bot.domain import ChannelRef
from bot.services.publishing import ChannelUnavailable as CoreChannelUnavailable
from bot.services.publishing import PublishError


class SlackPostError(PublishError):
    """A message could not be posted (after slack_sdk's own retries); the reason is one sentence."""


class ChannelUnavailable(SlackPostError, CoreChannelUnavailable):
    """The channel cannot be posted to until someone acts (invite, unarchive, reinstall); it was paused."""


_REINSTALL = "reinstall Paperboy in this workspace, then run /papers schedule on."
# Slack errors that will not go away by retrying: the channel is paused with a reason people can act on.
CHANNEL_GONE_REASONS: dict[str, str] = {
    "not_in_channel": "Paperboy is not a member of this channel; invite it with /invite @Paperboy, "
    "then run /papers schedule on.",
    "channel_not_found": "Slack says this channel does not exist or Paperboy cannot see it; invite Paperboy "
    "to it, then run /papers schedule on.",
    "is_archived": "This channel is archived; unarchive it, then run /papers schedule on.",
    "invalid_auth": "Paperboy's access to this workspace is no longer valid; " + _REINSTALL,
    "not_authed": "Paperboy has no access to this workspace; " + _REINSTALL,
    "token_revoked": "Paperboy's access to this workspace was revoked; " + _REINSTALL,
    "token_expired": "Paperboy's access to this workspace expired; " + _REINSTALL,
    "account_inactive": "Paperboy's access to this workspace was revoked; " + _REINSTALL,
    "no_installation": "Paperboy is not installed in this workspace; " + _REINSTALL,
    "missing_scope": "Paperboy lacks the permission to post here; " + _REINSTALL,
    "restricted_action": "This workspace does not let Paperboy post in this channel; ask an admin, "
    "then run /papers schedule on.",
    "ekm_access_denied": "This workspace's key management denies Paperboy access; ask an admin, "
    "then run /papers schedule on.",
    "team_access_not_granted": "Paperboy has no access to this channel's workspace; " + _REINSTALL,
}

_ME_ON = "then write /papers me schedule on."
_ME_REINSTALL = "ask an admin to reinstall Paperboy in this workspace, " + _ME_ON
# The same refusals for a person's direct messages (conversations.open, then chat.postMessage to the D…
# channel), and those only a direct message meets.
PERSON_GONE_REASONS: dict[str, str] = {
    "cannot_dm_bot": "Slack does not let Paperboy send direct messages to a bot account; "
    "subscribe from your own account, " + _ME_ON,
    "user_not_found": "Slack does not know your account in this workspace, so Paperboy cannot send you "
    "direct messages; once you are back, " + _ME_ON,
    "user_disabled": "Your Slack account in this workspace is deactivated, so Paperboy cannot send you "
    "direct messages; once it is active again, " + _ME_ON,
    "user_not_visible": "This workspace hides your account from Paperboy, so it cannot send you direct "
    "messages; ask an admin to let it, " + _ME_ON,
    "messages_tab_disabled": "Paperboy's Messages tab is turned off, so it cannot send you direct messages; "
    "ask an admin to turn it on (App Home in the app's settings), " + _ME_ON,
    "channel_not_found": "Slack would not open your direct messages with Paperboy; open Paperboy's Messages "
    "tab once, " + _ME_ON,
    "missing_scope": "Paperboy lacks the permission to send you direct messages (the im:write scope); "
    + _ME_REINSTALL,
    "restricted_action": "This workspace does not let Paperboy send you direct messages; ask an admin, "
    + _ME_ON,
    "ekm_access_denied": "This workspace's key management denies Paperboy access; ask an admin, " + _ME_ON,
    "invalid_auth": "Paperboy's access to this workspace is no longer valid; " + _ME_REINSTALL,
    "not_authed": "Paperboy has no access to this workspace; " + _ME_REINSTALL,
    "token_revoked": "Paperboy's access to this workspace was revoked; " + _ME_REINSTALL,
    "token_expired": "Paperboy's access to this workspace expired; " + _ME_REINSTALL,
    "account_inactive": "Paperboy's access to this workspace was revoked; " + _ME_REINSTALL,
    "no_installation": "Paperboy is not installed in this workspace; " + _ME_REINSTALL,
    "team_access_not_granted": "Paperboy has no access to your workspace; " + _ME_REINSTALL,
}


def gone_reasons(target: ChannelRef) -> dict[str, str]:
    """The refusals that pause a target, each with its sentence: a channel's, or a person's own."""
    return PERSON_GONE_REASONS if target.is_person else CHANNEL_GONE_REASONS
