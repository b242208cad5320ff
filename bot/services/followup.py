"""After a result: was it really solved (回头看), reopening unsolved items for the convenor, and the
progress of responsibility items told to the residents who wait for them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.clock import local
from bot.services import adoption, outbox, ratings
from bot.services.lists import recipients
from bot.services.notify import local_date
from bot.services.proposals import change_status
from bot.services.session_notices import enqueue_notice
from bot.text import close_to, normalize, shorten
from storage.db import flushed
from storage.models import (
    ConsultSession,
    ListItem,
    Proposal,
    ProposalStatus,
    ResultDelivery,
    Role,
    RoomRole,
    Suggestion,
)

ANSWER_NAMES = {"solved": "解决了", "unsolved": "没解决", "unsure": "不清楚"}
ASK_HOURS = range(9, 20)  # the question goes out in the daytime (local), never at night
ANSWER_WITHIN = timedelta(days=30)  # later, 好了 is ordinary talk again, not an answer to an old question
HEAD = 16  # an answer word must appear this early in the message; later it is just a story
# Earliest match wins; on a tie, the first category listed (不清楚有没有解决 is unsure, not unsolved).
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("unsure", re.compile(r"不清楚|不知道|不确定|说不清|说不好|不好说|不了解|不晓得|不太清楚|不好判断")),
    (
        "unsolved",
        re.compile(
            r"(?:还|仍|依然|至今|一直)?(?:没有|没|沒|未|尚未)(?:有)?(?:被)?"
            r"(?:彻底|完全|真正)?(?:解决|修好|修|弄好|办好|处理好?|整改|落实|改好|好)"
            r"|不行|还是(?:坏|不亮|不通|老样子|没|一样)|老样子|依旧|仍然|照旧|没变化|没有变化|又坏"
        ),
    ),
    (
        "solved",
        re.compile(
            r"(?:已经?|彻底)?解决[了啦]|已经?解决|已经?修好了?|修好了|弄好了|办好了|处理好了|搞定了?|好了|没问题了?"
        ),
    ),
)
_WORDS = {"unsure": ("不清楚", "不知道"), "unsolved": ("没解决", "未解决", "没修好"), "solved": ("解决了", "已解决")}
_BARE_NO = frozenset({"没有", "没", "否", "不是", "没呢", "还没", "还没有", "no"})
_DIGITS = {"1": "solved", "2": "unsolved", "3": "unsure", "１": "solved", "２": "unsolved", "３": "unsure"}
_STRIP = "，,。.：:!！ 　;；、"
_PERCENT = re.compile(r"^\s*(\d{1,4})\s*[%％]?(?:[\s,，、:：。]+|$)(.*)$", re.S)
MAX_NOTE = 500


@dataclass(frozen=True)
class Answer:
    answer: str  # solved | unsolved | unsure
    reason: str | None  # what else they said (the reason for 没解决)


def parse_answer(text: str, *, loose: bool = False) -> Answer | None:
    """解决了 / 没解决 / 不清楚, small typos and free text such as 还没修好，灯还是不亮.

    Unasked (a push some days ago), the answer must open the message; once the bot has just asked
    (`loose`), it may come a little later (灯还是不亮) and the digits 1/2/3 of the numbered question count.
    """
    t = text.strip().lstrip(_STRIP)
    if not t:
        return None
    if loose and t[:1] in _DIGITS and (len(t) == 1 or t[1] in _STRIP):
        return Answer(_DIGITS[t[:1]], _rest(t[1:]))
    if normalize(t) in _BARE_NO:
        return Answer("unsolved", None)
    head = t[:HEAD] if loose else t
    found: list[tuple[int, int, re.Match[str], str]] = []
    for rank, (answer, pattern) in enumerate(_PATTERNS):
        m = pattern.search(head)
        if m is not None and (loose or m.start() == 0):
            found.append((m.start(), rank, m, answer))
    if found:
        start, _rank, m, answer = min(found, key=lambda f: (f[0], f[1]))
        # 还没修好，灯还是不亮: the rest is the reason; a sentence that gets to it later is the reason whole.
        return Answer(answer, _rest(t[m.end() :]) if start == 0 else _rest(t))
    word = normalize(t)
    if len(word) <= 5:
        close = {a for a, words in _WORDS.items() if any(close_to(word, w) for w in words)}
        if len(close) == 1:
            return Answer(close.pop(), None)
    return None


def _rest(text: str) -> str | None:
    rest = text.strip().strip(_STRIP).strip()
    return rest or None


def parse_percent(text: str) -> tuple[int, str | None] | str:
    """`60% 已完成主体施工` -> (60, note); for anything else, a plain sentence saying what to write."""
    match = _PERCENT.match(text.replace("％", "%"))
    if match is None:
        return "进度请写 0 到 100 之间的数字，如「60」或「60%」，后面可附一句说明。"
    percent = int(match.group(1))
    if percent > 100:
        return f"进度最多 100%（收到 {percent}）。请写 0 到 100 之间的数字。"
    note = match.group(2).strip()[:MAX_NOTE]
    return percent, note or None


# --- asking ---------------------------------------------------------------------------------------


def question_text(session: Session, delivery: ResultDelivery, *, tz: str) -> str:
    item = session.get(ListItem, delivery.item_id)
    receipt = ratings.receipt_of(session, delivery)
    about = f"（编号 {receipt}）" if receipt else ""
    verdict = f"（{adoption.name(item.adopted)}）" if item is not None and item.adopted else ""
    result = f"\n当时的结果：{item.result}{verdict}" if item is not None and item.result else ""
    return (
        f"【回头看】{local_date(delivery.delivered_at, tz)}，我们向您反馈了"
        f"「{shorten(item.text if item else '', 30)}」的办理结果{about}。{result}\n"
        "现在问题真的解决了吗？请直接回复「解决了」「没解决」（可附上原因）或「不清楚」。"
    )


def ask_due(session: Session, *, now: datetime, after: timedelta, tz: str, limit: int = 500) -> int:
    """Ask each result's recipient once, `after` its delivery, whether it is solved. Returns questions queued."""
    if local(now, tz).hour not in ASK_HOURS:
        return 0
    due = session.scalars(
        select(ResultDelivery)
        .where(ResultDelivery.followup_asked_at.is_(None), ResultDelivery.delivered_at <= now - after)
        .order_by(ResultDelivery.delivered_at, ResultDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for delivery in due:
        delivery.followup_asked_at = now
        item = session.get(ListItem, delivery.item_id)
        fields = _fields(item.text if item else "", "问题真的解决了吗？", "回头看", "回复解决了/没解决/不清楚")
        outbox.enqueue(
            session,
            person_id=delivery.person_id,
            kind="text",
            payload={"text": question_text(session, delivery, tz=tz), "template": "followup", "fields": fields},
            key=f"followup:{delivery.id}",
            now=now,
        )
    return len(due)


def _fields(item: str, result: str, state: str, how: str) -> dict[str, str]:
    """Template data for the follow-up template (the same four fields as the result template)."""
    return {"item": shorten(item, 20), "result": shorten(result, 20), "adopted": shorten(state, 20), "rating": how}


# --- answering ------------------------------------------------------------------------------------


def pending(session: Session, *, person_id: int, now: datetime) -> list[ResultDelivery]:
    """This person's follow-up questions asked in the last ANSWER_WITHIN and not answered, oldest first."""
    return list(
        session.scalars(
            select(ResultDelivery)
            .where(
                ResultDelivery.person_id == person_id,
                ResultDelivery.followup_asked_at >= now - ANSWER_WITHIN,
                ResultDelivery.followup_answered_at.is_(None),
            )
            .order_by(ResultDelivery.followup_asked_at, ResultDelivery.id)
        ).all()
    )


def record(session: Session, *, delivery: ResultDelivery, answer: str, reason: str | None, now: datetime) -> None:
    """Store 解决了 / 不清楚 (and 没解决 through `reopen`)."""
    delivery.followup_answer = answer
    delivery.followup_reason = reason
    delivery.followup_answered_at = now


def room_of(session: Session, delivery: ResultDelivery) -> int | None:
    return session.scalar(
        select(ConsultSession.room_id)
        .join(ListItem, ListItem.session_id == ConsultSession.id)
        .where(ListItem.id == delivery.item_id)
    )


def convenors(session: Session, *, room_id: int) -> list[int]:
    return list(flushed(session).scalars(_CONVENORS, {"room_id": room_id}).all())


# Built once: every filing, 附议 and 微建言 tells the room's convenors.
_CONVENORS = (
    select(RoomRole.person_id)
    .where(RoomRole.room_id == bindparam("room_id"), RoomRole.role == Role.convenor)
    .order_by(RoomRole.person_id)
)


def tell_convenors(session: Session, *, room_id: int, text: str, key: str, now: datetime) -> int:
    """The same notice to each of the room's convenors, keyed `<key>:<person id>`; how many were queued."""
    return sum(
        enqueue_notice(session, person_id=person_id, text=text, key=f"{key}:{person_id}", now=now) is not None
        for person_id in convenors(session, room_id=room_id)
    )


def reopen(session: Session, *, delivery: ResultDelivery, reason: str, now: datetime) -> int:
    """没解决 with its reason: back on the convenor's queue (proposal 办理中 again) and convenors told."""
    record(session, delivery=delivery, answer="unsolved", reason=reason, now=now)
    delivery.reopened = True
    note = f"回头看：群众反映问题没有解决。原因：{reason}"
    if delivery.proposal_id is not None:
        proposal = session.get(Proposal, delivery.proposal_id)
        if proposal is not None:
            change_status(
                session,
                proposal=proposal,
                to=ProposalStatus.in_progress,
                actor_id=delivery.person_id,
                reason=note,
                now=now,
            )
    if delivery.suggestion_id is not None:
        suggestion = session.get(Suggestion, delivery.suggestion_id)
        if suggestion is not None:
            suggestion.status = "forwarded"
            suggestion.updated_at = now
    room_id = room_of(session, delivery)
    if room_id is None:
        return 0
    text = (
        f"【回头看】群众反映问题没有解决：\n事项：{ratings.label(session, delivery)}\n原因：{reason}\n"
        "发「回头看」查看待答复的事项，答复会转告群众，如「回头看 1 已督促施工方下周返工」。"
    )
    return tell_convenors(session, room_id=room_id, text=text, key=f"reopen:{delivery.id}", now=now)


# --- the convenor's 回头看 -------------------------------------------------------------------------


def reopened_in_rooms(session: Session, *, room_ids: list[int]) -> list[ResultDelivery]:
    """Reopened results of these rooms not yet answered by a convenor, oldest first."""
    if not room_ids:
        return []
    return list(
        session.scalars(
            select(ResultDelivery)
            .join(ListItem, ListItem.id == ResultDelivery.item_id)
            .join(ConsultSession, ConsultSession.id == ListItem.session_id)
            .where(
                ConsultSession.room_id.in_(room_ids),
                ResultDelivery.reopened.is_(True),
                ResultDelivery.convenor_reply.is_(None),
            )
            .order_by(ResultDelivery.followup_answered_at, ResultDelivery.id)
        ).all()
    )


def reopened_line(session: Session, delivery: ResultDelivery, *, tz: str) -> str:
    when = local_date(delivery.followup_answered_at, tz) if delivery.followup_answered_at else ""
    return f"{ratings.label(session, delivery)}\n   原因：{delivery.followup_reason or '未说明'}（{when}反映）"


def reply(session: Session, *, delivery: ResultDelivery, text: str, actor_id: int, now: datetime) -> None:
    """The convenor's answer to a reopened result, stored and sent back to the resident."""
    delivery.convenor_reply = text
    item = session.get(ListItem, delivery.item_id)
    title = item.text if item else ""
    message = (
        f"【回头看答复】您反映「{shorten(title, 30)}」的问题没有解决，议事室召集人答复：\n{text}\n"
        "感谢您的监督，有新的进展还会告诉您。"
    )
    outbox.enqueue(
        session,
        person_id=delivery.person_id,
        kind="text",
        payload={
            "text": message,
            "template": "followup",
            "fields": _fields(title, text, "回头看答复", "详情请查看消息"),
        },
        key=f"reopen-reply:{delivery.id}",
        now=now,
    )
    if delivery.proposal_id is None:
        return
    proposal = session.get(Proposal, delivery.proposal_id)
    if proposal is None or proposal.status != ProposalStatus.in_progress:
        return
    others = [d for d in reopened_in_rooms(session, room_ids=[room_of(session, delivery) or 0]) if d.id != delivery.id]
    if not any(d.proposal_id == proposal.id for d in others):
        change_status(
            session,
            proposal=proposal,
            to=ProposalStatus.answered,
            actor_id=actor_id,
            reason=f"回头看答复：{text}",
            now=now,
        )


# --- progress of responsibility items (进度) --------------------------------------------------------


def open_items(session: Session, *, room_ids: list[int]) -> list[ListItem]:
    """Responsibility items of these rooms not yet done or answered, by deadline."""
    if not room_ids:
        return []
    return list(
        session.scalars(
            select(ListItem)
            .join(ConsultSession, ConsultSession.id == ListItem.session_id)
            .where(
                ConsultSession.room_id.in_(room_ids),
                ConsultSession.status != "cancelled",
                ListItem.kind == "responsibilities",
                ListItem.progress < 100,
                ListItem.answered_at.is_(None),
            )
            .order_by(ListItem.deadline, ListItem.id)
        ).all()
    )


def item_line(item: ListItem, *, now: datetime, tz: str) -> str:
    deadline = local_date(item.deadline, tz) if item.deadline else "未定"
    late = "，已逾期" if item.deadline is not None and item.deadline < now else ""
    return f"{shorten(item.text, 30)}（{item.unit or '未定'}，期限 {deadline}，进度 {item.progress}%{late}）"


def waiting_people(session: Session, *, item: ListItem) -> int:
    return len(recipients(session, item=item))


def set_progress(session: Session, *, item: ListItem, percent: int, note: str | None, now: datetime) -> int:
    """Record the percent done (100 is done) and tell the linked residents. Returns messages queued."""
    item.progress = percent
    if percent >= 100 and item.answered_at is None:
        item.answered_at = now
    state = "已办结" if percent >= 100 else f"办理进度 {percent}%"
    text = (
        f"【办理进度】您关心的事项「{shorten(item.text, 30)}」{state}。"
        + (f"\n说明：{note}" if note else "")
        + (f"\n责任单位：{item.unit}" if item.unit else "")
    )
    queued = 0
    stamp = int(now.timestamp())
    for r in recipients(session, item=item):
        row = outbox.enqueue(
            session,
            person_id=r.person_id,
            kind="text",
            payload={
                "text": text,
                "template": "followup",
                "fields": _fields(item.text, state, "办理进度", note or item.unit or "责任单位办理中"),
            },
            key=f"progress:{item.id}:{percent}:{stamp}:{r.person_id}",
            now=now,
        )
        queued += row is not None
    return queued
