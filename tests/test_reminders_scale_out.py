"""Reminders in the multi-process layout, with real processes on PostgreSQL: a `shangliang worker`
fires the scheduled jobs, a `RUN_SCHEDULER=false shangliang serve` takes the convenor's chat.

A session created, or moved, through /wecom on the web process after the worker started reaches the
worker's job list (its sweep, every REMINDER_SWEEP_INTERVAL) and its reminder goes out once, at the
session's current time only.

Time in the subprocesses is real. Sessions start on a whole minute (times are typed in chat), so the
test picks that minute first and sets REMINDER_OFFSETS so that the reminder falls due about half a
minute after the processes start: enough for them to start and for the convenor to finish the dialogs.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock, fmt_local
from storage.models import ReminderDelivery
from tests.fake_wechat import FakeWeChat
from tests.helpers import CONVENOR, make_room, talk
from tests.processes import Processes, app_env, free_port, wait_for
from tests.test_metrics import scrape, total
from tests.test_scale_out import outbox_settled, reminders_to
from tests.wxclient import DEFAULT_WECOM, WeComCallbackClient

TZ = "Asia/Shanghai"
LEAD = timedelta(seconds=40)  # from the test's start to the reminder's moment


def on_the_minute(moment: datetime) -> datetime:
    """The first whole minute at or after `moment`."""
    return datetime.fromtimestamp(math.ceil(moment.timestamp() / 60) * 60, UTC)


def typed(moment: datetime) -> str:
    """How the convenor types a time: `2026-12-03 15:00`, local."""
    return moment.astimezone(ZoneInfo(TZ)).strftime("%Y-%m-%d %H:%M")


def create_session(wecom: WeComCallbackClient, title: str, starts_at: datetime) -> int:
    """新建协商 in chat: a typed topic, everyone in the room; the new session's number."""
    replies = talk(
        wecom, CONVENOR, "新建协商", title, typed(starts_at), "跳过", "社区二楼会议室", "1", "1", "跳过", "确认"
    )
    created = re.search(r"已创建会议\s*(\d+)", replies[-1])
    assert created, replies
    return int(created.group(1))


def move_session(wecom: WeComCallbackClient, session_id: int, starts_at: datetime) -> None:
    ask, done = talk(wecom, CONVENOR, f"改期 {session_id} {typed(starts_at)}", "确认")
    assert "已改到" in done and fmt_local(starts_at, TZ) in done, (ask, done)


@pytest.mark.postgres
def test_sessions_created_and_moved_on_a_web_process_are_reminded_by_the_worker_once(
    db_url: str, factory: sessionmaker[Session], fake: FakeWeChat, processes: Processes
) -> None:
    """After the worker started, the convenor creates A for the coming minute, creates B a day later and
    moves it to that minute, creates C for that minute and moves it a day later. A and B are reminded
    once each (B with its new time), C is not; the worker's metrics show how late they went out."""
    begin = datetime.now(UTC)
    starts_at = on_the_minute(begin + LEAD + timedelta(seconds=60))
    offset = starts_at - (begin + LEAD)  # the reminder falls due LEAD after `begin`
    env = app_env(
        db_url,
        fake.base_url,
        REMINDER_OFFSETS=f"{int(offset.total_seconds())}s",
        REMINDER_SWEEP_INTERVAL="2s",
        LEADER_CHECK_INTERVAL="1s",
        DB_POOL_SIZE="3",
    )
    metrics_port = free_port()
    worker = processes.worker("worker", env, "--metrics-port", str(metrics_port))
    (web,) = processes.serve(env, "web")
    wait_for(lambda: "now fires the scheduled jobs" in worker.log(), "the worker to lead")

    with httpx.Client(base_url=web.base_url, timeout=15) as http:
        wecom = WeComCallbackClient(http, **DEFAULT_WECOM)
        room = make_room(factory, FakeClock(begin), wecom, members=2, representatives=1, topics=0)
        titles = {"a": "加装电梯", "b": "停车位分配", "c": "垃圾分类点位"}
        a = create_session(wecom, titles["a"], starts_at)
        b = create_session(wecom, titles["b"], starts_at + timedelta(days=1))
        move_session(wecom, b, starts_at)
        c = create_session(wecom, titles["c"], starts_at)
        move_session(wecom, c, starts_at + timedelta(days=1))
    assert datetime.now(UTC) < begin + LEAD, "the chat took longer than the lead: the reminders were covered"
    titles = {a: titles["a"], b: titles["b"], c: titles["c"]}

    invited = [*room.members, *room.representatives]
    for user in invited:
        for sid in (a, b):
            wait_for(lambda u=user, s=sid: reminders_to(fake, u, titles[s]), f"the reminder of {sid} to {user}", 60)
    wait_for(lambda: outbox_settled(factory), "the outbox to drain")
    when = fmt_local(starts_at, TZ)
    for user in invited:
        assert len(reminders_to(fake, user, titles[a])) == 1
        (moved,) = reminders_to(fake, user, titles[b])
        assert when in moved, moved
        assert reminders_to(fake, user, titles[c]) == []
    with factory() as session:
        delivered = session.execute(select(ReminderDelivery.session_id, ReminderDelivery.starts_at)).all()
    # C's moment passed unsent; its delivery row, if any, would name its old time.
    assert sorted((sid, at) for sid, at in delivered if sid in (a, b)) == [(a, starts_at), (b, starts_at)]
    assert all(sid != c for sid, _ in delivered)
    # The worker tells how late its reminders went out: two of them, each at most a sweep late or so.
    lag = scrape(f"http://127.0.0.1:{metrics_port}/metrics")
    assert total(lag, "shangliang_reminder_lag_seconds_count") == 2
    assert total(lag, "shangliang_reminder_lag_seconds_bucket", le="30.0") == 2
    assert " ERROR " not in worker.log(), worker.log()[-3000:]
