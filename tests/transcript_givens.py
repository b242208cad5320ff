"""`given:` lines of conversation transcripts: the world set up directly in the database.

Each given is a function registered with `@given("name")`. It gets a `Setup` (a database session
in its own transaction, the clock, the channel and people by name) and the words of the line:
one string parameter per word, the last one taking the rest of the line. A given that makes a
receipt or a code returns it, and the transcript may capture it by ending the line with `{NAME}`
(`capture="optional"`, or `"required"` when the given is useless without it).

To add one: write a function below with a docstring (shown when a transcript names a given that
does not exist) and raise `GivenError` with a plain sentence for anything the line gets wrong.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, FakeClock
from bot.services import clocks, digest, followup, lists, people, proposals, qrcodes, staff_notices
from bot.services.invites import create_invite
from bot.services.list_parse import ParsedLine
from bot.services.proposals import CLOSED, NewProposal
from bot.services.rooms import TreeError, create_room, parent_problem
from bot.settings import Settings
from storage.db import transaction
from storage.models import (
    Adoption,
    ConsultSession,
    Person,
    Proposal,
    ProposalStatus,
    QrCode,
    ResultDelivery,
    Role,
    Room,
    RoomLevel,
    RoomRole,
    SensitiveWord,
    SessionInvitee,
    SessionTopic,
)
from tests.transcript import GivenError, expand, person_id

__all__ = ["GIVENS", "Setup", "World", "given", "run_given"]


@dataclass(frozen=True)
class World:
    """What every given of one transcript run shares."""

    factory: sessionmaker[Session]
    clock: Clock
    channel: str
    settings: Settings | None = None  # the app's: `given: setting` changes it for the rest of the run


@dataclass(frozen=True)
class Setup:
    """One given's view of the world: a session inside its transaction, and look-ups by name."""

    session: Session
    world: World

    @property
    def now(self) -> datetime:
        return self.world.clock.now()

    @property
    def settings(self) -> Settings:
        """The app's settings when the harness shares them, else the defaults."""
        return self.world.settings or Settings(_env_file=None)  # type: ignore[call-arg]

    def person(self, name: str) -> Person:
        """The person a transcript calls `name` on this channel, created if new, display name set."""
        person = people.get_or_create(
            self.session, channel=self.world.channel, external_id=person_id(self.world.channel, name)
        )
        if not person.display_name:
            person.display_name = name
        return person

    def room(self, name: str) -> Room:
        """The room with exactly this name."""
        room = self.session.scalars(select(Room).where(Room.name == name)).first()
        if room is None:
            names = "、".join(self.session.scalars(select(Room.name).order_by(Room.id)).all()) or "none yet"
            raise GivenError(f"no room is named {name!r} (rooms: {names}); add `given: room {name}` first")
        return room


Capturing = Literal["none", "optional", "required"]
GivenFunction = Callable[..., str | None]


@dataclass(frozen=True)
class Spec:
    name: str
    function: GivenFunction
    params: tuple[str, ...]  # after the Setup
    required: int
    capture: Capturing

    @property
    def usage(self) -> str:
        words = [p.upper() if i < self.required else f"[{p.upper()}]" for i, p in enumerate(self.params)]
        if self.capture == "optional":
            words.append("[{CAPTURE}]")
        elif self.capture == "required":
            words.append("{CAPTURE}")
        return f"given: {self.name} {' '.join(words)}".rstrip()

    @property
    def summary(self) -> str:
        return (inspect.getdoc(self.function) or "").split("\n")[0]


GIVENS: dict[str, Spec] = {}


def given(name: str, *, capture: Capturing = "none") -> Callable[[GivenFunction], GivenFunction]:
    """Register a given under `name`; its string parameters after the Setup are the line's words."""

    def register(function: GivenFunction) -> GivenFunction:
        params = list(inspect.signature(function).parameters.values())[1:]
        required = sum(1 for p in params if p.default is inspect.Parameter.empty)
        GIVENS[name] = Spec(name, function, tuple(p.name for p in params), required, capture)
        return function

    return register


_TRAILING_CAPTURE = re.compile(r"\s*\{([A-Za-z_][A-Za-z0-9_]*)\}\s*$")


