"""Charts as inline SVG, drawn on the server (the admin works offline: no CDN, no JavaScript).

Every label goes through markupsafe, so a resident's text can never become markup. Each bar or
slice carries `data-label` / `data-value` for tests and for anyone reading the page source.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

FONT = "'Noto Sans CJK SC','Noto Sans SC','WenQuanYi Micro Hei','Microsoft YaHei',sans-serif"
BLUE = "#206bc4"
GREEN = "#2fb344"
ORANGE = "#f59f00"
RED = "#d63939"
GREY = "#e6e7e9"
TEXT = "#1d273b"
MUTED = "#667382"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    color: str = BLUE
    note: str = ""  # shown after the bar instead of the bare value


def _svg(width: int, height: int, body: str, title: str, *, fixed: bool = False) -> Markup:
    size = f'width="{width}" height="{height}"' if fixed else 'width="100%"'
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'{size} style="max-width:{width}px;font-family:{FONT}" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def hbars(
    bars: Sequence[Bar],
    *,
    title: str,
    kind: str,
    marks: Sequence[float | None] = (),
    width: int = 520,
    label_width: int = 150,
    empty: str = "暂无数据",
) -> Markup:
    """Horizontal bars, one row each; `marks` draws a dashed target line per row (the yearly minimum)."""
    row, top = 30, 8
    if not bars:
        return _svg(
            width,
            60,
            f'<text x="{width // 2}" y="34" text-anchor="middle" fill="{MUTED}">{escape(empty)}</text>',
            title,
        )
    height = top * 2 + row * len(bars)
    plot = width - label_width - 70
    top_value = max([b.value for b in bars] + [m or 0 for m in marks] + [1])
    scale = plot / top_value
    parts = []
    for i, bar in enumerate(bars):
        y = top + i * row
        w = max(bar.value * scale, 2 if bar.value else 0)
        value = f"{bar.value:g}"
        parts.append(
            f'<g class="bar" data-kind="{escape(kind)}" data-label="{escape(bar.label)}" data-value="{value}">'
            f'<text x="{label_width - 8}" y="{y + 19}" text-anchor="end" font-size="13" fill="{TEXT}">'
            f"{escape(_fit(bar.label, label_width // 13))}</text>"
            f'<rect x="{label_width}" y="{y + 5}" width="{plot}" height="18" rx="3" fill="{GREY}" opacity="0.5"/>'
            f'<rect x="{label_width}" y="{y + 5}" width="{w:.1f}" height="18" rx="3" fill="{bar.color}"/>'
            f'<text x="{label_width + w + 6:.1f}" y="{y + 19}" font-size="12" fill="{TEXT}">'
            f"{escape(bar.note or value)}</text></g>"
        )
        mark = marks[i] if i < len(marks) else None
        if mark is not None:
            x = label_width + mark * scale
            parts.append(
                f'<line class="target" data-value="{mark:g}" x1="{x:.1f}" x2="{x:.1f}" y1="{y + 1}" y2="{y + 27}" '
                f'stroke="{RED}" stroke-width="2" stroke-dasharray="4 3"/>'
            )
    return _svg(width, height, "".join(parts), title)


def donut(value: float | None, *, title: str, kind: str, caption: str, color: str = GREEN, size: int = 160) -> Markup:
    """A ring filled to `value` (0..1) with the percentage in the middle; a grey ring and 暂无 when None."""
    r, stroke = size / 2 - 14, 18
    c = size / 2
    circumference = 2 * math.pi * r
    filled = circumference * (value or 0)
    text = "暂无" if value is None else f"{value * 100:.0f}%"
    data = "" if value is None else f"{value:.4f}"
    body = (
        f'<g class="donut" data-kind="{escape(kind)}" data-value="{data}">'
        f'<circle cx="{c}" cy="{c}" r="{r:.1f}" fill="none" stroke="{GREY}" stroke-width="{stroke}"/>'
        f'<circle cx="{c}" cy="{c}" r="{r:.1f}" fill="none" stroke="{color}" stroke-width="{stroke}" '
        f'stroke-dasharray="{filled:.1f} {circumference:.1f}" transform="rotate(-90 {c} {c})"/>'
        f'<text x="{c}" y="{c + 4}" text-anchor="middle" font-size="28" font-weight="600" fill="{TEXT}">{text}</text>'
        f'<text x="{c}" y="{c + 26}" text-anchor="middle" font-size="11" fill="{MUTED}">{escape(caption)}</text></g>'
    )
    return _svg(size, size, body, title, fixed=True)


@dataclass(frozen=True)
class Stack:
    label: str
    parts: tuple[int, ...]


def stacked(
    stacks: Sequence[Stack],
    *,
    legend: Sequence[tuple[str, str]],
    title: str,
    kind: str,
    width: int = 520,
    label_width: int = 150,
    empty: str = "暂无评价",
) -> Markup:
    """One 100% bar per row split into parts (满意 / 基本满意 / 不满意), with a legend on top."""
    if not stacks:
        return _svg(
            width,
            60,
            f'<text x="{width // 2}" y="34" text-anchor="middle" fill="{MUTED}">{escape(empty)}</text>',
            title,
        )
    row, top = 30, 34
    plot = width - label_width - 50
    parts = []
    x = label_width
    for name, color in legend:
        parts.append(
            f'<rect x="{x}" y="8" width="12" height="12" rx="2" fill="{color}"/>'
            f'<text x="{x + 16}" y="19" font-size="12" fill="{TEXT}">{escape(name)}</text>'
        )
        x += 24 + 13 * len(name)
    for i, stack in enumerate(stacks):
        y = top + i * row
        total = sum(stack.parts)
        parts.append(
            f'<g class="stack" data-kind="{escape(kind)}" data-label="{escape(stack.label)}" '
            f'data-value="{"/".join(str(p) for p in stack.parts)}">'
            f'<text x="{label_width - 8}" y="{y + 19}" text-anchor="end" font-size="13" fill="{TEXT}">'
            f"{escape(_fit(stack.label, label_width // 13))}</text>"
        )
        offset = float(label_width)
        for n, (name, color) in zip(stack.parts, legend, strict=True):
            w = plot * n / total if total else 0
            if w:
                parts.append(
                    f'<rect x="{offset:.1f}" y="{y + 5}" width="{w:.1f}" height="18" fill="{color}">'
                    f"<title>{escape(name)}：{n}</title></rect>"
                )
                if w > 18:
                    parts.append(
                        f'<text x="{offset + w / 2:.1f}" y="{y + 18}" text-anchor="middle" font-size="11" '
                        f'fill="#fff">{n}</text>'
                    )
            offset += w
        parts.append(
            f'<text x="{label_width + plot + 6}" y="{y + 19}" font-size="12" fill="{MUTED}">{total}</text></g>'
        )
    return _svg(width, top + row * len(stacks) + 8, "".join(parts), title)
