"""The web admin at /admin: login, the tables, statistics, Excel export, and hostile text shown as text."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from bot.clock import FakeClock
from bot.services import categories, delivery, proposals, subscriptions
from bot.services.admin_users import AdminUserError, create_admin, find_login, password_matches
from bot.services.privacy import Sealer, mask_id
from bot.services.proposals import NewProposal
from storage.db import transaction
from storage.models import (
    AdminUser,
    ConsultSession,
    ListItem,
    ListItemLink,
    Person,
    Proposal,
    ProposalStatus,
    ResultDelivery,
    Room,
    RoomRole,
    SessionInvitee,
)
from tests.helpers import ADMIN_ORIGIN, admin_post, admin_token

PASSWORD = "correct horse battery"
HOSTILE = "<script>alert(1)</script>'; DROP TABLE proposals; --"
FORMULA = '=HYPERLINK("http://evil.example","点我")'
PHONE = "13812345678"


@dataclass
class Seeded:
    rooms: dict[str, int] = field(default_factory=dict)
    openids: list[str] = field(default_factory=list)
    receipts: dict[str, str] = field(default_factory=dict)  # description -> receipt


def _at(month: int, day: int, hour: int = 7, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, 0, tzinfo=UTC)


def seed(factory: sessionmaker[Session], now: datetime) -> Seeded:
    """Five rooms of every level with a year of sessions, proposals, the three lists and ratings."""
    out = Seeded()
    sealer = Sealer("test-secret-key")
    with transaction(factory) as s:
        rooms = {
            "城关镇协商议事室": "town",
            "幸福社区议事室": "village",
            "东风村议事厅": "village",
            "新华机械厂议事室": "enterprise",
            "教育界别议事室": "sector",
        }
        for name, level in rooms.items():
            room = Room(name=name, level=level, created_at=_at(1, 5))
            s.add(room)
            s.flush()
            out.rooms[name] = room.id
        names = ["王芳", "李建国", "张秀英", "刘洋", "陈静", "杨伟", "赵敏", "黄磊", "周婷", "吴强"]
        people = []
        for i, name in enumerate(names):
            openid = f"oUpkN0{i:02d}SecretOpenIdValue{i:04d}"
            out.openids.append(openid)
            person = Person(channel="wechat" if i < 6 else "wecom", external_id=openid, display_name=name)
            s.add(person)
            people.append(person)
        s.flush()
        village = out.rooms["幸福社区议事室"]
        s.add_all(
            [
                RoomRole(room_id=village, person_id=people[6].id, role="convenor"),
                RoomRole(room_id=village, person_id=people[7].id, role="member"),
                RoomRole(room_id=village, person_id=people[8].id, role="representative"),
            ]
        )

        filed: list[Proposal] = []
        texts = [
            ("幸福路北段路灯坏了一个多月，晚上很黑", ProposalStatus.answered, village),
            ("小区门口电动车乱停，消防通道被堵", ProposalStatus.approved, village),
            ("垃圾分类投放点太远，老人不方便", ProposalStatus.accepted, village),
            ("村口道路坑洼，下雨积水", ProposalStatus.scheduled, out.rooms["东风村议事厅"]),
            ("希望增设老年食堂", ProposalStatus.declined, out.rooms["城关镇协商议事室"]),
            ("厂区门口路灯不亮", ProposalStatus.submitted, out.rooms["新华机械厂议事室"]),
            (HOSTILE, ProposalStatus.submitted, village),
            (FORMULA, ProposalStatus.submitted, village),
        ]
        for i, (text, status, room_id) in enumerate(texts):
            phone = dict(phone_masked="138****5678", phone_cipher=sealer.seal(PHONE)) if i == 0 else {}
            proposal = proposals.file_proposal(
                s,
                new=NewProposal(room_id=room_id, proposer_id=people[i % 6].id, description=text, **phone),
                now=now - timedelta(days=40 - i),
            )
            if status != ProposalStatus.submitted:
                if status == ProposalStatus.declined:
                    proposals.change_status(
                        s, proposal=proposal, to=status, actor_id=people[6].id, reason="不属于本级事项", now=now
                    )
                else:
                    proposals.change_status(
                        s, proposal=proposal, to=ProposalStatus.accepted, actor_id=people[6].id, reason=None, now=now
                    )
                    if status != ProposalStatus.accepted:
                        proposals.change_status(
                            s, proposal=proposal, to=status, actor_id=people[6].id, reason="审定", now=now
                        )
            out.receipts[text] = proposal.receipt or ""
            filed.append(proposal)

        # Sessions held this year: town 2/2, 幸福社区 2/3, 东风村 3/3 (+1 cancelled), enterprise 0/1, sector 1/1.
        plan = [
            ("城关镇协商议事室", "老旧小区改造协商会", _at(3, 10), "scheduled"),
            ("城关镇协商议事室", "集镇停车协商会", _at(9, 12), "scheduled"),
            ("幸福社区议事室", "幸福路路灯修复协商会", _at(6, 3), "scheduled"),
            ("幸福社区议事室", "电动车停放协商会", _at(12, 3), "scheduled"),
            ("东风村议事厅", "村道修缮协商会", _at(4, 8), "scheduled"),
            ("东风村议事厅", "人居环境整治协商会", _at(7, 15), "scheduled"),
            ("东风村议事厅", "村规民约修订协商会", _at(10, 20), "scheduled"),
            ("东风村议事厅", "取消的协商会", _at(11, 1), "cancelled"),
            ("教育界别议事室", "课后服务协商会", _at(5, 18), "scheduled"),
            ("新华机械厂议事室", "去年的协商会", _at(11, 1, year=2025), "scheduled"),
        ]
        meetings: dict[str, ConsultSession] = {}
        for room_name, title, start, status in plan:
            meeting = ConsultSession(
                room_id=out.rooms[room_name],
                convenor_id=people[6].id,
                title=title,
                starts_at=start,
                ends_at=start + timedelta(hours=2),
                place="社区二楼会议室",
                status=status,
                cancel_reason="场地临时维修" if status == "cancelled" else None,
            )
            s.add(meeting)
            s.flush()
            meetings[title] = meeting
        lamp = meetings["幸福路路灯修复协商会"]
        rsvps = ["attend", "attend", "attend", "leave", "pending"]
        for person, rsvp in zip(people[5:], rsvps, strict=True):
            s.add(
                SessionInvitee(
                    session_id=lamp.id,
                    person_id=person.id,
                    role="representative" if person is people[8] else "member",
                    rsvp=rsvp,
                    rsvp_reason="出差" if rsvp == "leave" else None,
                )
            )
        items = [
            ListItem(session_id=lamp.id, kind="suggestions", position=1, text="更换幸福路北段全部路灯"),
            ListItem(session_id=lamp.id, kind="suggestions", position=2, text=HOSTILE),
            ListItem(
                session_id=lamp.id,
                kind="responsibilities",
                position=1,
                text="更换路灯",
                unit="城关镇城建办",
                deadline=_at(7, 1),
                progress=100,
            ),
            ListItem(
                session_id=lamp.id,
                kind="feedback",
                position=1,
                text="更换路灯",
                result="已更换 12 盏路灯",
                adopted="adopted",
                published_at=_at(7, 5),
            ),
            ListItem(
                session_id=lamp.id,
                kind="feedback",
                position=2,
                text="加装监控",
                result="经费不足，暂缓",
                adopted="not_adopted",
                published_at=_at(7, 5),
            ),
            ListItem(
                session_id=meetings["村道修缮协商会"].id,
                kind="feedback",
                position=1,
                text="修补村道",
                result="已修补 800 米",
                adopted="adopted",
                published_at=_at(5, 1),
            ),
        ]
        s.add_all(items)
        s.flush()
        s.add(ListItemLink(item_id=items[0].id, proposal_id=filed[0].id))
        s.add(ListItemLink(item_id=items[3].id, proposal_id=filed[0].id))
        ratings = [
            (items[3], "satisfied"),
            (items[3], "satisfied"),
            (items[3], "basically"),
            (items[3], "unsatisfied"),
            (items[5], "satisfied"),
        ]
        for person, (item, rating) in zip(people, ratings, strict=False):
            s.add(
                ResultDelivery(
                    item_id=item.id,
                    person_id=person.id,
                    proposal_id=filed[0].id if item is items[3] else None,
                    delivered_at=_at(7, 5),
                    rating=rating,
                    rating_comment="修得很快" if rating == "satisfied" else None,
                    rated_at=_at(7, 6),
                )
            )
        create_admin(s, username="office", password=PASSWORD)
    return out


def login(client: TestClient, username: str = "office", password: str = PASSWORD) -> None:
    reply = admin_post(client, "/admin/login", {"username": username, "password": password}, follow_redirects=False)
    assert reply.status_code == 302, reply.text


@pytest.fixture
def seeded(factory: sessionmaker[Session], clock: FakeClock) -> Seeded:
    return seed(factory, clock.now())


@pytest.fixture
def admin(client: TestClient, seeded: Seeded) -> TestClient:
    login(client)
    return client


# --- login ------------------------------------------------------------------------------------


PAGES = [
    "/admin/",
    "/admin/stats",
    "/admin/room/list",
    "/admin/person/list",
    "/admin/proposal/list",
    "/admin/list-feedback/list",
    "/admin/export",
    "/admin/sensitive-word/list",
    "/admin/export/proposals.xlsx",
    "/admin/export/lists.xlsx",
    "/admin/records",
    "/admin/records/2026.xlsx",
    "/admin/star-rule/list",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_admin_page_needs_a_login(client: TestClient, seeded: Seeded, path: str) -> None:
    """Without a session every page, the statistics and the downloads redirect to the login page."""
    reply = client.get(path, follow_redirects=False)
    assert reply.status_code == 302
    assert reply.headers["location"].endswith("/admin/login")


def test_wrong_password_or_unknown_user_is_refused(client: TestClient, seeded: Seeded) -> None:
    """A wrong password and an unknown username get the same Chinese message and no session."""
    for username, password in [("office", "wrong password"), ("nobody", PASSWORD), ("office", "")]:
        reply = admin_post(client, "/admin/login", {"username": username, "password": password}, follow_redirects=False)
        assert reply.status_code == 400
        assert "用户名或密码不正确" in reply.text
        assert client.get("/admin/stats", follow_redirects=False).status_code == 302


def test_login_logout_and_a_forged_cookie(client: TestClient, seeded: Seeded) -> None:
    """A right password opens the admin; logging out closes it; a hand-made cookie opens nothing."""
    login(client)
    assert client.get("/admin/stats").status_code == 200
    client.get("/admin/logout")
    assert client.get("/admin/stats", follow_redirects=False).status_code == 302
    client.cookies.set("shangliang_admin", "eyJ1c2VyX2lkIjogMX0=.forged.signature", path="/admin")
    assert client.get("/admin/stats", follow_redirects=False).status_code == 302


def test_password_is_stored_as_an_argon2_hash(factory: sessionmaker[Session], seeded: Seeded) -> None:
    """The table holds an argon2id hash, never the password, and the hash verifies only the password."""
    with factory() as s:
        user = s.scalars(select(AdminUser)).one()
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        login = find_login(s, username="office")
        assert password_matches(login, PASSWORD)
        assert not password_matches(login, PASSWORD + "!")
        with pytest.raises(AdminUserError, match="已存在"):
            create_admin(s, username="office", password="another password")
        with pytest.raises(AdminUserError, match="至少"):
            create_admin(s, username="second", password="short")


def test_cli_creates_an_admin(
    factory: sessionmaker[Session], db_url: str, monkeypatch: pytest.MonkeyPatch, client: TestClient
) -> None:
    """`shangliang admin create` asks for the password twice, stores a hash, and that login works."""
    from bot.cli import app as cli
    from bot.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(cli, ["admin", "create", "zhengxieban"], input=f"{PASSWORD}\n{PASSWORD}\n")
        assert result.exit_code == 0, result.output
        assert "已新建管理员「zhengxieban」" in result.output
        assert PASSWORD not in result.output
        scripted = runner.invoke(cli, ["admin", "create", "script-user", "--password", "another long one"])
        assert scripted.exit_code == 0, scripted.output
        again = runner.invoke(cli, ["admin", "create", "zhengxieban", "--password", "yet another one"])
        assert again.exit_code == 1 and "已存在" in again.output
    finally:
        get_settings.cache_clear()
    with factory() as s:
        assert set(s.scalars(select(AdminUser.username))) == {"zhengxieban", "script-user"}
    login(client, "zhengxieban", PASSWORD)
    assert client.get("/admin/stats").status_code == 200


# --- the tables -------------------------------------------------------------------------------


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", html)


def test_list_pages_show_the_seeded_data_in_chinese(admin: TestClient, seeded: Seeded) -> None:
    """Every table shows its rows with Chinese labels and names instead of ids."""
    expect = {
        "/admin/room/list": ["议事室", "城关镇协商议事室", "镇/街道/园区", "教育界别议事室", "界别"],
        "/admin/person/list": ["人员", "王芳", "公众号", "幸福社区议事室·召集人", mask_id(seeded.openids[0])],
        "/admin/room-role/list": ["身份", "赵敏", "召集人", "群众代表"],
        "/admin/proposal/list": ["提议", seeded.receipts["村口道路坑洼，下雨积水"], "已列入协商", "138****5678"],
        "/admin/status-change/list": ["状态记录", "不予采纳", "不属于本级事项", "赵敏"],
        "/admin/consult-session/list": ["协商活动", "幸福路路灯修复协商会", "邀请 5 人：参加 3，请假 1，未回复 1"],
        "/admin/session-invitee/list": ["参会与回复", "周婷", "群众代表", "请假", "出差"],
        "/admin/list-suggestions/list": [
            "协商建议清单",
            "更换幸福路北段全部路灯",
            seeded.receipts[next(iter(seeded.receipts))],
        ],
        "/admin/list-responsibilities/list": ["责任落实清单", "城关镇城建办", "2026-07-01"],
        "/admin/list-feedback/list": [
            "结果反馈清单",
            "已更换 12 盏路灯",
            "经费不足，暂缓",
            "采纳情况",
            "已采纳",
            "未采纳",
        ],
        "/admin/result-delivery/list": ["结果评价", "基本满意", "不满意", "修得很快"],
        "/admin/invite/list": ["邀请码"],
    }
    for path, needles in expect.items():
        page = admin.get(path)
        assert page.status_code == 200, path
        html = _text(page.text)
        for needle in needles:
            assert needle in html, (path, needle)
    # The chrome is Chinese too.
    assert "退出登录" in admin.get("/admin/room/list").text


def test_no_page_shows_an_openid_or_a_phone_number(
    admin: TestClient, seeded: Seeded, factory: sessionmaker[Session]
) -> None:
    """Lists and details show masked openids and masked phones only, never the raw values or the cipher."""
    with factory() as s:
        proposal_id = s.scalar(select(Proposal.id).where(Proposal.phone_masked.is_not(None)))
        cipher = s.scalar(select(Proposal.phone_cipher).where(Proposal.id == proposal_id))
        person_id = s.scalar(select(Person.id).where(Person.external_id == seeded.openids[0]))
        session_id = s.scalar(select(ConsultSession.id).where(ConsultSession.title == "幸福路路灯修复协商会"))
    pages = [
        "/admin/person/list",
        f"/admin/person/details/{person_id}",
        "/admin/proposal/list",
        f"/admin/proposal/details/{proposal_id}",
        f"/admin/consult-session/details/{session_id}",
        "/admin/result-delivery/list",
        "/admin/session-invitee/list",
    ]
    for path in pages:
        html = admin.get(path).text
        for openid in seeded.openids:
            assert openid not in html, path
        assert PHONE not in html and (cipher or "-") not in html, path
    details = admin.get(f"/admin/proposal/details/{proposal_id}").text
    assert "138****5678" in details and "状态记录" in details and "已反馈" in details
    assert "周婷（群众代表）：请假，出差" in admin.get(f"/admin/consult-session/details/{session_id}").text


def test_hostile_text_is_shown_literally(admin: TestClient, seeded: Seeded, factory: sessionmaker[Session]) -> None:
    """A proposal reading `<script>…` or `'; DROP TABLE …` is escaped on every page and harms nothing."""
    with factory() as s:
        hostile_id = s.scalar(select(Proposal.id).where(Proposal.description == HOSTILE))
    for path in ["/admin/proposal/list", f"/admin/proposal/details/{hostile_id}", "/admin/list-suggestions/list"]:
        html = admin.get(path).text
        assert "<script>alert(1)</script>" not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path
        assert "DROP TABLE proposals" in html, path
    # Searching for it is a harmless LIKE, and the table is still there.
    found = admin.get("/admin/proposal/list", params={"search": "'; DROP TABLE proposals; --"})
    assert found.status_code == 200 and seeded.receipts[HOSTILE] in found.text
    with factory() as s:
        assert s.scalar(select(Proposal.id).where(Proposal.description == HOSTILE)) == hostile_id


def test_rooms_and_roles_can_be_edited(admin: TestClient, seeded: Seeded, factory: sessionmaker[Session]) -> None:
    """An admin renames a room, changes its level and a person's role; proposals stay read-only."""
    room_id = seeded.rooms["东风村议事厅"]
    reply = admin_post(
        admin,
        f"/admin/room/edit/{room_id}",
        data={"name": "东风村协商议事厅", "level": "village", "save": "保存"},
        follow_redirects=False,
    )
    assert reply.status_code == 302 and reply.headers["location"].endswith("/admin/room/list")
    with factory() as s:
        assert s.get(Room, room_id).name == "东风村协商议事厅"  # type: ignore[union-attr]
        role = s.scalars(select(RoomRole).where(RoomRole.role == "member")).one()
    reply = admin_post(
        admin,
        f"/admin/room-role/edit/{role.id}",
        data={"role": "representative", "save": "保存"},
        follow_redirects=False,
    )
    assert reply.status_code == 302
    with factory() as s:
        assert s.get(RoomRole, role.id).role == "representative"  # type: ignore[union-attr]
    assert admin.get("/admin/proposal/edit/1").status_code == 403
    assert admin.get("/admin/room/edit/1").text.count("保存") >= 1


