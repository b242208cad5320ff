"""The admin's own pages: statistics with server-drawn SVG charts, and the Excel downloads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import anyio
from sqladmin import BaseView, expose
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from bot.runtime import Runtime
from bot.services import audit, qrcodes, rates, stats
from bot.services.export import FILE_NAMES, WORKBOOKS, XLSX_MEDIA_TYPE, to_bytes, workbook
from bot.services.proposals import STATUS_NAMES
from bot.services.ratings import RATING_NAMES
from bot.services.rooms import LEVEL_NAMES
from storage.db import transaction
from storage.models import Proposal, Room

from . import charts

RATING_COLORS = {"satisfied": charts.GREEN, "basically": charts.BLUE, "unsatisfied": charts.RED}


RATES_NOTE = (
    "响应率：当年提交、已答复或已到期的提议和微建言中，在时限（工作日）内答复的比例；"
    "办结率：当年到期或已办结的责任事项中，按期办结的比例；满意率：（满意＋基本满意）÷ 评价人次。"
)


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    note: str = ""


def _runtime(view: BaseView) -> Runtime:
    runtime: Runtime = view._admin_ref.runtime  # type: ignore[attr-defined]
    return runtime


def statistics(session: Session, *, year: int, tz: str, now: datetime, minimums: Mapping[str, int]) -> dict[str, Any]:
    """Everything the statistics page shows, as tiles and charts. Sessions count once held (ended by `now`),
    against MIN_SESSIONS_PER_YEAR."""
    held = stats.sessions_held(session, year=year, tz=ZoneInfo(tz), now=now, minimums=minimums)
    ahead = stats.sessions_ahead(session, year=year, tz=ZoneInfo(tz), now=now)
    by_status = stats.proposals_by_status(session)
    by_tag = stats.proposals_by_category(session)
    adoption = stats.adoption_counts(session)
    by_room = stats.ratings_by_room(session)
    rated = sum(r.total for r in by_room)
    pleased = sum(r.satisfied + r.basically for r in by_room)
    satisfaction = pleased / rated if rated else None
    behind = [name for _, name, _, n, minimum in held if n < minimum]
    proposals = int(session.scalar(select(func.count()).select_from(Proposal)) or 0)
    rooms = int(session.scalar(select(func.count()).select_from(Room)) or 0)

    session_bars = [
        charts.Bar(
            f"{name}（{LEVEL_NAMES.get(level, level)}）",  # type: ignore[call-overload]
            n,
            charts.GREEN if n >= minimum else charts.ORANGE,
            f"{n} / {minimum} 次",
        )
        for _, name, level, n, minimum in held
    ]
    scans = [
        (
            c.label,
            c.scene,
            c.scans,
            f"{c.last_scanned_at.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}" if c.last_scanned_at else "",
        )
        for c in qrcodes.scan_counts(session)
    ]
    return {
        "year": year,
        "scans": scans,
        "tiles": [
            Tile("议事室", str(rooms), f"{len(behind)} 个未达年度最低次数" if behind else "均已达年度最低次数"),
            Tile(
                f"{year} 年已举行协商",
                str(sum(n for *_, n, _m in held)),
                "不含已取消的活动" + (f"；另有 {ahead} 次尚未举行" if ahead else ""),
            ),
            Tile("提议", str(proposals), f"{by_status.get('submitted', 0)} 条待受理"),
            Tile("群众评价", str(rated), "满意度 " + ("暂无" if satisfaction is None else f"{satisfaction:.0%}")),
        ],
        "sessions_chart": charts.hbars(
            session_bars,
            title=f"{year} 年各议事室已举行协商次数与年度最低要求",
            kind="sessions",
            marks=[minimum for *_, minimum in held],
            label_width=240,
            width=620,
            empty="还没有议事室",
        ),
        "behind": behind,
        "three_rates": rates.by_room(session, year=year, tz=tz, now=now),
        "rates_note": RATES_NOTE,
        "status_chart": charts.hbars(
            [charts.Bar(name, by_status.get(code, 0)) for code, name in STATUS_NAMES.items()],
            title="提议按状态",
            kind="status",
            label_width=110,
        ),
        "tag_chart": charts.hbars(
            [charts.Bar(tag, n, "#4299e1") for tag, n in by_tag],
            title="提议按分类",
            kind="tags",
            label_width=110,
            empty="还没有分类",
        ),
        "adoption_chart": charts.donut(adoption.rate, title="采纳率", kind="adoption", caption="含部分采纳"),
        "adoption_note": f"{stats.ADOPTION_RULE}。已发布 {adoption.total} 条：{adoption.summary()}。",
        "satisfaction_chart": charts.donut(
            satisfaction, title="满意度", kind="satisfaction", caption="满意+基本满意", color=charts.BLUE
        ),
        "ratings_chart": charts.stacked(
            [charts.Stack(r.room_name, (r.satisfied, r.basically, r.unsatisfied)) for r in by_room],
            legend=[(RATING_NAMES[k], RATING_COLORS[k]) for k in stats.RATINGS],
            title="各议事室群众评价",
            kind="ratings",
            label_width=220,
            width=900,
        ),
    }


class StatsView(BaseView):
    name = "统计"
    icon = "fa-solid fa-chart-column"

    @expose("/stats", identity="stats")
    async def stats_page(self, request: Request) -> Response:
        runtime = _runtime(self)
        tz = runtime.settings.timezone
        now = runtime.clock.now()
        year = now.astimezone(ZoneInfo(tz)).year

        def load() -> dict[str, Any]:
            with runtime.factory() as session:
                return statistics(session, year=year, tz=tz, now=now, minimums=runtime.settings.min_sessions_per_year)

        context = await anyio.to_thread.run_sync(load)
        context["title"] = "统计"
        context["subtitle"] = f"{year} 年度 · 数据截至 {now.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}"
        return await self.templates.TemplateResponse(request, "admin/stats.html", context)


EXPORTS = [
    ("proposals", "提议", "受理编号、议事室、内容、分类、状态、联系电话（脱敏）、附议人数、审定情况"),
    (
        "sessions",
        "协商活动",
        "主题、起止时间、地点、形式、状态（已安排 / 进行中 / 已举行 / 已取消）与取消原因、邀请人数、参加 / 请假 / 未回复人数",
    ),
    ("lists", "三张清单", "协商建议清单、责任落实清单、结果反馈清单（含采纳与评价），每张一个工作表"),
]


class ExportView(BaseView):
    name = "导出 Excel"
    icon = "fa-solid fa-file-excel"

    # Declared first: sqladmin names the menu entry after the first exposed page.
    @expose("/export", identity="export")
    async def export_page(self, request: Request) -> Response:
        context = {
            "title": "导出 Excel",
            "subtitle": "联系电话只导出脱敏号码，不含 openid；未脱敏导出须另行确认，并记录在「个人信息查看记录」中",
            "exports": EXPORTS,
        }
        return await self.templates.TemplateResponse(request, "admin/export.html", context)

    @expose("/export/{name}.xlsx", identity="export-file")
    async def export_file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in WORKBOOKS:
            raise HTTPException(status_code=404, detail="没有这个导出")
        runtime = _runtime(self)
        now = runtime.clock.now()

        def build() -> bytes:
            with runtime.factory() as session:
                return to_bytes(workbook(name, session, tz=runtime.settings.timezone, now=now))

        content = await anyio.to_thread.run_sync(build)
        return _workbook(runtime, name, content)

    @expose("/export/{name}/unmasked.xlsx", methods=["POST"], identity="export-unmasked")
    async def export_unmasked(self, request: Request) -> Response:
        """The workbook with phone numbers in full: a separate, explicit action (a POST with the confirmation
        ticked, CSRF-guarded), recorded before the file is built."""
        name = request.path_params["name"]
        admin_user_id = getattr(request.state, "admin_user_id", None)
        if name not in WORKBOOKS or admin_user_id is None:
            raise HTTPException(status_code=404, detail="没有这个导出")
        if (await request.form()).get("confirm") != "yes":
            raise HTTPException(status_code=400, detail="未脱敏导出须勾选确认")
        runtime = _runtime(self)

        def build() -> bytes:
            with transaction(runtime.factory) as session:
                audit.unmasked_export(session, name=name, admin_user_id=int(admin_user_id), now=runtime.clock.now())
                now = runtime.clock.now()
                tz = runtime.settings.timezone
                return to_bytes(workbook(name, session, tz=tz, now=now, reveal=runtime.services.sealer))

        content = await anyio.to_thread.run_sync(build)
        response = _workbook(runtime, name, content, note="未脱敏")
        response.headers["Cache-Control"] = "no-store"
        return response


def _workbook(runtime: Runtime, name: str, content: bytes, note: str = "") -> Response:
    day = runtime.clock.now().astimezone(ZoneInfo(runtime.settings.timezone)).strftime("%Y%m%d")
    suffix = f"-{note}" if note else ""
    chinese = quote(f"{FILE_NAMES[name]}{suffix}-{day}.xlsx")
    ascii_name = f"{name}{'-unmasked' if note else ''}-{day}.xlsx"
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{chinese}"
    return Response(content, media_type=XLSX_MEDIA_TYPE, headers={"Content-Disposition": disposition})
