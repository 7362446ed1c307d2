"""Two replicas of the Slack adapter on one database: a late retry of a reaction never undoes a later one."""

from __future__ import annotations

from tests.slack.conftest import StartSlack
from tests.slack.test_votes import digest_reply_ts, votes


async def test_a_late_retry_of_an_add_on_the_other_replica_leaves_the_vote_removed(start: StartSlack) -> None:
    one, two = await start(), await start()
    ts = await digest_reply_ts(one)

    await one.react(ts, event_id="Ev1")
    await one.react(ts, added=False, event_id="Ev2")
    assert await votes(one) == 0
    # Slack's retry of the add (its answer timed out on replica one) reaches replica two, which never saw it.
    await two.react(ts, event_id="Ev1", X_Slack_Retry_Num="1", X_Slack_Retry_Reason="http_timeout")

    assert await votes(one) == 0
    assert await votes(two) == 0


async def test_each_new_reaction_on_either_replica_counts(start: StartSlack) -> None:
    one, two = await start(), await start()
    ts = await digest_reply_ts(one)

    await one.react(ts, event_id="Ev1")
    await two.react(ts, added=False, event_id="Ev2")
    await one.react(ts, event_id="Ev3")
    await two.react(ts, user="U2", event_id="Ev4")

    assert await votes(one) == 2