def test_a_persons_name_can_be_corrected(admin: TestClient, seeded: Seeded, factory: sessionmaker[Session]) -> None:
    """The office corrects how someone is called (称呼); their openid and roles are not editable there."""
    with factory() as s:
        person = s.scalars(select(Person).order_by(Person.id)).first()
        assert person is not None
        person_id, openid = person.id, person.external_id
    form = admin.get(f"/admin/person/edit/{person_id}").text
    assert "称呼" in form and openid not in form
    reply = admin_post(
        admin,
        f"/admin/person/edit/{person_id}",
        data={"display_name": "王建国", "save": "保存"},
        follow_redirects=False,
    )
    assert reply.status_code == 302
    with factory() as s:
        changed = s.get(Person, person_id)
        assert changed is not None and changed.display_name == "王建国" and changed.external_id == openid


def test_invite_codes_are_created_from_the_admin(
    admin: TestClient, seeded: Seeded, factory: sessionmaker[Session]
) -> None:
    """Creating an invite picks a room and role; the code shows in the list with its expiry."""
    room_id = seeded.rooms["教育界别议事室"]
    form = admin.get("/admin/invite/create").text
    assert "教育界别议事室" in form and "群众代表" in form
    reply = admin_post(
        admin,
        "/admin/invite/create",
        data={"room_id": str(room_id), "role": "member", "days": "7", "save": "保存"},
        follow_redirects=False,
    )
    assert reply.status_code == 302, reply.text
    with factory() as s:
        from storage.models import Invite

        invite = s.scalars(select(Invite)).one()
    assert invite.room_id == room_id and invite.role == "member"
    assert invite.code in admin.get("/admin/invite/list").text


