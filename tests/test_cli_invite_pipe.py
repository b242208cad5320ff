"""`shangliang invite ROOM | head -1`: the code printed is a code that exists, whatever happens to the
pipe afterwards (head closes it after the first line; the details line may then hit a broken pipe)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.services.rooms import create_room
from storage.db import transaction
from storage.models import Invite, RoomLevel
from tests.fake_wechat import FakeWeChat
from tests.test_scale_out import app_env

SHANGLIANG = Path(sys.executable).parent / "shangliang"


@pytest.mark.parametrize("pipe", ["| head -1", "2>&1 | head -1"])
def test_the_printed_code_exists(
    pipe: str, db_url: str, fake: FakeWeChat, factory: sessionmaker[Session], tmp_path: Path
) -> None:
    with transaction(factory) as session:
        create_room(session, name="东湖村议事室", level=RoomLevel.village)
    printed = []
    for _run in range(3):
        done = subprocess.run(
            ["bash", "-c", f"'{SHANGLIANG}' invite 东湖村 --role member {pipe}"],
            env=app_env(db_url, fake.base_url),
            cwd=tmp_path,  # no .env is read here
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        printed.append(done.stdout.strip())
    with factory() as session:
        stored = set(session.scalars(select(Invite.code).where(Invite.used_at.is_(None))))
    assert all(printed) and set(printed) <= stored, (printed, stored)
