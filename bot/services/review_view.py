"""How 待审 shows proposals: the numbered list and one proposal's details (pure; reads dialog data)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.clock import fmt_local
from bot.services import categories, clocks
from bot.services.proposals import STATUS_NAMES


def status_name(item: Mapping[str, Any]) -> str:
    return STATUS_NAMES.get(item["status"], item["status"])


def _when(item: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    return fmt_local(datetime.fromisoformat(item["created_at"]), str(data.get("tz") or "Asia/Shanghai"))


def list_text(data: Mapping[str, Any]) -> str:
    """The room's waiting proposals, newest first, numbered as the convenor will answer."""
    items = data.get("items") or []
    if not items:
        return f"「{data.get('room_name', '')}」目前没有待审的提议。"
    lines = [f"「{data.get('room_name', '')}」待审提议（附议达到人数的在前，其余最新在前）："]
    for number, item in enumerate(items, 1):
        mark = "［附议达标］" if item.get("forced") else ""
        mark += "［已受理］" if item["status"] == "accepted" else ""
        if item.get("from_room"):
            mark = f"「下级报送·{item['from_room']}」{mark}"
        elif item["status"] == "returned":
            mark = f"「上级退回」{mark}"
        lines.append(
            f"{number}. {mark}{item['receipt']} {item['summary']}\n"
            f"   {item['supporters']} 人附议 · 分类：{categories.label(item.get('tags'))}{_due(item, data)}"
        )
    if data.get("more"):
        lines.append(f"……还有 {data['more']} 条较早的，处理完这些后再发「待审」查看。")
    if data.get("others"):
        lines.append(f"（您还是「{'」「'.join(data['others'])}」的召集人，发「待审 议事室名」可切换。）")
    lines.append(
        "回复序号查看并处理，如「1」。也可一步到位：受理 1 · 合并 1 到 2 · 不予采纳 1 理由…… · "
        "审定 1 审定单位 XX镇党委 日期 今天"
        + (" · 报上级 1 社情民意信息 原因……" if data.get("parent") else "")
        + (" · 退回 1 原因……" if any(item.get("from_room") for item in items) else "")
    )
    return "\n".join(lines)


def item_lines(item: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
    """One proposal as the convenor sees it before acting on it."""
    where = f"（列表第 {data['pick_no']} 条）" if data.get("pick_no") else ""
    lines = [
        f"提议 {item['receipt']}{where}",
        f"议事室：{item['room_name']}",
        f"状态：{status_name(item)}",
        f"提交时间：{_when(item, data)}",
        f"内容：{item['description']}",
    ]
    if "media" in item:  # photos with their signed link, the place with its coordinates
        lines.extend(item["media"])
        if item.get("location") and not any(line.startswith("位置：") for line in item["media"]):
            lines.append(f"位置：{item['location']}")  # a place written in words, no coordinates
    else:  # a list shown before photos were kept (data of an older release)
        lines.extend([f"位置：{item['location']}"] if item.get("location") else [])
        lines.extend(["照片：有"] if item.get("photo") else [])
    if item.get("phone"):
        lines.append(f"联系电话：{item['phone']}")
    lines.append(f"附议：{item['supporters']} 人；分类：{categories.label(item.get('tags'))}")
    if item.get("from_room"):
        lines.append(f"下级报送：「{item['from_room']}」作为{item['hop_kind']}报送，原因：{item['hop_reason']}")
    if limits := _due(item, data):
        lines.append(limits.removeprefix(" · ").replace(" · ", "；"))
    return lines


def _due(item: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """` · 答复期限 2026年10月13日 · 审定期限 …` (and 已逾期) for the clocks that run (bot/services/clocks.py)."""
    parts = []
    if item.get("status") in {"submitted", "escalated", "returned"} and item.get("due"):
        parts.append(_limit("答复期限", str(item["due"]), data))
    if item.get("decide_by"):
        parts.append(_limit("审定期限", str(item["decide_by"]), data))
    return "".join(f" · {part}" for part in parts)


def _limit(name: str, when: str, data: Mapping[str, Any]) -> str:
    due = datetime.fromisoformat(when)
    late = "（已逾期）" if data.get("now") and datetime.fromisoformat(str(data["now"])) >= due else ""
    return f"{name} {clocks.day_label(due, str(data.get('tz') or 'Asia/Shanghai'))}{late}"
