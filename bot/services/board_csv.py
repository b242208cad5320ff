"""The public board as CSV (/rooms/<id>/data.csv): one row per thing the page shows, the same data."""

from __future__ import annotations

from bot.services.board import Board

CSV_HEADER = (
    "类别",
    "议事室",
    "协商活动",
    "日期",
    "编号",
    "内容",
    "状态或结果",
    "责任单位",
    "期限或采纳",
    "满意",
    "基本满意",
    "不满意",
)


def csv_rows(found: Board) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = [CSV_HEADER]
    r = found.rates
    rows.append(
        (
            "年度",
            found.room,
            "",
            str(found.year),
            "",
            f"已举行 {found.sessions_held} 次，年度最少 {found.sessions_minimum} 次",
            _percent(r.satisfaction_rate),
            "",
            _percent(r.adoption_rate),
            r.satisfied,
            r.basically,
            r.unsatisfied,
        )
    )
    for t in found.topics:
        rows.append(("议题", found.room, "", t.filed, t.receipt, t.text, t.status, "", "", "", "", ""))
    for p in found.priorities:
        urgency = f"第 {p.rank} 位，急迫度 {p.score:.0f} ± {p.margin:.0f}"
        rows.append(("群众排序", found.room, "", "", p.receipt, p.text, urgency, "", "", "", "", ""))
    for s in found.sessions:
        rows.append(("协商活动", found.room, s.title, s.when, "", s.place, s.status, "", "", "", "", ""))
        for text in s.suggestions:
            rows.append(("协商建议", found.room, s.title, s.when, "", text, "", "", "", "", "", ""))
        for d in s.responsibilities:
            rows.append(
                ("责任落实", found.room, s.title, s.when, "", d.item, f"{d.progress}%", d.unit, d.deadline, "", "", "")
            )
        for f in s.feedback:
            rows.append(
                (
                    "结果反馈",
                    found.room,
                    s.title,
                    f.published,
                    "",
                    f.item,
                    f.result,
                    "",
                    f.adoption,
                    f.satisfied,
                    f.basically,
                    f.unsatisfied,
                )
            )
    return [tuple(_cell(v) for v in row) for row in rows]


def _percent(rate: float | None) -> str:
    return "暂无" if rate is None else f"{rate:.0%}"


def _cell(value: object) -> object:
    """Text a spreadsheet would read as a formula is kept as text (a leading apostrophe)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
