"""The outbox under faults and platform limits: token expiry, the 48-hour window, templates, WeCom
batching and throttling, rate limits, a killed worker, concurrent workers, the Redis token cache."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, FakeClock, SystemClock
from bot.outbound.api import WeChatApi, WeComApi
from bot.outbound.redis_tokens import RedisTokenCache
from bot.outbound.tokens import TokenCache, Tokens
from bot.services.rooms import create_room
from bot.settings import Settings
from scheduler import outbox
from scheduler.outbox import LEASE, ONE_BY_ONE, OutboxWorker
from scheduler.wechat_delivery import NO_TEMPLATE
from storage.db import transaction
from storage.models import Broadcast, OutboxMessage, Person, RoomLevel
from tests.conftest import make_settings
from tests.fake_wechat import CUSTOM_SEND_PATH, TEMPLATE_SEND_PATH, TOKEN_PATH, WECOM_SEND_PATH, FakeWeChat

REDIS_URL = "redis://127.0.0.1:6379/0"
TEMPLATES = {"wechat_template_result": "tpl-result", "wechat_template_reminder": "tpl-reminder"}


class KillWorker(BaseException):
    """Stands in for the process dying: not an Exception, so nothing in the worker catches it."""


@pytest.fixture
def tpl_settings(db_url: str, fake: FakeWeChat) -> Settings:
    """Settings with both template ids configured."""
    return make_settings(db_url, fake.base_url, **TEMPLATES)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


WAVE = 8


def make_worker(
    factory: sessionmaker[Session],
    clock: Clock,
    settings: Settings,
    http: httpx.Client,
    *,
    wechat_cls: type[WeChatApi] = WeChatApi,
    tokens: Tokens | None = None,
) -> OutboxWorker:
    shared = tokens or TokenCache(factory, clock)
    # In waves of 8 (OUTBOX_CONCURRENCY=8, what an office sets for large broadcasts); the rest of the suite
    # runs the default of one call at a time.
    return OutboxWorker(
        factory, clock, wechat_cls(settings, shared, http), WeComApi(settings, shared, http), concurrency=WAVE
    )


def add_people(
    factory: sessionmaker[Session], *, channel: str, names: list[str], inbound: datetime | None
) -> list[int]:
    """Create people in bulk; `inbound` is their last message time (None: never wrote)."""
    with transaction(factory) as session:
        session.execute(
            insert(Person),
            [{"channel": channel, "external_id": n, "simulated": False, "last_inbound_at": inbound} for n in names],
        )
        ids = dict(
            session.execute(
                select(Person.external_id, Person.id).where(Person.channel == channel, Person.external_id.in_(names))
            ).all()
        )
    return [ids[n] for n in names]


def queue(
    factory: sessionmaker[Session],
    clock: Clock,
    person_ids: list[int],
    payload: dict[str, Any],
    *,
    kind: str = "text",
    broadcast_id: int | None = None,
) -> None:
    """One outbox row per person with the same payload, due now."""
    now = clock.now()
    with transaction(factory) as session:
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "person_id": pid,
                    "kind": kind,
                    "payload": payload,
                    "idempotency_key": f"test:{uuid.uuid4().hex}",
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                    "broadcast_id": broadcast_id,
                }
                for pid in person_ids
            ],
        )


def new_broadcast(factory: sessionmaker[Session], clock: FakeClock, text: str, recipients: int) -> int:
    with transaction(factory) as session:
        room = create_room(session, name=f"议事室{uuid.uuid4().hex[:6]}", level=RoomLevel.village)
        session.flush()
        item = Broadcast(room_id=room.id, audience="members", text=text, recipients=recipients, created_at=clock.now())
        session.add(item)
        session.flush()
        return item.id


def drain(worker: OutboxWorker, limit: int = 1000) -> int:
    """Run passes until nothing is due; returns the rows handled."""
    total = 0
    while handled := worker.run_once(limit):
        total += handled
    return total


def rows(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def status_counts(factory: sessionmaker[Session]) -> dict[str, int]:
    with factory() as session:
        return dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())


# --- tokens ----------------------------------------------------------------------------------


def test_token_expiry_mid_broadcast_refreshes_once_and_delivers_each_once(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, tpl_settings: Settings, http: httpx.Client
) -> None:
    """Tokens expiring after half a 400-person broadcast cost one token fetch; everyone gets one message."""
    names = [f"o-exp-{i}" for i in range(400)]
    queue(factory, clock, add_people(factory, channel="wechat", names=names, inbound=clock.now()), {"text": "通知"})
    sent = 0
    counting = threading.Lock()  # a wave's calls run in threads

    class ExpiringApi(WeChatApi):
        def send_text(self, openid: str, text: str) -> None:
            nonlocal sent
            super().send_text(openid, text)
            with counting:
                sent += 1
                if sent == 200:
                    fake.expire_tokens(42001)

    assert drain(make_worker(factory, clock, tpl_settings, http, wechat_cls=ExpiringApi)) == 400
    assert fake.delivery_counts() == dict.fromkeys(names, 1)
    assert fake.token_fetches(TOKEN_PATH) == 2, "one fetch at the start, one after the expiry"
    refused = sum(1 for c in fake.calls(CUSTOM_SEND_PATH) if c.errcode == 42001)
    assert 1 <= refused <= WAVE, "only calls already in flight with the old token are refused"
    assert status_counts(factory) == {"sent": 400}


@pytest.mark.parametrize(("code", "wait"), [(45009, timedelta(minutes=10)), (-1, timedelta(seconds=30))])
def test_rate_limit_puts_rows_back_instead_of_hammering(
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    tpl_settings: Settings,
    http: httpx.Client,
    code: int,
    wait: timedelta,
) -> None:
    """A rate-limit answer stops the pass after one call; the rows wait without losing an attempt, then go out."""
    ids = add_people(factory, channel="wechat", names=["o-r1", "o-r2", "o-r3"], inbound=clock.now())
    queue(factory, clock, ids, {"text": "稍后再发"})
    fake.fail_next(CUSTOM_SEND_PATH, errcode=code)
    worker = make_worker(factory, clock, tpl_settings, http)
    assert worker.run_once() == 3
    assert len(fake.calls(CUSTOM_SEND_PATH)) == 1
    held = rows(factory)
    assert {(r.status, r.attempts, r.next_attempt_at) for r in held} == {("pending", 0, clock.now() + wait)}
    clock.advance(wait - timedelta(seconds=1))
    assert worker.run_once() == 0, "nothing is tried before the pause ends"
    clock.advance(timedelta(seconds=1))
    assert drain(worker) == 3
    assert fake.delivery_counts() == {"o-r1": 1, "o-r2": 1, "o-r3": 1}


def test_a_call_without_answer_waits_for_the_backoff_and_is_logged_without_token_or_openid(
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    tpl_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A send that times out puts the row back for 5 s; the log names the error and the API path only."""
    queue(factory, clock, add_people(factory, channel="wechat", names=["o-slow"], inbound=clock.now()), {"text": "慢"})
    fake.fail_next(CUSTOM_SEND_PATH, delay=1.0)
    with httpx.Client(timeout=0.2) as impatient, caplog.at_level(logging.WARNING, logger="scheduler.outbox"):
        worker = make_worker(factory, clock, tpl_settings, impatient)
        assert worker.run_once() == 1
        [held] = rows(factory)
        assert (held.status, held.last_error, held.next_attempt_at) == (
            "pending",
            "ReadTimeout",
            clock.now() + timedelta(seconds=5),
        )
        [line] = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
        assert line == f"outbox wechat call for 1 row(s) failed: ReadTimeout on {CUSTOM_SEND_PATH}"
        assert "o-slow" not in caplog.text and "access_token" not in caplog.text
        clock.advance(timedelta(seconds=5))
        time.sleep(1.0)  # the fake finishes the slow call (its delivery counts) before the retry
        assert drain(worker) == 1
    assert status_counts(factory) == {"sent": 1}


