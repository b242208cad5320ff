"""三率 per room: response within the working-day limit, responsibility items done by their deadline, satisfaction."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy.orm import Session, sessionmaker

from bot.services import clocks, digest, export, people, proposals, rates, suggestions
from bot.services.proposals import NewProposal
from bot.services.suggestions import NewSuggestion
from bot.settings import Settings
from storage.db import transaction
from storage.models import ConsultSession, ListItem, ProposalStatus, ResultDelivery, Room, Suggestion

SH = ZoneInfo("Asia/Shanghai")
LIMITS = clocks.Limits(proposal_answer=5, approval=10, suggestion_answer=5, escalate=5, tz="Asia/Shanghai")


def test_three_rates_in_the_digest_and_the_export(factory: sessionmaker[Session]) -> None:
    """One of two proposals answered in time, a 微建言 answered in time, one of two items done by its deadline, 1 of 2 pleased."""
    filed = datetime(2026, 9, 30, 10, 0, tzinfo=SH)  # due by the end of 13 October (国庆, 调休)
    now = datetime(2026, 11, 2, 10, 0, tzinfo=SH)
    with transaction(factory) as s:
        room = Room(name="幸福社区议事室", level="village")
        s.add(room)
        s.flush()
        person = people.get_or_create(s, channel="wechat", external_id="o-rates")
        due = clocks.first_answer_due(filed, LIMITS)
        on_time, late, waiting = (
            proposals.file_proposal(
                s,
                new=NewProposal(
                    room.id, person.id, f"路灯坏了第{n}盏", answer_due_at=due.answer, escalate_at=due.escalate
                ),
                now=filed,
            )
            for n in range(3)
        )
        waiting.answer_due_at = now + timedelta(days=3)  # still within its limit: not counted yet
        for p, when in (
            (on_time, datetime(2026, 10, 13, 18, 0, tzinfo=SH)),
            (late, datetime(2026, 10, 14, 9, 0, tzinfo=SH)),
        ):
            proposals.change_status(s, proposal=p, to=ProposalStatus.accepted, actor_id=None, reason="受理", now=when)
        answer = clocks.suggestion_answer_due(filed, LIMITS)
        new = NewSuggestion(room.id, person.id, "台阶太高", answer_due_at=answer.answer, escalate_at=answer.escalate)
        note = s.get(Suggestion, suggestions.file(s, new=new, now=filed).id)
        assert note is not None
        suggestions.answer(s, note=note, text="加坡道", now=datetime(2026, 10, 9, 10, 0, tzinfo=SH))
        meeting = ConsultSession(room_id=room.id, title="协商会", starts_at=filed, ends_at=filed + timedelta(hours=2))
        s.add(meeting)
        s.flush()
        deadline = datetime(2026, 10, 20, 23, 59, tzinfo=SH)
        s.add_all(
            [
                ListItem(session_id=meeting.id, kind="responsibilities", text="修灯", deadline=deadline,
                         progress=100, answered_at=deadline - timedelta(days=2)),
                ListItem(session_id=meeting.id, kind="responsibilities", text="修路", deadline=deadline),
            ]
        )  # fmt: skip
        feedback = ListItem(session_id=meeting.id, kind="feedback", text="修灯", result="已修好")
        s.add(feedback)
        s.flush()
        for n, rating in enumerate(("basically", "unsatisfied")):
            other = people.get_or_create(s, channel="wechat", external_id=f"o-rater-{n}")
            s.add(
                ResultDelivery(item_id=feedback.id, person_id=other.id, delivered_at=filed, rating=rating, rated_at=now)
            )
        s.flush()
        three = rates.of_room(s, room=room, year=2026, tz="Asia/Shanghai", now=now)
        assert (three.response.met, three.response.total) == (2, 3)
        assert (three.completion.met, three.completion.total) == (1, 2)
        assert three.satisfaction.text() == "50%（1/2）"
        text = digest.digest_text(s, room=room, now=now, settings=Settings(_env_file=None))  # type: ignore[call-arg]
        assert "三率：响应率 67%（2/3），办结率 50%（1/2），满意率 50%（评价 2 人次）" in text
        book = load_workbook(io.BytesIO(export.to_bytes(export.workbook("sessions", s, tz="Asia/Shanghai", now=now))))
        rows = list(book["2026年三率"].iter_rows(values_only=True))
        assert rows[1] == ("幸福社区议事室", "67%", 2, 3, "50%", 1, 2, "50%", 1, 2)
