"""The .ics file of a session opens only from the signed link its invitees were sent: an id alone
(1, 01, 2, ...) or a wrong key answers 404 and shows nothing of the session."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.runtime import Runtime
from bot.services import live
from scheduler import reminders
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import ConsultSession
from tests.fake_wechat import FakeWeChat
from tests.helpers import DEC3_1500, small_session, texts_to
from tests.wxclient import WeComCallbackClient

LINK = re.compile(r"加入日历：http://127\.0\.0\.1:8000(/sessions/\S+)")
PHONE_PLACE = "社区二楼会议室，联系人13566667777"


def calendar_link(text: str) -> str:
    found = LINK.search(text)
    assert found, text
    return found.group(1)


@pytest.fixture
def session_with_phone(factory: sessionmaker[Session], clock: FakeClock, wecom: WeComCallbackClient) -> int:
    small_session(factory, clock, wecom)
    with transaction(factory) as session:
        consult = session.get(ConsultSession, 1)
        assert consult is not None
        consult.place = PHONE_PLACE
        return consult.id


def test_an_id_alone_or_a_wrong_key_reveals_nothing(
    session_with_phone: int, client: TestClient, runtime: Runtime
) -> None:
    live_key = live.sign(session_with_phone, secret=runtime.settings.secret_key.get_secret_value())
    for path in (
        "/sessions/1.ics",
        "/sessions/01.ics",
        "/sessions/1.ics?key=",
        "/sessions/1.ics?key=00000000000000000000000000000000",
        f"/sessions/1.ics?key={live_key}",  # the live page's key opens the live page only
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        for secret in ("BEGIN:VCALENDAR", "13566667777", "社区二楼", "路灯"):
            assert secret not in response.text, path


def test_the_link_in_notices_and_reminders_opens_the_calendar(
    session_with_phone: int,
    client: TestClient,
    fake: FakeWeChat,
    runtime: Runtime,
    clock: FakeClock,
    outbox_worker: OutboxWorker,
) -> None:
    clock.set(DEC3_1500 - timedelta(days=3) + timedelta(minutes=1))
    assert reminders.due(runtime) > 0
    outbox_worker.run_once()
    notice, reminder = texts_to(fake, "m0")[0], texts_to(fake, "m0")[-1]
    assert "协商通知" in notice and "协商提醒" in reminder
    for text in (notice, reminder):
        response = client.get(calendar_link(text))
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
        assert "DTSTART:20261203T070000Z" in response.text.replace("\r\n ", "")
    other = calendar_link(reminder).replace("/sessions/1.ics", "/sessions/2.ics")
    assert client.get(other).status_code == 404  # a key is for its own session only