# --- the 48-hour window and templates --------------------------------------------------------


def test_45015_falls_back_to_a_template_message(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, tpl_settings: Settings, http: httpx.Client
) -> None:
    """A customer-service send refused with 45015 goes out as the result template instead."""
    fake.fail_for(CUSTOM_SEND_PATH, lambda body: body.get("touser") == "o-cold", 45015)
    queue(
        factory,
        clock,
        add_people(factory, channel="wechat", names=["o-cold"], inbound=clock.now()),
        {"text": "您的提议已受理"},
    )
    assert make_worker(factory, clock, tpl_settings, http).run_once() == 1
    assert fake.sent_texts("o-cold") == []
    [template] = fake.template_sends("o-cold")
    assert template["template_id"] == "tpl-result"
    # The result template's own fields (README): a one-line text is both the item and the result.
    assert template["data"]["item"] == {"value": "您的提议已受理"}
    assert template["data"]["result"] == {"value": "您的提议已受理"}
    [row] = rows(factory)
    assert (row.status, row.via) == ("sent", "template")


def test_closed_window_sends_a_template_without_trying_customer_service(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, tpl_settings: Settings, http: httpx.Client
) -> None:
    """49 hours after someone's last message they get a template in that template's fields (the result template:
    item, result, adopted, rating); reminders use the reminder template and their own fields."""
    [pid] = add_people(factory, channel="wechat", names=["o-old"], inbound=clock.now() - timedelta(hours=49))
    long_text = (
        "【协商会议结果】\n幸福路北段路灯将在本周内由社区物业负责修复，修复后请大家相互转告，并在夜间出行时注意安全。"
    )
    queue(factory, clock, [pid], {"text": long_text})
    queue(
        factory,
        clock,
        [pid],
        {"text": "明天开会", "fields": {"thing1": "路灯议题", "time2": "12月3日 15:00"}},
        kind="reminder",
    )
    assert drain(make_worker(factory, clock, tpl_settings, http)) == 2
    assert fake.calls(CUSTOM_SEND_PATH) == []
    first, second = fake.template_sends("o-old")
    assert first["template_id"] == "tpl-result"
    assert first["data"]["item"] == {"value": "协商会议结果"}
    assert first["data"]["result"] == {"value": "幸福路北段路灯将在本周内由社区物业负责…"}
    assert set(first["data"]) == {"item", "result", "adopted", "rating"}
    assert second["template_id"] == "tpl-reminder"
    assert second["data"] == {"thing1": {"value": "路灯议题"}, "time2": {"value": "12月3日 15:00"}}
    assert {r.via for r in rows(factory)} == {"template"}


