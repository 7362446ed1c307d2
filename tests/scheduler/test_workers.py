"""Who a worker is: leases decide across hosts and containers; a pid is checked only inside its own namespace."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.app.delivery import local_worker_alive, worker_id
from bot.domain import DELIVERY_CLAIMED
from bot.services.delivery import DeliveryEngine
from tests.scheduler.conftest import World, policy

ROOT = Path(__file__).resolve().parents[2]


def finished_process(code: str) -> tuple[int, str]:
    """Run `code` in a Python process that has exited (and was waited for) by the time this returns."""
    with subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True) as child:
        output, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    return child.pid, output.strip()


async def claimed_digest(world: World, worker: str) -> int:
    """A digest due now, claimed by `worker` for an hour; return its id."""
    world.clock.set(datetime(2026, 3, 27, 9, 0, tzinfo=UTC))
    await world.channel("c1")
    await world.scheduler.tick({"console"})
    now = world.clock.now()
    claimed = await world.store.claim_deliveries(
        worker, now, now + timedelta(hours=1), platforms=["console"], limit=1
    )
    assert len(claimed) == 4
    return claimed[0].digest_id


def test_worker_ids_are_unique_and_name_their_host_and_pid() -> None:
    ids = {worker_id() for _ in range(100)}
    assert len(ids) == 100
    host, pid, _namespace, _random = next(iter(ids)).split(":")
    assert socket.gethostname().startswith(host) and pid == str(os.getpid())
    assert all(len(i) <= 128 for i in ids)  # the width of deliveries.claimed_by


async def test_a_container_with_the_same_hostname_keeps_its_live_claims(world: World) -> None:
    # Another container on this host name, in its own PID namespace: its worker's pid means nothing here.
    # Here that pid belongs to no process, which used to be taken as proof that the worker had died.
    gone_here, _ = finished_process("pass")
    other_container = f"{socket.gethostname()}:{gone_here}:{'f' * 12}:{'0' * 16}"
    await claimed_digest(world, other_container)
    engine = DeliveryEngine(world.store, policy=policy(), clock=world.clock, worker_alive=local_worker_alive)

    assert await engine.run({"console": world.platform}, until_idle=True) == 0
    assert world.platform.posted == []
    assert await world.store.claim_holders() == {other_container}


async def test_a_worker_named_as_the_previous_release_did_keeps_its_live_claims(
    world: World,
) -> None:
    # host:pid:random, from a container of the same host name (or a replica not yet upgraded).
    gone_here, _ = finished_process("pass")
    older_release = f"{socket.gethostname()}:{gone_here}:abcd1234"
    digest_id = await claimed_digest(world, older_release)
    engine = DeliveryEngine(world.store, policy=policy(), clock=world.clock, worker_alive=local_worker_alive)

    assert await engine.run({"console": world.platform}, until_idle=True) == 0
    assert world.platform.posted == []
    states = {d.state for d in await world.store.deliveries_of(digest_id)}
    assert states == {DELIVERY_CLAIMED}
    assert await world.store.claim_holders() == {older_release}


async def test_a_dead_process_of_this_pid_namespace_has_its_claims_taken_over_at_once(world: World) -> None:
    _pid, dead_worker = finished_process("from adapters.app.delivery import worker_id; print(worker_id())")
    assert not local_worker_alive(dead_worker)
    await claimed_digest(world, dead_worker)
    engine = DeliveryEngine(world.store, policy=policy(), clock=world.clock, worker_alive=local_worker_alive)

    # The lease has an hour left; the worker's process is gone, so nothing waits for it.
    assert await engine.run({"console": world.platform}, until_idle=True) == 4
    assert await world.store.claim_holders() == set()


def test_this_process_and_unknown_ids_count_as_alive() -> None:
    assert local_worker_alive(worker_id())
    assert local_worker_alive("worker:3f2a9c")
    assert local_worker_alive("some-host:notapid:tag:random")
