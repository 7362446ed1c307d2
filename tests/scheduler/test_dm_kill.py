"""Kill tests for personal digests: a real `paperboy digest --due` killed with SIGKILL at random moments while it
sends people their own digests by direct message on Slack, then run again.

Each round adds people whose digest is due (their own targets, `ChannelRef.person`), starts the process against
the shipped loopback Slack, kills it as tests/scheduler/test_kill.py does (inside the fake's handler right after
it accepted the k-th message, so the answer never arrives, or at a random moment after the first message), and
runs it again to the end. Then every person so far has exactly one digest in their direct messages (on Slack
the D… conversation `conversations.open` gives, threaded; on Discord the DM channel, a heading then one message
per paper), one message per planned paper, no paper twice and none lost; a last run the same day sends nothing
more. On Discord the restart comes after Discord forgot the nonces, and the REST calls, opening DM channels
included, stay under Discord's global 50 requests a second. PAPERBOY_KILL_ROUNDS and PAPERBOY_KILL_SEED work as
in tests/scheduler/test_kill.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from adapters.bench.slack_api import FakeMessage, RateLimitedSlack, direct_conversation
from bot.domain import ChannelRef
from tests.fakes.discord import FakeDiscord
from tests.scheduler.fakes import DiscordWithHistory
from tests.scheduler.test_kill import PAPERS, REPLAY, ROUNDS, KillRun, kill_run

__all__ = ["REPLAY"]  # the conftest's hook names the seed of a failed run

PEOPLE_PER_ROUND = 4  # 16 messages a round, as many as test_kill's rounds draw their kill from
TEAM = "T1"
# Discord's global limit: requests a second over the whole bot.
DISCORD_GLOBAL_RATE = 50


async def same_day_again(run: KillRun, people: list[ChannelRef], sent: Callable[[], int]) -> None:
    """A last run the same day sends nothing: every person has had today's one digest."""
    before = sent()
    again = await run.start()
    _out, err = await asyncio.wait_for(again.communicate(), timeout=120)
    assert again.returncode == 0, err.decode()[-2000:]
    assert sent() == before, REPLAY
    for person in people:
        assert await run.store.has_digest(person, run.today), person


def busiest_second(moments: list[float]) -> int:
    """The most moments within any one second."""
    ordered = sorted(moments)
    most, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def discord_dm_audit(fake: FakeDiscord, user_id: int, papers: int) -> list[str]:
    """What is wrong with one person's DMs: one heading, then `papers` papers, none twice."""
    messages = fake.dms_of(user_id)
    titles = [m["embeds"][0]["title"] for m in messages if m["embeds"]]
    headings = [t for t in titles if t.startswith("Your papers for")]
    problems = []
    if len(headings) != 1:
        problems.append(f"{user_id}: {len(headings)} headings")
    listed = [t for t in titles if not t.startswith("Your papers for")]
    if len(listed) != papers or len(set(listed)) != len(listed) or len(messages) != papers + 1:
        problems.append(f"{user_id}: {len(messages)} messages, papers {listed}")
    return problems


async def test_personal_digests_survive_sigkill_at_random_moments(tmp_path: Path) -> None:
    run: KillRun | None = None
    fake = RateLimitedSlack(channel_interval=0.0, rate=10_000, burst=10_000, team_id=TEAM)
    await fake.start()
    try:
        run = await kill_run(
            tmp_path,
            SLACK_BOT_TOKEN="xoxb-kill-test",
            SLACK_SIGNING_SECRET="kill-test-secret",
            SLACK_API_URL=fake.api_url,
            PAPERBOY_SLACK_POST_INTERVAL="0.05",
            PAPERBOY_SLACK_RATE="0",
        )
        killer = run

        def accepted(message: FakeMessage, total: int) -> None:
            killer.accepted()

        fake.on_accept = accepted
        people: list[ChannelRef] = []
        for number in range(1, ROUNDS + 1):
            new = [ChannelRef.person("slack", TEAM, f"U{number:02d}P{n}") for n in range(PEOPLE_PER_ROUND)]
            people += new
            await run.add_channels(new)
            await run.round(number)
            expected = {direct_conversation(TEAM, p.user or ""): PAPERS for p in people}
            audit = fake.audit(expected)
            assert audit["problems"] == [], f"{REPLAY}: {audit['problems']}\n" + "\n".join(run.log)
            # Every message went to a person's direct messages, none to a conversation named after the target.
            assert audit["channels"] == audit["direct_messages"] == len(people), f"{REPLAY}: {audit}"
        assert await run.all_posted() == [], REPLAY
        # Each person's conversation is in the store, whatever moment a kill came at: tomorrow opens none.
        for person in people:
            assert await run.store.address_of(person) == direct_conversation(TEAM, person.user or ""), REPLAY

        await same_day_again(run, people, lambda: len(fake.messages))

        print("\n".join(run.log), f"\n{len(fake.opened)} conversations opened, {fake.lookups} look-ups")
        assert fake.lookups > 0 or all("exit 0" in line for line in run.log if "killed" in line), REPLAY
    finally:
        await fake.stop()
        if run is not None:
            await run.store.close()