# --- statistics and export --------------------------------------------------------------------


def test_statistics_page_draws_the_seeded_figures(admin: TestClient, seeded: Seeded) -> None:
    """Sessions per room against the minimum, proposals by status and tag, adoption and satisfaction."""
    html = admin.get("/admin/stats").text
    sessions = dict(re.findall(r'data-kind="sessions" data-label="([^"]+)" data-value="(\d+)"', html))
    assert sessions == {
        "城关镇协商议事室（镇/街道/园区）": "2",
        "幸福社区议事室（村/社区）": "1",  # 电动车停放协商会 of 12月3日 is next week's: not held yet
        "东风村议事厅（村/社区）": "3",
        "新华机械厂议事室（企事业单位）": "0",
        "教育界别议事室（界别）": "1",
    }
    # One dashed minimum per room: town 2, two villages 3, enterprise and sector 1.
    assert sorted(re.findall(r'class="target" data-value="(\d+)"', html)) == ["1", "1", "2", "3", "3"]
    status = dict(re.findall(r'data-kind="status" data-label="([^"]+)" data-value="(\d+)"', html))
    assert status["已提交"] == "3" and status["已受理"] == "1" and status["不予采纳"] == "1" and status["已反馈"] == "1"
    tags = dict(re.findall(r'data-kind="tags" data-label="([^"]+)" data-value="(\d+)"', html))
    # Categories from the fixed list, never raw words (路灯, 号楼 ...): two lamps, one canteen.
    assert tags["公共设施"] == "2" and tags["养老服务"] == "1" and tags["其他"] == "2"
    assert set(tags) <= set(categories.CATEGORIES)
    assert 'data-kind="adoption" data-value="0.6667"' in html  # 2 of 3 published feedback items adopted
    assert "待定不计入" in html and "已发布 3 条：已采纳 2、部分采纳 0、未采纳 1。" in html
    assert 'data-kind="satisfaction" data-value="0.8000"' in html  # 4 of 5 ratings satisfied or basically
    assert "尚未达到最低次数：幸福社区议事室、新华机械厂议事室" in html


