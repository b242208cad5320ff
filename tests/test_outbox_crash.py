"""A `shangliang worker` killed in the middle of a broadcast, with real processes on PostgreSQL: the
rows it held come back within seconds (their lease lapses) and the other worker delivers the rest,
every row, with at most one wave of messages twice (the calls in flight when it died: at most
OUTBOX_CONCURRENCY)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.settings import Settings
from storage.models import OutboxMessage
from tests.fake_wechat import FakeWeChat
from tests.processes import Processes, app_env, wait_for
from tests.test_outbox_faults import add_people, new_broadcast, queue

RECIPIENTS = 1000
KILL_AFTER = 300  # sends
DELIVERED_WITHIN = 60.0  # seconds after the kill (measured: 10-15); the old five-minute claim fails this by far


def statuses(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        return dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


@pytest.mark.postgres
def test_a_killed_worker_stalls_nothing_and_sends_at_most_its_last_wave_twice(
    db_url: str, factory: sessionmaker[Session], fake: FakeWeChat, processes: Processes
) -> None:
    """Worker A works through 1,000 customer-service messages; B starts; A is SIGKILLed mid-run. B delivers
    every remaining row within seconds, each person gets the message, at most A's last wave twice."""
    in_flight = Settings.model_fields["outbox_concurrency"].default
    clock = FakeClock(datetime.now(UTC) - timedelta(seconds=1))
    names = [f"o-crash-{i}" for i in range(RECIPIENTS)]
    broadcast = new_broadcast(factory, clock, "停水通知", RECIPIENTS)
    ids = add_people(factory, channel="wechat", names=names, inbound=clock.now())
    # A little latency, as a real API has, so the run lasts long enough to be cut with calls in flight.
    fake.delay_all(0.01 * in_flight)
    env = app_env(db_url, fake.base_url, DB_POOL_SIZE="3")
    a = processes.worker("worker-a", env)
    wait_for(lambda: "后台服务已启动" in a.log(), "worker A to start")
    queue(factory, clock, ids, {"text": "停水通知"}, broadcast_id=broadcast)

    sent = lambda: sum(fake.delivery_counts().values())  # noqa: E731
    wait_for(lambda: sent() >= KILL_AFTER // 2, "worker A to be sending")
    b = processes.worker("worker-b", env)
    wait_for(lambda: "后台服务已启动" in b.log(), "worker B to start")
    wait_for(lambda: sent() >= KILL_AFTER, f"{KILL_AFTER} messages to be sent")
    assert sent() < RECIPIENTS - 100, "the run ended before the kill: make the fake slower"
    a.kill()
    killed_at, sent_at_kill = time.monotonic(), sent()

    wait_for(lambda: statuses(factory) == {"sent": RECIPIENTS}, "every row to be sent", timeout=DELIVERED_WITHIN)
    took = time.monotonic() - killed_at
    counts = fake.delivery_counts()
    twice = sorted(name for name, n in counts.items() if n > 1)
    print(
        f"\nkilled after {sent_at_kill} sends; the other {RECIPIENTS - sent_at_kill} delivered {took:.1f} s later;"
        f" sent twice: {len(twice)}"
    )
    assert sorted(counts) == sorted(names), "every person got the message"
    assert len(twice) <= in_flight and all(counts[name] == 2 for name in twice), twice
    assert b.alive() and " ERROR " not in b.log(), b.log()[-3000:]