def test_sixth_message_in_the_window_goes_as_a_template(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, tpl_settings: Settings, http: httpx.Client
) -> None:
    """Five customer-service messages use the window up; the sixth is a template; a new message opens it again."""
    [pid] = add_people(factory, channel="wechat", names=["o-chatty"], inbound=clock.now())
    worker = make_worker(factory, clock, tpl_settings, http)
    for i in range(6):
        queue(factory, clock, [pid], {"text": f"第{i + 1}条"})
        clock.advance(timedelta(minutes=1))
        assert worker.run_once() == 1
    assert [t for _, t in fake.sent_texts("o-chatty")] == [f"第{i}条" for i in range(1, 6)]
    assert [t["data"]["result"]["value"] for t in fake.template_sends("o-chatty")] == ["第6条"]
    assert [r.via for r in rows(factory)] == ["custom"] * 5 + ["template"]
    with transaction(factory) as session:
        person = session.get(Person, pid)
        assert person is not None
        person.last_inbound_at = clock.now()
    clock.advance(timedelta(minutes=1))
    queue(factory, clock, [pid], {"text": "第7条"})
    assert worker.run_once() == 1
    assert fake.sent_texts("o-chatty")[-1] == ("o-chatty", "第7条")


def test_missing_template_ends_the_row_undelivered_with_a_reason(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, settings: Settings, http: httpx.Client
) -> None:
    """Outside the window with no template configured the row ends undelivered and says why; no call is made."""
    [pid] = add_people(factory, channel="wechat", names=["o-never"], inbound=None)
    queue(factory, clock, [pid], {"text": "结果通知"})
    assert make_worker(factory, clock, settings, http).run_once() == 1
    [row] = rows(factory)
    assert row.status == "undelivered" and NO_TEMPLATE in (row.last_error or "") and "48小时" in (row.last_error or "")
    assert fake.calls(CUSTOM_SEND_PATH) == [] and fake.calls(TEMPLATE_SEND_PATH) == []