def _rows(content: bytes, sheet: int = 0) -> list[list[object]]:
    workbook = load_workbook(io.BytesIO(content))
    ws = workbook.worksheets[sheet]
    return [list(row) for row in ws.iter_rows(values_only=True)]


def _row_of(html: str, needle: str) -> str:
    """The table row of a list page that holds `needle`, as text."""
    rows = re.findall(r"<tr\b.*?</tr>", html, re.S)
    found = [_text(re.sub(r"<[^>]+>", " ", row)) for row in rows if needle in row]
    assert len(found) == 1, (needle, len(found))
    return found[0]


def test_sessions_are_held_once_they_have_ended(
    admin: TestClient, seeded: Seeded, clock: FakeClock, factory: sessionmaker[Session]
) -> None:
    """The admin's sessions table and the sessions export say 已举行 for a session that has ended, 已安排
    for one still ahead, 已取消 (with its reason) for a cancelled one; when its day has passed, 12月3日's
    is 已举行 too."""
    page = admin.get("/admin/consult-session/list?pageSize=100").text
    assert "已举行" in _row_of(page, "幸福路路灯修复协商会")
    assert "已安排" in _row_of(page, "电动车停放协商会")
    assert "已取消" in _row_of(page, "取消的协商会")
    sessions = _rows(admin.get("/admin/export/sessions.xlsx").content)
    status = {row[3]: row[sessions[0].index("状态")] for row in sessions[1:]}
    assert status["幸福路路灯修复协商会"] == "已举行" and status["电动车停放协商会"] == "已安排"
    assert status["取消的协商会"] == "已取消"
    reasons = {row[3]: row[sessions[0].index("取消原因")] for row in sessions[1:]}
    assert reasons["取消的协商会"] == "场地临时维修" and reasons["幸福路路灯修复协商会"] in ("", None)
    with factory() as s:
        cancelled = s.scalar(select(ConsultSession.id).where(ConsultSession.title == "取消的协商会"))
    details = _text(admin.get(f"/admin/consult-session/details/{cancelled}").text)
    assert "已取消" in details and "取消原因" in details and "场地临时维修" in details

    clock.set(datetime(2026, 12, 4, 2, 0, tzinfo=UTC))
    login(admin)  # the office's login of the 23rd has lapsed by the 4th
    assert "已举行" in _row_of(admin.get("/admin/consult-session/list?pageSize=100").text, "电动车停放协商会")
    sessions = _rows(admin.get("/admin/export/sessions.xlsx").content)
    assert {row[3]: row[sessions[0].index("状态")] for row in sessions[1:]}["电动车停放协商会"] == "已举行"


