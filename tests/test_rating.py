"""Publishing a feedback list to residents and their ratings (service level + callbacks)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services import lists, stats
from bot.services.list_parse import parse_lines
from scheduler.outbox import OutboxWorker
from storage.models import ConsultSession, Person, Proposal, ResultDelivery, Room, SessionTopic
from tests.fake_wechat import FakeWeChat
from tests.wxclient import WeChatCallbackClient


def _publish_for(factory: sessionmaker[Session], clock: FakeClock, user: str) -> int:
    with factory() as s:
        person = s.scalars(select(Person).where(Person.external_id == user)).one()
        room = Room(name="评价测试村", level="village")
        s.add(room)
        s.flush()
        proposal = Proposal(room_id=room.id, proposer_id=person.id, description="路灯不亮", receipt="YS-2026-009001")
        meeting = ConsultSession(room_id=room.id, title="路灯协商", starts_at=clock.now(), ends_at=clock.now())
        s.add_all([proposal, meeting])
        s.flush()
        s.add(SessionTopic(session_id=meeting.id, proposal_id=proposal.id))
        lines = parse_lines("feedback", "修复路灯｜已更换灯泡｜采纳", today=date(2026, 11, 23))
        lists.store_items(s, consult=meeting, kind="feedback", lines=lines, replace=False, now=clock.now())
        first = lists.publish_feedback(s, session_id=meeting.id, actor_id=None, now=clock.now())
        second = lists.publish_feedback(s, session_id=meeting.id, actor_id=None, now=clock.now())
        s.commit()
        assert first == (1, 1) and second == (0, 0)
        return meeting.id


def test_published_result_is_sent_once_and_rated_with_comment(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """Publishing twice queues one message; 不满意 plus a comment is stored and shows in the statistics."""
    wechat.send_text("rater1", "你好")
    _publish_for(factory, clock, "rater1")
    outbox_worker.run_once()
    sent = [t for _, t in fake.sent_texts("rater1") if "已更换灯泡" in t]
    assert len(sent) == 1 and "基本满意" in sent[0]
    reply = wechat.send_text("rater1", "不满意 路灯还是不亮")
    assert "不满意" in reply.content and "谢谢" in reply.content
    with factory() as s:
        delivery = s.scalars(select(ResultDelivery)).one()
        assert (delivery.rating, delivery.rating_comment) == ("unsatisfied", "路灯还是不亮")
        assert s.scalars(select(Proposal.status)).one() == "rated"
        [row] = stats.ratings_by_room(s)
        assert (row.unsatisfied, row.total) == (1, 1)
        assert stats.adoption_rate(s) == 1.0


def test_rating_words_without_pending_result_fall_through(wechat: WeChatCallbackClient) -> None:
    """满意 from someone with nothing to rate gets the normal answer, not a thank-you for a rating."""
    reply = wechat.send_text("nobody1", "满意")
    assert "评价" not in reply.content or "谢谢" not in reply.content
