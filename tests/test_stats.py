"""Statistics query functions over ratings, adoption, proposals and held sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.services import digest, session_status, stats
from bot.settings import DEFAULT_MINIMUMS, Settings, parse_minimums
from bot.web.admin.pages import statistics
from storage.models import ConsultSession, ListItem, Person, Proposal, ResultDelivery, Room

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
MINIMUMS = parse_minimums(DEFAULT_MINIMUMS)


def _seed(s: Session) -> Room:
    room = Room(name="测试村议事厅", level="village")
    s.add(room)
    s.flush()
    people = [Person(channel="wechat", external_id=f"u{i}") for i in range(3)]
    s.add_all(people)
    s.flush()
    s.add(Proposal(room_id=room.id, proposer_id=people[0].id, description="修路灯", tags="公共设施"))
    # Filed before categories existed: raw jieba words, shown as 其他 until `shangliang reindex`.
    s.add(Proposal(room_id=room.id, proposer_id=people[1].id, description="好几块修好", tags="好几块 修好"))
    meeting = ConsultSession(room_id=room.id, title="路灯协商", starts_at=NOW, ends_at=NOW)
    s.add(meeting)
    s.flush()
    yes = ListItem(session_id=meeting.id, kind="feedback", text="修路灯", adopted="adopted", published_at=NOW)
    no = ListItem(session_id=meeting.id, kind="feedback", text="装监控", adopted="not_adopted", published_at=NOW)
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
        assert sum(stats.proposals_by_status(s).values()) == 2
        assert stats.proposals_by_category(s) == [("公共设施", 1), ("其他", 1)]
        held = stats.sessions_held(s, year=2026, tz=ZoneInfo("Asia/Shanghai"), now=NOW, minimums=MINIMUMS)
        assert (room.id, "测试村议事厅", "village", 1, 3) in held


def test_adoption_rate_counts_partly_as_adopted_and_leaves_pending_out(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    """Rate = (已采纳 + 部分采纳) / (已采纳 + 部分采纳 + 未采纳): 待定 (and an item without a value) is no
    decision yet and moves the rate neither way; unpublished items do not count. The admin page and
    the monthly digest report the same figures."""
    with factory() as s:
        room = _seed(s)  # published: one adopted, one not_adopted
        meeting = s.scalars(select(ConsultSession)).one()
        new_year = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)  # 2027-01-01 01:00 in Shanghai
        s.add_all(
            [
                ListItem(session_id=meeting.id, kind="feedback", text="换灯杆", adopted="partly", published_at=NOW),
                ListItem(session_id=meeting.id, kind="feedback", text="划车位", adopted="pending", published_at=NOW),
                ListItem(session_id=meeting.id, kind="feedback", text="装充电桩", adopted="pending", published_at=NOW),
                ListItem(session_id=meeting.id, kind="feedback", text="旧数据", adopted=None, published_at=NOW),
                ListItem(session_id=meeting.id, kind="feedback", text="未发布", adopted="not_adopted"),
                ListItem(
                    session_id=meeting.id, kind="feedback", text="元旦", adopted="not_adopted", published_at=new_year
                ),
            ]
        )
        s.commit()

        counts = stats.adoption_counts(s)
        assert (counts.adopted, counts.partly, counts.pending, counts.not_adopted, counts.unknown) == (1, 1, 2, 2, 1)
        assert counts.rate == 2 / 4
        assert counts.summary() == "已采纳 1、部分采纳 1、未采纳 2；待定 2 条、未填写采纳情况 1 条不计入"
        shanghai = ZoneInfo("Asia/Shanghai")
        assert stats.adoption_rate(s, year=2026, tz=shanghai) == 2 / 3  # 元旦 is 2027 in Shanghai
        assert stats.adoption_rate(s, year=2026) == 2 / 4  # and still 2026 in UTC
        assert stats.adoption_rate(s, year=2027, tz=shanghai) == 0.0

        page = statistics(s, year=2026, tz="Asia/Shanghai", now=NOW, minimums=MINIMUMS)
        assert 'data-kind="adoption" data-value="0.5000"' in page["adoption_chart"]
        assert "待定不计入" in page["adoption_note"] and counts.summary() in page["adoption_note"]

        # The digest of December 2026 counts the room's year 2026 (local) with the same rule.
        text = digest.digest_text(s, room=room, now=datetime(2027, 1, 1, 1, 0, tzinfo=UTC), settings=settings)
        assert "· 2026年采纳率 67%（已采纳 1、部分采纳 1、未采纳 1；待定 2 条、未填写采纳情况 1 条不计入）" in text


def test_only_sessions_that_have_ended_count_as_held(factory: sessionmaker[Session], settings: Settings) -> None:
    """A session is held (已举行) once its end has passed: next week's is 已安排 and not counted, last
    week's is counted, one running now (进行中) not yet, a cancelled one (已取消) never. The admin page
    and the monthly digest count the same; a week later next week's session counts too."""
    with factory() as s:
        room = Room(name="测试村议事厅", level="village")
        s.add(room)
        s.flush()

        def meeting(title: str, starts: datetime, status: str = "scheduled") -> ConsultSession:
            found = ConsultSession(
                room_id=room.id, title=title, starts_at=starts, ends_at=starts + timedelta(hours=2), status=status
            )
            s.add(found)
            return found

        held = meeting("上周的协商会", NOW - timedelta(days=7))
        running = meeting("正在开的协商会", NOW - timedelta(hours=1))
        coming = meeting("下周的协商会", NOW + timedelta(days=7))
        cancelled = meeting("取消的协商会", NOW - timedelta(days=3), status="cancelled")
        s.commit()

        shanghai = ZoneInfo("Asia/Shanghai")
        assert [session_status.name_of(m, NOW) for m in (held, running, coming, cancelled)] == [
            "已举行",
            "进行中",
            "已安排",
            "已取消",
        ]
        assert stats.sessions_held(s, year=2026, tz=shanghai, now=NOW, minimums=MINIMUMS) == [
            (room.id, "测试村议事厅", "village", 1, 3)
        ]
        page = statistics(s, year=2026, tz="Asia/Shanghai", now=NOW, minimums=MINIMUMS)
        assert page["tiles"][1].label == "2026 年已举行协商" and page["tiles"][1].value == "1"
        assert "另有 2 次尚未举行" in page["tiles"][1].note  # the running one and next week's
        assert 'data-kind="sessions" data-label="测试村议事厅（村/社区）" data-value="1"' in page["sessions_chart"]
        text = digest.digest_text(s, room=room, now=NOW, settings=settings)
        assert "· 2026年已举行协商 1 次（另有 2 次尚未举行），年度至少 3 次，还差 2 次" in text
        # The office's MIN_SESSIONS_PER_YEAR is the one minimum: the statistics page follows it like the digest.
        stricter = parse_minimums("village:5")
        assert "1 / 5 次" in statistics(s, year=2026, tz="Asia/Shanghai", now=NOW, minimums=stricter)["sessions_chart"]

        later = NOW + timedelta(days=8)
        assert session_status.name_of(coming, later) == "已举行"
        assert stats.sessions_held(s, year=2026, tz=shanghai, now=later, minimums=MINIMUMS)[0][3] == 3