def test_excel_exports_mask_phones_and_never_hold_openids(admin: TestClient, seeded: Seeded) -> None:
    """Proposals, sessions and the three lists download as .xlsx; phones masked, no openid anywhere."""
    reply = admin.get("/admin/export/proposals.xlsx")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "filename*=UTF-8''" in reply.headers["content-disposition"]
    rows = _rows(reply.content)
    header, body = rows[0], rows[1:]
    assert header[:7] == ["受理编号", "议事室", "来源", "提议人", "内容", "分类", "状态"]
    assert len(body) == 8
    by_receipt = {row[0]: row for row in body}
    lamp = by_receipt[seeded.receipts["幸福路北段路灯坏了一个多月，晚上很黑"]]
    assert lamp[1] == "幸福社区议事室" and lamp[6] == "已反馈" and lamp[7] == "138****5678"
    assert lamp[5] == "公共设施"  # categories from the fixed list, not jieba's words (北段, 号楼 ...)
    assert by_receipt[seeded.receipts["小区门口电动车乱停，消防通道被堵"]][5] == "交通出行、安全隐患"
    assert by_receipt[seeded.receipts[HOSTILE]][4] == HOSTILE
    # A formula typed by a resident stays text.
    formula_row = by_receipt[seeded.receipts[FORMULA]]
    assert formula_row[4] == FORMULA
    workbook = load_workbook(io.BytesIO(reply.content))
    cells = [c for row in workbook.active.iter_rows() for c in row if c.value == FORMULA]  # type: ignore[union-attr]
    assert cells and all(c.data_type == "s" for c in cells)

    sessions = _rows(admin.get("/admin/export/sessions.xlsx").content)
    lamp_session = next(r for r in sessions if r[3] == "幸福路路灯修复协商会")
    header = sessions[0]
    assert lamp_session[header.index("邀请人数")] == 5
    assert lamp_session[header.index("其中群众代表")] == 1
    assert (
        lamp_session[header.index("参加")],
        lamp_session[header.index("请假")],
        lamp_session[header.index("未回复")],
    ) == (3, 1, 1)
    assert len(sessions) == 11

    lists = admin.get("/admin/export/lists.xlsx").content
    names = load_workbook(io.BytesIO(lists)).sheetnames
    assert names == ["协商建议清单", "责任落实清单", "结果反馈清单"]
    suggestions = _rows(lists, 0)
    assert [
        "幸福路路灯修复协商会",
        "幸福社区议事室",
        1,
        "更换幸福路北段全部路灯",
        seeded.receipts["幸福路北段路灯坏了一个多月，晚上很黑"],
    ] in suggestions
    responsibilities = _rows(lists, 1)
    assert responsibilities[1][3:7] == ["更换路灯", "城关镇城建办", datetime(2026, 7, 1, 15, 0), 100]
    feedback = _rows(lists, 2)
    lamp_feedback = next(r for r in feedback if r[4] == "已更换 12 盏路灯")
    assert lamp_feedback[5] == "已采纳" and lamp_feedback[7:10] == [2, 1, 1]

    for content in (reply.content, admin.get("/admin/export/sessions.xlsx").content, lists):
        text = repr([_rows(content, i) for i in range(len(load_workbook(io.BytesIO(content)).sheetnames))])
        for openid in seeded.openids:
            assert openid not in text
        assert PHONE not in text
    assert admin.get("/admin/export/people.xlsx").status_code == 404


