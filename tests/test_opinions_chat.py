"""征求意见 and 排序 end to end through the signed WeChat callback: 60 voters in two opposed camps, whose
common ground and division come out as such, and 40 residents whose pairwise answers give back a planted
order of urgency — in chat, in 待审, on the live page's feed and through the public board's seam."""

from __future__ import annotations

import random
import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services import live, people, priority_rounds, proposals
from bot.services.proposals import NewProposal
from bot.services.rooms import create_room
from bot.settings import Settings
from scheduler.outbox import OutboxWorker
from storage.db import transaction
from storage.models import ConsultSession, OpinionVote, PriorityPair, Role, RoomLevel, RoomRole
from tests.fake_wechat import FakeWeChat
from tests.helpers import bind, count_rows, drain, texts_to
from tests.wxclient import WeChatCallbackClient

CONVENOR = "o-convenor"
HAPPY = "幸福社区议事室"
STATEMENTS = [
    "小区应该增设电动车充电桩",  # everyone agrees
    "充电桩应该建在小区北门空地",  # camp A agrees, camp B does not
    "晚上十点后充电桩应该断电",  # camp B agrees, camp A does not
    "充电桩收费应该由物业决定",  # nobody minds much: votes at random
]
# What each camp answers, in the forms people type: digits, words, full width.
ANSWERS = {
    "agree": ["1", "同意", "１", "赞成"],
    "disagree": ["2", "不同意", "２", "反对"],
    "pass": ["3", "跳过", "３"],
}


def make_room(factory: sessionmaker[Session], clock: FakeClock, wechat: WeChatCallbackClient) -> int:
    with transaction(factory) as session:
        room_id = create_room(session, name=HAPPY, level=RoomLevel.village).id
    bind(wechat, factory, clock, CONVENOR, room_id=room_id, role=Role.convenor)
    return room_id


def test_sixty_voters_two_camps(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
    settings: Settings,
) -> None:
    """Sixty members in two opposed camps answer four statements one at a time; 意见结果 puts the one
    everyone agrees on under common ground and the ones the camps split on under division, with counts,
    and the live page of the session it prepares shows the same."""
    room_id = make_room(factory, clock, wechat)
    voters = [f"o-voter-{n:02d}" for n in range(60)]
    with transaction(factory) as session:
        for user in voters:
            person = people.get_or_create(session, channel="wechat", external_id=user)
            people.touch_inbound(person, now=clock.now())  # they wrote lately: plain messages reach them
            session.add(RoomRole(room_id=room_id, person_id=person.id, role=Role.member, created_at=clock.now()))
        start = clock.now() + timedelta(days=3)
        consult = ConsultSession(
            room_id=room_id,
            title="充电桩怎么建",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            place="社区二楼",
            format="onsite",
            created_at=clock.now(),
        )
        session.add(consult)
        session.flush()
        session_id = consult.id

    asked = wechat.send_text(CONVENOR, "征求意见\n" + "\n".join(STATEMENTS)).content
    assert "共 60 人" in asked and f"4. {STATEMENTS[3]}" in asked
    assert "已向 60 人发出 4 句" in wechat.send_text(CONVENOR, "确认").content
    drain(outbox_worker)

    rng = random.Random(14)
    for n, user in enumerate(voters):
        first = texts_to(fake, user)
        assert len(first) == 1 and f"第 1/4 句：「{STATEMENTS[0]}」" in first[0]
        camp_a = n % 2 == 0
        wanted = ["agree", "agree" if camp_a else "disagree", "disagree" if camp_a else "agree"]
        wanted.append(rng.choice(["agree", "disagree", "pass"]))
        for number, vote in enumerate(wanted, 1):
            reply = wechat.send_text(user, rng.choice(ANSWERS[vote])).content
            assert f"已记下：第 {number} 句" in reply, reply
            if number < 4:
                assert f"第 {number + 1}/4 句：「{STATEMENTS[number]}」" in reply
        assert "都表过态了" in reply
    assert count_rows(factory, OpinionVote) == 240

    results = wechat.send_text(CONVENOR, "意见结果").content
    assert "问了 60 人，60 人表态，按表态分成 2 组（30 人、30 人）" in results
    common, divided = results.split("【大家都同意的】")[1].split("【分歧最大的】")
    assert f"「{STATEMENTS[0]}」\n  同意 60 · 不同意 0 · 跳过 0" in common
    assert STATEMENTS[1] not in common and STATEMENTS[2] not in common and STATEMENTS[3] not in common
    assert STATEMENTS[1] in divided and STATEMENTS[2] in divided and STATEMENTS[0] not in divided
    assert "同意 30 · 不同意 30 · 跳过 0（第1组 同意 30/30，第2组 同意 0/30）" in divided or (
        "同意 30 · 不同意 30 · 跳过 0（第1组 同意 0/30，第2组 同意 30/30）" in divided
    )

    with factory() as session:
        shown = live.opinion_feed(session, session_id=session_id)
    assert shown is not None
    assert [s["text"] for s in shown["consensus"]] == [STATEMENTS[0]]
    assert {s["text"] for s in shown["divisive"]} == {STATEMENTS[1], STATEMENTS[2]}
    assert shown["consensus"][0]["agree"] == 60 and shown["voters"] == 60
    key = live.sign(session_id, secret=settings.secret_key.get_secret_value())
    feed = wechat.http.get(f"/live/{session_id}/feed", params={"key": key}).json()
    assert feed["opinions"]["consensus"][0]["text"] == STATEMENTS[0]


