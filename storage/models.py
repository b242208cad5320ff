"""SQLAlchemy models. Timestamps are tz-aware UTC; Asia/Shanghai is for display only."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back an aware datetime (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}  # noqa: RUF012 (SQLAlchemy reads it as is)


# BigInteger ids on PostgreSQL, plain INTEGER (rowid) on SQLite.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class RoomLevel(StrEnum):
    district = "district"  # the district (county) CPPCC and its 政协办: the root of the tree
    town = "town"
    village = "village"
    enterprise = "enterprise"
    sector = "sector"


class Role(StrEnum):
    member = "member"
    representative = "representative"
    convenor = "convenor"


class Channel(StrEnum):
    wechat = "wechat"
    wecom = "wecom"


class ProposalStatus(StrEnum):
    submitted = "submitted"
    accepted = "accepted"
    merged = "merged"
    declined = "declined"
    approved = "approved"
    scheduled = "scheduled"
    consulted = "consulted"
    in_progress = "in_progress"
    answered = "answered"
    rated = "rated"
    escalated = "escalated"  # sent up to the parent room (报上级); waits in that room's 待审
    returned = "returned"  # sent back down by the upper room (退回); waits in the lower room's 待审


class Room(Base):
    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    level: Mapped[str] = mapped_column(String(20))
    # Rooms form a tree (bot/services/rooms.py PARENT_LEVELS): village under town, town, enterprise and
    # sector rooms under the district. 报上级 sends an item up it.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[Room | None] = relationship(remote_side=[id], lazy="select")

    def __str__(self) -> str:  # how the admin's select lists show a room
        return self.name


class Person(Base):
    """Someone a channel knows by an openid / WeCom UserID. People the simulator talks as are `simulated`
    and a key space of their own: a real `sim-zhang` and the simulator's `sim-zhang` are two rows."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("channel", "external_id", "simulated", name="uq_people_identity"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    external_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(64))
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    last_room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="SET NULL"))
    last_inbound_at: Mapped[datetime | None]
    # 退订: no broadcasts (answers to their own items still arrive).
    unsubscribed: Mapped[bool] = mapped_column(Boolean, default=False)
    # How a convenor hears of new items (通知方式): batched | immediate; None: the deployment's default.
    notice_mode: Mapped[str | None] = mapped_column(String(10))
    # When they unfollowed the account (取消关注): nothing is sent to them until they follow again.
    unfollowed_at: Mapped[datetime | None]
    # 专长: expertise tags, space-separated (交通 规划), set by the person (`专长 …`) or the office; the
    # 专家人才资源库 that 直通车 suggests to convenors from (bot/services/experts.py).
    expertise: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    last_room: Mapped[Room | None] = relationship(lazy="joined")


