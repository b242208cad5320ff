"""Reminders at the configured offsets, following moves and cancellations, caught up once after downtime;
nudges to record the three lists. The clock is moved by hand; job functions are called directly."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.runtime import Runtime
from bot.services import people
from scheduler import jobs, nudges, reminders
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import ConsultSession, ReminderDelivery, SessionInvitee
from tests.fake_wechat import FakeWeChat
from tests.helpers import (
    CONVENOR,
    DEC3_1500,
    STANDARD,
    SessionRoom,
    make_room,
    schedule,
    small_session,
    talk,
    texts_to,
)
from tests.wxclient import WeComCallbackClient

THREE_DAYS = DEC3_1500 - timedelta(days=3)
TWO_HOURS = DEC3_1500 - timedelta(hours=2)
MINUTE = timedelta(minutes=1)


def reminder_texts(fake: FakeWeChat, user: str) -> list[str]:
    return [t for t in texts_to(fake, user) if "协商提醒" in t]


def test_reminders_reach_invitees_at_each_offset(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    runtime: Runtime,
    outbox_worker: OutboxWorker,
) -> None:
    """Nothing just before 3 days and 2 hours ahead; one reminder each just after, with every detail."""
    make_room(factory, clock, wecom, members=3, representatives=1)
    schedule(wecom, STANDARD)
    wecom.send_text("m1", "请假 出差")
    for moment, label in ((THREE_DAYS, "还有 3 天"), (TWO_HOURS, "还有 2 小时")):
        clock.set(moment - MINUTE)
        assert reminders.due(runtime) == 0
        clock.set(moment + MINUTE)
        sent = reminders.due(runtime)
        assert sent == 4 + (label == "还有 2 小时")  # the convenor gets the tally with the last one
        assert reminders.due(runtime) == 0  # never twice
        outbox_worker.run_once()
        latest = reminder_texts(fake, "m0")[-1]
        assert label in latest and "2026年12月3日 15:00" in latest and "社区二楼,会议室" in latest
        assert "形式：会议" in latest and "材料：https://example.org/材料.pdf" in latest
        assert "http://127.0.0.1:8000/sessions/1.ics" in latest and "回复「参加」或「请假 理由」" in latest
    assert len(reminder_texts(fake, "m0")) == 2
    assert "您已回复「请假」" in reminder_texts(fake, "m1")[-1]
    convenor = reminder_texts(fake, CONVENOR)
    assert len(convenor) == 1 and "还有 2 小时" in convenor[0]
    assert "参加 0 人，请假 1 人，未回复 3 人" in convenor[0] and "委员1（出差）" in convenor[0]
    clock.set(DEC3_1500 + MINUTE)
    assert reminders.due(runtime) == 0


def test_job_function_reloads_and_sends_once(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The APScheduler job (ids only) sends when due, not early, and a second run sends nothing."""
    monkeypatch.setattr(jobs, "_runtime", runtime)
    small_session(factory, clock, wecom)
    clock.set(THREE_DAYS - MINUTE)
    assert reminders.send_reminder(1, 3 * 86400) == 0
    clock.set(THREE_DAYS)
    assert reminders.send_reminder(1, 3 * 86400) == 3
    assert reminders.send_reminder(1, 3 * 86400) == 0
    with factory() as session:
        rows = session.scalars(select(ReminderDelivery)).all()
    assert [(r.offset_seconds, r.starts_at) for r in rows] == [(3 * 86400, DEC3_1500)]


def test_jobs_follow_create_move_and_cancel(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    runtime: Runtime,
    job_scheduler: BaseScheduler,
) -> None:
    """Deterministic job ids at start minus each offset; 改期 moves them, 取消会议 removes them."""
    reminders.start(job_scheduler, runtime)
    small_session(factory, clock, wecom)
    times = {job.id: job.next_run_time for job in job_scheduler.get_jobs() if job.id.startswith("reminder:")}
    assert times == {"reminder:1:259200": THREE_DAYS, "reminder:1:7200": TWO_HOURS}
    job = job_scheduler.get_job("reminder:1:7200")
    assert job is not None and job.args == (1, 7200) and job.func is reminders.send_reminder
    wecom.send_text(CONVENOR, "改期 1 12月10日下午3点")
    assert {j.next_run_time for j in job_scheduler.get_jobs() if j.id.startswith("reminder:")} == {
        THREE_DAYS,
        TWO_HOURS,
    }  # nothing moves before 确认
    wecom.send_text(CONVENOR, "确认")
    week = timedelta(days=7)
    times = {job.id: job.next_run_time for job in job_scheduler.get_jobs() if job.id.startswith("reminder:")}
    assert times == {"reminder:1:259200": THREE_DAYS + week, "reminder:1:7200": TWO_HOURS + week}
    talk(wecom, CONVENOR, "取消会议 1 场地临时维修", "确认")
    assert [j.id for j in job_scheduler.get_jobs() if j.id.startswith("reminder:")] == []
    assert job_scheduler.get_job("reminders:sweep") is not None


