"""Rooms, people and their roles, invite codes. People appear by name and masked openid only;
rooms and roles can be edited, invite codes created."""

from __future__ import annotations

import builtins
import html
from datetime import timedelta
from typing import Any, ClassVar

import anyio
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from wtforms import Form, IntegerField, SelectField
from wtforms.validators import DataRequired, Length, NumberRange

from bot.services.experts import parse_tags
from bot.services.export import ROLE_NAMES
from bot.services.invites import create_invite
from bot.services.privacy import mask_id
from bot.services.rooms import LEVEL_NAMES, parent_problem
from storage.models import (
    Invite,
    Person,
    Role,
    Room,
    RoomLevel,
    RoomRole,
    SubscribeConsent,
)

from .base import AdminView, annotated, looked_up
from .qrcodes import QrCodeActions

CHANNEL_NAMES = {"wechat": "公众号", "wecom": "企业微信"}
CONSENT_NAMES = {"accepted": "同意", "rejected": "拒绝"}  # a person's answers to the subscription templates
ROLE_CHOICES = [(r.value, ROLE_NAMES[r.value]) for r in Role]
LEVEL_CHOICES = [(level.value, LEVEL_NAMES[level]) for level in RoomLevel]
ROOMS = "议事室与人员"


# --- rooms and people -------------------------------------------------------------------------


class RoomView(QrCodeActions, AdminView, model=Room):
    name = "议事室"
    name_plural = "议事室"
    icon = "fa-solid fa-house-flag"
    category = ROOMS
    can_create = True
    can_edit = True
    qr_kind = "room"
    column_list: ClassVar[list[Any]] = [Room.id, Room.name, Room.level, Room.parent, Room.created_at]
    column_details_list: ClassVar[list[Any]] = [
        Room.id,
        Room.name,
        Room.level,
        Room.parent,
        "board",
        "qrcode",
        Room.created_at,
    ]
    column_labels: ClassVar[dict[Any, str]] = {
        "id": "编号",
        "name": "名称",
        "level": "级别",
        "parent": "上级议事室",
        "board": "公示页",
        "qrcode": "民生码",
        "created_at": "创建时间",
    }
    column_formatters: ClassVar[dict[Any, Any]] = {
        "level": lambda m, _a: LEVEL_NAMES.get(m.level, m.level),
        "parent": lambda m, _a: m.parent.name if m.parent else "",
        "board": annotated("board"),
        "qrcode": annotated("qrcode"),
    }

    def annotate(self, session: Session, rows: builtins.list[Any]) -> None:
        if len(rows) != 1:  # the code and the board link are shown on the details page only
            return
        room = rows[0]
        link = f"{self.runtime.settings.public_base_url.rstrip('/')}/rooms/{room.id}"
        room.admin["board"] = Markup(
            f'<a href="{html.escape(link)}" target="_blank" rel="noopener">{html.escape(link)}</a>'
        )
        room.admin["qrcode"] = self.qr_cell(session, room)

    column_searchable_list: ClassVar[list[Any]] = [Room.name]
    column_sortable_list: ClassVar[list[Any]] = [Room.id, Room.name, Room.level]
    form_columns: ClassVar[list[Any]] = [Room.name, Room.level, Room.parent]
    form_overrides: ClassVar[dict[str, Any]] = {"level": SelectField}
    form_args: ClassVar[dict[str, dict[str, Any]]] = {
        "name": {"label": "名称", "validators": [DataRequired(message="请填写名称"), Length(max=100)]},
        "level": {"label": "级别", "choices": LEVEL_CHOICES},
        "parent": {"label": "上级议事室（村/社区在镇下，其余在区下；区不填）"},
    }

    # Checked before sqladmin opens its own transaction (on SQLite a second one would wait for it).
    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        await self._refuse_taken_name(data, None)
        await anyio.to_thread.run_sync(self._refuse_bad_parent, data, None)
        return await super().insert_model(request, data)

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        await self._refuse_taken_name(data, int(pk))
        await anyio.to_thread.run_sync(self._refuse_bad_parent, data, int(pk))
        return await super().update_model(request, pk, data)

    def _refuse_bad_parent(self, data: dict[str, Any], room_id: int | None) -> None:
        """The tree's rule (bot/services/rooms.py): a village under a town, the rest under the district."""
        chosen = data.get("parent")
        parent_id = getattr(chosen, "id", chosen)
        with self.session_maker() as session:
            parent = session.get(Room, int(parent_id)) if parent_id not in (None, "", "__None") else None
            problem = parent_problem(session, level=str(data.get("level") or ""), parent=parent, room_id=room_id)
        if problem:
            raise ValueError(problem)

    async def _refuse_taken_name(self, data: dict[str, Any], room_id: int | None) -> None:
        """A name another room already has is refused with a sentence, not a database error."""
        data["name"] = str(data.get("name") or "").strip()
        if await anyio.to_thread.run_sync(self._name_taken, data["name"], room_id):
            raise ValueError(f"已有名为「{data['name']}」的议事室，请换一个名称。")

    def _name_taken(self, name: str, room_id: int | None) -> bool:
        with self.session_maker() as session:
            stmt = select(Room.id).where(Room.name == name)
            if room_id is not None:
                stmt = stmt.where(Room.id != room_id)
            return session.scalar(stmt) is not None


