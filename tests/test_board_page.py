"""The public board of a room over HTTP: the page, data.json and data.csv show the same year of work, name
nobody, mask every phone number, escape what residents typed, and keep other rooms' items out."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services import rates
from bot.settings import Settings
from storage.models import Proposal, Room
from tests.board_data import HOSTILE, PHONE, seed

NAMES = ("王阿姨", "李叔", "赵姐", "王秀英", "李建国", "老李")


def test_page_json_and_csv_show_the_room_year_and_no_one(
    client: TestClient, factory: sessionmaker[Session], clock: FakeClock, settings: Settings
) -> None:
    """Topics with status and 附议 counts, sessions held against the room level's minimum, the three lists, the
    result with its ratings and 三率 — the same figures the statistics show (bot/services/rates.py)."""
    seeded = seed(factory, clock)

    page = client.get(f"/rooms/{seeded.room_id}")
    assert (
        page.status_code == 200 and "script-src" not in page.headers["content-security-policy"].split("default-src")[0]
    )
    body = page.text
    assert "幸福社区议事室" in body and seeded.answered in body and seeded.open in body
    assert "幸福路北段路灯坏了一个多月" in body and "附议 2 人" in body and "已反馈" in body
    assert f"2026年已协商 / 年度最少 {settings.min_sessions_per_year['village']} 次" in body
    assert "加装太阳能路灯" in body and "街道城管科" in body and "已更换路灯12盏" in body
    assert "满意 1 · 基本满意 1 · 不满意 1" in body and "67%" in body and "暂无" in body
    assert "尚有 1 场已安排" in body
    assert "别的议事室的事" not in body
    assert PHONE not in body and "138****5678" in body
    assert HOSTILE not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert not [n for n in NAMES if n in body]
    assert "<script" not in body

    data = client.get(f"/rooms/{seeded.room_id}/data.json").json()
    assert data["room"] == "幸福社区议事室" and data["sessions_held"] == 1
    assert data["sessions_minimum"] == settings.min_sessions_per_year["village"] and data["sessions_ahead"] == 1
    assert data["rates"]["satisfaction_rate"] == 2 / 3
    with factory() as session:
        room = session.get(Room, seeded.room_id)
        assert room is not None
        three = rates.of_room(session, room=room, year=clock.now().year, tz=settings.timezone, now=clock.now())
    assert data["rates"]["response_rate"] == three.response.rate and three.response.total > 0
    assert data["rates"]["completion_rate"] == three.completion.rate
    assert {t["receipt"]: t["status"] for t in data["topics"]}[seeded.answered] == "已反馈"
    held = next(s for s in data["sessions"] if s["status"] == "已举行")
    assert held["suggestions"] == ["加装太阳能路灯，纳入年度维修计划"]
    assert [d["unit"] for d in held["responsibilities"]] == ["街道城管科", "幸福社区居委会"]
    assert held["feedback"][0]["result"] == "已更换路灯12盏，夜间照明恢复"
    assert (held["feedback"][0]["satisfied"], held["feedback"][0]["unsatisfied"]) == (1, 1)
    raw = str(data)
    assert PHONE not in raw and not [n for n in NAMES if n in raw] and "别的议事室" not in raw

    sheet = client.get(f"/rooms/{seeded.room_id}/data.csv")
    assert sheet.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(sheet.text.lstrip("\ufeff"))))
    kinds = [r[0] for r in rows[1:]]
    assert kinds.count("议题") == 3 and kinds.count("责任落实") == 2 and kinds.count("结果反馈") == 1
    assert PHONE not in sheet.text and not [n for n in NAMES if n in sheet.text]


def test_unknown_room_and_bad_ids(client: TestClient) -> None:
    """No room, no board: 404 for the page and the data, and nothing but digits is an id."""
    assert client.get("/rooms/999").status_code == 404
    assert client.get("/rooms/999/data.json").status_code == 404
    assert client.get("/rooms/999/data.csv").status_code == 404
    assert client.get("/rooms/abc").status_code == 404
    assert client.get("/rooms/static/board.css").status_code == 200


def test_a_held_or_hidden_proposal_is_not_on_the_board(
    client: TestClient, factory: sessionmaker[Session], clock: FakeClock, settings: Settings
) -> None:
    """Moderation (bot/services/moderation.py) holds what matched a sensitive word until a convenor's 公开, and
    隐藏 takes an item off every public surface: the board shows neither, and shows it again once 公开."""
    seeded = seed(factory, clock)

    def receipts() -> set[str]:
        return {t["receipt"] for t in client.get(f"/rooms/{seeded.room_id}/data.json").json()["topics"]}

    assert seeded.open in receipts()
    for state in ("held", "hidden"):
        with factory.begin() as session:
            session.execute(update(Proposal).where(Proposal.receipt == seeded.open).values(visibility=state))
        assert seeded.open not in receipts()
        assert seeded.open not in client.get(f"/rooms/{seeded.room_id}").text
    with factory.begin() as session:
        session.execute(update(Proposal).where(Proposal.receipt == seeded.open).values(visibility="shown"))
    assert seeded.open in receipts()