# --- WeCom -----------------------------------------------------------------------------------


def test_wecom_broadcast_is_sent_in_calls_of_1000(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, tpl_settings: Settings, http: httpx.Client
) -> None:
    """2,500 WeCom recipients of one broadcast take three calls: 1,000 + 1,000 + 500 userids."""
    names = [f"wc{i:04d}" for i in range(2500)]
    broadcast = new_broadcast(factory, clock, "周五下午三点开会", 2500)
    ids = add_people(factory, channel="wecom", names=names, inbound=None)
    queue(factory, clock, ids, {"text": "周五下午三点开会"}, broadcast_id=broadcast)
    assert drain(make_worker(factory, clock, tpl_settings, http)) == 2500
    calls = fake.calls(WECOM_SEND_PATH)
    assert [len(c.json["touser"].split("|")) for c in calls] == [1000, 1000, 500]
    assert fake.delivery_counts() == dict.fromkeys(names, 1)
    assert {r.via for r in rows(factory)} == {"wecom"}


def test_wecom_invalid_users_fail_and_the_others_are_sent(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, tpl_settings: Settings, http: httpx.Client
) -> None:
    """Userids WeCom lists in `invaliduser` fail for good; the rest of the call is sent."""
    ids = add_people(factory, channel="wecom", names=["ZhangSan", "Ghost", "LiSi"], inbound=None)
    queue(factory, clock, ids, {"text": "通知"})
    fake.fail_next(WECOM_SEND_PATH, body={"errcode": 0, "errmsg": "ok", "invaliduser": "Ghost", "msgid": "m1"})
    assert make_worker(factory, clock, tpl_settings, http).run_once() == 3
    with factory() as session:
        outcome = dict(
            session.execute(
                select(Person.external_id, OutboxMessage.status).join(Person, Person.id == OutboxMessage.person_id)
            ).all()
        )
    assert outcome == {"ZhangSan": "sent", "Ghost": "failed", "LiSi": "sent"}
    assert len(fake.calls(WECOM_SEND_PATH)) == 1


def test_wecom_member_throttled_to_30_a_minute(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, tpl_settings: Settings, http: httpx.Client
) -> None:
    """35 messages for one member: 30 now, the other 5 held (not dropped) until the minute allows them."""
    [pid] = add_people(factory, channel="wecom", names=["Busy"], inbound=None)
    for i in range(35):
        queue(factory, clock, [pid], {"text": f"消息{i}"})
    worker = make_worker(factory, clock, tpl_settings, http)
    assert worker.run_once() == 35
    assert fake.delivery_counts() == {"Busy": 30}
    held = [r for r in rows(factory) if r.status == "pending"]
    assert len(held) == 5 and {r.next_attempt_at for r in held} == {clock.now() + timedelta(minutes=1)}
    assert {r.attempts for r in held} == {0}
    clock.advance(timedelta(seconds=59))
    assert worker.run_once() == 0
    clock.advance(timedelta(seconds=1))
    assert drain(worker) == 5
    assert fake.delivery_counts() == {"Busy": 35}


def test_wecom_member_throttled_to_1000_an_hour(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, tpl_settings: Settings, http: httpx.Client
) -> None:
    """After 1,000 messages in the past hour a member's next one waits until the oldest is an hour old."""
    [pid] = add_people(factory, channel="wecom", names=["Flooded"], inbound=None)
    start = clock.now() - timedelta(minutes=55)
    with transaction(factory) as session:
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "person_id": pid,
                    "payload": {"text": "旧"},
                    "idempotency_key": f"old:{i}",
                    "status": "sent",
                    "via": "wecom",
                    "attempts": 1,
                    "next_attempt_at": start,
                    "sent_at": start + timedelta(seconds=3 * i),
                }
                for i in range(1000)
            ],
        )
    queue(factory, clock, [pid], {"text": "新消息"})
    worker = make_worker(factory, clock, tpl_settings, http)
    assert worker.run_once() == 1
    assert fake.calls(WECOM_SEND_PATH) == []
    [held] = [r for r in rows(factory) if r.status == "pending"]
    assert held.next_attempt_at == start + timedelta(hours=1)
    clock.set(start + timedelta(hours=1))
    assert worker.run_once() == 1
    assert fake.sent_texts("Flooded") == [("Flooded", "新消息")]