class PersonView(AdminView, model=Person):
    name = "人员"
    name_plural = "人员"
    icon = "fa-solid fa-user"
    category = ROOMS
    column_list: ClassVar[list[Any]] = [
        Person.id,
        Person.display_name,
        Person.external_id,
        Person.channel,
        "roles",
        Person.expertise,
        Person.simulated,
        Person.unsubscribed,
        Person.unfollowed_at,
        "consents",
        Person.last_inbound_at,
        Person.created_at,
    ]
    column_labels: ClassVar[dict[Any, str]] = {
        "id": "编号",
        "display_name": "称呼",
        "external_id": "openid（已脱敏）",
        "channel": "渠道",
        "roles": "身份",
        "expertise": "专长",
        "simulated": "模拟用户",  # made by the chat simulator; never a real openid, even one alike
        "unsubscribed": "已退订广播",
        # Why a message did not reach someone: they unfollowed (nothing is sent until they follow again), or
        # they said no to the subscription notifications (docs/architecture.md, "Reaching people").
        "unfollowed_at": "取消关注于",
        "consents": "订阅通知",
        "last_inbound_at": "最近发消息",
        "created_at": "首次使用",
    }
    column_formatters: ClassVar[dict[Any, Any]] = {
        "external_id": lambda m, _a: mask_id(m.external_id),
        "channel": lambda m, _a: CHANNEL_NAMES.get(m.channel, m.channel),
        "display_name": lambda m, _a: m.display_name or f"用户{m.id}",
        "roles": annotated("roles"),
        "consents": annotated("consents"),
    }
    column_searchable_list: ClassVar[list[Any]] = [Person.display_name, Person.expertise]
    column_sortable_list: ClassVar[list[Any]] = [Person.id, Person.display_name, Person.last_inbound_at]
    # The office may correct how someone is called (称呼) and their expertise tags (专长, the 专家人才资源库
    # that 直通车 suggests from); nothing else of a person is edited here.
    can_edit = True
    form_columns: ClassVar[list[Any]] = [Person.display_name, Person.expertise]
    form_args: ClassVar[dict[str, dict[str, Any]]] = {
        "display_name": {"label": "称呼"},
        "expertise": {"label": "专长（几个词，用空格隔开，如：交通 规划）"},
    }

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        """Tags as 专长 in chat reads them: words of 2 to 10 characters, each once."""
        if "expertise" in data:
            data["expertise"] = " ".join(parse_tags(str(data.get("expertise") or ""))) or None
        return await super().update_model(request, pk, data)

    def annotate(self, session: Session, rows: builtins.list[Any]) -> None:
        stmt = (
            select(RoomRole.person_id, Room.name, RoomRole.role)
            .join(Room, Room.id == RoomRole.room_id)
            .where(RoomRole.person_id.in_([r.id for r in rows]))
            .order_by(Room.name)
        )
        roles: dict[int, list[str]] = {}
        for person_id, room, role in session.execute(stmt).all():
            roles.setdefault(person_id, []).append(f"{room}·{ROLE_NAMES.get(role, role)}")
        answers = session.execute(
            select(SubscribeConsent.person_id, SubscribeConsent.status, func.count())
            .where(SubscribeConsent.person_id.in_([r.id for r in rows]))
            .group_by(SubscribeConsent.person_id, SubscribeConsent.status)
        ).all()
        consents: dict[int, dict[str, int]] = {}
        for person_id, status, count in answers:
            consents.setdefault(person_id, {})[status] = count
        for row in rows:
            row.admin["roles"] = "；".join(roles.get(row.id, [])) or "群众"
            said = consents.get(row.id, {})
            parts = [f"{CONSENT_NAMES[k]} {said[k]} 项" for k in CONSENT_NAMES if said.get(k)]
            row.admin["consents"] = " · ".join(parts) or "未选择"


