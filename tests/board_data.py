"""A room with a year of work for the public board's tests: topics in several states, a held session with its
three lists, a published and rated result, a session ahead, and names and numbers that must not show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services import lists
from bot.services.list_parse import ParsedLine
from storage.db import transaction
from storage.models import ConsultSession, Person, Proposal, ResultDelivery, Room
from tests.transcript_givens import World, run_given

PHONE = "13812345678"
HOSTILE = "<script>alert(1)</script>"


@dataclass(frozen=True)
class Seeded:
    room_id: int
    answered: str  # the receipt of the proposal with a published result
    open: str  # a receipt still 已提交


def seed(factory: sessionmaker[Session], clock: FakeClock) -> Seeded:
    world = World(factory, clock, "wechat")
    captured: dict[str, str] = {}

    def given(line: str) -> None:
        name, _, args = line.partition(" ")
        run_given(world, name, args, captured)

    given("room 幸福社区议事室")
    given("room 青石镇议事室 town")
    given("convenor 老李 幸福社区议事室")
    given(f"proposal 王阿姨 幸福社区议事室 幸福路北段路灯坏了一个多月，晚上很黑，有事打{PHONE} {{YS1}}")
    given("support 李叔 {YS1}")
    given("support 赵姐 {YS1}")
    given("result 王阿姨 已更换路灯12盏，夜间照明恢复")
    given("proposal 李叔 幸福社区议事室 小区东门电动车乱停，消防通道被堵 {YS2}")
    given(f"proposal 赵姐 幸福社区议事室 {HOSTILE}垃圾站早上七点前就满了 {{YS3}}")
    given("proposal 孙大爷 青石镇议事室 别的议事室的事不该出现在这里")
    with transaction(factory) as session:
        room = session.scalars(select(Room).where(Room.name == "幸福社区议事室")).one()
        meeting = session.scalars(select(ConsultSession).where(ConsultSession.room_id == room.id)).one()
        meeting.title = "幸福路照明和停车协商会"
        meeting.place = "幸福社区党群服务中心二楼"
        suggestions = [ParsedLine(1, "", text="加装太阳能路灯，纳入年度维修计划", receipts=[captured["YS1"]])]
        duties = [
            ParsedLine(1, "", text="更换幸福路北段损坏路灯", unit="街道城管科", deadline=date(2026, 12, 31)),
            ParsedLine(2, "", text=f"东门施划停车位，联系人电话{PHONE}", unit="幸福社区居委会"),
        ]
        lists.store_items(
            session, consult=meeting, kind="suggestions", lines=suggestions, replace=False, now=clock.now()
        )
        lists.store_items(
            session, consult=meeting, kind="responsibilities", lines=duties, replace=False, now=clock.now()
        )
        for delivery, rating in zip(
            session.scalars(select(ResultDelivery).order_by(ResultDelivery.id)),
            ("satisfied", "basically", "unsatisfied"),
            strict=False,
        ):
            delivery.rating, delivery.rated_at = rating, clock.now()
        ahead = clock.now() + timedelta(days=20)
        session.add(
            ConsultSession(
                room_id=room.id,
                title="垃圾分类站清运时间协商",
                starts_at=ahead,
                ends_at=ahead + timedelta(hours=2),
                place="议事室",
            )
        )
        names = {"王阿姨": "王秀英", "李叔": "李建国"}
        for person in session.scalars(select(Person).where(Person.display_name.in_(names))):
            person.display_name = names[person.display_name or ""]
        assert session.scalars(select(Proposal).where(Proposal.receipt == captured["YS2"])).one()
        return Seeded(room.id, captured["YS1"], captured["YS2"])
