"""After results: the 30-day 'was it solved?' question and its answers, reopening for the convenor
(回头看), progress updates (办理进度), daily 督办 of overdue items and the monthly digest.

Results are published at the service level (as in test_rating.py); everything a person says goes
through the signed callbacks, and job functions are called directly with the fake clock."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.runtime import Runtime
from bot.services import followup as followup_service
from bot.services import lists, proposals, suggestions
from bot.services.list_parse import parse_lines
from bot.services.proposals import NewProposal
from bot.services.suggestions import NewSuggestion
from bot.settings import Settings
from scheduler import followups
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import (
    ConsultSession,
    ListItem,
    OutboxMessage,
    Person,
    Proposal,
    ResultDelivery,
    SessionTopic,
    StatusChange,
    Suggestion,
)
from tests.conftest import make_settings
from tests.fake_wechat import FakeWeChat
from tests.helpers import CONVENOR, make_room, talk, texts_to
from tests.wxclient import WeChatCallbackClient, WeComCallbackClient

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # the fake clock's start: 10:00 in Shanghai
DAY = timedelta(days=1)
PROPOSER, SUPPORTER, SUGGESTER = "o-res1", "o-res2", "o-res3"
LAMP = "幸福路北段路灯坏了一个多月，晚上很黑"
# The responsibility item's deadline, 12月10日, ends at 23:59 that day in Shanghai.
DEC11_0900 = datetime(2026, 12, 11, 1, 0, tzinfo=UTC)


@pytest.fixture
def settings(db_url: str, fake: FakeWeChat) -> Settings:
    return make_settings(
        db_url,
        fake.base_url,
        wechat_template_result="tpl-result",
        wechat_template_reminder="tpl-reminder",
        min_sessions_per_year="town:2,village:4,enterprise:1,sector:1",
    )


@dataclass
class World:
    room_id: int
    session_id: int
    receipt: str  # the proposal's
    note_receipt: str  # the micro-suggestion's


def make_world(
    factory: sessionmaker[Session],
    clock: FakeClock,
    wecom: WeComCallbackClient,
    wechat: WeChatCallbackClient,
    *,
    publish: bool = True,
) -> World:
    """A room with convenor `boss` (WeCom); a proposal with a supporter and a micro-suggestion, both
    on a session's responsibility item (城管科, 12月10日) and feedback item, published at T0 if asked."""
    room = make_room(factory, clock, wecom, members=0, representatives=0, topics=0)
    for user in (PROPOSER, SUPPORTER, SUGGESTER):
        wechat.send_text(user, "你好")
    now = clock.now()
    with transaction(factory) as s:
        ids = {p.external_id: p.id for p in s.scalars(select(Person)).all()}
        proposal = proposals.file_proposal(
            s, new=NewProposal(room_id=room.id, proposer_id=ids[PROPOSER], description=LAMP), now=now
        )
        proposals.support(s, proposal_id=proposal.id, person_id=ids[SUPPORTER], now=now)
        note = suggestions.file(s, new=NewSuggestion(room.id, ids[SUGGESTER], "路灯旁再加一盏灯"), now=now)
        meeting = ConsultSession(room_id=room.id, title="路灯协商", starts_at=now - DAY, ends_at=now - DAY / 2)
        s.add(meeting)
        s.flush()
        s.add(SessionTopic(session_id=meeting.id, proposal_id=proposal.id))
        refs = f"#1 #{note.receipt}"
        for kind, line in (
            ("responsibilities", f"修复路灯｜城管科｜12月10日 {refs}"),
            ("feedback", f"修复路灯｜已更换灯泡｜采纳 {refs}"),
        ):
            parsed = parse_lines(kind, line, today=date(2026, 11, 23))
            lists.store_items(s, consult=meeting, kind=kind, lines=parsed, replace=False, now=now)
        if publish:
            lists.publish_feedback(s, session_id=meeting.id, actor_id=None, now=now)
        return World(room.id, meeting.id, proposal.receipt or "", note.receipt)


def delivery_of(factory: sessionmaker[Session], user: str) -> ResultDelivery:
    with factory() as s:
        return s.scalars(
            select(ResultDelivery).join(Person, Person.id == ResultDelivery.person_id).where(Person.external_id == user)
        ).one()


def responsibility(factory: sessionmaker[Session]) -> ListItem:
    with factory() as s:
        return s.scalars(select(ListItem).where(ListItem.kind == "responsibilities")).one()


