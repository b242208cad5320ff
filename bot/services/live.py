"""场外协商、场内回应: the signed live-page link, its feed, and answering a micro-suggestion there.

The page is opened on the room's screen by whoever holds the link, so the link itself is the
credential: an HMAC of the session id with SECRET_KEY. It never shows openids or full names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import local
from bot.services import moderation, opinion_rounds, signed_links, suggestions
from bot.services.privacy import mask_phones
from storage.models import ConsultSession, Person, SessionFormat, Suggestion

# Only sessions residents can follow from outside the room take live comments.
LIVE_FORMATS = (SessionFormat.online.value, SessionFormat.onsite.value)
FEED_LIMIT = 200


# --- the signed link --------------------------------------------------------------------------


LIVE_PAGE = "live-page"


def sign(session_id: int, *, secret: str) -> str:
    """The key for one session's live page."""
    return signed_links.sign(LIVE_PAGE, session_id, secret=secret)


def verify(session_id: int, key: str | None, *, secret: str) -> bool:
    return signed_links.verify(LIVE_PAGE, session_id, key, secret=secret)


def page_url(base_url: str, session_id: int, *, secret: str) -> str:
    return f"{base_url.rstrip('/')}/live/{session_id}?key={sign(session_id, secret=secret)}"


# --- finding sessions -------------------------------------------------------------------------


def is_live(consult: ConsultSession) -> bool:
    return consult.format in LIVE_FORMATS


def live_sessions(session: Session, *, room_ids: list[int], now: datetime) -> list[ConsultSession]:
    """The rooms' scheduled online/onsite sessions not yet over: running ones first, then soonest."""
    found = session.scalars(
        select(ConsultSession)
        .where(
            ConsultSession.room_id.in_(room_ids),
            ConsultSession.status == "scheduled",
            ConsultSession.format.in_(LIVE_FORMATS),
            ConsultSession.ends_at >= now,
        )
        .order_by(ConsultSession.starts_at, ConsultSession.id)
    ).all()
    return sorted(found, key=lambda c: c.starts_at > now)  # stable: keeps start order within each group


def sessions_titled(session: Session, *, room_ids: list[int], words: str) -> list[ConsultSession]:
    """The rooms' online/onsite sessions whose title contains `words`, newest first."""
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return list(
        session.scalars(
            select(ConsultSession)
            .where(
                ConsultSession.room_id.in_(room_ids),
                ConsultSession.status == "scheduled",
                ConsultSession.format.in_(LIVE_FORMATS),
                ConsultSession.title.like(f"%{escaped}%", escape="\\"),
            )
            .order_by(ConsultSession.starts_at.desc(), ConsultSession.id.desc())
            .limit(10)
        )
    )


def phase(consult: ConsultSession, now: datetime) -> str:
    """未开始 / 进行中 / 已结束 / 已取消, as the page shows it."""
    if consult.status != "scheduled":
        return "已取消"
    if now < consult.starts_at:
        return "未开始"
    return "进行中" if now <= consult.ends_at else "已结束"


# --- the feed ---------------------------------------------------------------------------------


def masked_name(name: str | None) -> str:
    """`王芳` -> `王*`; no name -> `居民`. Never the openid."""
    name = (name or "").strip()
    if not name:
        return "居民"
    return name[0] + "*" * min(max(len(name) - 1, 1), 3)


@dataclass(frozen=True)
class FeedItem:
    id: int
    receipt: str
    text: str
    time: str  # HH:MM, local
    who: str  # masked
    answered: bool
    answer: str | None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "receipt": self.receipt,
            "text": self.text,
            "time": self.time,
            "who": self.who,
            "answered": self.answered,
            "answer": self.answer,
        }


def feed(session: Session, *, session_id: int, tz: str) -> list[FeedItem]:
    """The session's micro-suggestions, newest first, as the room's screen shows them (phone numbers masked;
    only those the sensitive-word check or a convenor let through)."""
    rows = session.execute(
        select(Suggestion, Person.display_name)
        .join(Person, Person.id == Suggestion.person_id)
        .where(Suggestion.session_id == session_id, moderation.visible(Suggestion))
        .order_by(Suggestion.created_at.desc(), Suggestion.id.desc())
        .limit(FEED_LIMIT)
    ).all()
    return [
        FeedItem(
            id=note.id,
            receipt=note.receipt or "",
            text=mask_phones(note.text),
            time=f"{local(note.created_at, tz):%H:%M}",
            who=masked_name(name),
            answered=note.status == "answered",
            answer=mask_phones(note.answer) if note.answer else note.answer,
        )
        for note, name in rows
    ]


def counts(session: Session, *, session_id: int) -> tuple[int, int]:
    """(all, answered) micro-suggestions of the session the page shows (held and hidden ones are not counted)."""
    total, answered = session.execute(
        select(
            func.count(Suggestion.id),
            func.count(Suggestion.answered_at),
        ).where(Suggestion.session_id == session_id, moderation.visible(Suggestion))
    ).one()
    return int(total or 0), int(answered or 0)


# --- answering --------------------------------------------------------------------------------


def answer(
    session: Session,
    *,
    note: Suggestion,
    consult: ConsultSession,
    text: str | None,
    now: datetime,
    by: int | None = None,
) -> bool:
    """Answer it from the live page or chat during the session (场内回应): see `suggestions.answer`."""
    return suggestions.answer(session, note=note, text=text, now=now, consult=consult, by=by)


def running_session(session: Session, *, room_id: int, now: datetime) -> ConsultSession | None:
    """The room's online/onsite session running at `now`, if any (the latest started wins)."""
    return session.scalars(
        select(ConsultSession)
        .where(
            ConsultSession.room_id == room_id,
            ConsultSession.status == "scheduled",
            ConsultSession.format.in_(LIVE_FORMATS),
            ConsultSession.starts_at <= now,
            ConsultSession.ends_at >= now,
        )
        .order_by(ConsultSession.starts_at.desc(), ConsultSession.id.desc())
        .limit(1)
    ).first()


# --- 征求意见 on the screen ----------------------------------------------------------------------------

OPINIONS_SHOWN = 3


def opinion_feed(session: Session, *, session_id: int) -> dict[str, object] | None:
    """The common ground and divisions of the round preparing this session, with counts; None without one.
    The statements are the convenor's or ones the convenor took (采用): shown as written, numbers masked."""
    round_ = opinion_rounds.for_session(session, session_id=session_id)
    if round_ is None:
        return None
    results = opinion_rounds.results(session, round_=round_)

    def row(view: opinion_rounds.StatementView) -> dict[str, object]:
        statement = results.statements[view.statement_id]
        return {
            "number": statement.number,
            "text": mask_phones(statement.text),
            "agree": view.total.agree,
            "disagree": view.total.disagree,
            "passed": view.total.passed,
            "groups": [{"agree": c.agree, "seen": c.seen} for c in view.by_group if c.seen],
        }

    analysis = results.analysis
    return {
        "asked": results.asked,
        "voters": analysis.voters,
        "groups": list(analysis.group_sizes),
        "consensus": [row(v) for v in analysis.consensus[:OPINIONS_SHOWN]],
        "divisive": [row(v) for v in analysis.divisive[:OPINIONS_SHOWN]],
    }