# --- crashes and concurrency -----------------------------------------------------------------


def test_killed_worker_restarted_sends_each_recipient_exactly_once(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, tpl_settings: Settings, http: httpx.Client
) -> None:
    """A worker dying 300 sends into a 1,000-person broadcast holds only the rows of its last claim; a
    fresh worker sends the rest at once and those rows when their lease lapses, no one twice."""
    wechat_names = [f"o-kill-{i}" for i in range(700)]
    wecom_names = [f"wk{i:03d}" for i in range(300)]
    broadcast = new_broadcast(factory, clock, "停水通知", 1000)
    ids = add_people(factory, channel="wechat", names=wechat_names, inbound=clock.now())
    ids += add_people(factory, channel="wecom", names=wecom_names, inbound=None)
    queue(factory, clock, ids, {"text": "停水通知"}, broadcast_id=broadcast)
    calls = 0
    counting = threading.Lock()  # a wave's calls run in threads

    class DyingApi(WeChatApi):
        def send_text(self, openid: str, text: str) -> None:
            nonlocal calls
            with counting:
                if calls == 300:
                    raise KillWorker
                calls += 1
            super().send_text(openid, text)

    with pytest.raises(KillWorker):
        drain(make_worker(factory, clock, tpl_settings, http, wechat_cls=DyingApi))
    held = ONE_BY_ONE
    assert status_counts(factory) == {"sent": 600, "sending": held, "pending": 400 - held}, "WeCom's 300 and 300 more"
    restarted = make_worker(factory, clock, tpl_settings, http)
    assert drain(restarted) == 400 - held, "the rest go at once; rows a worker holds wait for their lease"
    assert status_counts(factory) == {"sent": 1000 - held, "sending": held}
    clock.advance(LEASE + timedelta(seconds=1))
    assert drain(restarted) == held
    assert fake.delivery_counts() == dict.fromkeys(wechat_names + wecom_names, 1)
    assert status_counts(factory) == {"sent": 1000}


@pytest.mark.postgres
def test_two_workers_share_a_broadcast_without_duplicates(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, tpl_settings: Settings
) -> None:
    """Two outbox workers on PostgreSQL draining one 1,000-person broadcast deliver to each person exactly once."""
    wechat_names = [f"o-two-{i}" for i in range(600)]
    wecom_names = [f"w2{i:03d}" for i in range(400)]
    broadcast = new_broadcast(factory, clock, "两个发送进程", 1000)
    ids = add_people(factory, channel="wechat", names=wechat_names, inbound=clock.now())
    ids += add_people(factory, channel="wecom", names=wecom_names, inbound=None)
    queue(factory, clock, ids, {"text": "两个发送进程"}, broadcast_id=broadcast)
    handled: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run() -> None:
        try:
            with httpx.Client(timeout=5) as own_http:
                worker = make_worker(factory, clock, tpl_settings, own_http)
                start.wait()
                handled.append(drain(worker, limit=50))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(handled) == 1000 and all(n > 0 for n in handled), handled
    assert fake.delivery_counts() == dict.fromkeys(wechat_names + wecom_names, 1)
    assert status_counts(factory) == {"sent": 1000}
    assert fake.token_fetches() == 2, "one token per app, shared through the database"


