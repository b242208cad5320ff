"""Slow replies go out through the customer-service API; the outbox sends once, with retries."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot import dispatch as dispatch_module
from bot.app import create_app
from bot.clock import FakeClock
from bot.context import Ctx
from bot.runtime import Runtime
from bot.services import outbox, people
from bot.settings import Settings
from scheduler.outbox import OutboxWorker
from scheduler.wechat_delivery import NO_TEMPLATE
from storage.db import transaction
from storage.models import OutboxMessage, ProcessedMessage
from tests.conftest import make_settings
from tests.fake_wechat import CUSTOM_SEND_PATH, WECOM_SEND_PATH, FakeWeChat
from tests.wxclient import DEFAULT_WECHAT, WeChatCallbackClient, build_text


def queue_text(factory: sessionmaker[Session], clock: FakeClock, *, channel: str, user: str, text: str) -> int:
    with transaction(factory) as session:
        person = people.get_or_create(session, channel=channel, external_id=user)
        people.touch_inbound(person, now=clock.now())  # they wrote just now: the 48-hour window is open
        row = outbox.enqueue_text(session, person_id=person.id, text=text, key=f"t:{user}:{text}", now=clock.now())
        assert row is not None
        session.flush()
        return row.id


def test_slow_reply_answers_success_then_sends_by_customer_service(
    db_url: str, fake: FakeWeChat, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the reply misses the deadline the callback says `success` and the reply arrives via the API."""
    settings = make_settings(db_url, fake.base_url, reply_deadline=0.2)
    real_dispatch = dispatch_module.dispatch

    def slow_dispatch(ctx: Ctx, stored: Mapping[str, Any] | None) -> list[str]:
        time.sleep(0.6)
        return real_dispatch(ctx, stored)

    monkeypatch.setattr("bot.pipeline.dispatch", slow_dispatch)
    app = create_app(settings, clock)
    runtime: Runtime = app.state.runtime
    with TestClient(app) as http:
        client = WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
        xml = build_text("o-slow", "gh_test", "帮助", msg_id=424242)
        first = client.parse_reply(client.post_xml(xml))
        assert first.status_code == 200 and first.raw == "success"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with runtime.factory() as session:
                if session.scalars(select(OutboxMessage)).first() is not None:
                    break
            time.sleep(0.05)
        retry = client.parse_reply(client.post_xml(xml))
        assert retry.raw == "success", "a retry must not deliver the reply a second time"
    import httpx

    from scheduler.runner import make_outbox_worker

    with httpx.Client(timeout=5) as session_http:
        assert make_outbox_worker(runtime, session_http).run_once() == 1
    runtime.close()
    sent = fake.sent_texts("o-slow")
    assert len(sent) == 1 and "提议题" in sent[0][1]


def test_outbox_sends_wechat_and_wecom_once(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, outbox_worker: OutboxWorker
) -> None:
    """Queued texts reach a WeChat user by customer-service message and a WeCom user by app message, once."""
    queue_text(factory, clock, channel="wechat", user="o-out", text="您的提议已受理")
    queue_text(factory, clock, channel="wecom", user="LiWei", text="会议提醒")
    assert outbox_worker.run_once() == 2
    assert outbox_worker.run_once() == 0
    assert fake.sent_texts("o-out") == [("o-out", "您的提议已受理")]
    assert fake.sent_texts("LiWei") == [("LiWei", "会议提醒")]
    assert len(fake.calls(CUSTOM_SEND_PATH)) == 1 and len(fake.calls(WECOM_SEND_PATH)) == 1
    with factory() as session:
        assert {r.status for r in session.scalars(select(OutboxMessage))} == {"sent"}


def test_refused_token_is_refreshed_once(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, outbox_worker: OutboxWorker
) -> None:
    """An expired token (42001) is refreshed in the shared cache and the send retried once."""
    queue_text(factory, clock, channel="wechat", user="o-tok", text="一")
    outbox_worker.run_once()
    fetches = fake.token_fetches()
    fake.expire_tokens(42001)
    queue_text(factory, clock, channel="wechat", user="o-tok", text="二")
    outbox_worker.run_once()
    assert [t for _, t in fake.sent_texts("o-tok")] == ["一", "二"]
    assert fake.token_fetches() == fetches + 1


def test_server_error_is_retried_with_backoff(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, outbox_worker: OutboxWorker
) -> None:
    """A 5xx leaves the row pending with a later attempt time; the next pass after the backoff sends it."""
    queue_text(factory, clock, channel="wechat", user="o-5xx", text="稍后送达")
    outbox_worker.run_once()
    fake.fail_next(CUSTOM_SEND_PATH, status=500)
    other = queue_text(factory, clock, channel="wechat", user="o-5xx", text="第二条")
    assert outbox_worker.run_once() == 1
    with factory() as session:
        row = session.get(OutboxMessage, other)
        assert row is not None and row.status == "pending" and row.last_error
    assert outbox_worker.run_once() == 0, "not due before the backoff"
    clock.advance(timedelta(seconds=6))
    assert outbox_worker.run_once() == 1
    assert [t for _, t in fake.sent_texts("o-5xx")] == ["稍后送达", "第二条"]


def test_window_closed_without_template_is_final(
    factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat, outbox_worker: OutboxWorker
) -> None:
    """45015 (the 48-hour window is closed) with no template configured ends the row undelivered, saying why."""
    fake.fail_for(CUSTOM_SEND_PATH, lambda body: body.get("touser") == "o-cold", 45015)
    row_id = queue_text(factory, clock, channel="wechat", user="o-cold", text="结果")
    outbox_worker.run_once()
    with factory() as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None and row.status == "undelivered" and "45015" in (row.last_error or "")
        assert NO_TEMPLATE in (row.last_error or "")


def test_processed_records_are_pruned(runtime: Runtime, clock: FakeClock, wechat: WeChatCallbackClient) -> None:
    """Idempotency records older than three days are removed by the periodic job."""
    from scheduler import jobs

    wechat.send_text("o-prune", "帮助")
    jobs.bind(runtime)
    assert jobs.prune_processed() == 0
    clock.advance(timedelta(days=4))
    assert jobs.prune_processed() == 1
    with runtime.factory() as session:
        assert session.scalars(select(ProcessedMessage)).first() is None


def test_menu_is_created_on_the_api(settings: Settings, fake: FakeWeChat, monkeypatch: pytest.MonkeyPatch) -> None:
    """`shangliang wechat menu` creates the 提议题 / 微建言 / 我的 menu through the configured API base URL."""
    from typer.testing import CliRunner

    from bot import cli

    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    result = CliRunner().invoke(cli.app, ["wechat", "menu"])
    assert result.exit_code == 0, result.output
    menu = fake.menu
    assert menu is not None
    assert [(b["name"], b["key"]) for b in menu["button"]] == [
        ("提议题", "PROPOSE"),
        ("微建言", "SUGGEST"),
        ("我的", "MINE"),
    ]
