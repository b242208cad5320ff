"""Scale-out on PostgreSQL with real processes: two `shangliang serve` web workers, two `shangliang
worker` schedulers, one database, the fake WeChat API.

- Retries of the same signed callbacks, spread over both web workers at once, file one proposal.
- With two schedulers running, one holds the leader lock and a session reminder goes out once.
- SIGKILL the leader: the standby takes over and a later reminder still goes out, once.

Time in the subprocesses is real, so sessions start a minute ahead with REMINDER_OFFSETS=60s and
the reminders fall due a few seconds into the test. The processes themselves are started by
tests/processes.py.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from bot import cli
from bot.app import pipeline_threads
from bot.services import people
from bot.services.rooms import create_room
from bot.settings import Settings
from scheduler.leader import APPLICATION_NAME, AdvisoryLock, Elector, SingleProcessLock, lock_for
from storage.db import normalize_url, transaction
from storage.models import ConsultSession, OutboxMessage, Proposal, ReminderDelivery, RoomLevel, SessionInvitee
from tests.conftest import ON_POSTGRES
from tests.fake_wechat import FakeWeChat
from tests.processes import Processes, app_env, wait_for
from tests.wxclient import DEFAULT_WECHAT, Reply, WeChatCallbackClient, build_text

OFFSET = timedelta(seconds=60)  # REMINDER_OFFSETS of the scheduler processes


def lock_holders(db_url: str) -> list[str]:
    """application_name of the connection(s) holding a shangliang advisory lock in this database."""
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                    " WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()"
                    " AND a.application_name LIKE :prefix"
                ),
                {"prefix": f"{APPLICATION_NAME}:%"},
            ).scalars()
            return list(rows)
    finally:
        engine.dispose()


def leader_pid(db_url: str) -> int | None:
    holders = lock_holders(db_url)
    assert len(holders) <= 1, holders
    return int(holders[0].rsplit(":", 1)[1]) if holders else None


# --- signed callbacks, the same one to several workers --------------------------------------------


def deliver_everywhere(client: WeChatCallbackClient, targets: list[httpx.Client], user: str, xml: str) -> list[Reply]:
    """Post one signed, encrypted callback to every target at the same moment (WeChat's retries landing
    on different workers); each reply checked and decrypted like WeChat would."""
    ts, nonce = client.timestamp(), client.new_nonce()
    encrypt = client.crypto.encrypt(xml)
    url = client.url(client.signed_query(encrypt, ts, nonce, openid=user))
    body = client.envelope(encrypt).encode()
    start = threading.Barrier(len(targets))

    def post(http: httpx.Client) -> httpx.Response:
        start.wait()
        return http.post(url, content=body, headers={"Content-Type": "text/xml"})

    with ThreadPoolExecutor(len(targets)) as pool:
        responses = list(pool.map(post, targets))
    return [client.parse_reply(r) for r in responses]


def next_answer(reply: str, description: str) -> str | None:
    """What a resident answers to the propose dialog's current prompt (None once the receipt is in)."""
    steps = [
        ("受理编号：YS-", None),
        ("已有相似的提议", "0"),
        ("请核对您的提议", "确认"),
        ("请留一个联系电话", "跳过"),
        ("问题在什么位置", "跳过"),
        ("有现场照片吗", "跳过"),
        ("请用几句话说说", description),
        ("哪个议事室", "1"),
    ]
    for phrase, answer in steps:
        if phrase in reply:
            return answer
    raise AssertionError(f"unexpected reply in the propose dialog: {reply!r}")


def description_of(number: int) -> str:
    lanes = "安宁福寿康乐和顺兴隆昌盛嘉禾瑞丰泰华锦绣永新庆云翠柳松竹梅兰"
    return (
        f"{lanes[number % len(lanes)]}{lanes[(number * 7 + 3) % len(lanes)]}巷{number}号门前的井盖松动了，走过去咣当响"
    )