class RoomRole(Base):
    __tablename__ = "room_roles"
    __table_args__ = (UniqueConstraint("room_id", "person_id", "role"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invite(Base):
    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Proposal(Base):
    __tablename__ = "proposals"
    __table_args__ = (Index("ix_proposals_room_status", "room_id", "status"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    receipt: Mapped[str | None] = mapped_column(String(20), unique=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    proposer_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    source: Mapped[str] = mapped_column(String(20), default="resident")
    description: Mapped[str] = mapped_column(Text)
    photo_url: Mapped[str | None] = mapped_column(String(500))
    photo_media_id: Mapped[str | None] = mapped_column(String(200))
    location_label: Mapped[str | None] = mapped_column(String(200))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # The phone number is kept encrypted; every view shows phone_masked only.
    phone_masked: Mapped[str | None] = mapped_column(String(20))
    phone_cipher: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default=ProposalStatus.submitted)
    tags: Mapped[str] = mapped_column(String(200), default="")
    # The keyword rules its index rows and tags were made under (bot/services/proposals.py INDEX_RULES).
    index_version: Mapped[int] = mapped_column(default=0, server_default="0", index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"))
    # 审定: which party committee approved it as a topic, and when.
    approval_unit: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None]
    # Clocks in working days (bot/services/clocks.py): the first answer is due by `answer_due_at` and was
    # given at `first_answered_at`; 审定 is due by `decision_due_at` (from 受理, or from reaching the
    # supporter threshold at `threshold_reached_at`). Past `escalate_at` the parent room hears of it.
    answer_due_at: Mapped[datetime | None] = mapped_column(index=True)
    first_answered_at: Mapped[datetime | None]
    decision_due_at: Mapped[datetime | None] = mapped_column(index=True)
    threshold_reached_at: Mapped[datetime | None]
    escalate_at: Mapped[datetime | None]
    # Public surfaces (the live page, the room's board) show it only when "shown": a sensitive word
    # holds it ("held") for a convenor's 公开 / 隐藏; "hidden" stays in the records (bot/services/moderation.py).
    visibility: Mapped[str] = mapped_column(String(10), default="shown", server_default="shown")
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    moderated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    room: Mapped[Room] = relationship(lazy="joined")


class ProposalKeyword(Base):
    """Inverted index of jieba keywords: similar-proposal search is one indexed SQL query."""

    __tablename__ = "proposal_keywords"
    # The similar look-up's search (room, term, open, newest first) is answered from this index alone.
    __table_args__ = (Index("ix_proposal_keywords_room_keyword_open", "room_id", "keyword", "is_open", "proposal_id"),)

    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True)
    keyword: Mapped[str] = mapped_column(String(32), primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    weight: Mapped[float] = mapped_column(Float)
    # Kept in step with the proposal's status so the lookup never joins closed proposals.
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)


class ProposalSupporter(Base):
    __tablename__ = "proposal_supporters"

    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StatusChange(Base):
    """Who changed a proposal's status, when and why."""

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Escalation(Base):
    """One hop of a proposal up the room tree (报上级), and its return (退回) if the upper room sent it back.

    The proposal keeps one row and one receipt; its `room_id` is the room handling it now. The hops
    not returned, in order, are the path from the originating room to the current one.
    """

    __tablename__ = "escalations"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    from_room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    to_room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))  # clue 提案线索 | opinion 社情民意信息 | advice 建议
    reason: Mapped[str] = mapped_column(Text)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    returned_at: Mapped[datetime | None]
    return_reason: Mapped[str | None] = mapped_column(Text)
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))

    from_room: Mapped[Room] = relationship(foreign_keys=[from_room_id], lazy="joined")
    to_room: Mapped[Room] = relationship(foreign_keys=[to_room_id], lazy="joined")


