"""Faults under real processes: PostgreSQL going away in the middle of a load run, Redis down.

The web worker reaches PostgreSQL through tests/tcp_proxy.py; cutting the proxy resets every
connection and refuses new ones, as a database crash or a network cut would.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.pipeline import ERROR_REPLY
from bot.services import outbox, people
from storage.db import normalize_url, transaction
from storage.models import AccessToken, Person, Proposal
from tests.fake_wechat import FakeWeChat
from tests.processes import Processes, app_env, free_port, wait_for
from tests.tcp_proxy import TcpProxy
from tests.test_scale_out import add_rooms, next_answer
from tests.wxclient import DEFAULT_WECHAT, WeChatCallbackClient, build_text

pytestmark = pytest.mark.postgres


RESIDENTS = 24
DIALOGS = 2  # each resident proposes twice (the second time the room is remembered)
OUTAGE_SECONDS = 3.0


def outage_description(resident: int, dialog: int) -> str:
    lanes = "安宁福寿康乐和顺兴隆昌盛嘉禾瑞丰泰华锦绣永新庆云翠柳松竹梅兰"
    lane = lanes[resident % len(lanes)] + lanes[(resident * 5 + dialog * 11 + 1) % len(lanes)]
    return f"{lane}里{resident}号楼第{dialog + 1}件事：楼道里的声控灯不亮了"


class Driver:
    """Residents on their own threads, each message retried with the same MsgId until it gets a 200,
    as WeChat retries a callback that failed or timed out."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=httpx.Timeout(15.0, connect=5.0))
        self.client = WeChatCallbackClient(self.http, **DEFAULT_WECHAT)
        self.lock = threading.Lock()
        self.answered = 0  # messages that got their 200
        self.statuses: Counter[int] = Counter()  # every response, retries included (0: no response)
        self.receipts: dict[str, list[tuple[str, str]]] = {}  # user -> [(receipt, description)]
        self.problems: list[str] = []

    def close(self) -> None:
        self.http.close()

    def deliver(self, user: str, line: str) -> str:
        xml = build_text(user, self.client.to_user, line, create_time=self.client.now())  # one MsgId
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = self.client.post_xml(xml)  # signed afresh each time, like a real retry
            except httpx.TransportError:
                status = 0
            else:
                status = response.status_code
            with self.lock:
                self.statuses[status] += 1
            if status == 200:
                reply = self.client.parse_reply(response)
                if reply.is_empty or ERROR_REPLY in reply.content:
                    with self.lock:
                        self.problems.append(f"{user} {line!r}: 200 with {reply.raw[:80]!r}")
                with self.lock:
                    self.answered += 1
                return reply.content
            if status != 0 and status < 500:
                raise AssertionError(f"{user} {line!r}: HTTP {status} {response.text[:200]}")
            time.sleep(0.2)
        raise AssertionError(f"{user} {line!r}: no 200 within 60 s")

    def resident(self, number: int) -> None:
        user = f"o-outage-{number}"
        try:
            for dialog in range(DIALOGS):
                description = outage_description(number, dialog)
                line: str | None = "提议题"
                for _ in range(12):
                    assert line is not None
                    reply = self.deliver(user, line)
                    line = next_answer(reply, description)
                    if line is None:
                        receipt = reply.split("受理编号：", 1)[1].split()[0]
                        with self.lock:
                            self.receipts.setdefault(user, []).append((receipt, description))
                        break
                else:
                    raise AssertionError(f"{user} never got a receipt")
        except BaseException as exc:
            with self.lock:
                self.problems.append(f"{user}: {exc!r}")


