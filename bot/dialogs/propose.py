"""提议题: a resident proposes a topic for their consultation room."""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.common import (
    change_room,
    confirm_hint,
    confirm_step,
    room_line,
    room_step,
    typed,
    until_filled,
    wants_room_change,
)
from bot.dialogs.engine import Data, Dialog, Finish, Goto, Lookups, Outcome, Retry, Step, keep_media
from bot.incoming import Incoming
from bot.services.privacy import clean_phone, mask_phone
from bot.text import choose, numbered, parse_number

MIN_CHARS = 5
MAX_CHARS = 1000
NEW_WORDS = ("零", "新提", "不附议", "提交新的", "继续提交", "都不是", "不是", "新的", "我自己的", "新建提议")
SUPPORT_WORDS = ("附议", "支持", "我附议", "附议这条", "同意这条", "支持这条")


class S(StrEnum):
    room = "propose:room"
    describe = "propose:describe"
    similar = "propose:similar"
    photo = "propose:photo"
    location = "propose:location"
    phone = "propose:phone"
    confirm = "propose:confirm"


def ask_describe(data: Data, _lookups: Lookups) -> str:
    return f"请用几句话说说您发现的问题和想法（至少 {MIN_CHARS} 个字）。\n{room_line(data)}"


def describe(data: Data, msg: Incoming, lookups: Lookups) -> Outcome:
    if wants_room_change(msg):
        return change_room(S.room)
    text = typed(msg)
    if len(text) < MIN_CHARS:
        return Retry(f"请用文字描述问题，至少 {MIN_CHARS} 个字，例如：「幸福路路灯坏了一个多月，晚上很黑」。")
    if len(text) > MAX_CHARS:
        return Retry(f"内容有 {len(text)} 个字，超过了 {MAX_CHARS} 字，请精简后再发。")
    return Goto(S.similar, {"description": text})


def find_similar(data: Data, lookups: Lookups) -> Data:
    """Look similar open proposals up once, on arrival, so the numbers shown stay the numbers read."""
    found = lookups.similar_proposals(int(data["room_id"]), str(data["description"]), data.get("room_name"))
    return {"similar": [[s.id, s.receipt, s.summary, s.supporters] for s in found]}


def ask_similar(data: Data, _lookups: Lookups) -> str:
    lines = [f"{receipt}：{summary}（{count} 人附议）" for _, receipt, summary, count in data["similar"]]
    return (
        "这个议事室已有相似的提议：\n"
        f"{numbered(lines)}\n"
        "回复序号可附议其中一条（您会收到同样的进展通知）；回复「0」或「新建」继续提交您自己的提议。"
    )


def similar(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    options = data["similar"]
    text = typed(msg)
    number = parse_number(text)
    if number == 0 or (number is None and choose(text, ["新建"], aliases=[NEW_WORDS]) == 0):
        return Goto(S.photo)
    index = choose(text, [o[1] for o in options])
    if index is None and number is None and choose(text, ["附议"], aliases=[SUPPORT_WORDS]) == 0:
        if len(options) > 1:
            return Retry(f"要附议哪一条？请回复序号 1 到 {len(options)}；回复「0」提交您自己的提议。")
        index = 0
    if index is None:
        return Retry(f"请回复 1 到 {len(options)} 的序号附议，或回复「0」提交新的提议。")
    return Finish("support_proposal", {"support_id": options[index][0], "support_receipt": options[index][1]})


def ask_photo(data: Data, _lookups: Lookups) -> str:
    count = len(data.get("photos") or [])
    if count:
        return f"已收到 {count} 张照片。还有要补充的照片吗？有就接着发；没有请回复「跳过」。"
    return "有现场照片吗？有的话请直接发送图片（可以发几张）；没有请回复「跳过」。"


def photo(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    if msg.kind != "image":
        return Retry("请发送图片，或回复「跳过」。")
    kept, note = keep_media(data, msg)
    return Goto(S.location, {"photos": kept.get("photos")}, note=note)


def ask_location(_data: Data, _lookups: Lookups) -> str:
    return (
        "问题在什么位置？可以发送位置（对话框「+」→「位置」），或直接写地点，如「幸福路12号门口」；"
        "不需要请回复「跳过」。"
    )


def location(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    if msg.kind == "location" and msg.latitude is not None and msg.longitude is not None:
        return Goto(
            S.phone,
            {
                "latitude": msg.latitude,
                "longitude": msg.longitude,
                "location_label": msg.label or "已发送的位置",
            },
        )
    text = typed(msg)
    if len(text) < 2 or len(text) > 200:
        return Retry("请发送位置，或写下地点（2 到 200 个字），或回复「跳过」。")
    return Goto(S.phone, {"location_label": text})


def ask_phone(_data: Data, _lookups: Lookups) -> str:
    return (
        "方便的话请留一个联系电话，便于工作人员回访（只有工作人员能看到，且显示为 138****5678 的形式）；"
        "不留请回复「跳过」。"
    )


def phone(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    number = clean_phone(msg.text) if msg.kind == "text" else None
    if number is None:
        return Retry("这不像是电话号码。请输入 11 位手机号（如 13812345678）或带区号的固话，或回复「跳过」。")
    return Goto(S.confirm, {"phone": number, "phone_masked": mask_phone(number)})


def ask_confirm(data: Data, _lookups: Lookups) -> str:
    lines = [
        "请核对您的提议：",
        f"议事室：{data.get('room_name', '')}（要换议事室请回复「换议事室」）",
        f"问题：{data.get('description', '')}",
        f"照片：{len(data['photos'])} 张" if data.get("photos") else "照片：无",
        f"位置：{data.get('location_label') or '未填'}",
        f"电话：{data.get('phone_masked') or '未留'}",
        "",
        confirm_hint("提交", back="修改上一项"),
    ]
    return "\n".join(lines)


DIALOG = Dialog(
    name="propose",
    title="提议题",
    first=S.room,
    confirm=S.confirm,
    cancelled="已取消，提议没有提交。需要时再发「提议题」。",
    required=("room_id", "description"),
    effects=("file_proposal", "support_proposal"),
    media=True,
    draft_keys=("description", "photos"),
    steps={
        S.room: room_step(S.room, S.describe),
        S.describe: Step(
            ask_describe,
            describe,
            next=S.similar,
            applies=until_filled("description"),
            help="说清楚在哪里、什么问题、影响了谁，越具体越好。",
            free_text=True,
        ),
        S.similar: Step(
            ask_similar,
            similar,
            next=S.photo,
            enter=find_similar,
            applies=lambda d, _l: bool(d.get("similar")),
            help="附议：和已有的提议合在一起，人数越多越受重视。",
            commands=frozenset({"附议"}),
        ),
        S.photo: Step(ask_photo, photo, next=S.location, optional=True, help="照片能帮助工作人员了解现场。"),
        S.location: Step(
            ask_location,
            location,
            next=S.phone,
            optional=True,
            applies=until_filled("location_label"),
            help="位置可选填。",
            free_text=True,
        ),
        S.phone: Step(ask_phone, phone, next=S.confirm, optional=True, help="电话只用于回访，加密保存，只显示为掩码。"),
        S.confirm: confirm_step(
            S.confirm,
            ask_confirm,
            "file_proposal",
            room_state=S.room,
            help="确认后会得到一个受理编号，可随时查询进展。",
        ),
    },
)
