"""The three consultation lists: storing parsed items and publishing the feedback list to residents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from bot.services import adoption, notify, outbox
from bot.services.list_parse import KINDS, ParsedLine, parse_lines
from bot.services.proposals import change_status
from bot.text import shorten
from storage.models import (
    ConsultSession,
    ListItem,
    ListItemLink,
    Person,
    Proposal,
    ProposalStatus,
    ProposalSupporter,
    ResultDelivery,
    SessionInvitee,
    SessionTopic,
    Suggestion,
)

KIND_NAMES = {"suggestions": "协商建议清单", "responsibilities": "责任落实清单", "feedback": "结果反馈清单"}
RATING_PROMPT = "回复「满意」「基本满意」或「不满意」，可附一句意见"


def topic_ids(session: Session, *, session_id: int) -> list[int]:
    """The session's topic proposals in their numbering order (#1 is the first)."""
    return list(
        session.scalars(
            select(SessionTopic.proposal_id)
            .where(SessionTopic.session_id == session_id)
            .order_by(SessionTopic.proposal_id)
        ).all()
    )


def resolve_links(session: Session, *, topics: list[int], line: ParsedLine) -> tuple[list[int], list[int], list[str]]:
    """(proposal ids, suggestion ids, problems) for the references on one line; `topics` from `topic_ids`."""
    proposals: list[int] = []
    suggestions: list[int] = []
    problems: list[str] = []
    for n in line.topics:
        if 1 <= n <= len(topics):
            proposals.append(topics[n - 1])
        else:
            problems.append(f"本次会议没有第{n}个议题")
    for receipt in line.receipts:
        if receipt.startswith("YS"):
            pid = session.scalars(select(Proposal.id).where(Proposal.receipt == receipt)).first()
            if pid is None:
                problems.append(f"找不到建议 {receipt}")
            else:
                proposals.append(pid)
        else:
            sid = session.scalars(select(Suggestion.id).where(Suggestion.receipt == receipt)).first()
            if sid is None:
                problems.append(f"找不到微建议 {receipt}")
            else:
                suggestions.append(sid)
    return list(dict.fromkeys(proposals)), list(dict.fromkeys(suggestions)), problems


def resolve_author(session: Session, *, session_id: int, name: str | None) -> tuple[int | None, str | None]:
    """(person id, problem) for the `@名字` of a suggestion: an invitee of the session by that name, else the
    one person called so."""
    if name is None:
        return None, None
    invited = select(SessionInvitee.person_id).where(SessionInvitee.session_id == session_id)
    for query in (select(Person.id).where(Person.id.in_(invited)), select(Person.id)):
        ids = session.scalars(query.where(Person.display_name == name).order_by(Person.id)).all()
        if len(ids) == 1:
            return ids[0], None
        if len(ids) > 1:
            return None, f"有 {len(ids)} 位叫「{name}」的用户，请在后台核对"
    return None, f"找不到叫「{name}」的人（要先设置过名字）"


def store_items(
    session: Session, *, consult: ConsultSession, kind: str, lines: list[ParsedLine], replace: bool, now: datetime
) -> int:
    """Store parsed lines as list items (feedback lines with no link go to the session's topics)."""
    assert kind in KINDS
    if replace:
        ids = select(ListItem.id).where(
            ListItem.session_id == consult.id, ListItem.kind == kind, ListItem.published_at.is_(None)
        )
        session.execute(delete(ListItem).where(ListItem.id.in_(ids)))
    start = session.scalar(
        select(func.coalesce(func.max(ListItem.position), 0)).where(
            ListItem.session_id == consult.id, ListItem.kind == kind
        )
    )
    topics = topic_ids(session, session_id=consult.id)
    for offset, line in enumerate(lines, start=1):
        item = ListItem(
            session_id=consult.id,
            kind=kind,
            position=int(start or 0) + offset,
            text=line.text,
            unit=line.unit,
            deadline=datetime.combine(line.deadline, time(15, 59), tzinfo=UTC) if line.deadline else None,
            result=line.result,
            adopted=line.adopted,
            created_at=now,
        )
        session.add(item)
        session.flush()
        item.person_id = resolve_author(session, session_id=consult.id, name=line.author)[0]
        proposals, suggestions, _ = resolve_links(session, topics=topics, line=line)
        if kind == "feedback" and not proposals and not suggestions:
            proposals = topics
        session.add_all([ListItemLink(item_id=item.id, proposal_id=p) for p in proposals])
        session.add_all([ListItemLink(item_id=item.id, suggestion_id=s) for s in suggestions])
        _advance(session, proposal_ids=proposals, kind=kind, reason=line.text, now=now)
    session.flush()
    kinds = set(session.scalars(select(ListItem.kind).where(ListItem.session_id == consult.id)).all())
    if consult.lists_recorded_at is None and kinds >= set(KINDS):
        consult.lists_recorded_at = now
    return len(lines)