def add_rooms(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        create_room(session, name="青石镇议事室", level=RoomLevel.town)


# --- pool and threads ---------------------------------------------------------------------------


def test_pipeline_threads_follow_the_pool_and_never_exceed_it(caplog: pytest.LogCaptureFixture) -> None:
    """PostgreSQL: two threads per CPU (at least 4) within the pool by default, as many as asked up to
    the pool, never more (with a warning); SQLite: one."""
    pg = "postgresql://shangliang@127.0.0.1:5432/shangliang"
    per_cpu = max(4, 2 * (os.cpu_count() or 1))
    assert pipeline_threads(Settings(_env_file=None, database_url=pg)) == min(10, per_cpu)  # type: ignore[call-arg]
    assert pipeline_threads(Settings(_env_file=None, database_url=pg, db_pool_size=3)) == 3  # type: ignore[call-arg]
    assert pipeline_threads(Settings(_env_file=None, database_url=pg, pipeline_threads=4)) == 4  # type: ignore[call-arg]
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        too_many = Settings(_env_file=None, database_url=pg, db_pool_size=6, pipeline_threads=32)  # type: ignore[call-arg]
        assert pipeline_threads(too_many) == 6
    assert "PIPELINE_THREADS=32 is more than DB_POOL_SIZE=6" in caplog.text
    sqlite = Settings(_env_file=None, database_url="sqlite:///x.db", pipeline_threads=8)  # type: ignore[call-arg]
    assert pipeline_threads(sqlite) == 1


def test_serve_warns_about_several_workers_on_sqlite(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """`serve --workers 4` on SQLite starts, but says loudly that SQLite is for one process."""
    import uvicorn

    started: list[int] = []
    sqlite = Settings(_env_file=None, database_url="sqlite:///x.db")  # type: ignore[call-arg]
    monkeypatch.setattr(cli, "get_settings", lambda: sqlite)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs["workers"]))
    with caplog.at_level(logging.WARNING):
        assert CliRunner().invoke(cli.app, ["serve", "--workers", "4"]).exit_code == 0
        assert CliRunner().invoke(cli.app, ["serve"]).exit_code == 0
    assert started == [4, 1]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "--workers 4 on SQLite" in warnings[0]


# --- the leader lock, in process -------------------------------------------------------------------


def test_leader_lock_is_exclusive_and_freed_when_its_holder_goes(db_url: str) -> None:
    """One holder at a time; when the holder's connection ends, another takes the lock. SQLite: always held."""
    if not ON_POSTGRES:
        assert isinstance(lock_for(db_url), SingleProcessLock)
        assert lock_for(db_url).try_acquire() and lock_for(db_url).still_held()
        return
    first, second = AdvisoryLock(db_url), AdvisoryLock(db_url)
    try:
        assert first.try_acquire() and first.still_held()
        assert not second.try_acquire()
        assert first.try_acquire(), "the holder asking again still holds it"
        first.release()
        assert not first.still_held()
        # The server frees the lock when it has ended the closed session: a moment later, as a standby sees it.
        wait_for(second.try_acquire, "the lock to be free for the other candidate", timeout=10)
        assert second.still_held()
        assert not first.try_acquire()
    finally:
        first.close()
        second.close()


@pytest.mark.postgres
def test_a_leader_whose_lock_connection_is_killed_stops_firing_then_competes_again(db_url: str) -> None:
    """The server ends the leader's lock session (as on failover): the leader notices, stops its jobs,
    and, the lock being free again, takes it back; every change is logged."""
    events: list[str] = []
    elector = Elector(
        AdvisoryLock(db_url),
        interval=0.2,
        on_elected=lambda: events.append("elected"),
        on_lost=lambda: events.append("lost"),
    )
    elector.start()
    try:
        wait_for(lambda: events == ["elected"], "the only candidate to lead")
        engine = create_engine(normalize_url(db_url))
        try:
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND application_name LIKE :prefix"
                    ),
                    {"prefix": f"{APPLICATION_NAME}:%"},
                )
        finally:
            engine.dispose()
        wait_for(lambda: events == ["elected", "lost", "elected"], "the leader to stop and lead again")
    finally:
        elector.stop()
    assert events == ["elected", "lost", "elected", "lost"]
    assert lock_holders(db_url) == []


# --- processes on PostgreSQL ---------------------------------------------------------------------


@pytest.mark.postgres
def test_retries_spread_over_two_web_workers_file_each_proposal_once(
    db_url: str, factory: sessionmaker[Session], fake: FakeWeChat, processes: Processes
) -> None:
    """Every callback is delivered three times at once, twice to one worker and once to the other:
    every resident still gets one receipt, the same in every copy, and one proposal each exists."""
    add_rooms(factory)
    env = app_env(db_url, fake.base_url, DB_POOL_SIZE="4")
    webs = processes.serve(env, "web-a", "web-b")
    residents = [f"o-scale-{i}" for i in range(12)]
    receipts: dict[str, str] = {}
    with (
        httpx.Client(base_url=webs[0].base_url, timeout=15) as a,
        httpx.Client(base_url=webs[1].base_url, timeout=15) as b,
    ):
        client = WeChatCallbackClient(a, **DEFAULT_WECHAT)

        def propose(number: int) -> None:
            user, line = residents[number], "提议题"
            for _ in range(12):
                xml = build_text(user, client.to_user, line, create_time=client.now())
                replies = deliver_everywhere(client, [a, b, a], user, xml)
                assert all(r.ok and not r.is_empty for r in replies), [(r.status_code, r.raw[:100]) for r in replies]
                contents = {r.content for r in replies}
                assert len(contents) == 1, f"copies of one message got different replies: {contents}"
                (reply,) = contents
                answer = next_answer(reply, description_of(number))
                if answer is None:
                    receipts[user] = reply.split("受理编号：", 1)[1].split()[0]
                    return
                line = answer
            raise AssertionError(f"{user} never got a receipt")

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(propose, range(len(residents))))

    assert len(receipts) == len(residents)
    with factory() as session:
        rows = session.execute(select(Proposal.receipt, Proposal.proposer_id)).all()
    assert len(rows) == len(residents), "one proposal per resident, no duplicates"
    assert sorted(r.receipt for r in rows) == sorted(receipts.values())
    assert len({r.proposer_id for r in rows}) == len(residents)
    for web in webs:
        assert " ERROR " not in web.proc.log(), web.proc.log()[-3000:]