def run_given(world: World, name: str, args: str, captured: dict[str, str]) -> None:
    """Run one `given:` line; GivenError says what is wrong with it."""
    spec = GIVENS.get(name)
    if spec is None:
        known = "\n".join(f"    {s.usage}  — {s.summary}" for s in GIVENS.values())
        raise GivenError(f"there is no given {name!r}. The givens are:\n{known}")
    capture = None
    if spec.capture != "none" and (trailing := _TRAILING_CAPTURE.search(args)) is not None:
        capture, args = trailing.group(1), args[: trailing.start()]
        if capture in captured:
            raise GivenError(f"{{{capture}}} is captured already ({captured[capture]!r})")
    if spec.capture == "required" and capture is None:
        raise GivenError(f"end the line with {{NAME}} to capture what it makes: {spec.usage}")
    try:
        args = expand(args, captured)
    except KeyError as missing:
        raise GivenError(f"{{{missing.args[0]}}} was never captured") from None
    words = args.split(maxsplit=len(spec.params) - 1) if spec.params else []
    if len(words) < spec.required or len(words) > len(spec.params):
        raise GivenError(f"expected {spec.usage}")
    with transaction(world.factory) as session:
        made = spec.function(Setup(session, world), *words)
    if capture is not None:
        if made is None:
            raise GivenError(f"`given: {name}` makes nothing to capture")
        captured[capture] = made


# --------------------------------------------------------------------------------------------
# The givens
# --------------------------------------------------------------------------------------------

LEVELS = {
    "district": RoomLevel.district,
    "区": RoomLevel.district,
    "县": RoomLevel.district,
    "town": RoomLevel.town,
    "镇": RoomLevel.town,
    "街道": RoomLevel.town,
    "village": RoomLevel.village,
    "村": RoomLevel.village,
    "社区": RoomLevel.village,
    "enterprise": RoomLevel.enterprise,
    "企业": RoomLevel.enterprise,
    "sector": RoomLevel.sector,
    "界别": RoomLevel.sector,
}
ROLES = {
    "委员": Role.member,
    "member": Role.member,
    "代表": Role.representative,
    "群众代表": Role.representative,
    "representative": Role.representative,
    "召集人": Role.convenor,
    "convenor": Role.convenor,
}


def _role(word: str) -> Role:
    role = ROLES.get(word)
    if role is None:
        raise GivenError(f"{word!r} is not a role (one of: {'、'.join(ROLES)})")
    return role


def _add_role(g: Setup, who: str, room: str, role: Role) -> None:
    person, place = g.person(who), g.room(room)
    g.session.flush()
    exists = g.session.scalars(
        select(RoomRole).where(RoomRole.room_id == place.id, RoomRole.person_id == person.id, RoomRole.role == role)
    ).first()
    if exists is None:
        g.session.add(RoomRole(room_id=place.id, person_id=person.id, role=role, created_at=g.now))


@given("room")
def room(g: Setup, name: str, level: str = "village", parent: str = "") -> None:
    """A room (议事室); the level is district/town/village/enterprise/sector or 区/镇/村/社区/企业/界别 (default
    village); PARENT names its parent room (报上级 sends items there), which the tree must allow."""
    if level not in LEVELS:
        raise GivenError(f"{level!r} is not a room level (one of: {'、'.join(LEVELS)})")
    if g.session.scalars(select(Room.id).where(Room.name == name)).first() is not None:
        raise GivenError(f"the room {name!r} exists already")
    try:
        create_room(g.session, name=name, level=LEVELS[level], parent=g.room(parent) if parent else None)
    except TreeError as wrong:
        raise GivenError(str(wrong)) from None


@given("parent_room")
def parent_room(g: Setup, child: str, parent: str) -> None:
    """Room CHILD sits under room PARENT in the tree (a village room under a town's)."""
    below, above = g.room(child), g.room(parent)
    problem = parent_problem(g.session, level=below.level, parent=above, room_id=below.id)
    if problem:
        raise GivenError(problem)
    below.parent_id = above.id


@given("sensitive")
def sensitive(g: Setup, word: str) -> None:
    """WORD is on the office's sensitive-word list (the admin's 敏感词): text containing it waits for 公开."""
    g.session.add(SensitiveWord(word=word, created_at=g.now, updated_at=g.now))