async def test_personal_discord_digests_survive_sigkill_even_after_discord_forgot_the_nonces(
    tmp_path: Path,
) -> None:
    run: KillRun | None = None
    fake = DiscordWithHistory()
    await fake.start()
    guild = fake.add_guild("Kill test")
    try:
        run = await kill_run(
            tmp_path,
            DISCORD_TOKEN="fake-token",
            DISCORD_API_URL=fake.api_url,
            DISCORD_GATEWAY_URL=fake.gateway_url,
            PAPERBOY_DISCORD_POST_INTERVAL="0.05",
        )
        killer = run
        fake.on_create = lambda message: killer.accepted()
        users: list[int] = []
        people: list[ChannelRef] = []
        for number in range(1, ROUNDS + 1):
            new = [900_000_000_000_000_000 + number * 100 + n for n in range(PEOPLE_PER_ROUND)]
            users += new
            people += [ChannelRef.person("discord", str(guild), str(u)) for u in new]
            await run.add_channels(people[-PEOPLE_PER_ROUND:])
            # A restart later than Discord's nonce window: only our own look-up can prevent a repeat.
            await run.round(number, after_kill=fake.expire_nonces)
            problems = [p for u in users for p in discord_dm_audit(fake, u, PAPERS)]
            assert problems == [], f"{REPLAY}: {problems}\n" + "\n".join(run.log)
        assert await run.all_posted() == [], REPLAY
        await same_day_again(run, people, lambda: len(fake.messages))

        # Opening each person's DM channel and sending to it stay under Discord's global limit.
        busiest = busiest_second([c.at for c in fake.calls if c.method != "GET"])
        assert busiest <= DISCORD_GLOBAL_RATE, f"{busiest} requests in one second"
        opened = fake.calls_to("POST", r"/users/@me/channels")
        print("\n".join(run.log), f"\n{len(opened)} DM channels opened, busiest second {busiest} requests")
    finally:
        await fake.stop()
        if run is not None:
            await run.store.close()


async def test_many_personal_discord_digests_at_once_stay_under_discords_global_limit(tmp_path: Path) -> None:
    # Forty people due at once, the default pace: each DM channel is opened (one request) and then takes its
    # messages; together with every post they must stay under Discord's 50 requests a second.
    run: KillRun | None = None
    fake = DiscordWithHistory()
    await fake.start()
    guild = fake.add_guild("Busy server")
    try:
        run = await kill_run(
            tmp_path,
            DISCORD_TOKEN="fake-token",
            DISCORD_API_URL=fake.api_url,
            DISCORD_GATEWAY_URL=fake.gateway_url,
        )
        users = [910_000_000_000_000_000 + n for n in range(40)]
        people = [ChannelRef.person("discord", str(guild), str(u)) for u in users]
        await run.add_channels(people)

        process = await run.start()
        _out, err = await asyncio.wait_for(process.communicate(), timeout=120)

        assert process.returncode == 0, err.decode()[-2000:]
        assert [p for u in users for p in discord_dm_audit(fake, u, PAPERS)] == []
        sent = [c.at for c in fake.calls if c.method != "GET"]
        assert len(fake.calls_to("POST", r"/users/@me/channels")) == len(users)
        busiest = busiest_second(sent)
        print(f"{len(sent)} requests in {max(sent) - min(sent):.1f} s, busiest second {busiest}")
        assert busiest <= DISCORD_GLOBAL_RATE, f"{busiest} requests in one second"
    finally:
        await fake.stop()
        if run is not None:
            await run.store.close()