@dataclass
class Meeting:
    id: int
    reminder_due: datetime


def add_meeting(factory: sessionmaker[Session], *, members: list[str], due_in: timedelta, title: str) -> Meeting:
    """A scheduled session with these WeCom members invited, whose (only) reminder falls due in `due_in`."""
    now = datetime.now(UTC)
    starts_at = now + due_in + OFFSET
    with transaction(factory) as session:
        room = create_room(session, name=f"{title}议事室", level=RoomLevel.village)
        consult = ConsultSession(
            room_id=room.id,
            title=title,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
            place="社区二楼会议室",
            created_at=now,
            updated_at=now,
        )
        session.add(consult)
        session.flush()
        for user in members:
            person = people.get_or_create(session, channel="wecom", external_id=user)
            session.add(SessionInvitee(session_id=consult.id, person_id=person.id, role="member"))
        return Meeting(consult.id, now + due_in)


def reminders_to(fake: FakeWeChat, user: str, title: str) -> list[str]:
    return [t for _, t in fake.sent_texts(user) if "【协商提醒】" in t and f"议题：{title}" in t]


def outbox_settled(factory: sessionmaker[Session]) -> bool:
    with factory() as session:
        waiting = session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_(("pending", "sending")))
        )
    return waiting == 0


@pytest.mark.postgres
def test_one_scheduler_fires_and_the_standby_takes_over_when_it_is_killed(
    db_url: str, factory: sessionmaker[Session], fake: FakeWeChat, processes: Processes
) -> None:
    """Two `shangliang worker`s: one leads and sends the first reminder once; SIGKILL it, the other
    takes the lock over and sends the second reminder, once."""
    members = ["m-scale-1", "m-scale-2"]
    first = add_meeting(factory, members=members, due_in=timedelta(seconds=12), title="加装电梯")
    second = add_meeting(factory, members=members, due_in=timedelta(seconds=24), title="停车位分配")
    env = app_env(db_url, fake.base_url, REMINDER_OFFSETS="60s", LEADER_CHECK_INTERVAL="1s", DB_POOL_SIZE="2")
    workers = {p.pid: p for p in (processes.worker("sched-a", env), processes.worker("sched-b", env))}

    leader = workers[wait_for(lambda: leader_pid(db_url), "a scheduler to take the leader lock")]
    (standby,) = (p for p in workers.values() if p is not leader)
    wait_for(lambda: "scheduler standby" in standby.log(), "the other scheduler to stand by")

    for user in members:
        wait_for(lambda u=user: reminders_to(fake, u, "加装电梯"), f"the first reminder to {user}")
    wait_for(lambda: outbox_settled(factory), "the outbox to drain")
    assert "now fires the scheduled jobs" not in standby.log(), "the standby must not have led"
    assert "reminder:" not in standby.log(), "the standby must not have run a reminder job"

    leader.kill()
    wait_for(lambda: leader_pid(db_url) == standby.pid, "the standby to take the lock over", timeout=30)
    assert "now fires the scheduled jobs" in standby.log()

    for user in members:
        wait_for(lambda u=user: reminders_to(fake, u, "停车位分配"), f"the second reminder to {user}", timeout=40)
    wait_for(lambda: outbox_settled(factory), "the outbox to drain")
    for user in members:
        assert len(reminders_to(fake, user, "加装电梯")) == 1
        assert len(reminders_to(fake, user, "停车位分配")) == 1
    with factory() as session:
        delivered = session.scalars(select(ReminderDelivery.session_id).order_by(ReminderDelivery.session_id)).all()
    assert delivered == [first.id, second.id]
    assert standby.alive()
