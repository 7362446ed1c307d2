"""Slack after a lost answer: the poster never posts a message twice by itself, and the engine's look-up reads
back as far as the digest's start, page by page, however busy the channel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from adapters.bench.slack_api import Answer, ApiCall, RateLimitedSlack, api_error
from adapters.slack.blocks import SlackMessage
from adapters.slack.config import SlackConfig
from adapters.slack.connection import SlackConnection, connect_slack
from adapters.slack.publisher import LOOKUP_INTERVAL, LOOKUP_PAGE, SlackPostError, SlackPublisher
from bot.core import Paperboy
from bot.domain import DELIVERY_CLAIMED, ChannelRef, ChannelSettings, Delivery, DigestPlan
from bot.ports import NullTelemetry
from bot.services.delivery import DeliveryEngine
from bot.services.due_digests import DigestScheduler
from tests.scheduler.conftest import TODAY, World, policy

CHANNEL = ChannelRef("slack", "T1", "CBUSY")


class LosingSlack(RateLimitedSlack):
    """The loopback Slack, able to take a message and then lose its answer (a 500, or a dropped connection),
    and to refuse reads with 500s or 429s."""

    def __init__(self) -> None:
        super().__init__(channel_interval=0.0, rate=None)
        self.lose: list[str] = []  # "500" or "drop", for the next accepted messages
        self.refuse = 0  # the next posts answered 429, not taken
        self.read_failures: list[int] = []  # HTTP statuses for the next conversations.* calls
        self.post_requests = 0
        self._drop = False
        for method in ("conversations.history", "conversations.replies"):
            self.route(method, self._failing_read(self._methods[method]))

    def later(self, seconds: int) -> None:
        """Move the timestamps of the next messages `seconds` on (the fake's otherwise stand still)."""
        self._base += seconds

    def _post_message(self, call: ApiCall) -> Answer:
        self.post_requests += 1
        if self.refuse:
            self.refuse -= 1
            self.rate_limited += 1
            return api_error("ratelimited", 429, {"Retry-After": "0"})
        status, body, headers = super()._post_message(call)
        if body.get("ok") and self.lose:
            mode = self.lose.pop(0)
            if mode == "drop":
                self._drop = True
            else:
                return api_error("internal_error", 500)
        return status, body, headers

    def _failing_read(self, read: Callable[[ApiCall], Answer]) -> Callable[[ApiCall], Answer]:
        def answer(call: ApiCall) -> Answer:
            if self.read_failures:
                status = self.read_failures.pop(0)
                code = "ratelimited" if status == 429 else "internal_error"
                return api_error(code, status, {"Retry-After": "7"} if status == 429 else None)
            return read(call)

        return answer

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)
        if self._drop:
            # The message is in the channel; the connection goes before its answer is sent.
            self._drop = False
            assert request.transport is not None
            request.transport.close()
        return response


@pytest.fixture
async def fake() -> AsyncIterator[LosingSlack]:
    slack = LosingSlack()
    await slack.start()
    try:
        yield slack
    finally:
        await slack.stop()


@pytest.fixture
async def slack(fake: LosingSlack) -> AsyncIterator[SlackConnection]:
    config = SlackConfig(
        signing_secret="secret", bot_token="xoxb-test", api_url=fake.api_url, post_interval=0.0
    )
    connection = await connect_slack(config, NullTelemetry())
    try:
        yield connection
    finally:
        await connection.close()


def parent_delivery(delivery_id: int = 7) -> tuple[DigestPlan, Delivery]:
    plan = DigestPlan(CHANNEL, TODAY, ("delivery",), ())
    return plan, Delivery(delivery_id, 3, CHANNEL, TODAY, 0, None, DELIVERY_CLAIMED)


async def chatter(client: AsyncWebClient, count: int) -> None:
    """`count` messages of people in the channel, after the digest's parent."""
    for n in range(count):
        await client.chat_postMessage(token="xoxb-person", channel=CHANNEL.channel, text=f"message {n}")


@pytest.mark.parametrize("lost", ["500", "drop"])
async def test_the_poster_does_not_repeat_a_post_whose_answer_was_lost(
    fake: LosingSlack, slack: SlackConnection, lost: str
) -> None:
    fake.lose = [lost]
    with pytest.raises(SlackPostError, match="Slack"):
        await slack.publisher.post(CHANNEL, SlackMessage("hello"))
    assert fake.post_requests == 1
    assert len(fake.in_channel(CHANNEL.channel)) == 1


