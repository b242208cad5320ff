"""Proposals with their status history, photos and place (read-only: they change in chat). Phones appear
masked; an administrator may press 显示电话 (a POST, CSRF-guarded) to call the resident back, and that
is recorded (bot/services/audit.py, the 个人信息查看记录 table)."""

from __future__ import annotations

import builtins
import html
from collections.abc import Callable
from typing import Any, ClassVar

import anyio
from markupsafe import Markup
from sqladmin import expose
from sqladmin.filters import StaticValuesFilter
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from bot.services import audit, photos
from bot.services.export import FILE_NAMES, SOURCE_NAMES
from bot.services.proposals import STATUS_NAMES
from storage.db import transaction
from storage.models import (
    AccessAudit,
    Person,
    Proposal,
    ProposalSupporter,
    Room,
    StatusChange,
)

from .base import AdminView, annotated, cut, lines, looked_up
from .qrcodes import QrCodeActions

PROPOSALS = "提议"


# --- proposals --------------------------------------------------------------------------------


class ChoiceFilter(StaticValuesFilter):
    """sqladmin's fixed-values filter with 全部 instead of All."""

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[[Select[Any]], Any]
    ) -> builtins.list[tuple[str, str]]:
        return [("__all", "全部"), *self.values]


STATUS_FILTER = ChoiceFilter(Proposal.status, [(k, v) for k, v in STATUS_NAMES.items()], title="状态")