def test_export_page_links_every_download(admin: TestClient, seeded: Seeded) -> None:
    """The export page offers the three downloads."""
    html = admin.get("/admin/export").text
    for name in ("proposals", "sessions", "lists"):
        assert f"/admin/export/{name}.xlsx" in html


def test_templates_ship_with_the_package() -> None:
    """The admin's templates are where package-data says they are."""
    import bot.web.admin as admin_package

    root = Path(admin_package.__file__).parent / "templates"
    assert (root / "admin" / "stats.html").exists() and (root / "sqladmin" / "login.html").exists()


def test_sensitive_words_are_kept_in_the_admin(admin: TestClient, factory: sessionmaker[Session]) -> None:
    """敏感词: the office adds, refuses a duplicate or a word of punctuation, and deletes; the check follows at once."""
    from bot.services import moderation
    from storage.models import SensitiveWord

    form = admin.get("/admin/sensitive-word/create").text
    assert "敏感词" in form and "备注" in form
    added = admin_post(
        admin,
        "/admin/sensitive-word/create",
        data={"word": " 骗子 ", "note": "人身攻击", "save": "保存"},
        follow_redirects=False,
    )
    assert added.status_code == 302, added.text
    for word, why in [("骗子", "已经在敏感词里了"), ("，。 ", "不能只有空格或标点")]:
        refused = admin_post(admin, "/admin/sensitive-word/create", data={"word": word, "save": "保存"})
        assert why in refused.text
    with factory() as s:
        kept = s.scalars(select(SensitiveWord)).one()
        assert kept.word == "骗子" and moderation.matches(s, "他是骗子") == ["骗子"]
    assert "骗子" in admin.get("/admin/sensitive-word/list").text
    token = admin_token(admin, "/admin/sensitive-word/list")
    deleted = admin.delete(
        f"/admin/sensitive-word/delete?pks={kept.id}", headers={"Origin": ADMIN_ORIGIN, "X-CSRF-Token": token}
    )
    assert deleted.status_code == 200, deleted.text
    with factory() as s:
        assert s.scalars(select(SensitiveWord)).first() is None and moderation.matches(s, "他是骗子") == []


def test_the_people_list_says_who_unfollowed_and_what_they_said_to_subscriptions(
    admin: TestClient, seeded: Seeded, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """Why a message did not reach someone is visible to the office: 取消关注于 with the time, and their
    answers to the subscription notifications (同意 / 拒绝, 未选择 when they never answered)."""
    with factory.begin() as s:
        first = s.scalars(select(Person).order_by(Person.id)).first()
        assert first is not None
        delivery.mark_unfollowed(s, person=first, now=clock.now())
        for template, status in (("tpl-result", "accepted"), ("tpl-session", "accepted"), ("tpl-news", "rejected")):
            subscriptions.set_choice(s, person_id=first.id, template_id=template, status=status, now=clock.now())
        people_count = len(s.scalars(select(Person.id)).all())
    page = admin.get("/admin/person/list").text
    assert "取消关注于" in page and "订阅通知" in page
    assert page.count("同意 2 项 · 拒绝 1 项") == 1 and page.count("未选择") == people_count - 1