def test_question_is_asked_once_thirty_days_after_the_result(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    runtime: Runtime,
    outbox_worker: OutboxWorker,
) -> None:
    """Nothing on day 29 or at night; on day 30 each recipient is asked once, by template outside 48 hours."""
    make_world(factory, clock, wecom, wechat)
    outbox_worker.run_once()
    clock.set(T0 + 29 * DAY)
    assert followups.ask(runtime) == 0
    assert followups.ask(runtime, now=T0 + 30 * DAY + timedelta(hours=13)) == 0  # 23:00 in Shanghai
    clock.set(T0 + 30 * DAY)
    wechat.send_text(SUPPORTER, "你好")  # the supporter's 48-hour window is open again, the others' not
    assert followups.ask(runtime) == 3
    assert followups.ask(runtime) == 0
    clock.advance(DAY)
    assert followups.ask(runtime) == 0
    outbox_worker.run_once()
    [question] = [t for t in texts_to(fake, SUPPORTER) if "【回头看】" in t]
    assert "修复路灯" in question and "问题真的解决了吗" in question
    assert "「解决了」「没解决」（可附上原因）或「不清楚」" in question
    [template] = [t for t in fake.template_sends(PROPOSER) if t["data"].get("adopted", {}).get("value") == "回头看"]
    assert template["data"]["item"]["value"] == "修复路灯"
    assert template["data"]["rating"]["value"] == "回复解决了/没解决/不清楚"
    assert len(fake.template_sends(SUGGESTER)) == 1
    clock.set(T0 + 61 * DAY)  # an answer a month after the question is ordinary talk again
    assert "问题已解决" not in wechat.send_text(PROPOSER, "解决了").content
    assert delivery_of(factory, PROPOSER).followup_answered_at is None


def test_answers_solved_unsure_and_unsolved_with_reason_reopen_for_the_convenor(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    runtime: Runtime,
    outbox_worker: OutboxWorker,
) -> None:
    """解决了 is stored; 不太清楚 is unsure (a bare 3 is nothing: no numbers were offered); 还没修好 asks the
    reason, reopens, and the convenor answers via 回头看."""
    world = make_world(factory, clock, wecom, wechat)
    clock.set(T0 + 30 * DAY)
    followups.ask(runtime)

    assert "问题已解决" in wechat.send_text(PROPOSER, "解决啦").content
    assert "的评价「满意」" in wechat.send_text(SUGGESTER, "满意").content  # a rating stays a rating
    assert "不清楚" not in wechat.send_text(SUGGESTER, "3").content
    assert "不清楚" in wechat.send_text(SUGGESTER, "不太清楚").content
    asked = wechat.send_text(SUPPORTER, "还没修好").content
    assert "请说说现在的情况" in asked and "修复路灯" in asked
    assert "至少 2 个字" in wechat.send_text(SUPPORTER, "灯").content
    assert "已转告议事室召集人" in wechat.send_text(SUPPORTER, "灯还是不亮，晚上很黑").content

    solved, unsure, unsolved = (delivery_of(factory, u) for u in (PROPOSER, SUGGESTER, SUPPORTER))
    assert (solved.followup_answer, solved.reopened) == ("solved", False)
    assert unsure.followup_answer == "unsure"
    assert (unsolved.followup_answer, unsolved.followup_reason, unsolved.reopened) == (
        "unsolved",
        "灯还是不亮，晚上很黑",
        True,
    )
    with factory() as s:
        proposal = s.scalars(select(Proposal)).one()
        assert proposal.status == "in_progress"
        last = s.scalars(select(StatusChange).order_by(StatusChange.id.desc())).first()
        assert last is not None and "回头看" in (last.reason or "") and "灯还是不亮" in (last.reason or "")
    # Answered once: a second answer is ordinary text again, and changes nothing.
    assert "问题已解决" not in wechat.send_text(PROPOSER, "解决了").content

    outbox_worker.run_once()
    [alert] = [t for t in texts_to(fake, CONVENOR) if "【回头看】" in t]
    assert "没有解决" in alert and "灯还是不亮" in alert and world.receipt in alert
    listing = wecom.send_text(CONVENOR, "回头看").content
    assert "1. " in listing and world.receipt in listing and "灯还是不亮，晚上很黑" in listing
    assert "没有第 5 项" in wecom.send_text(CONVENOR, "回头看 5 已处理").content
    preview = wecom.send_text(CONVENOR, "回头看 1 已督促施工方下周返工").content
    assert "将答复群众" in preview and "已督促施工方下周返工" in preview
    changed = wecom.send_text(CONVENOR, "已督促施工方下周返工，月底前验收").content
    assert "已改为新的答复" in changed and "月底前验收" in changed
    assert "转告群众" in wecom.send_text(CONVENOR, "确认").content
    assert "没有群众反映没解决" in wecom.send_text(CONVENOR, "回头看").content
    assert delivery_of(factory, SUPPORTER).convenor_reply == "已督促施工方下周返工，月底前验收"
    with factory() as s:
        assert s.scalars(select(Proposal.status)).one() == "answered"

    outbox_worker.run_once()  # the supporter wrote today: a customer-service message with the whole text
    [answer] = [t for t in texts_to(fake, SUPPORTER) if "【回头看答复】" in t]
    assert "已督促施工方下周返工，月底前验收" in answer and "修复路灯" in answer
    assert "没有群众反映没解决" in wecom.send_text(CONVENOR, "回头看").content


