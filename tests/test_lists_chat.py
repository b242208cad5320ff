"""清单 and 发布反馈 from chat: quick multi-line entry, typos, line-by-line problems, replace, who may."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services.proposals import find_receipt
from scheduler.outbox import OutboxWorker
from storage.models import ListItem, ListItemLink, OutboxMessage, Proposal, StatusChange, Suggestion
from tests.fake_wechat import FakeWeChat
from tests.helpers import CONVENOR, SessionRoom, count_rows, small_session, talk, texts_to
from tests.wxclient import WeComCallbackClient

AFTER = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)  # the STANDARD session (15:00 Shanghai) is over


@pytest.fixture
def held(factory: sessionmaker[Session], clock: FakeClock, wecom: WeComCallbackClient) -> SessionRoom:
    room = small_session(factory, clock, wecom)
    clock.set(AFTER)
    return room


def items(factory: sessionmaker[Session], kind: str) -> list[ListItem]:
    with factory() as s:
        return list(s.scalars(select(ListItem).where(ListItem.kind == kind).order_by(ListItem.position)))


def test_typed_kind_with_a_typo_and_several_lines_in_one_message(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], held: SessionRoom
) -> None:
    """`清单` → `责仁` (a typo for 责任) → three lines → preview → `好` stores all three, in order."""
    talk(wecom, CONVENOR, "清单")
    prompt = wecom.send_text(CONVENOR, "责仁").content
    assert "事项｜责任单位｜截止日期" in prompt and f"#1 {held.topics[0]}" in prompt
    preview = wecom.send_text(
        CONVENOR,
        "#1 加装路灯｜社区居委会｜12月31日\n#2 划电动车停车区，物业公司，月底\n清理楼道杂物 物业公司 2027-01-15",
    ).content
    assert "共 3 条" in preview
    assert preview.count("截止：2026-12-31") == 2 and "截止：2027-01-15" in preview  # 月底 is December's end
    assert "已记录责任落实清单 3 条" in wecom.send_text(CONVENOR, "好").content
    stored = items(factory, "responsibilities")
    assert [(i.position, i.text, i.unit) for i in stored] == [
        (1, "加装路灯", "社区居委会"),
        (2, "划电动车停车区", "物业公司"),
        (3, "清理楼道杂物", "物业公司"),
    ]
    with factory() as s:
        linked = s.scalars(select(ListItemLink.item_id)).all()
    assert sorted(linked) == [stored[0].id, stored[1].id]  # the third line named no topic
    assert statuses(factory, held) == ["in_progress", "in_progress"]  # 办理中, and the history says why
    with factory() as s:
        reasons = s.scalars(select(StatusChange.reason).where(StatusChange.to_status == "in_progress")).all()
    assert sorted(reasons) == ["划电动车停车区", "加装路灯"]


def statuses(factory: sessionmaker[Session], room: SessionRoom) -> list[str]:
    with factory() as s:
        return [s.scalars(select(Proposal.status).where(Proposal.receipt == r)).one() for r in room.topics]


def test_the_suggestions_list_marks_its_topics_consulted(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], held: SessionRoom
) -> None:
    assert statuses(factory, held) == ["scheduled", "scheduled"]
    talk(wecom, CONVENOR, "清单 建议", "#2 划电动车停车区", "确认")
    assert statuses(factory, held) == ["scheduled", "consulted"]


def test_a_bad_line_stores_nothing_and_says_which_line(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], held: SessionRoom
) -> None:
    talk(wecom, CONVENOR, "清单", "3")
    reply = wecom.send_text(CONVENOR, "#1 加装路灯｜已装好｜采纳\n#7 修车棚｜已修｜采纳\n划停车区｜还在办").content
    assert "有 2 行需要修改" in reply and "都还没有记录" in reply
    assert "第2行" in reply and "没有第7个议题" in reply
    assert "第3行" in reply and "事项｜结果｜采纳情况" in reply and "部分采纳" in reply
    assert "第1行" not in reply
    assert count_rows(factory, ListItem) == 0
    # Fixed and sent again, it goes through.
    preview = wecom.send_text(CONVENOR, "#1 加装路灯｜已装好｜采纳\n#2 划停车区｜暂缓｜未采纳").content
    assert "共 2 条" in preview and "未采纳" in preview
    talk(wecom, CONVENOR, "确认")
    assert [(i.text, i.result, i.adopted) for i in items(factory, "feedback")] == [
        ("加装路灯", "已装好", "adopted"),
        ("划停车区", "暂缓", "not_adopted"),
    ]


def test_replace_swaps_the_unpublished_items_and_cancel_keeps_them(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], held: SessionRoom
) -> None:
    talk(wecom, CONVENOR, "清单 建议", "加装两盏路灯\n设报修电话", "确认")
    wecom.send_text(CONVENOR, "清单 建议")
    preview = wecom.send_text(CONVENOR, "在北门设垃圾分类点").content
    assert "这份清单已有 2 条" in preview and "替换" in preview
    assert "已取消" in wecom.send_text(CONVENOR, "取消").content
    assert [i.text for i in items(factory, "suggestions")] == ["加装两盏路灯", "设报修电话"]
    talk(wecom, CONVENOR, "清单 建议", "在北门设垃圾分类点")
    assert "现有 1 条" in wecom.send_text(CONVENOR, "替换").content
    assert [i.text for i in items(factory, "suggestions")] == ["在北门设垃圾分类点"]


def test_published_results_are_not_replaced_or_published_twice(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], held: SessionRoom
) -> None:
    talk(wecom, CONVENOR, "清单 反馈", "#1 加装路灯｜已装好｜采纳", "确认")
    confirm = wecom.send_text(CONVENOR, "发布反馈").content
    assert "结果反馈清单 1 条" in confirm and "通知 1 位" in confirm
    assert "正在通知 1 位群众" in wecom.send_text(CONVENOR, "确认").content
    talk(wecom, CONVENOR, "清单 反馈", "#2 划停车区｜暂缓｜未采纳")
    assert "现有 2 条" in wecom.send_text(CONVENOR, "替换").content  # the published one stays
    assert [i.text for i in items(factory, "feedback")] == ["加装路灯", "划停车区"]
    confirm = wecom.send_text(CONVENOR, "发布反馈").content
    assert "结果反馈清单 1 条" in confirm and "划停车区" in confirm and "加装路灯" not in confirm
    talk(wecom, CONVENOR, "确认")
    with factory() as s:
        keys = s.scalars(select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.like("result:%")))
        assert len(list(keys)) == 2  # one resident, two results, each told once


def test_residents_and_members_are_refused_and_nothing_changes(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], held: SessionRoom
) -> None:
    for user in ("resident", held.members[0]):
        assert "召集人使用的功能" in wecom.send_text(user, "清单").content
        assert "召集人使用的功能" in wecom.send_text(user, "发布反馈").content
    assert count_rows(factory, ListItem) == 0


def test_before_any_session_has_begun(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    small_session(factory, clock, wecom)  # on 2026-12-03; it is still 2026-11-23
    assert "还没有已开始或已举行的协商活动" in wecom.send_text(CONVENOR, "清单").content
    assert "没有待发布的结果反馈清单" in wecom.send_text(CONVENOR, "发布反馈").content


def test_another_command_mid_entry_keeps_the_entry_as_a_draft(
    wecom: WeComCallbackClient, factory: sessionmaker[Session], held: SessionRoom
) -> None:
    """`发布反馈` typed while 清单 waits for lines is the command, not a bad line; 继续 comes back."""
    talk(wecom, CONVENOR, "清单", "建议")
    reply = wecom.send_text(CONVENOR, "发布反馈").content
    assert "没有待发布的结果反馈清单" in reply and "已保存为草稿" in reply
    assert "请发送协商建议清单" in wecom.send_text(CONVENOR, "继续").content
    talk(wecom, CONVENOR, "加装两盏路灯", "确认")
    assert [i.text for i in items(factory, "suggestions")] == ["加装两盏路灯"]


def test_a_micro_suggestion_named_on_a_result_line_hears_the_result(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    held: SessionRoom,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    replies = talk(wecom, "neighbor", "微建言 路灯旁边加个监控探头", "幸福社区", "确认")
    receipt = find_receipt(replies[-1].split("编号：")[1])
    assert receipt is not None and receipt.startswith("WJ")
    talk(wecom, CONVENOR, "清单 反馈", f"#{receipt.lower()} 加装监控｜已转派出所评估｜未采纳")
    talk(wecom, CONVENOR, "确认", "发布反馈", "确认")
    outbox_worker.run_once()
    [told] = [t for t in texts_to(fake, "neighbor") if "已转派出所评估" in t]
    assert "未采纳" in told and "满意" in told
    with factory() as s:
        note = s.scalars(select(Suggestion).where(Suggestion.receipt == receipt)).one()
        assert (note.status, note.answer) == ("answered", "已转派出所评估")
    assert "已转派出所评估" in wecom.send_text("neighbor", receipt).content


def test_adoption_values_from_the_preview_to_the_residents(
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    held: SessionRoom,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """已采纳 / 部分采纳 / 暂未采纳 / 无法采纳 / 可能采纳: previewed as read, stored as such, told as such.

    Before, every word containing 采纳 became 已采纳: 暂未采纳 and 无法采纳 reached residents as adopted.
    """
    talk(wecom, CONVENOR, "清单 反馈")
    preview = wecom.send_text(
        CONVENOR,
        "#1 加装路灯｜已装两盏｜已采纳\n"
        "#1 更换灯杆｜先换了北段三根｜部分采纳\n"
        "#2 划电动车停车区｜还在测量场地｜暂未采纳\n"
        "#2 拓宽消防通道｜涉及规划红线｜无法采纳\n"
        "#2 加装充电桩｜正与供电所商量｜可能采纳",
    ).content
    assert "共 5 条" in preview
    for shown in (
        "加装路灯｜结果：已装两盏｜已采纳〔关联 #1〕",
        "更换灯杆｜结果：先换了北段三根｜部分采纳〔关联 #1〕",
        "划电动车停车区｜结果：还在测量场地｜暂未采纳（待定）〔关联 #2〕",
        "拓宽消防通道｜结果：涉及规划红线｜无法采纳（未采纳）〔关联 #2〕",
        "加装充电桩｜结果：正与供电所商量｜可能采纳（待定）〔关联 #2〕",
    ):
        assert shown in preview, shown
    assert "已记录结果反馈清单 5 条" in wecom.send_text(CONVENOR, "确认").content
    assert [(i.text, i.adopted) for i in items(factory, "feedback")] == [
        ("加装路灯", "adopted"),
        ("更换灯杆", "partly"),
        ("划电动车停车区", "pending"),
        ("拓宽消防通道", "not_adopted"),
        ("加装充电桩", "pending"),
    ]

    confirm = wecom.send_text(CONVENOR, "发布反馈").content
    assert (
        "还在测量场地｜待定" in confirm and "涉及规划红线｜未采纳" in confirm and "先换了北段三根｜部分采纳" in confirm
    )
    talk(wecom, CONVENOR, "确认")
    outbox_worker.run_once()
    told = texts_to(fake, "resident")  # the proposer of both topics
    for item, verdict in [
        ("加装路灯", "已采纳"),
        ("更换灯杆", "部分采纳"),
        ("划电动车停车区", "待定"),
        ("拓宽消防通道", "未采纳"),
        ("加装充电桩", "待定"),
    ]:
        [message] = [t for t in told if f"事项：{item}\n" in t]
        assert f"\n采纳情况：{verdict}\n" in message, message
        assert "已采纳" not in message or verdict == "已采纳", message