@pytest.mark.postgres
def test_a_pass_longer_than_its_lease_renews_it_and_keeps_its_rows(
    factory: sessionmaker[Session], fake: FakeWeChat, tpl_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slow API calls stretch one worker's pass past its lease several times over: the lease is renewed
    while it works, so a second worker claiming all along takes none of its rows and no one is sent twice."""
    monkeypatch.setattr(outbox, "LEASE", timedelta(seconds=2))
    monkeypatch.setattr(outbox, "SAFE_LEFT", timedelta(seconds=0.5))
    monkeypatch.setattr(outbox, "RENEW_EVERY", 0.2)
    clock = SystemClock()
    names = [f"o-slow-{i}" for i in range(20)]
    ids = add_people(factory, channel="wechat", names=names, inbound=clock.now())
    queue(factory, clock, ids, {"text": "慢一点"})
    fake.delay_all(0.25)  # 20 calls: five seconds, the lease two
    with httpx.Client(timeout=5) as http_a, httpx.Client(timeout=5) as http_b:
        first = make_worker(factory, clock, tpl_settings, http_a)
        second = make_worker(factory, clock, tpl_settings, http_b)
        handled: list[int] = []
        runner = threading.Thread(target=lambda: handled.append(first.run_once()))
        runner.start()
        # The second worker starts claiming once the first holds its rows (on a busy machine the thread
        # may start late, and whoever claims first takes the lot: that race is not what this test is about).
        deadline = time.monotonic() + 30
        while status_counts(factory).get("sending", 0) == 0 and runner.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        taken = 0
        while runner.is_alive():
            taken += second.run_once()
            runner.join(0.05)
    assert handled == [20] and taken == 0
    assert fake.delivery_counts() == dict.fromkeys(names, 1)
    assert status_counts(factory) == {"sent": 20}


# --- Redis token cache -----------------------------------------------------------------------


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A random key prefix on the local Redis, removed afterwards; skips locally when Redis is down."""
    client: redis.Redis = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        client.close()
        if os.environ.get("CI"):
            pytest.fail("Redis at 127.0.0.1:6379 is required in CI")
        pytest.skip("Redis at 127.0.0.1:6379 is not running")
    prefix = f"test-{uuid.uuid4().hex}:"
    yield prefix
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


def test_redis_token_cache_is_shared_between_processes(
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    tpl_settings: Settings,
    http: httpx.Client,
    redis_prefix: str,
) -> None:
    """Two workers with their own Redis caches fetch one token, and one more after it expires."""
    names = [f"o-redis-{i}" for i in range(20)]
    ids = add_people(factory, channel="wechat", names=names, inbound=clock.now())
    caches = [RedisTokenCache(REDIS_URL, TokenCache(factory, clock), clock, prefix=redis_prefix) for _ in range(2)]
    try:
        workers = [make_worker(factory, clock, tpl_settings, http, tokens=cache) for cache in caches]
        queue(factory, clock, ids[:10], {"text": "第一批"})
        assert workers[0].run_once() == 10
        queue(factory, clock, ids[10:], {"text": "第一批"})
        assert workers[1].run_once() == 10
        assert fake.token_fetches(TOKEN_PATH) == 1
        key = f"{redis_prefix}token:wechat:{tpl_settings.wechat_app_id}"
        assert 0 < caches[0].client.ttl(key) <= 7200
        fake.expire_tokens(42001)
        queue(factory, clock, ids, {"text": "第二批"})
        assert workers[0].run_once(limit=10) == 10
        assert workers[1].run_once(limit=10) == 10
        assert fake.token_fetches(TOKEN_PATH) == 2, "the second worker took the refreshed token from Redis"
        assert fake.delivery_counts() == dict.fromkeys(names, 2)
    finally:
        for cache in caches:
            cache.close()


def test_unreachable_redis_falls_back_to_the_database(
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    tpl_settings: Settings,
    http: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With Redis down, sends still go out on the database token cache and the warning is logged once."""
    ids = add_people(factory, channel="wechat", names=["o-nr1", "o-nr2"], inbound=clock.now())
    cache = RedisTokenCache("redis://127.0.0.1:1/0", TokenCache(factory, clock), clock)
    try:
        worker = make_worker(factory, clock, tpl_settings, http, tokens=cache)
        with caplog.at_level(logging.WARNING, logger="bot.outbound.redis_tokens"):
            queue(factory, clock, ids, {"text": "照常送达"})
            assert worker.run_once() == 2
            clock.advance(timedelta(minutes=2))  # past the in-memory copy: the cache is asked again
            queue(factory, clock, ids, {"text": "还是送达"})
            assert worker.run_once() == 2
    finally:
        cache.close()
    assert fake.delivery_counts() == {"o-nr1": 2, "o-nr2": 2}
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1
