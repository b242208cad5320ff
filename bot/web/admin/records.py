"""履职档案: the members' and representatives' records of a year, per person or per room, the Excel for the
yearly review, and the star rule the office edits (星级规则). The rules: bot/services/records.py."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

import anyio
from sqladmin import BaseView, expose
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from wtforms.validators import InputRequired, NumberRange

from bot.runtime import Runtime
from bot.services import records
from bot.services.export import XLSX_MEDIA_TYPE, to_bytes
from bot.services.records_export import HEADERS, records_workbook, row_of
from storage.models import Room, StarRule

from .base import AdminView

RECORDS = "履职档案"


def _runtime(view: BaseView) -> Runtime:
    runtime: Runtime = view._admin_ref.runtime  # type: ignore[attr-defined]
    return runtime


def _number(value: str | None, default: int) -> int:
    return int(value) if value and value.isdigit() else default


class RecordsView(BaseView):
    name = "履职档案"
    icon = "fa-solid fa-address-card"
    category = RECORDS

    @expose("/records", identity="records")
    async def records_page(self, request: Request) -> Response:
        runtime = _runtime(self)
        tz = runtime.settings.timezone
        now = runtime.clock.now()
        year = _number(request.query_params.get("year"), now.astimezone(ZoneInfo(tz)).year)
        room_id = _number(request.query_params.get("room"), 0) or None

        def load() -> dict[str, Any]:
            with runtime.factory() as session:
                rooms = [(int(i), str(n)) for i, n in session.execute(select(Room.id, Room.name).order_by(Room.name))]
                found = records.records(session, year=year, tz=tz, now=now, room_id=room_id)
                rule = records.star_rule(session)
            return {"rooms": rooms, "rows": [row_of(r) for r in found], "rule": records.rule_text(rule)}

        context = await anyio.to_thread.run_sync(load)
        room_name = dict(context["rooms"]).get(room_id or 0, "")
        context.update(
            title="履职档案",
            subtitle=f"{year} 年 · {room_name or '全部议事室（按人员）'} · 数据截至 {now.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}",
            headers=HEADERS,
            year=year,
            room_id=room_id,
            years=list(range(now.astimezone(ZoneInfo(tz)).year, now.astimezone(ZoneInfo(tz)).year - 5, -1)),
        )
        return await self.templates.TemplateResponse(request, "admin/records.html", context)

    @expose("/records/{year}.xlsx", identity="records-file")
    async def records_file(self, request: Request) -> Response:
        runtime = _runtime(self)
        tz = runtime.settings.timezone
        now = runtime.clock.now()
        year = _number(request.path_params.get("year"), now.astimezone(ZoneInfo(tz)).year)

        def build() -> bytes:
            with runtime.factory() as session:
                return to_bytes(records_workbook(session, year=year, tz=tz, now=now))

        content = await anyio.to_thread.run_sync(build)
        chinese = quote(f"履职档案-{year}.xlsx")
        disposition = f"attachment; filename=\"records-{year}.xlsx\"; filename*=UTF-8''{chinese}"
        return Response(content, media_type=XLSX_MEDIA_TYPE, headers={"Content-Disposition": disposition})


class StarRuleView(AdminView, model=StarRule):
    """The office's star rule: ★ N when attendance and contributions reach row N (defaults until set)."""

    name = "星级规则"
    name_plural = "星级规则"
    icon = "fa-solid fa-star"
    category = RECORDS
    can_create = True
    can_edit = True
    can_delete = True
    column_list: ClassVar[list[Any]] = [StarRule.stars, StarRule.min_attendance, StarRule.min_contributions]
    column_labels: ClassVar[dict[Any, str]] = {
        "stars": "星级（1–5）",
        "min_attendance": "出席率不低于（%）",
        "min_contributions": "贡献不少于（荐题+清单建议+回应，条）",
    }
    column_formatters: ClassVar[dict[Any, Any]] = {"stars": lambda m, _a: records.stars_text(m.stars)}
    column_default_sort: ClassVar[Any] = ("stars", False)
    form_columns: ClassVar[list[Any]] = [StarRule.stars, StarRule.min_attendance, StarRule.min_contributions]
    form_include_pk = True
    form_args: ClassVar[dict[str, dict[str, Any]]] = {
        "stars": {"label": "星级（1–5）", "validators": [InputRequired(), NumberRange(min=1, max=5)]},
        "min_attendance": {"label": "出席率不低于（%）", "validators": [InputRequired(), NumberRange(min=0, max=100)]},
        "min_contributions": {
            "label": "贡献不少于（条）",
            "validators": [InputRequired(), NumberRange(min=0, max=999)],
        },
    }
