"""Proposals with their status history (read-only: they change in chat). Phones appear masked only."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any, ClassVar

from sqladmin.filters import StaticValuesFilter
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from starlette.requests import Request

from bot.services.export import SOURCE_NAMES
from bot.services.proposals import STATUS_NAMES
from storage.models import (
    Person,
    Proposal,
    ProposalSupporter,
    Room,
    StatusChange,
)

from .base import AdminView, annotated, cut, lines, looked_up

PROPOSALS = "提议"


# --- proposals --------------------------------------------------------------------------------


class ChoiceFilter(StaticValuesFilter):
    """sqladmin's fixed-values filter with 全部 instead of All."""

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[[Select[Any]], Any]
    ) -> builtins.list[tuple[str, str]]:
        return [("__all", "全部"), *self.values]


STATUS_FILTER = ChoiceFilter(Proposal.status, [(k, v) for k, v in STATUS_NAMES.items()], title="状态")


class ProposalView(AdminView, model=Proposal):
    name = "提议"
    name_plural = "提议"
    icon = "fa-solid fa-lightbulb"
    category = PROPOSALS
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
        Proposal.location_label,
        Proposal.merged_into_id,
        Proposal.approval_unit,
        Proposal.approved_at,
        "history",
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
        "merged_into_id": "合并到",
        "approval_unit": "审定单位",
        "approved_at": "审定时间",
        "history": "状态记录",
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
        proposal.admin["history"] = [
            f"{self._fmt_time(c.created_at)} {STATUS_NAMES.get(c.from_status or '', c.from_status or '—')} → "
            f"{STATUS_NAMES.get(c.to_status, c.to_status)}（{(actors.get(c.actor_id) if c.actor_id else None) or '系统'}）"
            + (f"：{c.reason}" if c.reason else "")
            for c in changes
        ]


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