PLANTED = [
    "三号楼楼道堆满杂物，一直没人清理",
    "幸福路北段路灯坏了一个多月，晚上很黑",
    "小区门口电动车乱停，消防通道被堵",
    "广场舞音响太吵，晚上九点后还在放",
    "健身器材的螺丝松了，老人用着不放心",
]  # most urgent first


def test_planted_order_by_pairs(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """Forty residents who filed or supported the room's proposals each compare three pairs, answering by
    a planted order of urgency (now and then 都不急); 排序结果, 待审 and the board's seam give that order."""
    room_id = make_room(factory, clock, wechat)
    residents = [f"o-resident-{n:02d}" for n in range(40)]
    receipts: dict[str, str] = {}
    with transaction(factory) as session:
        ids = []
        for user in residents:
            person = people.get_or_create(session, channel="wechat", external_id=user)
            people.touch_inbound(person, now=clock.now())
            ids.append(person.id)
        # Filed in an order other than the planted one, so a ranking by age would not pass.
        for n in (3, 0, 4, 1, 2):
            new = NewProposal(room_id=room_id, proposer_id=ids[n], description=PLANTED[n])
            receipts[PLANTED[n]] = proposals.file_proposal(session, new=new, now=clock.now()).receipt or ""
        filed = list(
            session.scalars(select(priority_rounds.Proposal.id).where(priority_rounds.Proposal.room_id == room_id))
        )
        for n, person_id in enumerate(ids[5:]):
            proposals.support(session, proposal_id=filed[n % len(filed)], person_id=person_id, now=clock.now())
    planted = [receipts[text] for text in PLANTED]

    plan = wechat.send_text(CONVENOR, "排序").content
    assert "40 位群众" in plan and "5 件" in plan and "每人比 3 组" in plan
    assert "已请 40 位群众给 5 件提议排先后" in wechat.send_text(CONVENOR, "确认").content
    drain(outbox_worker)

    rng = random.Random(4)
    pair = re.compile(r"1\. (YS-\d{4}-\d{6}) .*\n2\. (YS-\d{4}-\d{6}) ")
    for user in residents:
        shown = texts_to(fake, user)
        assert len(shown) == 1 and "哪个更急？回复 1 或 2，都不急回复 0" in shown[0]
        text = shown[0]
        for number in (1, 2, 3):
            found = pair.search(text)
            assert found is not None, text
            first, second = found.groups()
            answer = "1" if planted.index(first) < planted.index(second) else "2"
            if rng.random() < 0.1:
                answer = rng.choice(["0", "都不急"])
            text = wechat.send_text(user, answer).content
            assert f"已记下：第 {number} 组" in text
        assert "都比完了" in text
    with factory() as session:
        assert session.scalars(select(PriorityPair).where(PriorityPair.answer.is_(None))).first() is None

    ranking = wechat.send_text(CONVENOR, "排序结果").content
    assert "群众排序（40 人比较了 120 次" in ranking
    positions = [ranking.index(receipt) for receipt in planted]
    assert positions == sorted(positions), ranking
    assert "急迫度" in ranking and "±" in ranking
    queue = wechat.send_text(CONVENOR, "待审").content
    assert "群众排序" in queue
    # The room's public board shows the same order, on the page, in data.json and in data.csv.
    public = wechat.http.get(f"/rooms/{room_id}/data.json").json()
    assert [p["receipt"] for p in public["priorities"]] == planted
    assert [p["rank"] for p in public["priorities"]] == [1, 2, 3, 4, 5]
    page = wechat.http.get(f"/rooms/{room_id}").text
    assert "群众排序" in page and [page.index(r) for r in planted] == sorted(page.index(r) for r in planted)
    assert wechat.http.get(f"/rooms/{room_id}/data.csv").text.count("群众排序") == 5
