"""The 履职档案 workbook for the yearly review: one row per person (every room), one per room and person
(that room's sessions and items only), and the star rule it was rated by (bot/services/records.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.services import records
from bot.services.export import write_sheet
from storage.models import Room

if TYPE_CHECKING:
    from openpyxl import Workbook

HEADERS = (
    "姓名",
    "议事室与身份",
    "受邀协商（已举行）",
    "参加",
    "请假",
    "缺席",
    "出席率",
    "委员荐题",
    "清单建议",
    "回应建言",
    "星级",
)


def row_of(record: records.Record) -> list[Any]:
    """One person's figures as the workbook and the admin's table show them."""
    return [
        record.name,
        record.rooms,
        record.invited,
        record.attended,
        record.excused,
        record.absent,
        "—" if record.rate is None else f"{record.rate:.0%}",
        record.topics,
        record.list_suggestions,
        record.answers,
        records.stars_text(record.stars),
    ]


def records_workbook(session: Session, *, year: int, tz: str, now: datetime) -> Workbook:
    from openpyxl import Workbook  # imported when a workbook is made, not when the app starts

    workbook = Workbook()
    by_person = workbook.active
    assert by_person is not None
    everyone = records.records(session, year=year, tz=tz, now=now)
    write_sheet(by_person, f"{year}年按人员", HEADERS, [row_of(r) for r in everyone])
    per_room: list[Sequence[Any]] = []
    for room_id, room_name in session.execute(select(Room.id, Room.name).order_by(Room.name)).all():
        for record in records.records(session, year=year, tz=tz, now=now, room_id=room_id):
            per_room.append([room_name, *row_of(record)])
    write_sheet(workbook.create_sheet(), f"{year}年按议事室", ("议事室", *HEADERS), per_room)
    rule = records.star_rule(session)
    write_sheet(
        workbook.create_sheet(),
        "星级规则",
        ("星级", "出席率不低于", "贡献不少于（荐题+清单建议+回应）"),
        [[records.stars_text(r.stars), f"{r.min_attendance}%", r.min_contributions] for r in rule],
    )
    return workbook
