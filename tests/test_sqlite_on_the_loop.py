"""SQLite: a message is handled on the event loop when the write lock is free, and goes to the pipeline
thread (with the reply deadline kept) when another writer holds it (issue 12)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.clock import FakeClock
from bot.incoming import Incoming
from bot.pipeline import Outcome
from bot.runtime import Runtime
from bot.services.nonces import SignedPair
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


def test_a_writer_outside_the_lock_sends_one_message_to_the_thread_and_the_next_runs_on_the_loop(
    db_url: str, fake: FakeWeChat, clock: FakeClock
) -> None:
    """A writer that does not take the writer lock (a `sqlite3` shell, a script) holds the file's write lock
    for a moment: the message's BEGIN IMMEDIATE on the loop fails at once, the step goes to the thread and
    is answered when the file is free. The connection kept for messages is not left broken by the failed
    BEGIN: the next message, with the file free, is answered on the loop again."""
    app = create_app(make_settings(db_url, fake.base_url), clock)
    runtime: Runtime = app.state.runtime
    in_thread: list[str] = []
    real = runtime.pipeline.handle

    def counted(msg: Incoming, pair: SignedPair | None = None) -> Outcome:
        in_thread.append(msg.text)
        return real(msg, pair)

    runtime.pipeline.handle = counted  # type: ignore[method-assign]
    other = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False)
    try:
        with TestClient(app) as http:
            wechat = WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
            other.execute("BEGIN IMMEDIATE")
            threading.Timer(0.3, other.commit).start()
            assert "提议题" in wechat.send_text("o-shell", "帮助").content
            assert in_thread == ["帮助"], "the file was taken: the step went to the thread"
            clock.advance(timedelta(seconds=30))
            assert "我的" in wechat.send_text("o-shell", "帮助").content
            assert in_thread == ["帮助"], "the file was free: the step ran on the loop"
    finally:
        other.close()
        runtime.close()