class Suggestion(Base):
    """A micro-suggestion (微建言)."""

    __tablename__ = "suggestions"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    receipt: Mapped[str | None] = mapped_column(String(20), unique=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    answer: Mapped[str | None] = mapped_column(Text)
    # Who answered it in chat (回应): counted in their 履职档案. None for the live page's button.
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    # Sent to a session (场外协商): shown on its live page until answered there.
    session_id: Mapped[int | None] = mapped_column(ForeignKey("consult_sessions.id", ondelete="SET NULL"), index=True)
    answered_at: Mapped[datetime | None]
    # Answer due by (SUGGESTION_ANSWER_WORKDAYS); past `escalate_at` the parent room hears of it.
    answer_due_at: Mapped[datetime | None] = mapped_column(index=True)
    escalate_at: Mapped[datetime | None]
    # Public surfaces (the live page, the room's board) show it only when "shown": a sensitive word
    # holds it ("held") for a convenor's 公开 / 隐藏; "hidden" stays in the records (bot/services/moderation.py).
    visibility: Mapped[str] = mapped_column(String(10), default="shown", server_default="shown")
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    moderated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    room: Mapped[Room] = relationship(lazy="joined")


class DialogState(Base):
    """What the bot is waiting for from a person (one open question: a dialog at a step, open until
    `expires_at`) and the forms they left unfinished (`drafts`), so any worker can continue it."""

    __tablename__ = "dialog_states"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    dialog: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(60))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    history: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(10), default="active")  # active (open) | closed
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    # Newest first: {dialog, state, data, stack, saved_at}; 继续 reopens the first.
    drafts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Attachment(Base):
    """A photo or a location a resident sent with a proposal or micro-suggestion (several per item)."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # image | location
    media_id: Mapped[str | None] = mapped_column(String(200))
    pic_url: Mapped[str | None] = mapped_column(String(500))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    label: Mapped[str | None] = mapped_column(String(200))
    # The photo's bytes, fetched from WeChat's temporary media (kept three days there) soon after it arrived.
    media_file_id: Mapped[int | None] = mapped_column(ForeignKey("media_files.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MediaFile(Base):
    """A photo a resident sent, fetched from the channel's media API and kept here: the queue of fetches
    (pending → fetching → stored | failed, retried with backoff; scheduler/media.py) and the bytes."""

    __tablename__ = "media_files"
    __table_args__ = (
        UniqueConstraint("channel", "media_id"),
        Index("ix_media_files_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))  # whose media API holds it: wechat | wecom
    media_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | fetching | stored | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)  # while fetching: the claim's deadline
    last_error: Mapped[str | None] = mapped_column(Text)  # why it could not be kept, as staff read it
    content_type: Mapped[str | None] = mapped_column(String(50))
    size: Mapped[int | None] = mapped_column(Integer)
    # Deferred: listing photos never loads their bytes.
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    fetched_at: Mapped[datetime | None]


class ProcessedMessage(Base):
    """One row per inbound message or event: the idempotency record and the reply it got."""

    __tablename__ = "processed_messages"
    __table_args__ = (UniqueConstraint("channel", "dedup_key"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    dedup_key: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    reply: Mapped[str | None] = mapped_column(Text)
    # True when the reply went out through the customer-service API instead of passively.
    delivered_async: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class CallbackNonce(Base):
    """The (timestamp, nonce) of a callback signed without its body (plaintext mode), with a hash of the
    body it carried: the same pair with another body is a forgery, with the same body a retry."""

    __tablename__ = "callback_nonces"
    __table_args__ = (UniqueConstraint("channel", "timestamp", "nonce"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    nonce: Mapped[str] = mapped_column(String(64))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 hex of the body (or the URL check's echostr)
    seen_at: Mapped[datetime] = mapped_column(index=True)


class OutboxMessage(Base):
    """A message to one recipient, written in the transaction that caused it, sent by the worker."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="text")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # pending | sending | sent | delivered | blocked | unfollowed | undelivered | failed (bot/services/outbox.py)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    # How it went out: custom (customer-service), subscribe (订阅通知), template, wecom, simulator.
    via: Mapped[str | None] = mapped_column(String(12))
    # The msgid WeChat answered a template or subscription send with: its delivery report names it.
    msgid: Mapped[str | None] = mapped_column(String(32), index=True)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class SubscribeConsent(Base):
    """A person's answer for one subscription-notification template (订阅通知): accepted in the subscribe
    popup, or rejected there or later in WeChat's notification settings. The latest answer is kept."""

    __tablename__ = "subscribe_consents"
    __table_args__ = (UniqueConstraint("person_id", "template_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    template_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(10))  # accepted | rejected
    changed_at: Mapped[datetime]


class AccessToken(Base):
    """The access_token cache shared by every process when Redis is not configured."""

    __tablename__ = "access_tokens"

    app: Mapped[str] = mapped_column(String(40), primary_key=True)
    token: Mapped[str] = mapped_column(String(600))
    expires_at: Mapped[datetime]


class SessionFormat(StrEnum):
    meeting = "meeting"  # 会议
    onsite = "onsite"  # 现场
    online = "online"  # 网络


class ConsultSession(Base):
    """A consultation session (协商活动) of a room."""

    __tablename__ = "consult_sessions"
    __table_args__ = (Index("ix_consult_sessions_room_start", "room_id", "starts_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    convenor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(200), default="")
    format: Mapped[str] = mapped_column(String(10), default=SessionFormat.meeting)
    materials_url: Mapped[str | None] = mapped_column(String(500))
    # scheduled | cancelled; 已举行 is derived from ends_at (bot/services/session_status.py)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    cancel_reason: Mapped[str | None] = mapped_column(Text)  # told to the invitees in the cancellation notice
    cancelled_at: Mapped[datetime | None]
    lists_recorded_at: Mapped[datetime | None]
    # When the convenor first marked who came (到会): from then on attendance is what was marked.
    attendance_marked_at: Mapped[datetime | None]
    nudges_sent: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    room: Mapped[Room] = relationship(lazy="joined")


class SessionTopic(Base):
    __tablename__ = "session_topics"

    session_id: Mapped[int] = mapped_column(ForeignKey("consult_sessions.id", ondelete="CASCADE"), primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True)


class SessionInvitee(Base):
    """Who is invited, and their answer (参加 / 请假)."""

    __tablename__ = "session_invitees"

    session_id: Mapped[int] = mapped_column(ForeignKey("consult_sessions.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20), default="member")  # member | representative | guest
    rsvp: Mapped[str] = mapped_column(String(10), default="pending")  # pending | attend | leave
    rsvp_reason: Mapped[str | None] = mapped_column(Text)
    rsvp_at: Mapped[datetime | None]
    # Marked present by the convenor after the session (到会); read only once the session's
    # attendance_marked_at is set (bot/services/records.py).
    present: Mapped[bool | None] = mapped_column(Boolean)


class ReminderDelivery(Base):
    """One row per (session, offset, start time) reminded: never twice, never for a time it no longer has."""

    __tablename__ = "reminder_deliveries"
    __table_args__ = (UniqueConstraint("session_id", "offset_seconds", "starts_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("consult_sessions.id", ondelete="CASCADE"))
    offset_seconds: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class Broadcast(Base):
    """A convenor's broadcast (广播): one outbox row per recipient, a report when all are final."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    audience: Mapped[str] = mapped_column(String(20))  # members | residents | proposers | invitees
    audience_ref: Mapped[int | None] = mapped_column(Integer)  # proposal or session id
    text: Mapped[str] = mapped_column(Text)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="sending")  # sending | done
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class ListKind(StrEnum):
    suggestions = "suggestions"  # 协商建议清单
    responsibilities = "responsibilities"  # 责任落实清单
    feedback = "feedback"  # 结果反馈清单


class Adoption(StrEnum):
    """Whether a feedback item's suggestion was adopted (Chinese names and the words read: bot/services/adoption.py)."""

    adopted = "adopted"  # 已采纳
    partly = "partly"  # 部分采纳
    pending = "pending"  # 待定: under consideration, not decided yet (暂未采纳, 研究中, 可能采纳)
    not_adopted = "not_adopted"  # 未采纳 (不采纳, 无法采纳, 暂不采纳)


class ListItem(Base):
    """One line of a session's three lists (三张清单)."""

    __tablename__ = "list_items"
    __table_args__ = (Index("ix_list_items_session_kind", "session_id", "kind"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("consult_sessions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer, default=1)
    text: Mapped[str] = mapped_column(Text)  # the suggestion, the responsibility item, or the feedback item
    unit: Mapped[str | None] = mapped_column(String(100))  # responsibility: responsible unit
    deadline: Mapped[datetime | None]  # responsibility: deadline
    progress: Mapped[int] = mapped_column(Integer, default=0)  # responsibility: percent done
    result: Mapped[str | None] = mapped_column(Text)  # feedback: the result
    adopted: Mapped[str | None] = mapped_column(String(12))  # feedback: an Adoption value
    answered_at: Mapped[datetime | None]  # responsibility: when feedback answered it
    published_at: Mapped[datetime | None]  # feedback: when pushed to residents
    last_overdue_reminder_at: Mapped[datetime | None]  # 督办: at most once a day
    # suggestions: who made it (`@名字` on the line), counted in their 履职档案
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ListItemLink(Base):
    """Which proposals and micro-suggestions a list item answers."""

    __tablename__ = "list_item_links"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("list_items.id", ondelete="CASCADE"), index=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id", ondelete="CASCADE"), index=True)


class ResultDelivery(Base):
    """A published result as it reached one person: the rating and the 30-day follow-up hang off it."""

    __tablename__ = "result_deliveries"
    __table_args__ = (UniqueConstraint("item_id", "person_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("list_items.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="SET NULL"))
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id", ondelete="SET NULL"))
    delivered_at: Mapped[datetime]
    rating: Mapped[str | None] = mapped_column(String(12))  # satisfied | basically | unsatisfied
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None]
    followup_asked_at: Mapped[datetime | None]
    followup_answer: Mapped[str | None] = mapped_column(String(12))  # solved | unsolved | unsure
    followup_reason: Mapped[str | None] = mapped_column(Text)
    followup_answered_at: Mapped[datetime | None]
    reopened: Mapped[bool] = mapped_column(Boolean, default=False)  # 回头看: back on the convenor's queue
    convenor_reply: Mapped[str | None] = mapped_column(Text)


class AdminUser(Base):
    """A web admin login (政协办). Passwords are stored hashed only."""

    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AdminSession(Base):
    """A signed-in admin browser. The cookie carries a random token; only its SHA-256 is kept here, and
    logging out (or a new password) deletes the row, so the cookie opens nothing any more."""

    __tablename__ = "admin_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie's token
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class LoginThrottle(Base):
    """Admin login attempts under one key (an address, a name) in the current window, shared by every
    worker. The key is a keyed hash: no address or typed name is stored."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(Integer)


class StaffNotice(Base):
    """A line waiting for a convenor's next batch (新提议, 新微建言, 附议, 请假 …): sent with the others."""

    __tablename__ = "staff_notices"
    __table_args__ = (Index("ix_staff_notices_waiting", "sent_at", "person_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    line: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class AccessAudit(Base):
    """Who in the office saw personal data in full, and when: a proposal's phone number (显示电话) or an
    unmasked export. Written in the request that showed it; read-only in the admin."""

    __tablename__ = "access_audit"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    admin_user_id: Mapped[int | None] = mapped_column(ForeignKey("admin_users.id", ondelete="SET NULL"), index=True)
    admin_username: Mapped[str] = mapped_column(String(64))  # kept when the login is deleted
    action: Mapped[str] = mapped_column(String(20))  # view_phone | export_unmasked
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="SET NULL"), index=True)
    detail: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class QrCode(Base):
    """A permanent WeChat QR code (民生码) of a room or a proposal, its scene string and how often it was scanned.

    The scene (`room-<id>` or the proposal's receipt) comes back in the subscribe / SCAN event of a scan."""

    __tablename__ = "qr_codes"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    scene: Mapped[str] = mapped_column(String(64), unique=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"), index=True)
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    ticket: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(500), default="")  # what the code encodes (weixin.qq.com/q/…)
    image_path: Mapped[str] = mapped_column(String(500), default="")
    scans: Mapped[int] = mapped_column(Integer, default=0)
    last_scanned_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SensitiveWord(Base):
    """A word the office keeps in the admin: residents' text containing it waits for a convenor before
    it is shown on the live page or the board. Matching folds case, width, spaces and punctuation."""

    __tablename__ = "sensitive_words"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    word: Mapped[str] = mapped_column(String(50), unique=True)
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Read with the count and the largest id as the list's version: workers rebuild their matcher when it moves.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StarRule(Base):
    """The office's rule for a member's stars in the 履职档案 (bot/services/records.py): a person gets the
    most stars whose row they reach, in attendance rate and in contributions (荐题 + 清单建议 + 回应)."""

    __tablename__ = "star_rules"

    stars: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1 to 5
    min_attendance: Mapped[int] = mapped_column(Integer)  # percent of the held sessions invited to
    min_contributions: Mapped[int] = mapped_column(Integer, default=0)


class OpinionRound(Base):
    """征求意见: short statements a convenor puts to the room's people before a session (issue 14)."""

    __tablename__ = "opinion_rounds"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    # The session it prepares (the room's next one when it was sent), shown on that session's live page.
    session_id: Mapped[int | None] = mapped_column(ForeignKey("consult_sessions.id", ondelete="SET NULL"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    room: Mapped[Room] = relationship(lazy="joined")


class OpinionStatement(Base):
    """One statement of a round: the convenor's, or a participant's own once the convenor takes it (采用)."""

    __tablename__ = "opinion_statements"
    __table_args__ = (UniqueConstraint("round_id", "number", name="uq_opinion_statements_round_number"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("opinion_rounds.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... in the order it was written; 采用 N names it
    text: Mapped[str] = mapped_column(String(200))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default="shown")  # shown | waiting (for 采用) | declined
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OpinionParticipant(Base):
    """Who a round asks; `asked_at` is when a statement was last put to them (a digit answers the newest ask)."""

    __tablename__ = "opinion_participants"

    round_id: Mapped[int] = mapped_column(ForeignKey("opinion_rounds.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True, index=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    asked_at: Mapped[datetime | None]


class OpinionVote(Base):
    """One person's 同意 / 不同意 / 跳过 on one statement (the latest answer counts)."""

    __tablename__ = "opinion_votes"

    statement_id: Mapped[int] = mapped_column(ForeignKey("opinion_statements.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("opinion_rounds.id", ondelete="CASCADE"), index=True)
    vote: Mapped[str] = mapped_column(String(10))  # agree | disagree | pass
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PriorityRound(Base):
    """排序: residents compare pairs of the room's open proposals; a Bradley-Terry fit ranks them."""

    __tablename__ = "priority_rounds"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]


class PriorityPair(Base):
    """One pair put to one person, in the order they get them, and their answer."""

    __tablename__ = "priority_pairs"
    __table_args__ = (
        UniqueConstraint("round_id", "person_id", "position", name="uq_priority_pairs_round_person_position"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("priority_rounds.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    first_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    second_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    answer: Mapped[str | None] = mapped_column(String(10))  # first | second | neither (都不急)
    asked_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
