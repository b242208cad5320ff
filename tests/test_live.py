"""场外协商、场内回应: micro-suggestions tied to a running online/onsite session."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services.rooms import create_room
from storage.db import transaction
from storage.models import ConsultSession, RoomLevel, SessionFormat, Suggestion
from tests.helpers import talk
from tests.wxclient import WeChatCallbackClient


def _session(factory: sessionmaker[Session], clock: FakeClock, fmt: SessionFormat, start_offset: timedelta) -> int:
    with transaction(factory) as session:
        room = create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        session.flush()
        start = clock.now() + start_offset
        consult = ConsultSession(
            room_id=room.id, title="食堂开放时间", starts_at=start, ends_at=start + timedelta(hours=2), format=fmt
        )
        session.add(consult)
        session.flush()
        return consult.id


@pytest.mark.parametrize(
    ("fmt", "offset", "tied"),
    [
        (SessionFormat.online, -timedelta(minutes=10), True),
        (SessionFormat.onsite, -timedelta(minutes=10), True),
        (SessionFormat.meeting, -timedelta(minutes=10), False),
        (SessionFormat.online, timedelta(hours=1), False),
    ],
)
def test_micro_suggestion_tied_to_running_live_session(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fmt: SessionFormat,
    offset: timedelta,
    tied: bool,
) -> None:
    """A 微建言 to a room with a running online/onsite session is sent to that session; otherwise not."""
    consult_id = _session(factory, clock, fmt, offset)
    replies = talk(wechat, "o-live", "微建言", "1", "希望食堂周末也开放", "确认")
    assert "编号：WJ-" in replies[-1]
    with factory() as session:
        note = session.scalars(select(Suggestion)).one()
        assert note.session_id == (consult_id if tied else None)
        assert note.answered_at is None