@given("convenor")
def convenor(g: Setup, who: str, room: str) -> None:
    """WHO is a convenor (召集人) of ROOM."""
    _add_role(g, who, room, Role.convenor)


@given("member")
def member(g: Setup, who: str, room: str) -> None:
    """WHO is a member (委员) of ROOM."""
    _add_role(g, who, room, Role.member)


@given("representative")
def representative(g: Setup, who: str, room: str) -> None:
    """WHO is a representative (群众代表) of ROOM."""
    _add_role(g, who, room, Role.representative)


@given("resident")
def resident(g: Setup, who: str, room: str) -> None:
    """WHO has used ROOM before: it is remembered (people.last_room_id) and not asked again."""
    g.person(who).last_room_id = g.room(room).id


@given("proposal", capture="optional")
def proposal(g: Setup, who: str, room: str, text: str) -> str:
    """WHO filed a proposal (提议, 已提交) in ROOM saying TEXT, just now; captures its YS receipt.

    As filing it in chat would: the room is remembered, and WHO has just written to the account
    (the 48-hour customer-service window is open, so news of it goes out as plain text).
    """
    person, place = g.person(who), g.room(room)
    g.session.flush()
    due = clocks.first_answer_due(g.now, clocks.Limits.of(g.settings))
    new = NewProposal(place.id, person.id, text, answer_due_at=due.answer, escalate_at=due.escalate)
    filed = proposals.file(g.session, new=new, now=g.now)
    person.last_room_id = place.id
    people.touch_inbound(person, now=g.now)
    return filed.receipt


@given("qrcode", capture="optional")
def qrcode(g: Setup, target: str) -> str:
    """The 民生码 of TARGET (a room's name or a YS receipt) exists, as `shangliang qrcode` makes it; captures
    its scene string, which `[扫码 SCENE]` and `[关注 SCENE]` send back."""
    if target.startswith("YS"):
        item = proposals.by_receipt(g.session, receipt=target)
        if item is None:
            raise GivenError(f"no proposal has the receipt {target!r}")
        found = qrcodes.target_of_proposal(item)
    else:
        found = qrcodes.target_of_room(g.room(target))
    g.session.add(
        QrCode(
            scene=found.scene,
            room_id=found.room_id,
            proposal_id=found.proposal_id,
            ticket=f"ticket-{found.scene}",
            image_path="",
            created_at=g.now,
            updated_at=g.now,
        )
    )
    return found.scene


@given("support")
def support(g: Setup, who: str, receipt: str) -> None:
    """WHO supports (附议) the proposal RECEIPT (write it as a capture: {YS1})."""
    person = g.person(who)
    found = proposals.by_receipt(g.session, receipt=receipt)
    if found is None:
        raise GivenError(f"no proposal has the receipt {receipt!r}")
    g.session.flush()
    if not proposals.support(g.session, proposal_id=found.id, person_id=person.id, now=g.now):
        raise GivenError(f"{who} already proposed or supports {receipt}")


@given("approved")
def approved(g: Setup, receipt: str) -> None:
    """The proposal RECEIPT is 审定 (approved by 幸福社区党委 just now): a topic 新建协商 offers."""
    found = proposals.by_receipt(g.session, receipt=receipt)
    if found is None:
        raise GivenError(f"no proposal has the receipt {receipt!r}")
    found.approval_unit = "幸福社区党委"
    found.approved_at = g.now
    for status in (ProposalStatus.accepted, ProposalStatus.approved):
        proposals.change_status(g.session, proposal=found, to=status, actor_id=None, reason="审定", now=g.now)


@given("invite", capture="required")
def invite(g: Setup, room: str, role: str) -> str:
    """A one-time invite code (7 days) for ROLE (委员/代表/召集人) in ROOM; capture the code."""
    return create_invite(g.session, room_id=g.room(room).id, role=_role(role), now=g.now).code