class RoomRoleView(AdminView, model=RoomRole):
    name = "身份"
    name_plural = "身份"
    icon = "fa-solid fa-id-badge"
    category = ROOMS
    can_edit = True
    can_delete = True
    lookups: ClassVar[dict[str, type]] = {"room_id": Room, "person_id": Person}
    column_list: ClassVar[list[Any]] = [
        RoomRole.id,
        RoomRole.room_id,
        RoomRole.person_id,
        RoomRole.role,
        RoomRole.created_at,
    ]
    column_labels: ClassVar[dict[Any, str]] = {
        "id": "编号",
        "room_id": "议事室",
        "person_id": "人员",
        "role": "身份",
        "created_at": "获得时间",
    }
    column_formatters: ClassVar[dict[Any, Any]] = {
        "room_id": looked_up("room_id"),
        "person_id": looked_up("person_id"),
        "role": lambda m, _a: ROLE_NAMES.get(m.role, m.role),
    }
    column_sortable_list: ClassVar[list[Any]] = [RoomRole.id, RoomRole.room_id, RoomRole.role]
    form_columns: ClassVar[list[Any]] = [RoomRole.role]
    form_overrides: ClassVar[dict[str, Any]] = {"role": SelectField}
    form_args: ClassVar[dict[str, dict[str, Any]]] = {"role": {"label": "身份", "choices": ROLE_CHOICES}}


def invite_form(rooms: builtins.list[tuple[int, str]]) -> type[Form]:
    """The invite form, with the rooms of the moment to choose from."""
    select_kw = {"class": "form-select"}

    class InviteForm(Form):
        room_id = SelectField("议事室", coerce=int, choices=rooms, render_kw=select_kw)
        role = SelectField("身份", choices=ROLE_CHOICES, render_kw=select_kw)
        days = IntegerField(
            "有效天数",
            default=7,
            validators=[NumberRange(min=1, max=90, message="有效天数为 1–90 天")],
            render_kw={"class": "form-control"},
        )

    return InviteForm


class InviteView(AdminView, model=Invite):
    name = "邀请码"
    name_plural = "邀请码"
    icon = "fa-solid fa-ticket"
    category = ROOMS
    can_create = True
    lookups: ClassVar[dict[str, type]] = {"room_id": Room, "used_by_id": Person}
    column_list: ClassVar[list[Any]] = [
        Invite.code,
        Invite.room_id,
        Invite.role,
        Invite.expires_at,
        Invite.used_by_id,
        Invite.used_at,
        Invite.created_at,
    ]
    column_labels: ClassVar[dict[Any, str]] = {
        "code": "邀请码",
        "room_id": "议事室",
        "role": "身份",
        "expires_at": "有效期至",
        "used_by_id": "使用人",
        "used_at": "使用时间",
        "created_at": "生成时间",
    }
    column_formatters: ClassVar[dict[Any, Any]] = {
        "room_id": looked_up("room_id"),
        "used_by_id": looked_up("used_by_id"),
        "role": lambda m, _a: ROLE_NAMES.get(m.role, m.role),
    }
    column_searchable_list: ClassVar[list[Any]] = [Invite.code]
    column_default_sort: ClassVar[Any] = ("created_at", True)

    async def scaffold_form(self, rules: builtins.list[str] | None = None) -> type[Form]:
        return invite_form(await anyio.to_thread.run_sync(self._room_choices))

    def _room_choices(self) -> builtins.list[tuple[int, str]]:
        with self.session_maker() as session:
            return [(int(i), str(n)) for i, n in session.execute(select(Room.id, Room.name).order_by(Room.name))]

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        return await anyio.to_thread.run_sync(self._insert, data)

    def _insert(self, data: dict[str, Any]) -> Invite:
        with self.session_maker() as session, session.begin():
            invite = create_invite(
                session,
                room_id=int(data["room_id"]),
                role=Role(data["role"]),
                now=self.runtime.clock.now(),
                validity=timedelta(days=int(data["days"])),
            )
            session.expunge(invite)
        return invite
