"""Sessions from chat: 新建协商 with its preview and warnings, 改期, 取消会议, RSVP, 我的会议, the .ics file."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.runtime import Runtime
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import (
    ConsultSession,
    OutboxMessage,
    Person,
    Proposal,
    ProposalStatus,
    SessionInvitee,
    StatusChange,
)
from tests.fake_wechat import FakeWeChat
from tests.helpers import (
    CONVENOR,
    DEC3_1500,
    STANDARD,
    make_room,
    only_session,
    schedule,
    small_session,
    texts_to,
)
from tests.wxclient import WeChatCallbackClient, WeComCallbackClient


def test_convenor_schedules_a_session_from_chat(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """Topics by number, the name (the first topic by default), a Chinese time, the end (two hours later
    by default), place, format, invitees, materials, preview, 确认: stored and announced."""
    room = make_room(factory, clock, wecom)
    replies = schedule(wecom, STANDARD)
    assert "已审定的议题" in replies[0] and room.topics[0] in replies[0]
    assert "会议名称用什么" in replies[1] and "1. 幸福路北段路灯坏了一个多月，晚上很黑（默认）" in replies[1]
    assert "会议名称：幸福路北段路灯坏了一个多月，晚上很黑" in replies[2] and "什么时候开始" in replies[2]
    assert "2026年12月3日 15:00（星期四）" in replies[3] and "几点结束" in replies[3]
    assert "结束：17:00（共 2 小时）" in replies[4] and "在哪里" in replies[4]
    assert "1. 会议" in replies[5]
    assert "本室全部委员和代表" in replies[6]
    assert "材料" in replies[7]
    preview = replies[8]
    assert "请核对这次协商" in preview and "共 12 人" in preview and "群众代表 4 人" in preview
    assert "时间：2026年12月3日 15:00（星期四）至 17:00" in preview
    assert "少于 10 人" not in preview and "三分之一" not in preview
    assert "已创建会议 1" in replies[9] and "已通知 12 位受邀人" in replies[9]

    consult = only_session(factory)
    assert consult.starts_at == DEC3_1500 and consult.ends_at == DEC3_1500 + timedelta(hours=2)
    assert consult.title == "幸福路北段路灯坏了一个多月，晚上很黑"
    assert consult.place == "社区二楼,会议室" and consult.format == "meeting"
    assert consult.materials_url == "https://example.org/材料.pdf"
    with factory() as session:
        statuses = session.scalars(select(Proposal.status)).all()
        assert statuses == ["scheduled", "scheduled"]
        assert len(session.scalars(select(SessionInvitee)).all()) == 12
        assert session.scalars(select(StatusChange).where(StatusChange.to_status == "scheduled")).first() is not None

    outbox_worker.run_once()
    notice = texts_to(fake, "m0")
    assert len(notice) == 1
    assert "协商通知" in notice[0] and "时间：2026年12月3日 15:00（星期四）至 17:00" in notice[0]
    assert "会议：幸福路北段路灯坏了一个多月，晚上很黑" in notice[0] and "社区二楼,会议室" in notice[0]
    assert "议题：幸福路北段路灯坏了一个多月，晚上很黑；小区门口电动车乱停，消防通道被堵" in notice[0]
    assert "/sessions/1.ics" in notice[0] and "回复「参加」或「请假 理由」" in notice[0]
    assert texts_to(fake, "r3") == notice
    told = texts_to(fake, "resident")
    assert told and all("已列入协商" in t for t in told) and "12月3日" in told[0]


def test_preview_warns_about_small_sessions_and_few_representatives(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """Three members and no representatives: the preview warns on both counts, and 确认 still works."""
    make_room(factory, clock, wecom, members=3, representatives=0, topics=0)
    replies = schedule(wecom, ["路灯维修协商", "下周二14:30", "跳过", "幸福路现场", "现场", "只选委员", "跳过"])
    assert "没有已审定的议题" in replies[0]
    preview = replies[-1]
    assert "共 3 人" in preview and "少于 10 人" in preview and "不到受邀人数的三分之一" in preview
    assert "已创建会议" in wecom.send_text(CONVENOR, "确认").content
    consult = only_session(factory)
    assert consult.title == "路灯维修协商" and consult.format == "onsite"


def test_ambiguous_time_is_asked_and_the_short_answer_settles_it(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """`12月3日3点` asks 凌晨还是下午; `下午` completes it; a past date and nonsense are refused plainly."""
    make_room(factory, clock, wecom)
    replies = schedule(wecom, ["1", "跳过", "11月20日下午3点", "随便", "12月3日3点", "下午"])
    assert "已经过去" in replies[3]
    assert "没看懂" in replies[4]
    assert "凌晨3点还是下午3点" in replies[5]
    assert "2026年12月3日 15:00" in replies[6] and "几点结束" in replies[6]


def test_named_people_are_added_and_unknown_names_refused(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """「1 另加 王芳」 invites a named person too; a name nobody has is refused with the name shown."""
    make_room(factory, clock, wecom)
    replies = schedule(wecom, ["1", "跳过", "明天上午9点", "跳过", "社区会议室", "1", "1 另加 张无名"])
    assert "没有找到叫「张无名」" in replies[-1]
    assert "材料" in wecom.send_text(CONVENOR, "1 另加 王芳").content
    assert "共 13 人" in wecom.send_text(CONVENOR, "跳过").content
    wecom.send_text(CONVENOR, "确认")
    with factory() as session:
        roles = sorted(i.role for i in session.scalars(select(SessionInvitee)))
    assert roles.count("guest") == 1 and len(roles) == 13


def test_residents_and_members_cannot_schedule(
    wecom: WeComCallbackClient, wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """新建协商, 改期 and 取消会议 are refused to a resident and to a member; nothing is created."""
    make_room(factory, clock, wecom)
    assert "召集人使用的功能" in wechat.send_text("o-resident", "新建协商").content
    assert "召集人使用的功能" in wecom.send_text("m0", "改期 1 明天下午3点").content
    assert "召集人使用的功能" in wecom.send_text("m0", "取消会议 1").content
    with factory() as session:
        assert session.scalars(select(ConsultSession)).first() is None


def test_rsvp_and_tally(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock, fake: FakeWeChat
) -> None:
    """Members answer 参加 / 请假 理由; the convenor's 出席情况 counts them and names who is away or silent."""
    make_room(factory, clock, wecom, members=3, representatives=1)
    schedule(wecom, STANDARD)
    assert "已登记：您将参加会议 1" in wecom.send_text("m0", "参加").content
    assert "已为您登记请假（理由：出差）" in wecom.send_text("m1", "请假 出差").content
    assert "不需要答复" in wecom.send_text("stranger", "参加").content
    tally = wecom.send_text(CONVENOR, "出席情况").content
    assert "共邀请 4 人，参加 1 人，请假 1 人，未回复 2 人" in tally
    assert "委员1（出差）" in tally and "未回复：委员2、代表0" in tally
    mine = wecom.send_text("m1", "我的会议").content
    assert "会议 1" in mine and "您的回复：请假" in mine
    assert "参加 1 人" in wecom.send_text(CONVENOR, "出席情况 1").content