def test_several_pending_questions_need_the_receipt_and_a_reason_can_come_in_one_message(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    runtime: Runtime,
) -> None:
    """With two questions open the bare answer is refused with the list; 编号 没解决 原因 reopens at once."""
    world = make_world(factory, clock, wecom, wechat)
    with transaction(factory) as s:  # the micro-suggester also supports the lamp and got a second result
        suggester = s.scalars(select(Person).where(Person.external_id == SUGGESTER)).one()
        proposal = s.scalars(select(Proposal)).one()
        proposals.support(s, proposal_id=proposal.id, person_id=suggester.id, now=clock.now())
        second = ListItem(
            session_id=world.session_id,
            kind="feedback",
            text="增设路灯",
            result="已增设",
            adopted="adopted",
            published_at=T0,
        )
        s.add(second)
        s.flush()
        s.add(
            ResultDelivery(
                item_id=second.id,
                person_id=suggester.id,
                proposal_id=proposal.id,
                delivered_at=T0,
                rating="satisfied",
                rated_at=T0,
            )
        )
    clock.set(T0 + 30 * DAY)
    assert followups.ask(runtime) == 4
    talk(wechat, SUGGESTER, "满意")  # nothing left to rate
    with factory() as s:
        assert len(followup_service.pending(s, person_id=suggester.id, now=clock.now())) == 2
    listing = wechat.send_text(SUGGESTER, "没解决").content
    assert "您说的「没解决」是哪一项" in listing and world.note_receipt in listing
    reply = wechat.send_text(SUGGESTER, f"{world.note_receipt} 没解决 灯只修了一半").content
    assert "已转告议事室召集人" in reply
    with factory() as s:
        [left] = followup_service.pending(s, person_id=suggester.id, now=clock.now())
        assert left.suggestion_id is None
        reopened = s.scalars(select(ResultDelivery).where(ResultDelivery.reopened.is_(True))).one()
        assert reopened.followup_reason == "灯只修了一半"
    assert "问题已解决" in wechat.send_text(SUGGESTER, "1 解决了").content


def test_progress_updates_tell_the_residents_and_100_percent_is_done(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """办理进度 lists open items; 办理进度 1 60% 说明 previews, 确认 stores and tells all three residents."""
    make_world(factory, clock, wecom, wechat, publish=False)
    listing = wecom.send_text(CONVENOR, "办理进度").content
    assert "1. 修复路灯（城管科，期限 2026年12月10日，进度 0%）" in listing
    assert "没有第 4 项" in wecom.send_text(CONVENOR, "办理进度 4 60").content
    assert "最多 100%" in wecom.send_text(CONVENOR, "办理进度 1 160").content
    assert responsibility(factory).progress == 0
    preview = wecom.send_text(CONVENOR, "办理进度 1 60% 已完成主体施工").content
    assert "0% → 60%" in preview and "已完成主体施工" in preview and "将通知 3 位" in preview
    assert "已通知 3 位" in wecom.send_text(CONVENOR, "确认").content
    assert responsibility(factory).progress == 60
    outbox_worker.run_once()
    for user in (PROPOSER, SUPPORTER, SUGGESTER):
        [told] = [t for t in texts_to(fake, user) if "【办理进度】" in t]
        assert "修复路灯" in told and "60%" in told and "已完成主体施工" in told and "城管科" in told

    # Without a percent the dialog asks for it; a bad one is asked again.
    assert "目前进度 60%" in wecom.send_text(CONVENOR, "办理进度 1").content
    assert "0 到 100" in wecom.send_text(CONVENOR, "很快").content
    assert "60% → 90%" in wecom.send_text(CONVENOR, "90").content
    assert "60% → 100%（办结）" in wecom.send_text(CONVENOR, "100 已完工").content
    wecom.send_text(CONVENOR, "确认")
    item = responsibility(factory)
    assert item.progress == 100 and item.answered_at == clock.now()
    assert "没有在办的责任事项" in wecom.send_text(CONVENOR, "办理进度").content
    outbox_worker.run_once()
    assert any("已办结" in t for t in texts_to(fake, PROPOSER))
    assert "召集人" in wechat.send_text(PROPOSER, "办理进度").content  # residents may not


def test_overdue_items_remind_convenors_once_a_day_until_answered(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    runtime: Runtime,
    outbox_worker: OutboxWorker,
) -> None:
    """Past 12月10日: nothing before 09:00, one reminder at 09:00, none again that day, none once published."""
    world = make_world(factory, clock, wecom, wechat, publish=False)
    with transaction(factory) as s:  # this test is about responsibility items: the world's 微建言 is answered
        for note in s.scalars(select(Suggestion)):
            note.status = "answered"
    assert followups.remind_overdue(runtime, now=datetime(2026, 12, 10, 15, 0, tzinfo=UTC)) == 0  # 23:00, not late
    assert followups.remind_overdue(runtime, now=DEC11_0900 - timedelta(minutes=1)) == 0
    assert followups.remind_overdue(runtime, now=DEC11_0900) == 1
    assert followups.remind_overdue(runtime, now=DEC11_0900 + timedelta(hours=6)) == 0  # a restart, a 2nd scheduler
    clock.set(DEC11_0900)
    outbox_worker.run_once()
    [reminder] = [t for t in texts_to(fake, CONVENOR) if "【督办提醒】" in t]
    assert "修复路灯（城管科，期限 2026年12月10日，进度 0%，逾期 1 天）" in reminder and "办理进度" in reminder
    assert followups.remind_overdue(runtime, now=DEC11_0900 + DAY) == 1
    with transaction(factory) as s:
        lists.publish_feedback(s, session_id=world.session_id, actor_id=None, now=DEC11_0900 + DAY + DAY / 2)
    assert followups.remind_overdue(runtime, now=DEC11_0900 + 2 * DAY) == 0
    assert responsibility(factory).answered_at == DEC11_0900 + DAY + DAY / 2
    with factory() as s:
        keys = s.scalars(select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.like("overdue:%")))
        assert sorted(k.split(":")[2] for k in keys) == ["2026-12-11", "2026-12-12"]


