"""Consultation sessions with their invitees and RSVPs (read-only: they change in chat)."""

from __future__ import annotations

import builtins
from collections import Counter
from typing import Any, ClassVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.services import session_status
from bot.services.export import ROLE_NAMES
from bot.services.rsvp import RSVP_NAMES
from bot.services.session_notices import FORMAT_NAMES
from storage.models import (
    ConsultSession,
    Person,
    Proposal,
    Room,
    SessionInvitee,
    SessionTopic,
)

from .base import AdminView, annotated, lines, looked_up

SESSIONS = "协商活动"


# --- sessions ---------------------------------------------------------------------------------


class SessionView(AdminView, model=ConsultSession):
    name = "协商活动"
    name_plural = "协商活动"
    icon = "fa-solid fa-people-group"
    category = SESSIONS
    lookups: ClassVar[dict[str, type]] = {"room_id": Room, "convenor_id": Person}
    column_list: ClassVar[list[Any]] = [
        ConsultSession.id,
        ConsultSession.title,
        ConsultSession.room_id,
        ConsultSession.starts_at,
        ConsultSession.place,
        ConsultSession.format,
        ConsultSession.status,
        "rsvp",
    ]
    column_details_list: ClassVar[list[Any]] = [
        ConsultSession.id,
        ConsultSession.title,
        ConsultSession.room_id,
        ConsultSession.convenor_id,
        ConsultSession.starts_at,
        ConsultSession.ends_at,
        ConsultSession.place,
        ConsultSession.format,
        ConsultSession.materials_url,
        ConsultSession.status,
        ConsultSession.cancel_reason,
        ConsultSession.cancelled_at,
        "topics",
        "rsvp",
        "invitees",
        ConsultSession.lists_recorded_at,
    ]
    column_labels: ClassVar[dict[Any, str]] = {
        "id": "编号",
        "title": "主题",
        "room_id": "议事室",
        "convenor_id": "召集人",
        "starts_at": "开始时间",
        "ends_at": "结束时间",
        "place": "地点",
        "format": "形式",
        "materials_url": "材料",
        "status": "状态",
        "cancel_reason": "取消原因",
        "cancelled_at": "取消时间",
        "topics": "议题",
        "rsvp": "邀请与回复",
        "invitees": "参会人员",
        "lists_recorded_at": "三张清单录入时间",
    }
    column_formatters: ClassVar[dict[Any, Any]] = {
        "room_id": looked_up("room_id"),
        "convenor_id": looked_up("convenor_id"),
        "format": lambda m, _a: FORMAT_NAMES.get(m.format, m.format),
        "status": annotated("status"),  # 已安排 / 进行中 / 已举行 / 已取消 at this moment
        "rsvp": annotated("rsvp"),
        "topics": annotated("topics"),
        "invitees": lambda m, _a: lines(getattr(m, "admin", {}).get("invitees", [])),
    }
    column_searchable_list: ClassVar[list[Any]] = [ConsultSession.title, ConsultSession.place]
    column_sortable_list: ClassVar[list[Any]] = [ConsultSession.id, ConsultSession.starts_at, ConsultSession.status]
    column_default_sort: ClassVar[Any] = ("starts_at", True)

    def annotate(self, session: Session, rows: builtins.list[Any]) -> None:
        now = self.runtime.clock.now()
        for row in rows:
            row.admin["status"] = session_status.name_of(row, now)
        ids = [r.id for r in rows]
        tallies: dict[int, Counter[str]] = {}
        for session_id, rsvp, n in session.execute(
            select(SessionInvitee.session_id, SessionInvitee.rsvp, func.count())
            .where(SessionInvitee.session_id.in_(ids))
            .group_by(SessionInvitee.session_id, SessionInvitee.rsvp)
        ).all():
            tallies.setdefault(session_id, Counter())[rsvp] += n
        for row in rows:
            c = tallies.get(row.id, Counter())
            row.admin["rsvp"] = (
                f"邀请 {sum(c.values())} 人：参加 {c['attend']}，请假 {c['leave']}，未回复 {c['pending']}"
            )
        if len(rows) != 1:
            return
        row = rows[0]
        receipts = session.scalars(
            select(Proposal.receipt)
            .join(SessionTopic, SessionTopic.proposal_id == Proposal.id)
            .where(SessionTopic.session_id == row.id)
        ).all()
        row.admin["topics"] = "、".join(r or "" for r in receipts)
        invitees = session.execute(
            select(Person.id, Person.display_name, SessionInvitee.role, SessionInvitee.rsvp, SessionInvitee.rsvp_reason)
            .join(SessionInvitee, SessionInvitee.person_id == Person.id)
            .where(SessionInvitee.session_id == row.id)
            .order_by(SessionInvitee.role, Person.id)
        ).all()
        row.admin["invitees"] = [
            f"{name or f'用户{pid}'}（{ROLE_NAMES.get(role, role)}）：{RSVP_NAMES.get(rsvp, rsvp)}"
            + (f"，{reason}" if reason else "")
            for pid, name, role, rsvp, reason in invitees
        ]


class InviteeView(AdminView, model=SessionInvitee):
    name = "参会与回复"
    name_plural = "参会与回复"
    icon = "fa-solid fa-clipboard-check"
    category = SESSIONS
    lookups: ClassVar[dict[str, type]] = {"session_id": ConsultSession, "person_id": Person}
    column_list: ClassVar[list[Any]] = [
        SessionInvitee.session_id,
        SessionInvitee.person_id,
        SessionInvitee.role,
        SessionInvitee.rsvp,
        SessionInvitee.rsvp_reason,
        SessionInvitee.rsvp_at,
    ]
    column_labels: ClassVar[dict[Any, str]] = {
        "session_id": "协商活动",
        "person_id": "人员",
        "role": "身份",
        "rsvp": "回复",
        "rsvp_reason": "请假原因",
        "rsvp_at": "回复时间",
    }
    column_formatters: ClassVar[dict[Any, Any]] = {
        "session_id": looked_up("session_id"),
        "person_id": looked_up("person_id"),
        "role": lambda m, _a: ROLE_NAMES.get(m.role, m.role),
        "rsvp": lambda m, _a: RSVP_NAMES.get(m.rsvp, m.rsvp),
    }
    column_sortable_list: ClassVar[list[Any]] = [SessionInvitee.session_id, SessionInvitee.rsvp]
    column_default_sort: ClassVar[Any] = [("session_id", True), ("role", False)]