def test_rsvp_by_number_when_invited_to_several(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """With two upcoming sessions, 参加 answers the nearest and 「请假 2 有事」 answers session 2."""
    make_room(factory, clock, wecom, members=2, representatives=0, topics=0)
    schedule(wecom, ["第一次协商", "12月3日15:00", "跳过", "会议室", "1", "1", "跳过", "确认"])
    schedule(wecom, ["第二次协商", "12月10日15:00", "跳过", "会议室", "1", "1", "跳过", "确认"])
    first = wecom.send_text("m0", "参加").content
    assert "会议 1" in first and "还受邀参加会议 2" in first
    assert "会议 2" in wecom.send_text("m0", "请假 2 有事").content
    with factory() as session:
        m0 = session.scalars(select(Person.id).where(Person.external_id == "m0")).one()
        rows = session.scalars(select(SessionInvitee).where(SessionInvitee.person_id == m0))
        answers = {i.session_id: (i.rsvp, i.rsvp_reason) for i in rows}
    assert answers == {1: ("attend", None), 2: ("leave", "有事")}


def test_move_tells_every_invitee_and_the_proposers(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """改期 with a confirm step moves the session, clears the answers given for the old time, and every
    invitee is asked again; the proposers hear the new time."""
    small_session(factory, clock, wecom)
    outbox_worker.run_once()
    wecom.send_text("m0", "参加")
    wecom.send_text("m1", "请假 出差")
    ask = wecom.send_text(CONVENOR, "改期 1 12月10日下午3点").content
    assert "2026年12月3日 15:00" in ask and "2026年12月10日 15:00" in ask and "确认" in ask
    assert only_session(factory).starts_at == DEC3_1500  # nothing changes before 确认
    assert "已改到 2026年12月10日 15:00" in wecom.send_text(CONVENOR, "确认").content
    assert only_session(factory).starts_at == DEC3_1500 + timedelta(days=7)
    outbox_worker.run_once()
    for user in ("m0", "m1", "r0"):
        moved = texts_to(fake, user)[-1]
        assert "改期通知" in moved and "2026年12月10日 15:00" in moved
        assert "请重新答复" in moved and "请回复「参加」或「请假 理由」" in moved
    with factory() as session:
        answers = {(i.rsvp, i.rsvp_reason, i.rsvp_at) for i in session.scalars(select(SessionInvitee))}
    assert answers == {("pending", None, None)}
    assert "改期到 2026年12月10日" in texts_to(fake, "resident")[-1]


def test_move_with_an_unclear_time_asks_first(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """「改期 1 12月10日3点」 asks 凌晨还是下午 before anything moves; bad numbers get a plain sentence."""
    small_session(factory, clock, wecom)
    assert "凌晨3点还是下午3点" in wecom.send_text(CONVENOR, "改期 1 12月10日3点").content
    assert "2026年12月10日 15:00" in wecom.send_text(CONVENOR, "下午").content
    assert "已改到" in wecom.send_text(CONVENOR, "确认").content
    assert "没有找到您议事室的会议 9" in wecom.send_text(CONVENOR, "改期 9 明天下午3点").content
    assert "请发送「改期 会议编号 新时间」" in wecom.send_text(CONVENOR, "改期").content


def test_cancel_tells_every_invitee_and_returns_the_topics(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """取消会议 asks why first; 算了 keeps it; a reason and 确认 cancel it, store the reason, tell every
    invitee why, and the topics are 已审定 again."""
    small_session(factory, clock, wecom)
    assert "要取消会议 1" in wecom.send_text(CONVENOR, "取消会议 1").content
    wecom.send_text(CONVENOR, "算了")
    assert only_session(factory).status == "scheduled"
    assert "请写取消的原因" in wecom.send_text(CONVENOR, "取消会议 1").content
    assert "取消原因：场地临时维修" in wecom.send_text(CONVENOR, "场地临时维修").content
    assert only_session(factory).status == "scheduled"  # nothing changes before 确认
    assert "会议 1 已取消" in wecom.send_text(CONVENOR, "确认").content
    consult = only_session(factory)
    assert (consult.status, consult.cancel_reason, consult.cancelled_at) == ("cancelled", "场地临时维修", clock.now())
    with factory() as session:
        assert session.scalars(select(Proposal.status)).all() == ["approved", "approved"]
    outbox_worker.run_once()
    assert "取消通知" in texts_to(fake, "m1")[-1] and "取消原因：场地临时维修" in texts_to(fake, "m1")[-1]
    assert "已取消" in texts_to(fake, "resident")[-1]
    assert "已经取消" in wecom.send_text(CONVENOR, "改期 1 明天下午3点").content
    assert "没有即将举行" in wecom.send_text("m0", "我的会议").content


def test_my_sessions_lists_upcoming_only(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """我的会议 shows an invited session until it starts, and the convenor sees the ones they convene."""
    make_room(factory, clock, wecom, members=2, representatives=0)
    schedule(wecom, STANDARD)
    mine = wecom.send_text("m0", "我的会议").content
    assert "会议 1：2026年12月3日 15:00" in mine and "未回复" in mine
    assert "您召集的协商活动" in wecom.send_text(CONVENOR, "我的会议").content
    clock.set(DEC3_1500 + timedelta(minutes=1))
    assert "没有即将举行" in wecom.send_text("m0", "我的会议").content


def test_ics_file(
    wecom: WeComCallbackClient,
    client: TestClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """The notice's calendar link is a VEVENT in UTC with escaped text; unknown ids are 404."""
    small_session(factory, clock, wecom)
    outbox_worker.run_once()
    link = texts_to(fake, "m0")[0].split("加入日历：http://127.0.0.1:8000", 1)[1].split()[0]
    response = client.get(link)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    body = response.text
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    unfolded = body.replace("\r\n ", "")
    assert "BEGIN:VEVENT" in unfolded and "UID:session-1@" in unfolded
    assert "DTSTART:20261203T070000Z" in unfolded and "DTEND:20261203T090000Z" in unfolded
    assert "LOCATION:社区二楼\\,会议室" in unfolded
    assert "SUMMARY:协商：幸福路北段路灯坏了一个多月\\，" not in unfolded  # full-width commas are text
    assert "SUMMARY:协商：" in unfolded and "DESCRIPTION:" in unfolded and "\\n议题：" in unfolded
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))
    assert client.get(link.replace("/sessions/1.ics", "/sessions/99.ics")).status_code == 404
    assert client.get(link.replace("/sessions/1.ics", "/sessions/abc.ics")).status_code == 404


def test_outbox_rows_have_deterministic_keys(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock, runtime: Runtime
) -> None:
    """Each invitee's notice is keyed by session and person, so it can be queued only once."""
    make_room(factory, clock, wecom, members=2, representatives=1, topics=0)
    schedule(wecom, ["路灯维修协商", "明天下午3点", "跳过", "会议室", "1", "1", "跳过", "确认"])
    with factory() as session:
        keys = sorted(k for k in session.scalars(select(OutboxMessage.idempotency_key)) if k.startswith("session:"))
        person_ids = sorted(
            str(i.person_id) for i in session.scalars(select(SessionInvitee).where(SessionInvitee.session_id == 1))
        )
    assert keys == sorted(f"session:1:created:{pid}" for pid in person_ids)


def test_topic_taken_meanwhile_is_not_scheduled_twice(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """A topic put on another session while this preview waited: 确认 refuses and nothing is created."""
    make_room(factory, clock, wecom, members=2, representatives=1)
    schedule(wecom, ["1", "跳过", "12月3日下午3点", "跳过", "会议室", "1", "1", "跳过"])
    with transaction(factory) as session:
        proposal = session.scalars(select(Proposal).order_by(Proposal.id)).first()
        assert proposal is not None
        proposal.status = ProposalStatus.scheduled
    assert "会议没有创建" in wecom.send_text(CONVENOR, "确认").content
    with factory() as session:
        assert session.scalars(select(ConsultSession)).first() is None
