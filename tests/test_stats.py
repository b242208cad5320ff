"""Statistics query functions over ratings, adoption, proposals and held sessions."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.services import stats
from storage.models import ConsultSession, ListItem, Person, Proposal, ResultDelivery, Room

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _seed(s: Session) -> Room:
    room = Room(name="测试村议事厅", level="village")
    s.add(room)
    s.flush()
    people = [Person(channel="wechat", external_id=f"u{i}") for i in range(3)]
    s.add_all(people)
    s.flush()
    s.add(Proposal(room_id=room.id, proposer_id=people[0].id, description="修路灯", tags="路灯 照明"))
    meeting = ConsultSession(room_id=room.id, title="路灯协商", starts_at=NOW, ends_at=NOW)
    s.add(meeting)
    s.flush()
    yes = ListItem(session_id=meeting.id, kind="feedback", text="修路灯", adopted=True, published_at=NOW)
    no = ListItem(session_id=meeting.id, kind="feedback", text="装监控", adopted=False, published_at=NOW)
    s.add_all([yes, no])
    s.flush()
    for person, rating in zip(people, ["satisfied", "basically", "unsatisfied"], strict=True):
        s.add(ResultDelivery(item_id=yes.id, person_id=person.id, delivered_at=NOW, rating=rating))
    s.commit()
    return room


def test_stats_count_ratings_adoption_and_sessions(factory: sessionmaker[Session]) -> None:
    """Three ratings, one of two items adopted and one village session show up in every statistic."""
    with factory() as s:
        room = _seed(s)
        by_room = stats.ratings_by_room(s)
        assert [(r.room_name, r.satisfied, r.basically, r.unsatisfied, r.total) for r in by_room] == [
            ("测试村议事厅", 1, 1, 1, 3)
        ]
        assert by_room[0].satisfaction_rate == 2 / 3
        assert [r.total for r in stats.ratings_by_session(s, room_id=room.id)] == [3]
        assert stats.adoption_rate(s) == 0.5
        assert stats.adoption_rate(s, year=2025) is None
        assert sum(stats.proposals_by_status(s).values()) == 1
        assert dict(stats.proposals_by_tag(s)) == {"路灯": 1, "照明": 1}
        held = stats.sessions_held(s, year=2026, tz=ZoneInfo("Asia/Shanghai"))
        assert (room.id, "测试村议事厅", "village", 1, 3) in held
