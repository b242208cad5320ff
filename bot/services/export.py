"""Excel workbooks for the office (政协办): proposals, sessions and the three lists.

Phone numbers appear masked (typed into any text, too) and openids never; text is written as text,
never as a formula. An administrator may ask for an unmasked workbook (`reveal`: the sealer, so the
proposals' phone numbers are read in full and text is left as typed); the admin records who did
(bot/services/audit.py).
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.roles import INVITEE_NAMES
from bot.services import adoption, categories, rates, session_status
from bot.services.lists import KIND_NAMES
from bot.services.privacy import Sealer, mask_phones
from bot.services.proposals import STATUS_NAMES
from bot.services.rooms import LEVEL_NAMES
from bot.services.session_notices import FORMAT_NAMES

if TYPE_CHECKING:  # openpyxl is imported when a workbook is made: a web worker serving messages never needs it
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

from storage.models import (
    ConsultSession,
    ListItem,
    ListItemLink,
    Person,
    Proposal,
    ProposalSupporter,
    ResultDelivery,
    SessionInvitee,
    Suggestion,
)

SOURCE_NAMES = {"resident": "群众出题", "member": "委员荐题", "government": "党政点题"}
ROLE_NAMES = INVITEE_NAMES  # one home: bot/roles.py (the admin's people and sessions views read it from here)
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

HEADER_COLOR = "DCE6F1"
# What openpyxl counts as characters a cell cannot hold (openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def label(names: dict[Any, str], value: str | None) -> str:
    """The Chinese name of a stored code, or the code itself when it has none."""
    if value is None:
        return ""
    return names.get(value, value)


def _local(moment: datetime | None, tz: ZoneInfo) -> datetime | None:
    # Excel has no time zones: write the wall-clock time of the deployment.
    return moment.astimezone(tz).replace(tzinfo=None) if moment else None


def _sheet(
    ws: Worksheet, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], *, masked: bool = True
) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    ws.title = title
    ws.append(list(headers))
    header_fill = PatternFill("solid", fgColor=HEADER_COLOR)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
    widths = [max(6, len(h) * 2 + 2) for h in headers]
    for values in rows:
        # Workbooks are passed around: phone numbers typed into any text are masked, in every cell.
        values = [_text(v, masked) if isinstance(v, str) else v for v in values]
        ws.append(values)
        row = ws.max_row
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=row, column=col)
            if isinstance(value, str):
                # A resident's "=HYPERLINK(...)" must stay text: openpyxl would store it as a formula.
                cell.data_type = "s"
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            elif isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            widths[col - 1] = min(60, max(widths[col - 1], len(str(value)) * 2 if value is not None else 0))
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = "A2"


def _text(value: str, masked: bool) -> str:
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return mask_phones(value) if masked else value


def to_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- proposals --------------------------------------------------------------------------------

PROPOSAL_HEADERS = (
    "受理编号",
    "议事室",
    "来源",
    "提议人",
    "内容",
    "分类",
    "状态",
    "联系电话（脱敏）",
    "位置",
    "附议人数",
    "审定单位",
    "审定时间",
    "提交时间",
    "最近更新",
)


def proposals_workbook(session: Session, *, tz: str, reveal: Sealer | None = None) -> Workbook:
    """Every proposal, oldest first; with `reveal`, the phone numbers in full."""
    zone = ZoneInfo(tz)
    supporters = dict(
        session.execute(
            select(ProposalSupporter.proposal_id, func.count()).group_by(ProposalSupporter.proposal_id)
        ).all()
    )
    names = _person_names(session, select(Proposal.proposer_id))
    rows = []
    for p in session.scalars(select(Proposal).order_by(Proposal.id)):
        rows.append(
            (
                p.receipt or "",
                p.room.name,
                label(SOURCE_NAMES, p.source),
                names.get(p.proposer_id, ""),
                p.description,
                categories.label(p.tags),
                label(STATUS_NAMES, p.status),
                _phone(p, reveal),
                p.location_label or "",
                int(supporters.get(p.id, 0)),
                p.approval_unit or "",
                _local(p.approved_at, zone),
                _local(p.created_at, zone),
                _local(p.updated_at, zone),
            )
        )
    from openpyxl import Workbook

    workbook = Workbook()
    headers = PROPOSAL_HEADERS if reveal is None else (*PROPOSAL_HEADERS[:7], "联系电话", *PROPOSAL_HEADERS[8:])
    _sheet(workbook.active, "提议", headers, rows, masked=reveal is None)
    return workbook


def _phone(proposal: Proposal, reveal: Sealer | None) -> str:
    if reveal is not None and proposal.phone_cipher:
        return reveal.unseal(proposal.phone_cipher) or proposal.phone_masked or ""
    return proposal.phone_masked or ""


def _person_names(session: Session, ids: Any) -> dict[int, str]:
    """Display names (never openids) of the people the subquery selects."""
    rows = session.execute(select(Person.id, Person.display_name).where(Person.id.in_(ids))).all()
    return {int(i): name or f"用户{i}" for i, name in rows}


# --- sessions ---------------------------------------------------------------------------------

SESSION_HEADERS = (
    "编号",
    "议事室",
    "级别",
    "主题",
    "开始时间",
    "结束时间",
    "地点",
    "形式",
    "状态",
    "取消原因",
    "邀请人数",
    "其中群众代表",
    "参加",
    "请假",
    "未回复",
    "三张清单已录入",
)


def sessions_workbook(session: Session, *, tz: str, now: datetime, reveal: Sealer | None = None) -> Workbook:
    """Every consultation session with its invitees and RSVP counts, earliest first; its status as of `now`."""
    zone = ZoneInfo(tz)
    counts: dict[int, Counter[str]] = {}
    for session_id, role, rsvp, n in session.execute(
        select(SessionInvitee.session_id, SessionInvitee.role, SessionInvitee.rsvp, func.count()).group_by(
            SessionInvitee.session_id, SessionInvitee.role, SessionInvitee.rsvp
        )
    ).all():
        tally = counts.setdefault(int(session_id), Counter())
        tally["invited"] += int(n)
        tally[f"rsvp:{rsvp}"] += int(n)
        if role == "representative":
            tally["representative"] += int(n)
    rows = []
    for s in session.scalars(select(ConsultSession).order_by(ConsultSession.starts_at, ConsultSession.id)):
        c = counts.get(s.id, Counter())
        rows.append(
            (
                s.id,
                s.room.name,
                label(LEVEL_NAMES, s.room.level),
                s.title,
                _local(s.starts_at, zone),
                _local(s.ends_at, zone),
                s.place,
                label(FORMAT_NAMES, s.format),
                session_status.name_of(s, now),
                s.cancel_reason or "",
                c["invited"],
                c["representative"],
                c["rsvp:attend"],
                c["rsvp:leave"],
                c["rsvp:pending"],
                "是" if s.lists_recorded_at else "否",
            )
        )
    from openpyxl import Workbook

    workbook = Workbook()
    _sheet(workbook.active, "协商活动", SESSION_HEADERS, rows, masked=reveal is None)
    year = now.astimezone(zone).year
    _sheet(workbook.create_sheet(), f"{year}年三率", RATES_HEADERS, _rates_rows(session, year=year, tz=tz, now=now))
    return workbook


RATES_HEADERS = (
    "议事室",
    "响应率",
    "按时答复",
    "应答复",
    "办结率",
    "按期办结",
    "应办结",
    "满意率",
    "满意+基本满意",
    "评价人次",
)


def _rates_rows(session: Session, *, year: int, tz: str, now: datetime) -> list[tuple[Any, ...]]:
    """三率 per room for the year (bot/services/rates.py: the same numbers as the statistics and the digest)."""
    return [
        (
            r.room_name,
            r.response.percent(),
            r.response.met,
            r.response.total,
            r.completion.percent(),
            r.completion.met,
            r.completion.total,
            r.satisfaction.percent(),
            r.satisfaction.met,
            r.satisfaction.total,
        )
        for r in rates.by_room(session, year=year, tz=tz, now=now)
    ]


# --- the three lists --------------------------------------------------------------------------

LIST_HEADERS: dict[str, tuple[str, ...]] = {
    "suggestions": ("协商活动", "议事室", "序号", "建议", "关联提议/微建言"),
    "responsibilities": ("协商活动", "议事室", "序号", "事项", "责任单位", "完成时限", "进度(%)", "关联提议/微建言"),
    "feedback": (
        "协商活动",
        "议事室",
        "序号",
        "事项",
        "办理结果",
        "采纳情况",
        "发布时间",
        "满意",
        "基本满意",
        "不满意",
        "关联提议/微建言",
    ),
}


def lists_workbook(session: Session, *, tz: str, reveal: Sealer | None = None) -> Workbook:
    """The three lists of every session, one sheet each."""
    zone = ZoneInfo(tz)
    links = _links(session)
    ratings: dict[int, Counter[str]] = {}
    for item_id, rating, n in session.execute(
        select(ResultDelivery.item_id, ResultDelivery.rating, func.count())
        .where(ResultDelivery.rating.is_not(None))
        .group_by(ResultDelivery.item_id, ResultDelivery.rating)
    ).all():
        ratings.setdefault(int(item_id), Counter())[str(rating)] += int(n)
    by_kind: dict[str, list[tuple[Any, ...]]] = {kind: [] for kind in LIST_HEADERS}
    stmt = (
        select(ListItem, ConsultSession)
        .join(ConsultSession, ConsultSession.id == ListItem.session_id)
        .order_by(ConsultSession.starts_at, ConsultSession.id, ListItem.kind, ListItem.position, ListItem.id)
    )
    for item, consult in session.execute(stmt).all():
        head = (consult.title, consult.room.name, item.position)
        linked = links.get(item.id, "")
        if item.kind == "suggestions":
            by_kind["suggestions"].append((*head, item.text, linked))
        elif item.kind == "responsibilities":
            row = (*head, item.text, item.unit or "", _local(item.deadline, zone), item.progress, linked)
            by_kind["responsibilities"].append(row)
        elif item.kind == "feedback":
            r = ratings.get(item.id, Counter())
            by_kind["feedback"].append(
                (
                    *head,
                    item.text,
                    item.result or "",
                    adoption.name(item.adopted),
                    _local(item.published_at, zone),
                    r["satisfied"],
                    r["basically"],
                    r["unsatisfied"],
                    linked,
                )
            )
    from openpyxl import Workbook

    workbook = Workbook()
    for index, (kind, headers) in enumerate(LIST_HEADERS.items()):
        ws = workbook.active if index == 0 else workbook.create_sheet()
        _sheet(ws, KIND_NAMES[kind], headers, by_kind[kind], masked=reveal is None)
    return workbook


def _links(session: Session) -> dict[int, str]:
    """Receipt numbers each list item answers, joined with 、."""
    out: dict[int, list[str]] = {}
    stmt = (
        select(ListItemLink.item_id, Proposal.receipt, Suggestion.receipt)
        .outerjoin(Proposal, Proposal.id == ListItemLink.proposal_id)
        .outerjoin(Suggestion, Suggestion.id == ListItemLink.suggestion_id)
        .order_by(ListItemLink.id)
    )
    for item_id, proposal_receipt, suggestion_receipt in session.execute(stmt).all():
        receipt = proposal_receipt or suggestion_receipt
        if receipt:
            out.setdefault(int(item_id), []).append(receipt)
    return {k: "、".join(v) for k, v in out.items()}


WORKBOOKS = ("proposals", "sessions", "lists")


def workbook(name: str, session: Session, *, tz: str, now: datetime, reveal: Sealer | None = None) -> Workbook:
    """The workbook called `name` (one of WORKBOOKS); the sessions' status depends on `now`; `reveal`
    (an administrator's recorded, explicit unmasked export) shows what is otherwise masked."""
    if name == "sessions":
        return sessions_workbook(session, tz=tz, now=now, reveal=reveal)
    if name == "proposals":
        return proposals_workbook(session, tz=tz, reveal=reveal)
    return lists_workbook(session, tz=tz, reveal=reveal)


FILE_NAMES = {"proposals": "提议", "sessions": "协商活动", "lists": "三张清单"}

write_sheet = _sheet  # the one way a sheet is written, for the workbooks of other modules (records_export)
