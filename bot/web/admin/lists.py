"""The three lists of every session, what they answer, and the ratings of published results."""

from __future__ import annotations

import builtins
from typing import Any, ClassVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from starlette.requests import Request

from bot.services import adoption
from bot.services.followup import ANSWER_NAMES
from bot.services.lists import KIND_NAMES
from bot.services.ratings import RATING_NAMES
from storage.models import (
    ConsultSession,
    ListItem,
    ListItemLink,
    Person,
    Proposal,
    ResultDelivery,
    Suggestion,
)

from .base import AdminView, annotated, looked_up

LISTS = "三张清单与评价"


# --- the three lists and ratings --------------------------------------------------------------


class _ListView(AdminView, model=ListItem):
    kind: ClassVar[str] = ""
    category = LISTS
    lookups: ClassVar[dict[str, type]] = {"session_id": ConsultSession}
    column_labels: ClassVar[dict[Any, str]] = {
        "session_id": "协商活动",
        "position": "序号",
        "text": "内容",
        "unit": "责任单位",
        "deadline": "完成时限",
        "progress": "进度(%)",
        "result": "办理结果",
        "adopted": "采纳情况",
        "published_at": "发布时间",
        "links": "关联提议/微建言",
    }
    column_formatters: ClassVar[dict[Any, Any]] = {
        "session_id": looked_up("session_id"),
        "links": annotated("links"),
        "adopted": lambda m, _a: adoption.name(m.adopted),
    }
    column_searchable_list: ClassVar[list[Any]] = [ListItem.text]
    column_default_sort: ClassVar[Any] = [("session_id", True), ("position", False)]

    def list_query(self, request: Request) -> Select[Any]:
        return select(ListItem).where(ListItem.kind == self.kind)

    def details_query(self, request: Request) -> Select[Any]:
        return super().details_query(request).where(ListItem.kind == self.kind)

    def annotate(self, session: Session, rows: builtins.list[Any]) -> None:
        stmt = (
            select(ListItemLink.item_id, Proposal.receipt, Suggestion.receipt)
            .outerjoin(Proposal, Proposal.id == ListItemLink.proposal_id)
            .outerjoin(Suggestion, Suggestion.id == ListItemLink.suggestion_id)
            .where(ListItemLink.item_id.in_([r.id for r in rows]))
            .order_by(ListItemLink.id)
        )
        links: dict[int, list[str]] = {}
        for item_id, p, s in session.execute(stmt).all():
            if p or s:
                links.setdefault(item_id, []).append(str(p or s))
        for row in rows:
            row.admin["links"] = "、".join(links.get(row.id, []))


class SuggestionsListView(_ListView, model=ListItem):
    kind = "suggestions"
    name = name_plural = KIND_NAMES["suggestions"]
    icon = "fa-solid fa-list-ol"
    column_list: ClassVar[list[Any]] = [ListItem.session_id, ListItem.position, ListItem.text, "links"]


class ResponsibilitiesListView(_ListView, model=ListItem):
    kind = "responsibilities"
    name = name_plural = KIND_NAMES["responsibilities"]
    icon = "fa-solid fa-list-check"
    column_list: ClassVar[list[Any]] = [
        ListItem.session_id,
        ListItem.position,
        ListItem.text,
        ListItem.unit,
        ListItem.deadline,
        ListItem.progress,
        "links",
    ]


class FeedbackListView(_ListView, model=ListItem):
    kind = "feedback"
    name = name_plural = KIND_NAMES["feedback"]
    icon = "fa-solid fa-reply"
    column_list: ClassVar[list[Any]] = [
        ListItem.session_id,
        ListItem.position,
        ListItem.text,
        ListItem.result,
        ListItem.adopted,
        ListItem.published_at,
        "links",
    ]


# The metaclass names every view after its model; the three lists need one identity each.
SuggestionsListView.identity = "list-suggestions"
ResponsibilitiesListView.identity = "list-responsibilities"
FeedbackListView.identity = "list-feedback"


class DeliveryView(AdminView, model=ResultDelivery):
    name = "结果评价"
    name_plural = "结果评价"
    icon = "fa-solid fa-star"
    category = LISTS
    lookups: ClassVar[dict[str, type]] = {
        "item_id": ListItem,
        "person_id": Person,
        "proposal_id": Proposal,
        "suggestion_id": Suggestion,
    }
    column_list: ClassVar[list[Any]] = [
        ResultDelivery.item_id,
        ResultDelivery.person_id,
        ResultDelivery.proposal_id,
        ResultDelivery.delivered_at,
        ResultDelivery.rating,
        ResultDelivery.rating_comment,
        ResultDelivery.followup_answer,
        ResultDelivery.followup_reason,
        ResultDelivery.reopened,
    ]
    column_labels: ClassVar[dict[Any, str]] = {
        "item_id": "反馈事项",
        "person_id": "群众",
        "proposal_id": "提议",
        "delivered_at": "推送时间",
        "rating": "评价",
        "rating_comment": "意见",
        "followup_answer": "回头看",
        "followup_reason": "未解决原因",
        "reopened": "已重新办理",
    }
    column_formatters: ClassVar[dict[Any, Any]] = {
        "item_id": looked_up("item_id"),
        "person_id": looked_up("person_id"),
        "proposal_id": lambda m, _a: (
            getattr(m, "admin", {}).get("proposal_id") or getattr(m, "admin", {}).get("suggestion_id", "")
        ),
        "rating": lambda m, _a: RATING_NAMES.get(m.rating or "", "未评价"),
        "followup_answer": lambda m, _a: ANSWER_NAMES.get(m.followup_answer or "", ""),
    }
    column_sortable_list: ClassVar[list[Any]] = [ResultDelivery.delivered_at, ResultDelivery.rating]
    column_default_sort: ClassVar[Any] = ("delivered_at", True)