@given("result", capture="optional")
def result(g: Setup, who: str, text: str) -> str:
    """WHO's proposal has a published result TEXT awaiting their rating; captures its YS receipt.

    The proposal is WHO's newest open one (see `given: proposal`), else a new one in their
    remembered room described as "WHO反映的问题". A session of that room held yesterday has it as
    its topic and a 结果反馈清单 item (事项 = the description, 结果 = TEXT, 采纳) recorded with
    `lists.store_items` and published with `lists.publish_feedback`, which queues the result to
    WHO and the proposal's supporters (send it with `<<`).
    """
    person = g.person(who)
    g.session.flush()
    topic = g.session.scalars(
        select(Proposal)
        .where(Proposal.proposer_id == person.id, Proposal.status.not_in(CLOSED))
        .order_by(Proposal.id.desc())
    ).first()
    if topic is None:
        room_id = person.last_room_id or _only_room(g, who)
        topic = proposals.file_proposal(
            g.session,
            new=NewProposal(room_id=room_id, proposer_id=person.id, description=f"{who}反映的问题"),
            now=g.now,
        )
    receipt = topic.receipt or ""
    held = g.now - timedelta(days=1)
    meeting = ConsultSession(
        room_id=topic.room_id, title=f"{topic.room.name}协商会", starts_at=held, ends_at=held + timedelta(hours=2)
    )
    g.session.add(meeting)
    g.session.flush()
    g.session.add(SessionTopic(session_id=meeting.id, proposal_id=topic.id))
    line = ParsedLine(
        line_no=1, raw=text, text=topic.description, result=text, adopted=Adoption.adopted, receipts=[receipt]
    )
    lists.store_items(g.session, consult=meeting, kind="feedback", lines=[line], replace=False, now=g.now)
    published, queued = lists.publish_feedback(g.session, session_id=meeting.id, actor_id=None, now=g.now)
    if published != 1 or queued < 1:
        raise GivenError(f"publishing the result queued {queued} messages for {published} items")
    return receipt


def _only_room(g: Setup, who: str) -> int:
    rooms = g.session.scalars(select(Room.id)).all()
    if len(rooms) != 1:
        raise GivenError(f"which room is {who}'s? add `given: resident {who} ROOM` (or `given: proposal`) first")
    return rooms[0]


def _published(g: Setup, proposal: Proposal, text: str) -> None:
    """A session of the proposal's room held yesterday, with a feedback item TEXT on it, published."""
    held = g.now - timedelta(days=1)
    meeting = ConsultSession(
        room_id=proposal.room_id, title=f"{proposal.room.name}协商会", starts_at=held, ends_at=held + timedelta(hours=2)
    )
    g.session.add(meeting)
    g.session.flush()
    line = ParsedLine(
        line_no=1,
        raw=text,
        text=proposal.description,
        result=text,
        adopted=Adoption.adopted,
        receipts=[proposal.receipt or ""],
    )
    lists.store_items(g.session, consult=meeting, kind="feedback", lines=[line], replace=False, now=g.now)
    lists.publish_feedback(g.session, session_id=meeting.id, actor_id=None, now=g.now)


@given("another_result")
def another_result(g: Setup, receipt: str, text: str) -> None:
    """A second published result TEXT on the proposal RECEIPT (two results on one receipt)."""
    found = proposals.by_receipt(g.session, receipt=receipt)
    if found is None:
        raise GivenError(f"no proposal {receipt}")
    _published(g, found, text)


@given("followups_asked")
def followups_asked(g: Setup) -> None:
    """Everyone with a published result is asked now whether it is really solved (as the 30-day job does)."""
    if followup.ask_due(g.session, now=g.now, after=timedelta(0), tz="Asia/Shanghai") == 0:
        raise GivenError("nobody had a result to be asked about; add `given: result …` first")


@given("reopened")
def reopened(g: Setup, who: str, reason: str) -> None:
    """WHO answered 没解决 with REASON to their newest result: it is back on the convenors' 回头看 list."""
    person = g.person(who)
    g.session.flush()
    delivery = g.session.scalars(
        select(ResultDelivery).where(ResultDelivery.person_id == person.id).order_by(ResultDelivery.id.desc())
    ).first()
    if delivery is None:
        raise GivenError(f"{who} has no result; add `given: result {who} …` first")
    delivery.followup_asked_at = g.now
    followup.reopen(g.session, delivery=delivery, reason=reason, now=g.now)


