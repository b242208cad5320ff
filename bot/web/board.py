"""A room's public board: /rooms/<id> (a phone page, no login, no script), /rooms/<id>/data.json and data.csv.

Rendered on the server from `bot/services/board.py`, every value escaped; the same Content-Security-Policy
as the live page, with no script at all. What it shows names nobody (see the service).
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, JSONResponse, Response

from bot.runtime import Runtime, get_runtime
from bot.services import board as boards
from bot.services import board_csv
from bot.web.live import SECURITY_HEADERS

router = APIRouter()

STATIC = Path(__file__).parent / "static"
# Public and the same for everyone: a minute in caches is fine, WeChat's in-app browser included.
HEADERS = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=60", "X-Robots-Tag": "noindex"}
NOT_FOUND = "没有找到这个议事室。"


def _load(runtime: Runtime, name: str) -> boards.Board | None:
    if not name.isdigit() or len(name) > 12:
        return None
    settings = runtime.settings
    with runtime.factory() as session:
        return boards.board(
            session,
            room_id=int(name),
            now=runtime.clock.now(),
            tz=settings.timezone,
            minimums=settings.min_sessions_per_year,
        )


@router.get("/rooms/static/board.css")
def stylesheet() -> Response:
    css = (STATIC / "board.css").read_bytes()
    return Response(css, media_type="text/css; charset=utf-8", headers={"Cache-Control": "max-age=300"})


@router.get("/rooms/{name}")
def page(name: str, runtime: Runtime = Depends(get_runtime)) -> HTMLResponse:
    found = _load(runtime, name)
    if found is None:
        return HTMLResponse(_shell("议事室公示", f'<p class="none">{NOT_FOUND}</p>'), status_code=404, headers=HEADERS)
    return HTMLResponse(_shell(f"{found.room} · 公示", _body(found)), headers=HEADERS)


@router.get("/rooms/{name}/data.json")
def data_json(name: str, runtime: Runtime = Depends(get_runtime)) -> JSONResponse:
    found = _load(runtime, name)
    if found is None:
        return JSONResponse({"error": NOT_FOUND}, status_code=404, headers=HEADERS)
    return JSONResponse(found.as_json(), headers=HEADERS)


@router.get("/rooms/{name}/data.csv")
def data_csv(name: str, runtime: Runtime = Depends(get_runtime)) -> Response:
    found = _load(runtime, name)
    if found is None:
        return Response(NOT_FOUND, status_code=404, media_type="text/plain; charset=utf-8", headers=HEADERS)
    out = io.StringIO()
    csv.writer(out).writerows(board_csv.csv_rows(found))
    # With a BOM, Excel opens the Chinese text as UTF-8.
    headers = {**HEADERS, "Content-Disposition": f'attachment; filename="room-{found.room_id}.csv"'}
    return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


# --- the page ---------------------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value))


def _percent(rate: float | None) -> str:
    return "暂无" if rate is None else f"{rate:.0%}"


def _shell(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="no-referrer"><title>{_e(title)}</title>'
        '<link rel="stylesheet" href="/rooms/static/board.css"></head>'
        f"<body>{body}</body></html>"
    )


def _body(b: boards.Board) -> str:
    r = b.rates
    met = b.sessions_held >= b.sessions_minimum
    rated = r.satisfied + r.basically + r.unsatisfied
    parts = [
        '<header class="top">',
        f'<div class="level">{_e(b.level)} · 协商议事室</div>',
        f'<h1 id="room">{_e(b.room)}</h1>',
        '<p class="motto">有事好商量 · 议题邀群众共商，结果让群众评议</p>',
        "</header><main>",
        '<section class="figures" id="figures">',
        f'<div class="figure {"met" if met else "short"}"><b id="held">{b.sessions_held}</b>'
        f"<span>{b.year}年已协商 / 年度最少 {b.sessions_minimum} 次</span></div>",
        f'<div class="figure"><b id="satisfaction">{_percent(r.satisfaction_rate)}</b><span>满意率（{rated} 人评价）</span></div>',
        f'<div class="figure"><b>{_percent(r.response_rate)}</b><span>响应率</span></div>',
        f'<div class="figure"><b>{_percent(r.completion_rate)}</b><span>办结率</span></div>',
        "</section>",
        f'<p class="ratings">评价：满意 {r.satisfied} · 基本满意 {r.basically} · 不满意 {r.unsatisfied}'
        f" · 采纳率 {_percent(r.adoption_rate)}"
        + (f" · 尚有 {b.sessions_ahead} 场已安排" if b.sessions_ahead else "")
        + "</p>",
        _priorities(b),
        _topics(b),
        _sessions(b),
        '<footer class="foot"><p>群众的姓名和电话一律不公开。想提议题？关注公众号发「提议题」，或扫议事室的民生码。</p>'
        f'<p>数据下载：<a href="/rooms/{b.room_id}/data.json">JSON</a> · <a href="/rooms/{b.room_id}/data.csv">CSV</a></p>'
        "</footer></main>",
    ]
    return "".join(parts)


def _topics(b: boards.Board) -> str:
    if not b.topics:
        return '<section><h2>议题</h2><p class="none">还没有议题。</p></section>'
    cards = "".join(
        f'<li class="topic"><div class="meta"><span class="receipt">{_e(t.receipt)}</span>'
        f'<span class="status" data-status="{_e(t.status)}">{_e(t.status)}</span></div>'
        f'<p class="text">{_e(t.text)}</p><div class="sub">{_e(t.filed)} · 附议 {t.supporters} 人</div></li>'
        for t in b.topics
    )
    return f'<section id="topics"><h2>议题（{len(b.topics)}）</h2><ul class="list">{cards}</ul></section>'


def _priorities(b: boards.Board) -> str:
    """The residents' 排序: which open topics they find most urgent, with the fit's ± range."""
    if not b.priorities:
        return ""
    rows = "".join(
        f'<li class="topic"><div class="meta"><span class="receipt">{p.rank}. {_e(p.receipt)}</span>'
        f'<span class="status">急迫度 {p.score:.0f} ± {p.margin:.0f}</span></div><p class="text">{_e(p.text)}</p></li>'
        for p in b.priorities
    )
    return f'<section id="priorities"><h2>群众排序（哪件事更急）</h2><ol class="list">{rows}</ol></section>'


def _sessions(b: boards.Board) -> str:
    if not b.sessions:
        return '<section><h2>协商活动</h2><p class="none">还没有协商活动。</p></section>'
    blocks = []
    for s in b.sessions:
        lists = [
            _block("协商建议清单", [_e(t) for t in s.suggestions]),
            _block(
                "责任落实清单",
                [
                    f"{_e(d.item)}<span class='sub'>{_e(d.unit)}{' · 期限 ' + _e(d.deadline) if d.deadline else ''}"
                    f" · 进度 {d.progress}%</span>"
                    for d in s.responsibilities
                ],
            ),
            _block(
                "结果反馈清单",
                [
                    f"{_e(f.item)}<span class='result'>结果：{_e(f.result)}</span>"
                    f"<span class='sub'>{_e(f.adoption) + ' · ' if f.adoption else ''}满意 {f.satisfied} · 基本满意"
                    f" {f.basically} · 不满意 {f.unsatisfied}</span>"
                    for f in s.feedback
                ],
            ),
        ]
        blocks.append(
            f'<article class="session"><h3>{_e(s.title)}</h3>'
            f'<div class="sub">{_e(s.when)} · {_e(s.place)} · <span class="status">{_e(s.status)}</span></div>'
            f"{''.join(lists)}</article>"
        )
    return f'<section id="sessions"><h2>协商活动和三张清单</h2>{"".join(blocks)}</section>'


def _block(title: str, lines: list[str]) -> str:
    if not lines:
        return f'<div class="block"><h4>{title}</h4><p class="none">暂无</p></div>'
    return f'<div class="block"><h4>{title}</h4><ol>{"".join(f"<li>{line}</li>" for line in lines)}</ol></div>'
