"""SQLite: a message is handled on the event loop when the write lock is free, and goes to the pipeline
thread (with the reply deadline kept) when another writer holds it (issue 12)."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.clock import FakeClock
from bot.runtime import Runtime
from storage.models import OutboxMessage
from tests.conftest import ON_POSTGRES, make_settings
from tests.fake_wechat import FakeWeChat
from tests.wxclient import DEFAULT_WECHAT, WeChatCallbackClient, build_text

pytestmark = pytest.mark.skipif(ON_POSTGRES, reason="the SQLite writer lock")


def test_a_message_is_handled_on_the_loop_without_the_pipeline_thread(
    runtime: Runtime, wechat: WeChatCallbackClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the write lock free the step runs where the callback runs: the thread path is never taken."""

    def no_thread(*_args: object) -> None:
        raise AssertionError("the pipeline thread was used")

    monkeypatch.setattr(runtime.pipeline, "handle", no_thread)
    assert "提议题" in wechat.send_text("o-loop", "帮助").content


def test_a_held_write_lock_sends_the_message_to_the_thread_and_the_deadline_holds(
    db_url: str, fake: FakeWeChat, clock: FakeClock
) -> None:
    """Another process holds the writer lock past the reply deadline: the callback answers `success` in
    time, and once the lock is free the reply is handled once and queued for the customer-service API."""
    settings = make_settings(db_url, fake.base_url, reply_deadline=0.3)
    app = create_app(settings, clock)
    runtime: Runtime = app.state.runtime
    lock_path = db_url.removeprefix("sqlite:///") + ".writer-lock"
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)  # its own open file: conflicts like another process
    fcntl.flock(fd, fcntl.LOCK_EX)
    released = threading.Event()

    def release() -> None:
        if not released.is_set():
            released.set()
            os.close(fd)

    backstop = threading.Timer(30.0, release)  # only if the callback waited for the lock (the failure)
    backstop.start()
    try:
        with TestClient(app) as http:
            client = WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
            xml = build_text("o-held", "gh_test", "帮助", msg_id=777)
            reply = client.parse_reply(client.post_xml(xml))
            assert not released.is_set(), "answered while the lock was still held elsewhere"
            assert reply.raw == "success"
            release()
            deadline = time.monotonic() + 10
            queued: list[OutboxMessage] = []
            while time.monotonic() < deadline and not queued:
                with runtime.factory() as session:
                    queued = list(session.scalars(select(OutboxMessage)))
                time.sleep(0.05)
            assert len(queued) == 1 and "提议题" in queued[0].payload["text"]
            assert client.parse_reply(client.post_xml(xml)).raw == "success", "the retry gets no second reply"
    finally:
        backstop.cancel()
        release()
        runtime.close()