class ProposalView(QrCodeActions, AdminView, model=Proposal):
    name = "提议"
    name_plural = "提议"
    icon = "fa-solid fa-lightbulb"
    category = PROPOSALS
    qr_kind = "proposal"
    lookups: ClassVar[dict[str, type]] = {
        "room_id": Room,
        "proposer_id": Person,
        "merged_into_id": Proposal,
    }
    column_list: ClassVar[list[Any]] = [
        Proposal.receipt,
        Proposal.room_id,
        Proposal.description,
        Proposal.tags,
        Proposal.status,
        Proposal.phone_masked,
        Proposal.created_at,
    ]
    column_details_list: ClassVar[list[Any]] = [
        Proposal.receipt,
        Proposal.room_id,
        Proposal.source,
        Proposal.proposer_id,
        "supporters",
        Proposal.description,
        Proposal.tags,
        Proposal.status,
        Proposal.phone_masked,
        "place",
        "photos",
        Proposal.merged_into_id,
        Proposal.approval_unit,
        Proposal.approved_at,
        "history",
        "qrcode",
        Proposal.created_at,
        Proposal.updated_at,
    ]
    column_labels: ClassVar[dict[Any, str]] = {
        "receipt": "受理编号",
        "room_id": "议事室",
        "source": "来源",
        "proposer_id": "提议人",
        "supporters": "附议人数",
        "description": "内容",
        "tags": "分类",
        "status": "状态",
        "phone_masked": "联系电话",
        "location_label": "位置",
        "place": "位置",
        "photos": "照片",
        "merged_into_id": "合并到",
        "approval_unit": "审定单位",
        "approved_at": "审定时间",
        "history": "状态记录",
        "qrcode": "民生码",
        "created_at": "提交时间",
        "updated_at": "最近更新",
    }
    column_formatters: ClassVar[dict[Any, Any]] = {
        "room_id": looked_up("room_id"),
        "description": cut("description", 60),
        "status": lambda m, _a: STATUS_NAMES.get(m.status, m.status),
    }
    column_formatters_detail: ClassVar[dict[Any, Any]] = {
        "room_id": looked_up("room_id"),
        "proposer_id": looked_up("proposer_id"),
        "merged_into_id": looked_up("merged_into_id"),
        "source": lambda m, _a: SOURCE_NAMES.get(m.source, m.source),
        "status": lambda m, _a: STATUS_NAMES.get(m.status, m.status),
        "supporters": annotated("supporters"),
        "history": lambda m, _a: lines(getattr(m, "admin", {}).get("history", [])),
        "phone_masked": annotated("phone"),
        "place": annotated("place"),
        "photos": annotated("photos"),
        "qrcode": annotated("qrcode"),
    }
    column_searchable_list: ClassVar[list[Any]] = [Proposal.receipt, Proposal.description, Proposal.tags]
    column_sortable_list: ClassVar[list[Any]] = [Proposal.receipt, Proposal.status, Proposal.created_at]
    column_default_sort: ClassVar[Any] = ("created_at", True)
    column_filters: ClassVar[list[Any]] = [STATUS_FILTER]

    def annotate(self, session: Session, rows: builtins.list[Any]) -> None:
        if len(rows) != 1:  # the history is shown on the details page only
            return
        proposal = rows[0]
        proposal.admin["supporters"] = str(
            session.scalar(
                select(func.count()).select_from(ProposalSupporter).where(ProposalSupporter.proposal_id == proposal.id)
            )
        )
        changes = session.scalars(
            select(StatusChange).where(StatusChange.proposal_id == proposal.id).order_by(StatusChange.id)
        ).all()
        actors = dict(
            session.execute(
                select(Person.id, Person.display_name).where(Person.id.in_({c.actor_id for c in changes} - {None}))
            ).all()
        )
        self._annotate_media(session, proposal)
        proposal.admin["qrcode"] = self.qr_cell(session, proposal)
        proposal.admin["history"] = [
            f"{self._fmt_time(c.created_at)} {STATUS_NAMES.get(c.from_status or '', c.from_status or '—')} → "
            f"{STATUS_NAMES.get(c.to_status, c.to_status)}（{(actors.get(c.actor_id) if c.actor_id else None) or '系统'}）"
            + (f"：{c.reason}" if c.reason else "")
            for c in changes
        ]

    def _annotate_media(self, session: Session, proposal: Any) -> None:
        """Its photos (served to signed-in admins only, below), its place, and the 显示电话 button."""
        base = self._admin_ref.base_url.rstrip("/")
        kept = photos.of_item(session, kind=photos.PROPOSAL, item_id=proposal.id)
        place = kept.place.text() if kept.place else proposal.location_label or ""
        proposal.admin["place"] = place
        shown = []
        for number, photo in enumerate(kept.photos, 1):
            if photo.status == "stored":
                src = f"{base}/proposal/photo/{photo.attachment_id}"
                shown.append(
                    f'<a href="{src}" target="_blank" rel="noopener"><img src="{src}" alt="照片 {number}" '
                    'style="width:240px;max-width:100%;height:auto;margin:0 8px 8px 0;border-radius:4px"></a>'
                )
            else:
                why = "正在保存" if photo.status in ("pending", "fetching") else photo.error or "未保存"
                shown.append(f"<div>照片 {number}：{html.escape(why)}</div>")
        proposal.admin["photos"] = Markup("".join(shown)) if shown else "无"
        masked = html.escape(proposal.phone_masked or "未留")
        button = (
            f'<form method="post" action="{base}/proposal/phone/{proposal.id}" class="d-inline ms-2">'
            '<button type="submit" class="btn btn-sm btn-outline-primary" id="show-phone">显示电话</button></form>'
            if proposal.phone_cipher
            else ""
        )
        proposal.admin["phone"] = Markup(f"{masked}{button}")

    @expose("/photo/{attachment_id}")
    async def photo(self, request: Request) -> Response:
        """A proposal's kept photo, for signed-in admins (sqladmin's expose requires the login)."""
        attachment_id = str(request.path_params["attachment_id"])
        if not attachment_id.isdigit() or len(attachment_id) > 12:
            raise HTTPException(status_code=404)

        def load() -> photos.media.Stored | None:
            with self.session_maker() as session:
                owner = photos.proposal_of_photo(session, attachment_id=int(attachment_id))
                if owner is None:
                    return None
                return photos.photo(session, kind=photos.PROPOSAL, item_id=owner, attachment_id=int(attachment_id))

        found = await anyio.to_thread.run_sync(load)
        if found is None:
            raise HTTPException(status_code=404, detail="没有这张照片")
        headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
        headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return Response(found.content, media_type=found.content_type, headers=headers)

    @expose("/phone/{pk}", methods=["POST"])
    async def show_phone(self, request: Request) -> Response:
        """显示电话: the full number, once, on a page of its own; recorded before it is shown."""
        pk = str(request.path_params["pk"])
        admin_user_id = getattr(request.state, "admin_user_id", None)
        if not pk.isdigit() or len(pk) > 12 or admin_user_id is None:
            raise HTTPException(status_code=404)
        runtime = self.runtime

        def reveal() -> tuple[str, str] | None:
            with transaction(runtime.factory) as session:
                proposal = session.get(Proposal, int(pk))
                if proposal is None:
                    return None
                phone = audit.reveal_phone(
                    session,
                    proposal=proposal,
                    admin_user_id=int(admin_user_id),
                    sealer=runtime.services.sealer,
                    now=runtime.clock.now(),
                )
                return (proposal.receipt or f"#{proposal.id}", phone) if phone else None

        shown = await anyio.to_thread.run_sync(reveal)
        if shown is None:
            raise HTTPException(status_code=404, detail="这条提议没有留联系电话")
        receipt, phone = shown
        context = {
            "title": f"提议 {receipt} 的联系电话",
            "subtitle": "仅用于回访提议人；本次查看已记录在「个人信息查看记录」中",
            "phone": phone,
            "back": request.url_for("admin:details", identity="proposal", pk=pk),
        }
        response = await self.templates.TemplateResponse(request, "admin/phone.html", context)
        response.headers["Cache-Control"] = "no-store"
        return response