async def test_the_poster_still_waits_out_a_429_and_retries_the_post(
    fake: LosingSlack, slack: SlackConnection
) -> None:
    fake.refuse = 2
    await slack.publisher.post(CHANNEL, SlackMessage("one"))
    assert fake.post_requests == 3
    assert [m.text for m in fake.in_channel(CHANNEL.channel)] == ["one"]


async def test_a_read_that_fails_with_a_500_is_retried_by_the_poster(
    fake: LosingSlack, slack: SlackConnection
) -> None:
    plan, parent = parent_delivery()
    ts = await slack.publisher.post_parent(plan, parent)
    fake.read_failures = [500]
    since = datetime.now(UTC)
    assert await slack.publisher.find_posted(plan, parent, None, since=since) == ts


@pytest.mark.parametrize("lost", ["500", "drop"])
async def test_a_digest_whose_answer_was_lost_is_posted_once_through_the_engine(
    world: World, fake: LosingSlack, slack: SlackConnection, lost: str
) -> None:
    world.clock.set(datetime(2026, 3, 27, 9, 0, tzinfo=UTC))
    await world.store.save_settings(
        ChannelSettings(CHANNEL, hour=9, timezone="UTC", weekdays_only=False, digest_size=3)
    )
    engine = DeliveryEngine(world.store, policy=policy(), clock=world.clock)
    core = Paperboy(world.store, world.paperboy.index, world.clock, publishers={"slack": slack.publisher})
    scheduler = DigestScheduler(world.store, core.planner, engine, world.clock)
    fake.lose = [lost, lost]  # the parent's answer and the first paper's

    assert await engine.run(core.publishers, until_idle=True, producer=scheduler.tick({"slack"})) == 4

    assert fake.audit({CHANNEL.channel: 3})["problems"] == []
    assert len(fake.in_channel(CHANNEL.channel)) == 4
    assert fake.lookups == 2  # each lost answer was looked for once, and adopted


async def test_the_look_up_reads_back_to_the_digest_s_start_in_a_busy_channel(
    fake: LosingSlack, slack: SlackConnection
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    publisher = SlackPublisher(slack.poster, slack.bot_token, sleep=sleep)
    plan, parent = parent_delivery()
    started = datetime.now(UTC)
    ts = await publisher.post_parent(plan, parent)
    await chatter(slack.poster, 100)  # the parent is now 100 messages deep: seven pages of 15

    assert await publisher.find_posted(plan, parent, None, since=started) == ts
    pages = -(-101 // LOOKUP_PAGE)
    assert fake.lookups == pages
    assert waits == [LOOKUP_INTERVAL] * (pages - 1)  # paced: one pause between two pages


async def test_the_look_up_ends_at_the_digest_s_start_when_the_message_never_arrived(
    fake: LosingSlack, slack: SlackConnection
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    publisher = SlackPublisher(slack.poster, slack.bot_token, sleep=sleep)
    plan, parent = parent_delivery()
    await chatter(slack.poster, 40)  # the hour before the digest started
    fake.later(3600)
    started = datetime.fromtimestamp(float(fake.messages[-1].ts) + 3599, UTC)
    await chatter(slack.poster, 20)

    assert await publisher.find_posted(plan, parent, None, since=started) is None
    assert fake.lookups == 2  # the 20 messages since the start, not the 40 before
    assert waits == [LOOKUP_INTERVAL]


async def test_the_look_up_waits_out_429s_and_goes_on_from_the_same_page(
    fake: LosingSlack, slack: SlackConnection
) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    # No retries of slack_sdk's own: every 429 reaches the look-up.
    bare = AsyncWebClient(base_url=fake.api_url, retry_handlers=[])
    publisher = SlackPublisher(bare, slack.bot_token, sleep=sleep)
    plan, parent = parent_delivery()
    started = datetime.now(UTC)
    ts = await publisher.post_parent(plan, parent)
    await chatter(bare, 30)  # the parent is on the third page
    fake.read_failures = [429, 429]

    assert await publisher.find_posted(plan, parent, None, since=started) == ts
    assert waits == [7.0, 7.0, LOOKUP_INTERVAL, LOOKUP_INTERVAL]
    assert fake.lookups == 3