@given("responsibility")
def responsibility(g: Setup, room: str, text: str) -> None:
    """An open responsibility item TEXT (责任单位 社区居委会, due in ten days) of a session of ROOM held yesterday."""
    place = g.room(room)
    held = g.now - timedelta(days=1)
    meeting = g.session.scalars(
        select(ConsultSession).where(ConsultSession.room_id == place.id, ConsultSession.starts_at == held)
    ).first()
    if meeting is None:
        meeting = ConsultSession(
            room_id=place.id, title=f"{place.name}协商会", starts_at=held, ends_at=held + timedelta(hours=2)
        )
        g.session.add(meeting)
        g.session.flush()
    line = ParsedLine(line_no=1, raw=text, text=text, unit="社区居委会", deadline=(g.now + timedelta(days=10)).date())
    lists.store_items(g.session, consult=meeting, kind="responsibilities", lines=[line], replace=False, now=g.now)


_IN = re.compile(r"^(-?\d+)([mhd])$")


@given("session", capture="optional")
def session(g: Setup, room: str, title: str, starts_in: str, form: str = "meeting") -> str:
    """A scheduled session of ROOM called TITLE starting in STARTS_IN (4m, 2h, 3d; -1d: held yesterday) from
    now, convened by the room's convenor, with the room's members invited; FORM meeting/onsite/online.
    Captures its number."""
    match = _IN.match(starts_in)
    if match is None:
        raise GivenError(f"say when as 4m, 2h or 3d, not {starts_in!r}")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    starts = g.now + timedelta(**{unit: int(match.group(1))})
    place = g.room(room)
    convenor_id = g.session.scalars(
        select(RoomRole.person_id).where(RoomRole.room_id == place.id, RoomRole.role == Role.convenor)
    ).first()
    meeting = ConsultSession(
        room_id=place.id,
        convenor_id=convenor_id,
        title=title,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        place="社区二楼会议室",
        format=form,
    )
    g.session.add(meeting)
    g.session.flush()
    members = g.session.scalars(
        select(RoomRole.person_id).where(RoomRole.room_id == place.id, RoomRole.role != Role.convenor)
    ).all()
    g.session.add_all(SessionInvitee(session_id=meeting.id, person_id=pid, role="member") for pid in set(members))
    return str(meeting.id)


@given("daily_reminders")
def daily_reminders(g: Setup) -> None:
    """The daily 督办 job runs now (overdue responsibility items, long-unanswered 微建言), default settings."""
    digest.remind_overdue(g.session, now=g.now, settings=g.settings)


@given("notice_batches")
def notice_batches(g: Setup) -> None:
    """The convenors' batched notices go out now (the job that runs every NOTICE_BATCH_INTERVAL)."""
    staff_notices.send_batches(g.session, now=g.now, settings=g.settings)


@given("now")
def now(g: Setup, day: str, clock_time: str = "10:00") -> None:
    """The clock stands at DAY (2026-09-30) and TIME (local, default 10:00): put it first, before anything happens."""
    if not isinstance(g.world.clock, FakeClock):
        raise GivenError("this harness's clock cannot be set")
    try:
        moment = datetime.fromisoformat(f"{day}T{clock_time}").replace(tzinfo=ZoneInfo(g.settings.timezone))
    except ValueError:
        raise GivenError(f"write the day as 2026-09-30 and the time as 10:00, not {day} {clock_time}") from None
    g.world.clock.set(moment)


@given("setting")
def setting(g: Setup, name: str, value: str) -> None:
    """The app's setting NAME (as in .env.example: SUPPORT_THRESHOLD) is VALUE for the rest of the transcript."""
    if g.world.settings is None:
        raise GivenError("this harness does not share the app's settings")
    field = name.lower()
    if field not in Settings.model_fields:
        raise GivenError(f"there is no setting {name!r} (see .env.example)")
    try:
        parsed = Settings(_env_file=None, **{field: value})  # type: ignore[call-arg]
    except ValueError as exc:
        raise GivenError(f"{name}={value!r} is not valid: {exc}") from None
    setattr(g.world.settings, field, getattr(parsed, field))