@pytest.mark.postgres
def test_two_schedulers_at_once_send_one_overdue_reminder(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    runtime: Runtime,
) -> None:
    """Two 督办 runs racing at 09:00 queue one reminder between them (rows locked, then stamped)."""
    make_world(factory, clock, wecom, wechat, publish=False)
    start = threading.Barrier(2)
    results: list[int] = []

    def run() -> None:
        start.wait()
        results.append(followups.remind_overdue(runtime, now=DEC11_0900))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1]


def test_monthly_digest_reports_the_room_once_a_month(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    runtime: Runtime,
    outbox_worker: OutboxWorker,
) -> None:
    """On the 1st at 09:00: sessions against the yearly minimum, open work, adoption, satisfaction; once."""
    make_world(factory, clock, wecom, wechat)
    wechat.send_text(PROPOSER, "满意")
    wechat.send_text(SUPPORTER, "不满意 太慢了")
    dec1 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    assert followups.send_digests(runtime, now=dec1 - timedelta(minutes=1)) == 0
    assert followups.send_digests(runtime, now=dec1) == 1
    assert followups.send_digests(runtime, now=dec1 + timedelta(hours=3)) == 0
    clock.set(dec1)
    outbox_worker.run_once()
    [digest] = [t for t in texts_to(fake, CONVENOR) if "【月度简报】" in t]
    assert "幸福社区议事室（村/社区）· 2026年11月" in digest
    assert "2026年已举行协商 1 次，年度至少 4 次，还差 3 次" in digest
    assert "在办提议 0 条" in digest and "逾期未反馈的责任事项 0 项" in digest
    assert "采纳率 100%" in digest and "满意率 50%（评价 2 人次）" in digest

    jan1 = datetime(2027, 1, 1, 1, 0, tzinfo=UTC)
    assert followups.send_digests(runtime, now=jan1) == 1
    with factory() as s:
        keys = s.scalars(select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.like("digest:%")))
        assert sorted(k.rsplit(":", 2)[1] for k in keys) == ["2026-12", "2027-01"]


def test_jobs_are_registered_at_the_configured_local_times(job_scheduler: BaseScheduler) -> None:
    """The question runs every half hour, 督办 daily at 09:00 and the digest on the 1st at 09:00, Shanghai time."""
    followups.register(job_scheduler)
    followups.register(job_scheduler)  # a restart replaces, never duplicates
    assert sorted(j.id for j in job_scheduler.get_jobs() if j.id.startswith("followup:")) == [
        "followup:ask",
        "followup:digest",
        "followup:overdue",
    ]
    overdue = job_scheduler.get_job("followup:overdue")
    digest = job_scheduler.get_job("followup:digest")
    assert overdue is not None and digest is not None
    assert isinstance(overdue.trigger, CronTrigger) and str(overdue.trigger.timezone) == "Asia/Shanghai"
    fields = {f.name: str(f) for f in digest.trigger.fields}
    assert (fields["day"], fields["hour"], fields["minute"]) == ("1", "9", "0")
    assert overdue.func is followups.overdue_job and digest.func is followups.digest_job
