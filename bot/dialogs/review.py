"""待审: a convenor picks a proposal from their room's review list and acts on it, with a preview.

The list shown is kept in the dialog data, so a number always means the item that was shown under
it. One-line shortcuts (`受理 1`, `合并 1 到 2`, `不予采纳 1 理由……`, `审定 1 审定单位 XX 日期 今天`) fill
the same data and land on the same preview; anything they leave out is asked for.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from bot.dialogs.common import Applies, confirm_hint, confirm_step, typed, until_filled
from bot.dialogs.engine import Data, Dialog, Goto, Lookups, Outcome, Retry, Step
from bot.incoming import Incoming
from bot.services.escalation_path import KIND_ALIASES, KINDS
from bot.services.proposals import CLOSED
from bot.services.review import ACTION_NAMES, HOP_ACTIONS, item_refusal
from bot.services.review_parse import (
    Shortcut,
    parse_approval,
    parse_day,
    parse_kind,
    parse_reason,
    parse_shortcut,
    parse_target,
)
from bot.services.review_view import item_lines, list_text, status_name
from bot.text import choose, numbered

# The item's menu, in this order; an option the item does not allow is not shown (报上级 needs a parent
# room, 退回下级 an item that came from below), so the numbers are those of the menu shown.
OPTIONS: list[tuple[str, str, tuple[str, ...]]] = [
    ("受理", "accept", ("接受",)),
    ("合并到另一条", "merge", ("合并", "并入")),
    ("不予采纳", "decline", ("不采纳", "驳回", "拒绝")),
    ("审定为议题", "approve", ("审定", "立项", "议题")),
    ("报上级", "escalate", ("上报", "报送上级", "上级")),
    ("退回下级", "return", ("退回下级", "下级")),
    ("返回列表", "", ("列表", "待审")),
]
ACTION_WORDS = (
    "受理",
    "合并",
    "不予采纳",
    "审定",
    "报上级",
    "退回",
    "退回下级",
)  # one-line actions, read against the list
KIND_OPTIONS = list(KINDS.values())  # 提案线索, 社情民意信息, 建议: numbered 1-3
MAX_REASON = 500
MAX_UNIT = 50


class S(StrEnum):
    list = "review:list"
    item = "review:item"
    target = "review:target"
    reason = "review:reason"
    unit = "review:unit"
    kind = "review:kind"
    day = "review:day"
    confirm = "review:confirm"


def _today(data: Data) -> date:
    return date.fromisoformat(str(data.get("today") or "2000-01-01"))


def ask_list(data: Data, _lookups: Lookups) -> str:
    return list_text(data)


def take(data: Data, shortcut: Shortcut, lookups: Lookups) -> Goto | Retry:
    """Resolve a pick or a one-line action against the list that was shown (shared with the handler)."""
    items: list[dict[str, Any]] = data.get("items") or []
    number: int | None = None
    if isinstance(shortcut.ref, int):
        if not 1 <= shortcut.ref <= len(items):
            span = f"请回复 1 到 {len(items)} 之间的序号" if items else "列表是空的，请回复受理编号"
            return Retry(f"列表里没有第 {shortcut.ref} 条。{span}，或发「待审」重新查看。", understood=True)
        number, item = shortcut.ref, items[shortcut.ref - 1]
    else:
        found = lookups.proposal_item(shortcut.ref)
        if found is None:
            return Retry(f"没有找到编号为 {shortcut.ref} 的提议，请核对编号。", understood=True)
        if found["room_id"] not in (data.get("rooms") or []):
            not_yours = f"{shortcut.ref} 属于「{found['room_name']}」，您不是这个议事室的召集人，不能处理。"
            return Retry(not_yours, understood=True)
        item = found
    updates: Data = {"pick": item, "pick_no": number, "action": None, "ready": False}
    updates.update(target=None, reason=None, unit=None, day=None)
    if not shortcut.action:
        return Goto(S.item, updates)
    problem = item_refusal(item, shortcut.action)
    if problem is not None and shortcut.action in HOP_ACTIONS:
        return Retry(f"{problem}没有做任何改动。", understood=True)  # nothing to pick from the menu instead
    if problem is not None:
        return Goto(S.item, updates, note=problem)
    updates["action"] = shortcut.action
    updates["kind"] = None
    note = ""
    if shortcut.action == "merge" and shortcut.rest:
        outcome = _target(data, item, parse_target(shortcut.rest), lookups)
        if isinstance(outcome, Retry):
            note = outcome.message
        else:
            updates["target"] = outcome
    elif shortcut.action in ("decline", "return"):
        updates["reason"] = parse_reason(shortcut.rest)[:MAX_REASON] or None
    elif shortcut.action == "escalate":
        kind, rest = parse_kind(shortcut.rest)
        updates["kind"] = kind
        updates["reason"] = parse_reason(rest)[:MAX_REASON] or None
    elif shortcut.action == "approve":
        unit, day, bad = parse_approval(shortcut.rest, _today(data))
        updates["unit"] = unit[:MAX_UNIT] or None
        updates["day"] = day.isoformat() if day else None
        note = "看不懂写的审定日期。" if bad else ""
    return Goto(S.item, updates, note=note)


def handle_list(data: Data, msg: Incoming, lookups: Lookups) -> Outcome:
    shortcut = parse_shortcut(msg.text) if msg.kind == "text" else None
    if shortcut is None:
        count = len(data.get("items") or [])
        return Retry(f"请回复列表中的序号（1 到 {count}）查看一条提议，或发「受理 1」这样的一句话直接处理。")
    return take(data, shortcut, lookups)


def _menu(data: Data) -> list[tuple[str, str, tuple[str, ...]]]:
    """The actions this item allows, then 返回列表: (label, action, aliases), numbered in this order."""
    pick = data["pick"]
    return [option for option in OPTIONS if not option[1] or item_refusal(pick, option[1]) is None]


def ask_item(data: Data, _lookups: Lookups) -> str:
    labels = [label for label, _action, _aliases in _menu(data)]
    if len(labels) == 1:
        return "\n".join([*item_lines(data["pick"], data), "", "这条提议现在没有可做的操作。回复「1」返回列表。"])
    return "\n".join([*item_lines(data["pick"], data), "", "请选择操作，回复序号：", numbered(labels)])


def handle_item(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    menu = _menu(data)
    index = choose(typed(msg), [label for label, _a, _w in menu], aliases=[words for _l, _a, words in menu])
    if index is None:
        actions = OPTIONS[:-1]
        wanted = choose(typed(msg), [label for label, _a, _w in actions], aliases=[words for _l, _a, words in actions])
        if wanted is not None:  # an action the item does not allow: say why
            problem = item_refusal(data["pick"], actions[wanted][1]) or ""
            return Retry(f"{problem}请回复 1 到 {len(menu)} 的序号选择其他操作。", understood=True)
        return Retry(f"请回复 1 到 {len(menu)} 的序号选择操作；回复「{len(menu)}」返回列表。")
    action = menu[index][1]
    if not action:
        return Goto(S.list, {"pick": None, "pick_no": None, "action": None, "ready": False})
    cleared = {"target": None, "reason": None, "unit": None, "day": None, "kind": None}
    return Goto(S.target, {"action": action, **cleared})


def _target(data: Data, item: dict[str, Any], ref: int | str | None, lookups: Lookups) -> dict[str, Any] | Retry:
    items: list[dict[str, Any]] = data.get("items") or []
    if ref is None:
        return Retry("请回复目标提议在列表中的序号，或它的受理编号（如 YS-2026-000123）。")
    if isinstance(ref, int):
        if not 1 <= ref <= len(items):
            return Retry(f"列表里没有第 {ref} 条。请回复列表中的序号，或目标提议的受理编号。")
        target = items[ref - 1]
    else:
        found = lookups.proposal_item(ref)
        if found is None:
            return Retry(f"没有找到编号为 {ref} 的提议，请核对编号。")
        target = found
    if target["id"] == item["id"]:
        return Retry("不能把一条提议合并到它自己。请换一条目标提议。")
    if target["room_id"] != item["room_id"]:
        return Retry(f"{target['receipt']} 不在「{item['room_name']}」，只能合并到同一议事室的提议。")
    if target["status"] in CLOSED:
        return Retry(f"{target['receipt']} 已经是「{status_name(target)}」，不能作为合并的目标。请换一条。")
    return {"id": target["id"], "receipt": target["receipt"], "summary": target["summary"]}


def ask_target(data: Data, _lookups: Lookups) -> str:
    pick = data["pick"]
    others = [
        f"{n}. {it['receipt']} {it['summary']}"
        for n, it in enumerate(data.get("items") or [], 1)
        if it["id"] != pick["id"]
    ]
    listing = ("\n列表中的其他提议：\n" + "\n".join(others)) if others else ""
    return (
        f"要把 {pick['receipt']} 合并到哪一条？请回复列表序号，或目标提议的受理编号（如 YS-2026-000123）。"
        f"合并后，它的提议人和附议人会成为那一条的附议人。{listing}"
    )


def handle_target(data: Data, msg: Incoming, lookups: Lookups) -> Outcome:
    outcome = _target(data, data["pick"], parse_target(msg.text) if msg.kind == "text" else None, lookups)
    if isinstance(outcome, Retry):
        return outcome
    return Goto(S.kind, {"target": outcome})


def ask_kind(data: Data, _lookups: Lookups) -> str:
    pick = data["pick"]
    return f"把 {pick['receipt']} 报送上级「{pick['parent']}」，作为哪一类？请回复序号：\n{numbered(KIND_OPTIONS)}"


def handle_kind(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    keys = list(KINDS)
    index = choose(typed(msg), KIND_OPTIONS, aliases=[KIND_ALIASES[k] for k in keys])
    if index is None:
        return Retry(f"请回复 1、2 或 3 选择报送类别：\n{numbered(KIND_OPTIONS)}")
    return Goto(S.reason, {"kind": keys[index]})


def ask_reason(data: Data, _lookups: Lookups) -> str:
    receipt = data["pick"]["receipt"]
    if data.get("action") == "escalate":
        return f"请写明把 {receipt} 报上级的原因（必填，会告诉上级议事室、提议人和附议人），例如：「涉及县道，村里无权处理」。"
    if data.get("action") == "return":
        return (
            f"请写明把 {receipt} 退回「{data['pick']['from_room']}」的原因（必填，会告诉下级召集人、提议人和附议人），"
            "例如：「属村内事务，请村里先协商」。"
        )
    return (
        f"请写明不予采纳 {receipt} 的理由（必填，会原样告诉提议人和附议人），"
        "例如：「该路段属市政道路，已转交城管部门处理」。"
    )


def handle_reason(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    reason = parse_reason(msg.text) if msg.kind == "text" else ""
    if len(reason) < 2:
        what = ACTION_NAMES.get(str(data.get("action")), "不予采纳")
        return Retry(f"请用一句话写明{what}的原因（至少 2 个字）；不写原因不能{what}。")
    if len(reason) > MAX_REASON:
        return Retry(f"理由请控制在 {MAX_REASON} 字以内（现在 {len(reason)} 字）。")
    return Goto(S.unit, {"reason": reason})


def ask_unit(data: Data, _lookups: Lookups) -> str:
    return (
        f"把 {data['pick']['receipt']} 审定为协商议题：请回复审定单位，如「XX镇党委」。"
        "也可以连同日期一起回复，如「XX镇党委 2026-12-01」。"
    )


def handle_unit(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    unit, day, _bad = parse_approval(msg.text, _today(data)) if msg.kind == "text" else ("", None, False)
    if len(unit) < 2 or len(unit) > MAX_UNIT:
        return Retry(f"请回复审定单位的名称（2 到 {MAX_UNIT} 个字），如「XX镇党委」。")
    updates: Data = {"unit": unit}
    if day is not None:
        updates["day"] = day.isoformat()
    return Goto(S.day, updates)


def ask_day(data: Data, _lookups: Lookups) -> str:
    return f"审定日期是哪一天？请回复如 {_today(data).isoformat()}、{_today(data).month}月{_today(data).day}日，或「今天」。"


def handle_day(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    day = parse_day(msg.text, _today(data)) if msg.kind == "text" else None
    if day is None:
        return Retry("看不懂这个日期。请回复如 2026-12-01、12月1日，或「今天」「昨天」。")
    return Goto(S.confirm, {"day": day.isoformat()})


def _while_asking(action: str, key: str) -> Applies:
    """The step belongs to `action` and is passed over once `key` is known (a shortcut may give it)."""
    return lambda data, _lookups: data.get("action") == action and not data.get(key)


def _asking_reason(data: Data, _lookups: Lookups) -> bool:
    return data.get("action") in ("decline", "escalate", "return") and not data.get("reason")


def ask_confirm(data: Data, _lookups: Lookups) -> str:
    action = data["action"]
    pick = data["pick"]
    lines = ["请核对：", *item_lines(pick, data), "", f"操作：{ACTION_NAMES[action]}"]
    if action == "merge":
        target = data["target"]
        lines[-1] = f"操作：合并到 {target['receipt']}（{target['summary']}）"
        lines.append(f"提议人和附议人将成为 {target['receipt']} 的附议人。")
    elif action == "decline":
        lines.append(f"理由：{data['reason']}")
    elif action == "escalate":
        lines[-1] = f"操作：报上级，报送「{pick['parent']}」"
        lines.append(f"类别：{KINDS.get(str(data.get('kind')), '')}")
        lines.append(f"原因：{data['reason']}")
        lines.append(f"确认后转到「{pick['parent']}」的待审列表。")
    elif action == "return":
        lines[-1] = f"操作：退回「{pick['from_room']}」"
        lines.append(f"原因：{data['reason']}")
        lines.append(f"确认后回到「{pick['from_room']}」的待审列表，并告诉那里的召集人。")
    elif action == "approve":
        day = date.fromisoformat(data["day"])
        lines.append(f"审定单位：{data['unit']}")
        lines.append(f"审定日期：{day.year}年{day.month}月{day.day}日")
    lines.append("确认后会通知提议人和附议人。")
    lines.append(confirm_hint("执行"))
    return "\n".join(lines)


DIALOG = Dialog(
    name="review",
    cancelled="已取消审核，没有做任何改动。发「待审」可重新查看。",
    title="待审",
    first=S.list,
    confirm=S.confirm,
    required=("ready",),
    effects=("review_apply",),
    steps={
        S.list: Step(
            ask_list,
            handle_list,
            next=S.item,
            applies=until_filled("pick"),
            help="回复序号查看一条提议并选择操作；也可回复受理编号。",
            commands=frozenset(ACTION_WORDS),
            passes=True,
        ),
        S.item: Step(
            ask_item,
            handle_item,
            next=S.target,
            applies=until_filled("action"),
            help="受理：同意研究；合并：与同类提议合在一起；不予采纳：需写理由；审定：列为协商议题；"
            "报上级：转上级议事室办理；退回下级：把下级报送的提议退回。",
            commands=frozenset(ACTION_WORDS),
        ),
        S.target: Step(
            ask_target,
            handle_target,
            next=S.kind,
            applies=_while_asking("merge", "target"),
            help="合并后，原提议的提议人和附议人会收到通知，并成为目标提议的附议人。",
        ),
        S.kind: Step(
            ask_kind,
            handle_kind,
            next=S.reason,
            applies=_while_asking("escalate", "kind"),
            help="提案线索：可形成政协提案；社情民意信息：反映给党委政府参考；建议：供上级议事室协商研究。",
        ),
        S.reason: Step(
            ask_reason,
            handle_reason,
            next=S.unit,
            applies=_asking_reason,
            help="原因会原样告诉提议人和附议人，请写得具体、客气。",
            free_text=True,
        ),
        S.unit: Step(
            ask_unit,
            handle_unit,
            next=S.day,
            applies=_while_asking("approve", "unit"),
            help="审定单位一般是镇（街道）党委或村（社区）党组织。",
            free_text=True,
        ),
        S.day: Step(
            ask_day,
            handle_day,
            next=S.confirm,
            applies=_while_asking("approve", "day"),
            help="审定日期可以写 2026-12-01、12月1日、今天或昨天。",
        ),
        S.confirm: confirm_step(
            S.confirm,
            ask_confirm,
            "review_apply",
            does="执行",
            enter=lambda _d, _l: {"ready": True},
            help="确认后状态会改变，并通知提议人和附议人。",
        ),
    },
)