class AccessAuditView(AdminView, model=AccessAudit):
    """Who saw a phone number in full or exported unmasked: read-only, never edited or deleted here."""

    name = "个人信息查看记录"
    name_plural = "个人信息查看记录"
    icon = "fa-solid fa-user-shield"
    category = PROPOSALS
    lookups: ClassVar[dict[str, type]] = {"proposal_id": Proposal}
    column_list: ClassVar[list[Any]] = [
        AccessAudit.created_at,
        AccessAudit.admin_username,
        AccessAudit.action,
        AccessAudit.proposal_id,
        AccessAudit.detail,
    ]
    column_labels: ClassVar[dict[Any, str]] = {
        "created_at": "时间",
        "admin_username": "管理员",
        "action": "操作",
        "proposal_id": "提议",
        "detail": "导出内容",
    }
    column_formatters: ClassVar[dict[Any, Any]] = {
        "proposal_id": looked_up("proposal_id"),
        "action": lambda m, _a: audit.ACTION_NAMES.get(m.action, m.action),
        "detail": lambda m, _a: FILE_NAMES.get(m.detail or "", m.detail or ""),
    }
    column_default_sort: ClassVar[Any] = ("id", True)


class StatusChangeView(AdminView, model=StatusChange):
    name = "状态记录"
    name_plural = "状态记录"
    icon = "fa-solid fa-clock-rotate-left"
    category = PROPOSALS
    lookups: ClassVar[dict[str, type]] = {"proposal_id": Proposal, "actor_id": Person}
    column_list: ClassVar[list[Any]] = [
        StatusChange.proposal_id,
        StatusChange.from_status,
        StatusChange.to_status,
        StatusChange.actor_id,
        StatusChange.reason,
        StatusChange.created_at,
    ]
    column_labels: ClassVar[dict[Any, str]] = {
        "proposal_id": "提议",
        "from_status": "原状态",
        "to_status": "新状态",
        "actor_id": "操作人",
        "reason": "原因",
        "created_at": "时间",
    }
    column_formatters: ClassVar[dict[Any, Any]] = {
        "proposal_id": looked_up("proposal_id"),
        "actor_id": lambda m, _a: getattr(m, "admin", {}).get("actor_id") or "系统",
        "from_status": lambda m, _a: STATUS_NAMES.get(m.from_status or "", m.from_status or "—"),
        "to_status": lambda m, _a: STATUS_NAMES.get(m.to_status, m.to_status),
    }
    column_default_sort: ClassVar[Any] = ("id", True)
