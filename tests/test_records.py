"""履职档案 in the admin: the table per person and per room, the Excel for the yearly review, and the star
rule the office sets (the chat side, 我的履职 and 到会, is in tests/transcripts/member/my_record_two_sessions.chat)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services import proposals, records
from bot.services.admin_users import create_admin
from bot.services.proposals import NewProposal
from storage.db import transaction
from storage.models import ConsultSession, ListItem, Person, Proposal, Role, Room, RoomRole, SessionInvitee, StarRule
from tests.helpers import admin_post

PASSWORD = "correct horse battery"
TZ = "Asia/Shanghai"


@dataclass(frozen=True)
class World:
    happy: int  # 幸福社区议事室
    peace: int  # 和平村议事室


def _session(
    s: Session, room_id: int, title: str, starts: datetime, answers: dict[int, str], **extra: object
) -> ConsultSession:
    meeting = ConsultSession(
        room_id=room_id, title=title, starts_at=starts, ends_at=starts + timedelta(hours=2), **extra
    )
    s.add(meeting)
    s.flush()
    s.add_all(SessionInvitee(session_id=meeting.id, person_id=pid, rsvp=rsvp) for pid, rsvp in answers.items())
    s.flush()
    return meeting


def seed(factory: sessionmaker[Session], now: datetime) -> World:
    """Two rooms; 刘委员 came to both held sessions (marked once, said 参加 once), recommended a topic and made a
    list suggestion; 陈代表 asked leave for one and did not answer the other; 赵委员 came to one of 和平村."""
    with transaction(factory) as s:
        happy, peace = Room(name="幸福社区议事室", level="village"), Room(name="和平村议事室", level="village")
        s.add_all([happy, peace])
        s.flush()
        liu = Person(channel="wechat", external_id="o-liu", display_name="刘委员")
        chen = Person(channel="wechat", external_id="o-chen", display_name="陈代表")
        zhao = Person(channel="wechat", external_id="o-zhao", display_name="赵委员")
        s.add_all([liu, chen, zhao])
        s.flush()
        s.add_all(
            [
                RoomRole(room_id=happy.id, person_id=liu.id, role=Role.member),
                RoomRole(room_id=happy.id, person_id=chen.id, role=Role.representative),
                RoomRole(room_id=peace.id, person_id=zhao.id, role=Role.member),
            ]
        )
        s.flush()
        first = _session(s, happy.id, "路灯协商", now - timedelta(days=10), {liu.id: "pending", chen.id: "leave"})
        records.mark_present(s, consult=first, person_ids=[liu.id], now=now - timedelta(days=10) + timedelta(hours=3))
        _session(s, happy.id, "停车协商", now - timedelta(days=5), {liu.id: "attend", chen.id: "pending"})
        cancelled = {liu.id: "leave", chen.id: "leave"}
        _session(s, happy.id, "取消了的", now - timedelta(days=3), cancelled, status="cancelled")
        _session(s, happy.id, "还没开", now + timedelta(days=3), {liu.id: "attend", chen.id: "attend"})
        _session(s, peace.id, "灌溉协商", now - timedelta(days=2), {zhao.id: "attend"})
        filed = proposals.file_proposal(
            s, new=NewProposal(room_id=happy.id, proposer_id=liu.id, description="小区门口电动车乱停"), now=now
        )
        assert filed.source == "member"  # 委员荐题: filed by a member of the room
        s.add(ListItem(session_id=first.id, kind="suggestions", position=1, text="加装两盏路灯", person_id=liu.id))
        create_admin(s, username="office", password=PASSWORD)
        return World(happy.id, peace.id)


@pytest.fixture
def world(factory: sessionmaker[Session], clock: FakeClock) -> World:
    return seed(factory, clock.now())


@pytest.fixture
def admin(client: TestClient, world: World) -> TestClient:
    reply = admin_post(client, "/admin/login", {"username": "office", "password": PASSWORD}, follow_redirects=False)
    assert reply.status_code == 302, reply.text
    return client


def _rows(content: bytes, sheet: int) -> list[list[object]]:
    workbook = load_workbook(io.BytesIO(content))
    return [list(row) for row in workbook.worksheets[sheet].iter_rows(values_only=True)]


def test_records_count_held_sessions_marked_attendance_and_contributions(
    factory: sessionmaker[Session], clock: FakeClock, world: World
) -> None:
    """Marked present or said 参加 is attended, 请假 excused, the rest absent; cancelled and future sessions
    do not count; with the default rule 100 % and two contributions is ★★★★."""
    with factory() as s:
        found = {r.name: r for r in records.records(s, year=2026, tz=TZ, now=clock.now())}
    liu, chen, zhao = found["刘委员"], found["陈代表"], found["赵委员"]
    assert (liu.invited, liu.attended, liu.excused, liu.absent) == (2, 2, 0, 0)
    assert (liu.topics, liu.list_suggestions, liu.answers, liu.stars) == (1, 1, 0, 4)
    assert (chen.invited, chen.attended, chen.excused, chen.absent, chen.stars) == (2, 0, 1, 1, 1)
    assert (zhao.invited, zhao.attended, zhao.stars) == (1, 1, 2)
    assert "幸福社区议事室·委员" in liu.rooms and "幸福社区议事室·群众代表" in chen.rooms


def test_stars_follow_the_rule_and_nobody_invited_has_none() -> None:
    """The most stars whose row is reached in both rate and contributions; no held session, no stars."""
    rule = (records.Rule(1, 0, 0), records.Rule(2, 60, 0), records.Rule(3, 60, 2))
    record = records.Record(1, "某", "")
    assert records.stars_for(record, rule) is None and records.stars_text(None) == "—"
    record.sessions = [records.Attendance(1, "会", datetime(2026, 1, 1), "室", records.ATTENDED)] * 3
    record.sessions += [records.Attendance(2, "会", datetime(2026, 1, 1), "室", records.ABSENT)] * 2
    assert records.stars_for(record, rule) == 2  # 60 %, no contribution
    record.topics, record.answers = 1, 1
    assert records.stars_for(record, rule) == 3
    assert records.stars_text(3) == "★★★☆☆"


def test_admin_shows_records_per_person_and_per_room(admin: TestClient, world: World) -> None:
    """The 履职档案 page: everyone by default, one room's people and that room's sessions when chosen."""
    page = admin.get("/admin/records")
    assert page.status_code == 200
    assert "刘委员" in page.text and "赵委员" in page.text and "★★★★☆" in page.text
    assert "出席率 ≥ 85%，且贡献 ≥ 2 项" in page.text
    one_room = admin.get(f"/admin/records?room={world.peace}").text
    assert "赵委员" in one_room and "刘委员" not in one_room


def test_excel_export_and_the_star_rule_the_office_sets(
    admin: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    """The yearly workbook lists each person and each room's people with their stars; after the office
    edits 星级规则 in the admin the stars follow its rule, and the rule is in the workbook."""
    reply = admin.get("/admin/records/2026.xlsx")
    assert reply.status_code == 200 and "records-2026.xlsx" in reply.headers["content-disposition"]
    people = _rows(reply.content, 0)
    assert people[0][:7] == ["姓名", "议事室与身份", "受邀协商（已举行）", "参加", "请假", "缺席", "出席率"]
    liu = next(r for r in people if r[0] == "刘委员")
    assert liu[2:] == [2, 2, 0, 0, "100%", 1, 1, 0, "★★★★☆"]
    by_room = _rows(reply.content, 1)
    assert ["和平村议事室", "赵委员", "和平村议事室·委员", 1, 1, 0, 0, "100%"] in [r[:8] for r in by_room]

    for stars, rate, items in (("1", "0", "0"), ("2", "100", "0"), ("3", "100", "5")):
        created = admin_post(
            admin,
            "/admin/star-rule/create",
            {"stars": stars, "min_attendance": rate, "min_contributions": items, "save": "保存"},
            follow_redirects=False,
        )
        assert created.status_code == 302, created.text
    with factory() as s:
        assert len(s.scalars(select(StarRule)).all()) == 3
        assert s.scalars(select(Proposal.source)).all() == ["member"]

    again = admin.get("/admin/records/2026.xlsx").content
    rated = {r[0]: r[-1] for r in _rows(again, 0)[1:]}
    assert rated == {"刘委员": "★★☆☆☆", "陈代表": "★☆☆☆☆", "赵委员": "★★☆☆☆"}
    assert ["★★★☆☆", "100%", 5] in _rows(again, 2)