# Recording a list moves its proposals along the lifecycle (silently: residents are told at 已反馈).
_ADVANCE = {
    "suggestions": (ProposalStatus.consulted, (ProposalStatus.approved, ProposalStatus.scheduled)),
    "responsibilities": (
        ProposalStatus.in_progress,
        (ProposalStatus.approved, ProposalStatus.scheduled, ProposalStatus.consulted),
    ),
}


def _advance(session: Session, *, proposal_ids: list[int], kind: str, reason: str, now: datetime) -> None:
    if kind not in _ADVANCE or not proposal_ids:
        return
    to, sources = _ADVANCE[kind]
    for proposal in session.scalars(select(Proposal).where(Proposal.id.in_(proposal_ids))).all():
        if proposal.status in sources:
            change_status(session, proposal=proposal, to=to, actor_id=None, reason=reason, now=now)


@dataclass(frozen=True)
class Recipient:
    item_id: int
    person_id: int
    proposal_id: int | None
    suggestion_id: int | None


def recipients(session: Session, *, item: ListItem) -> list[Recipient]:
    """Proposers, supporters and micro-suggesters linked to one feedback item, each person once."""
    seen: dict[int, Recipient] = {}
    for link in session.scalars(select(ListItemLink).where(ListItemLink.item_id == item.id)).all():
        if link.proposal_id is not None:
            proposal = session.get(Proposal, link.proposal_id)
            if proposal is None:
                continue
            supporters = session.scalars(
                select(ProposalSupporter.person_id).where(ProposalSupporter.proposal_id == proposal.id)
            ).all()
            for pid in [proposal.proposer_id, *supporters]:
                seen.setdefault(pid, Recipient(item.id, pid, proposal.id, None))
        if link.suggestion_id is not None:
            suggestion = session.get(Suggestion, link.suggestion_id)
            if suggestion is not None:
                seen.setdefault(suggestion.person_id, Recipient(item.id, suggestion.person_id, None, suggestion.id))
    return list(seen.values())


def feedback_items(session: Session, *, session_id: int, unpublished_only: bool) -> list[ListItem]:
    stmt = select(ListItem).where(ListItem.session_id == session_id, ListItem.kind == "feedback")
    if unpublished_only:
        stmt = stmt.where(ListItem.published_at.is_(None))
    return list(session.scalars(stmt.order_by(ListItem.position)).all())


def told_before(session: Session, *, item: ListItem, recipient: Recipient) -> bool:
    """This person already got a published result with the same item and result for the same proposal or
    micro-suggestion (a line published a second time): they are not told again."""
    about = (
        ResultDelivery.proposal_id == recipient.proposal_id
        if recipient.proposal_id is not None
        else ResultDelivery.suggestion_id == recipient.suggestion_id
    )
    same = (
        select(ResultDelivery.id)
        .join(ListItem, ListItem.id == ResultDelivery.item_id)
        .where(
            ResultDelivery.person_id == recipient.person_id,
            about,
            ListItem.id != item.id,
            ListItem.published_at.is_not(None),
            ListItem.text == item.text,
            ListItem.result == item.result,
        )
        .limit(1)
    )
    return session.scalars(same).first() is not None


@dataclass(frozen=True)
class PublishPlan:
    """What 发布反馈 will do: each unpublished line (flagged when it repeats a published one) and who hears."""

    lines: list[str]
    people: int  # distinct people told (the preview's count and the final count are this one number)
    repeats: int  # lines that only repeat a result their people already got