def test_callbacks_during_a_database_outage_get_5xx_and_nothing_is_lost_or_doubled(
    db_url: str, factory: sessionmaker[Session], fake: FakeWeChat, processes: Processes
) -> None:
    """Residents walk the propose dialog while PostgreSQL is cut off for a few seconds: callbacks in
    the outage get a 5xx (WeChat retries them), never a 200 with the message dropped; after the
    database is back every retried message is handled once, and every receipt handed out names
    exactly one stored proposal with the resident's own words."""
    add_rooms(factory)
    target = make_url(normalize_url(db_url))
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as proxy:
        proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        (web,) = processes.serve(app_env(proxied, fake.base_url, DB_POOL_SIZE="4"), "web")
        driver = Driver(web.base_url)
        threads = [threading.Thread(target=driver.resident, args=(n,)) for n in range(RESIDENTS)]
        try:
            for thread in threads:
                thread.start()
            wait_for(lambda: driver.answered >= RESIDENTS * 4, "the run to get going")
            proxy.cut()
            failed_before = driver.statuses[503]
            health = httpx.get(f"{web.base_url}/healthz", timeout=10)
            time.sleep(OUTAGE_SECONDS)  # the outage itself, not a wait for a result
            failed_during = driver.statuses[503] - failed_before
            proxy.restore()
            for thread in threads:
                thread.join(timeout=120)
        finally:
            driver.close()

    assert driver.problems == []
    assert health.status_code == 503, "the health check reports the database outage"
    assert failed_during > 0, "callbacks in the outage were answered 503, so WeChat retries them"
    assert set(driver.statuses) <= {200, 503}, driver.statuses
    handed_out = {receipt: (user, words) for user, pairs in driver.receipts.items() for receipt, words in pairs}
    assert len(handed_out) == RESIDENTS * DIALOGS
    with factory() as session:
        rows = session.execute(
            select(Proposal.receipt, Proposal.description, Person.external_id).join(
                Person, Person.id == Proposal.proposer_id
            )
        ).all()
    stored = Counter(r.receipt for r in rows)
    assert all(n == 1 for n in stored.values()), "no receipt twice"
    assert len(rows) == RESIDENTS * DIALOGS, "no proposal lost, none filed twice"
    assert {r.receipt: (r.external_id, r.description) for r in rows} == handed_out
    assert " ERROR " in web.proc.log() or " WARNING " in web.proc.log(), "the outage was logged"


def test_redis_down_the_bot_keeps_working(
    db_url: str, factory: sessionmaker[Session], fake: FakeWeChat, processes: Processes
) -> None:
    """REDIS_URL points at a closed port: the web worker answers the dialog and the background
    worker still sends, on the access token cached in the database (one warning in its log)."""
    add_rooms(factory)
    with transaction(factory) as session:
        member = people.get_or_create(session, channel="wecom", external_id="m-no-redis")
        outbox.enqueue_text(
            session, person_id=member.id, text="Redis 停了，消息照常送达", key="no-redis:1", now=datetime.now(UTC)
        )
    env = app_env(db_url, fake.base_url, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", DB_POOL_SIZE="2")
    worker = processes.worker("worker", env)
    (web,) = processes.serve(env, "web")

    with httpx.Client(base_url=web.base_url, timeout=15) as http:
        client = WeChatCallbackClient(http, **DEFAULT_WECHAT)
        line: str | None = "提议题"
        reply = ""
        while line is not None:
            reply = client.send_text("o-no-redis", line).content
            line = next_answer(reply, "幸福路北段的路灯坏了一个多月，晚上很黑")
    assert "受理编号：YS-" in reply

    sent = wait_for(lambda: fake.sent_texts("m-no-redis"), "the worker to send with Redis down")
    assert [text for _, text in sent] == ["Redis 停了，消息照常送达"]
    with factory() as session:
        assert session.scalars(select(AccessToken.token)).all() != [], "the token is cached in the database"
    assert "Redis token cache unreachable" in worker.log()


def test_a_row_lock_held_elsewhere_gets_503_within_the_deadline_and_the_retry_goes_through(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], engine: Engine
) -> None:
    """A person's row locked by something stuck: the callback gets 503 in about 3 s (WeChat retries),
    not a `success` after 4 s for a message that might then fail; once the lock is gone the retry works."""
    wechat.send_text("o-stuck", "你好")
    with engine.connect() as blocker:
        blocker.execute(select(Person.id).where(Person.external_id == "o-stuck").with_for_update())
        started = time.monotonic()
        reply = wechat.send_text("o-stuck", "我的", msg_id=777001)
        waited = time.monotonic() - started
        blocker.rollback()
    assert reply.status_code == 503 and waited < 4.0
    retried = wechat.send_text("o-stuck", "我的", msg_id=777001)
    assert retried.status_code == 200 and "您还没有提交过提议或微建言" in retried.content