def test_moved_session_is_never_reminded_for_its_old_time(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    runtime: Runtime,
    outbox_worker: OutboxWorker,
) -> None:
    """After 改期, the old offsets pass in silence and the new ones remind with the new time."""
    small_session(factory, clock, wecom)
    talk(wecom, CONVENOR, "改期 1 12月10日下午3点", "确认")
    for moment in (THREE_DAYS, TWO_HOURS):
        clock.set(moment + MINUTE)
        assert reminders.due(runtime) == 0
    clock.set(THREE_DAYS + timedelta(days=7) + MINUTE)
    assert reminders.due(runtime) == 3
    outbox_worker.run_once()
    sent = reminder_texts(fake, "m0")
    assert len(sent) == 1 and "2026年12月10日 15:00" in sent[0] and "12月3日" not in sent[0]


def test_cancelled_session_is_not_reminded(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once cancelled, neither the catch-up pass nor a stray job sends anything."""
    monkeypatch.setattr(jobs, "_runtime", runtime)
    small_session(factory, clock, wecom)
    talk(wecom, CONVENOR, "取消会议 1 场地临时维修", "确认")
    for moment in (THREE_DAYS, TWO_HOURS):
        clock.set(moment + MINUTE)
        assert reminders.due(runtime) == 0
        assert reminders.send_reminder(1, 7200) == 0


def test_missed_reminder_is_sent_once_on_start(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    runtime: Runtime,
    job_scheduler: BaseScheduler,
    outbox_worker: OutboxWorker,
) -> None:
    """Down through both offsets: on start each invitee gets one reminder (the nearest), and never again."""
    small_session(factory, clock, wecom)  # no scheduler running: no jobs
    clock.set(TWO_HOURS + timedelta(minutes=30))
    reminders.start(job_scheduler, runtime)
    assert reminders.reconcile(job_scheduler, runtime) == 0
    outbox_worker.run_once()
    for user in ("m0", "m1", "r0"):
        sent = reminder_texts(fake, user)
        assert len(sent) == 1 and "还有 2 小时" in sent[0]
    assert "出席情况" in reminder_texts(fake, CONVENOR)[0]
    assert [j.id for j in job_scheduler.get_jobs() if j.id.startswith("reminder:")] == []  # both moments passed


def test_missed_reminder_is_not_sent_once_the_session_has_begun(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    runtime: Runtime,
    job_scheduler: BaseScheduler,
    outbox_worker: OutboxWorker,
) -> None:
    """Down until after the start: nothing is sent on start."""
    small_session(factory, clock, wecom)
    clock.set(DEC3_1500 + timedelta(minutes=5))
    reminders.start(job_scheduler, runtime)
    outbox_worker.run_once()
    assert reminder_texts(fake, "m0") == []


def test_start_re_adds_jobs_for_future_sessions(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    runtime: Runtime,
    job_scheduler: BaseScheduler,
) -> None:
    """Sessions created while no scheduler ran get their jobs on start; stale reminder jobs are dropped."""
    small_session(factory, clock, wecom)
    job_scheduler.add_job(reminders.send_reminder, "date", run_date=THREE_DAYS, args=[99, 60], id="reminder:99:60")
    reminders.start(job_scheduler, runtime)
    assert sorted(j.id for j in job_scheduler.get_jobs() if j.id.startswith("reminder:")) == [
        "reminder:1:259200",
        "reminder:1:7200",
    ]


def elsewhere(
    factory: sessionmaker[Session], clock: FakeClock, room: SessionRoom, *, title: str, starts_at: datetime
) -> int:
    """A session written as a web process writes it: committed where no scheduler listens."""
    with transaction(factory) as session:
        consult = ConsultSession(
            room_id=room.id,
            title=title,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
            place="会议室",
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        session.add(consult)
        session.flush()
        for user in [*room.members, *room.representatives]:
            person = people.get_or_create(session, channel="wecom", external_id=user)
            session.add(SessionInvitee(session_id=consult.id, person_id=person.id, role="member"))
        return consult.id


def test_sweep_follows_sessions_changed_by_other_processes(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    runtime: Runtime,
    job_scheduler: BaseScheduler,
    outbox_worker: OutboxWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sessions created and moved by another process after the scheduler started: the next sweep gives
    them their jobs, and sends once the reminder that fell due before the sweep came round."""
    monkeypatch.setattr(jobs, "_runtime", runtime)
    room = make_room(factory, clock, wecom, members=2, representatives=1)
    reminders.start(job_scheduler, runtime)
    soon = elsewhere(factory, clock, room, title="加装电梯", starts_at=clock.now() + timedelta(hours=2, minutes=5))
    later = elsewhere(factory, clock, room, title="停车位分配", starts_at=DEC3_1500)
    assert [j.id for j in job_scheduler.get_jobs() if j.id.startswith("reminder:")] == []
    clock.advance(timedelta(minutes=6))  # the 2-hour reminder of `soon` fell due before any sweep
    assert reminders.sweep() == 3
    assert reminders.sweep() == 0
    times = {j.id: j.next_run_time for j in job_scheduler.get_jobs() if j.id.startswith("reminder:")}
    assert times == {f"reminder:{later}:259200": THREE_DAYS, f"reminder:{later}:7200": TWO_HOURS}
    with transaction(factory) as session:  # moved elsewhere a week later
        consult = session.get(ConsultSession, later)
        assert consult is not None
        consult.starts_at += timedelta(days=7)
        consult.updated_at = clock.now()
    clock.advance(timedelta(seconds=30))
    reminders.sweep()
    times = {j.id: j.next_run_time for j in job_scheduler.get_jobs() if j.id.startswith("reminder:")}
    week = timedelta(days=7)
    assert times == {f"reminder:{later}:259200": THREE_DAYS + week, f"reminder:{later}:7200": TWO_HOURS + week}
    outbox_worker.run_once()
    for user in ("m0", "m1", "r0"):
        (sent,) = reminder_texts(fake, user)
        assert "还有 2 小时" in sent and "加装电梯" in sent
    with factory() as session:
        rows = session.execute(select(ReminderDelivery.session_id, ReminderDelivery.offset_seconds)).all()
    assert sorted(rows) == [(soon, 7200), (soon, 259200)]


def test_session_created_inside_an_offset_is_not_reminded_at_once(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock, runtime: Runtime
) -> None:
    """A session set for tomorrow: the notice stands in for the 3-day reminder; only the 2-hour one follows."""
    make_room(factory, clock, wecom, members=2, representatives=1)
    schedule(wecom, ["1", "跳过", "明天下午3点", "跳过", "会议室", "1", "1", "跳过", "确认"])
    assert reminders.due(runtime) == 0
    starts = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    clock.set(starts - timedelta(hours=2))
    assert reminders.due(runtime) == 3 + 1


def end_session(factory: sessionmaker[Session], clock: FakeClock) -> None:
    with transaction(factory) as session:
        consult = session.scalars(select(ConsultSession)).one()
        clock.set(consult.ends_at)


def test_convenor_is_nudged_three_times_until_lists_are_recorded(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    runtime: Runtime,
    outbox_worker: OutboxWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The morning after (09:00), then every 3 days, at most 3 times; nothing before 09:00 or twice."""
    monkeypatch.setattr(jobs, "_runtime", runtime)
    small_session(factory, clock, wecom)  # ends 2026-12-03 17:00 local
    end_session(factory, clock)
    nine = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)  # 2026-12-04 09:00 in Shanghai
    clock.set(nine - MINUTE)
    assert nudges.nudge_convenors() == 0
    expected = 0
    for moment in (nine, nine + timedelta(days=3), nine + timedelta(days=6)):
        clock.set(moment)
        assert nudges.nudge_convenors() == 1
        assert nudges.nudge_convenors() == 0
        expected += 1
    clock.set(nine + timedelta(days=9))
    assert nudges.nudge_convenors() == 0
    outbox_worker.run_once()
    texts = [t for t in texts_to(fake, CONVENOR) if "清单提醒" in t]
    assert len(texts) == expected == 3 and "三张清单" in texts[0] and "第 3 次提醒" in texts[-1]
    # The nudge names the command to follow it with, and it leads straight to the lists of that session.
    command = re.search(r"发「(清单 \d+)」", texts[0])
    assert command is not None
    assert "要录入哪份清单" in wecom.send_text(CONVENOR, command.group(1)).content


def test_no_nudge_when_lists_are_recorded_or_session_cancelled(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock, runtime: Runtime
) -> None:
    """Recorded lists stop the nudges; a long downtime yields one nudge, not a burst."""
    small_session(factory, clock, wecom)
    end_session(factory, clock)
    clock.set(datetime(2026, 12, 11, 2, 0, tzinfo=UTC))  # past the 1st, 2nd and 3rd slots
    assert nudges.nudge(runtime) == 1
    assert nudges.nudge(runtime) == 0
    with transaction(factory) as session:
        consult = session.scalars(select(ConsultSession)).one()
        assert consult.nudges_sent == 3
        consult.nudges_sent = 0
        consult.lists_recorded_at = clock.now()
    assert nudges.nudge(runtime) == 0