def _to_tell(session: Session, items: list[ListItem]) -> list[tuple[ListItem, list[Recipient], bool]]:
    """Each item with the people it tells, and whether it only repeats what they were told (a line
    published before, or written twice in this list): one result reaches one person once."""
    seen: set[tuple[int, int | None, int | None, str, str | None]] = set()
    planned = []
    for item in items:
        everyone = recipients(session, item=item)
        fresh = []
        for r in everyone:
            key = (r.person_id, r.proposal_id, r.suggestion_id, item.text, item.result)
            if key not in seen and not told_before(session, item=item, recipient=r):
                fresh.append(r)
            seen.add(key)
        planned.append((item, fresh, bool(everyone) and not fresh))
    return planned


def plan_publish(session: Session, *, session_id: int) -> PublishPlan:
    planned = _to_tell(session, feedback_items(session, session_id=session_id, unpublished_only=True))
    lines = [
        feedback_line(item) + ("〔与已发布的结果相同，不再通知〕" if repeat else "") for item, _, repeat in planned
    ]
    people = len({r.person_id for _, fresh, _ in planned for r in fresh})
    return PublishPlan(lines, people, sum(1 for _, _, repeat in planned if repeat))


def _cut(text: str) -> str:
    return text if len(text) <= 20 else text[:19] + "…"


def feedback_line(item: ListItem) -> str:
    """One feedback item on a line, as the convenor wrote it (with its adoption value by name)."""
    verdict = adoption.name(item.adopted)
    return f"{item.text}｜结果：{item.result or ''}" + (f"｜{verdict}" if verdict else "")


def result_text(item: ListItem) -> str:
    verdict = adoption.name(item.adopted)
    told = f"采纳情况：{verdict}\n" if verdict else ""
    return f"您关心的事项有了结果：\n事项：{item.text}\n结果：{item.result or ''}\n{told}请评价：{RATING_PROMPT}。"


def publish_feedback(session: Session, *, session_id: int, actor_id: int | None, now: datetime) -> tuple[int, int]:
    """Publish every unpublished feedback item; returns (items published, distinct people told). Idempotent,
    and a line repeating a result someone already got for the same item tells them nothing new."""
    items = feedback_items(session, session_id=session_id, unpublished_only=True)
    told: set[int] = set()
    for item, fresh, _repeat in _to_tell(session, items):
        item.published_at = now
        for r in fresh:
            exists = session.scalars(
                select(ResultDelivery.id).where(
                    ResultDelivery.item_id == item.id, ResultDelivery.person_id == r.person_id
                )
            ).first()
            if exists is None:
                session.add(
                    ResultDelivery(
                        item_id=item.id,
                        person_id=r.person_id,
                        proposal_id=r.proposal_id,
                        suggestion_id=r.suggestion_id,
                        delivered_at=now,
                    )
                )
            fields = {  # template `thing` fields hold 20 characters each
                "item": _cut(item.text),
                "result": _cut(item.result or ""),
                "adopted": adoption.name(item.adopted) or "未注明",
                "rating": "回复满意/基本满意/不满意",
            }
            queued = outbox.enqueue(
                session,
                person_id=r.person_id,
                kind="text",
                payload={"text": result_text(item), "template": "result", "fields": fields},
                key=f"result:{item.id}:{r.person_id}",
                now=now,
            )
            if queued is not None:
                told.add(r.person_id)
        _answer_links(session, item=item, actor_id=actor_id, now=now)
    session.flush()
    return len(items), len(told)


def _answer_links(session: Session, *, item: ListItem, actor_id: int | None, now: datetime) -> None:
    reason = item.result or item.text
    for link in session.scalars(select(ListItemLink).where(ListItemLink.item_id == item.id)).all():
        if link.proposal_id is not None:
            proposal = session.get(Proposal, link.proposal_id)
            if proposal is not None and proposal.status not in (ProposalStatus.answered, ProposalStatus.rated):
                change = change_status(
                    session, proposal=proposal, to=ProposalStatus.answered, actor_id=actor_id, reason=reason, now=now
                )
                notify.tell_path(session, proposal=proposal, change=change, now=now)  # an escalated item's rooms below
        if link.suggestion_id is not None:
            suggestion = session.get(Suggestion, link.suggestion_id)
            if suggestion is not None:
                suggestion.status = "answered"
                suggestion.answer = reason
                suggestion.answered_at = suggestion.answered_at or now


# --- chat entry: 清单 and 发布反馈 -------------------------------------------------------------

LIST_SESSIONS_LIMIT = 9
# Lists are recorded during or after a session; one starting within the hour counts (set up the screen early).
LIST_LEAD = timedelta(hours=1)


def sessions_for_lists(session: Session, *, room_ids: list[int], now: datetime) -> list[ConsultSession]:
    """The rooms' sessions that have begun (or begin within the hour), most recent first."""
    if not room_ids:
        return []
    return list(
        session.scalars(
            select(ConsultSession)
            .where(
                ConsultSession.room_id.in_(room_ids),
                ConsultSession.status == "scheduled",
                ConsultSession.starts_at <= now + LIST_LEAD,
            )
            .order_by(ConsultSession.starts_at.desc(), ConsultSession.id.desc())
            .limit(LIST_SESSIONS_LIMIT)
        ).all()
    )


def sessions_to_publish(session: Session, *, room_ids: list[int]) -> list[ConsultSession]:
    """The rooms' sessions with feedback items not yet published, most recent first."""
    if not room_ids:
        return []
    pending = select(ListItem.session_id).where(ListItem.kind == "feedback", ListItem.published_at.is_(None))
    return list(
        session.scalars(
            select(ConsultSession)
            .where(ConsultSession.room_id.in_(room_ids), ConsultSession.id.in_(pending))
            .order_by(ConsultSession.starts_at.desc(), ConsultSession.id.desc())
        ).all()
    )


def item_counts(session: Session, *, session_id: int) -> dict[str, int]:
    """How many items each list of the session holds (every kind present, zero when empty)."""
    rows = session.execute(
        select(ListItem.kind, func.count()).where(ListItem.session_id == session_id).group_by(ListItem.kind)
    ).all()
    counts = dict.fromkeys(KINDS, 0)
    counts.update({str(kind): int(n) for kind, n in rows})
    return counts


@dataclass(frozen=True)
class Entry:
    """A convenor's multi-line message read as list items: the preview lines, or what is wrong."""

    preview: list[str]
    problems: list[str]


def _refs_label(*, topics: list[int], kind: str, line: ParsedLine) -> str:
    refs = [f"#{n}" for n in line.topics] + line.receipts
    if refs:
        return f"〔关联 {' '.join(refs)}〕"
    if kind == "feedback" and topics:
        return "〔未写编号：关联本次全部议题〕"
    return ""


def _line_preview(line: ParsedLine, kind: str) -> str:
    if kind == "responsibilities":
        deadline = line.deadline.isoformat() if line.deadline else ""
        return f"{line.text}｜责任单位：{line.unit}｜截止：{deadline}"
    if kind == "feedback":
        assert line.adopted is not None and line.adopted_word is not None  # lines with an error are not previewed
        return f"{line.text}｜结果：{line.result}｜{adoption.as_typed(line.adopted_word, line.adopted)}"
    return line.text


def check_entry(session: Session, *, session_id: int, kind: str, text: str, today: date) -> Entry:
    """Parse and check every line (format, dates, references) without writing anything."""
    lines = parse_lines(kind, text, today=today)
    topics = topic_ids(session, session_id=session_id)
    problems: list[str] = []
    preview: list[str] = []
    for line in lines:
        line_problems = [line.error] if line.error else []
        line_problems += resolve_links(session, topics=topics, line=line)[2]
        author = resolve_author(session, session_id=session_id, name=line.author)[1]
        line_problems += [author] if author else []
        if line_problems:
            problems.append(f"第{line.line_no}行「{shorten(line.raw, 16)}」：{'；'.join(line_problems)}")
            continue
        label = _refs_label(topics=topics, kind=kind, line=line) + (f"〔{line.author}〕" if line.author else "")
        preview.append(f"{_line_preview(line, kind)}{label}")
    return Entry(preview=preview, problems=problems)


def store_entry(
    session: Session, *, consult: ConsultSession, kind: str, text: str, today: date, replace: bool, now: datetime
) -> int:
    """Store a checked entry (re-parsed: the dialog keeps the text, not the parse)."""
    lines = [line for line in parse_lines(kind, text, today=today) if line.error is None]
    return store_items(session, consult=consult, kind=kind, lines=lines, replace=replace, now=now)
