"""The admin's common view: read-only by default, Chinese labels, local times, related names looked up
once per page (never one query per cell), and no sqladmin CSV/JSON export (ours masks personal data)."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

import anyio
from markupsafe import Markup
from sqladmin import ModelView
from sqladmin.pagination import Pagination
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request

from storage.models import ConsultSession, ListItem, Person, Proposal, Room, Suggestion

if TYPE_CHECKING:
    from bot.runtime import Runtime


def yes_no(value: bool | None) -> str:
    return "" if value is None else ("是" if value else "否")


class AdminView(ModelView):
    """Read-only unless a view says otherwise."""

    can_create = False
    can_edit = False
    can_delete = False
    can_export = False
    page_size = 25
    page_size_options: ClassVar[list[int]] = [25, 50, 100]

    # (attribute, model) pairs whose ids are shown as names; see `annotate`.
    lookups: ClassVar[dict[str, type]] = {}

    def __init__(self) -> None:
        super().__init__()
        fmt = self._fmt_time
        self._column_type_formatters = {**self._column_type_formatters, datetime: fmt, bool: yes_no}
        self._column_type_formatters_detail = {**self._column_type_formatters_detail, datetime: fmt, bool: yes_no}
        if not self.column_formatters_detail:
            self._detail_formatters = dict(self._list_formatters)
            self._detail_formatter_accepts_request = dict(self._list_formatter_accepts_request)

    def get_details_columns(self) -> builtins.list[str]:
        """Only the columns a view names: never sqladmin's default of every column (openids, ciphers)."""
        if self.column_details_list:
            return [self._get_prop_name(c) for c in self.column_details_list]
        return self.get_list_columns()

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self._admin_ref.runtime  # type: ignore[attr-defined]
        return runtime

    def _fmt_time(self, value: datetime | date) -> str:
        if isinstance(value, datetime):
            return value.astimezone(ZoneInfo(self.runtime.settings.timezone)).strftime("%Y-%m-%d %H:%M")
        return value.isoformat()

    # --- names of related rows, fetched once per page -------------------------------------------

    async def list(self, request: Request) -> Pagination:
        page = await super().list(request)
        await anyio.to_thread.run_sync(self._annotate, page.rows)
        return page

    async def get_object_for_details(self, request: Request) -> Any:
        obj = await super().get_object_for_details(request)
        if obj is not None:
            await anyio.to_thread.run_sync(self._annotate, [obj])
        return obj

    def _annotate(self, rows: builtins.list[Any]) -> None:
        if not rows:
            return
        with self.session_maker() as session:
            for row in rows:
                row.admin = {}
            for attr, model in self.lookups.items():
                ids = {getattr(row, attr) for row in rows} - {None}
                names = _names(session, model, ids)
                for row in rows:
                    row.admin[attr] = names.get(getattr(row, attr), "")
            self.annotate(session, rows)

    def annotate(self, session: Session, rows: builtins.list[Any]) -> None:
        """Add more derived values to `row.admin` (a view's own lookups)."""


def annotated(key: str) -> Callable[[Any, Any], str]:
    """A formatter showing a value `annotate` derived for the row."""
    return lambda m, _a: getattr(m, "admin", {}).get(key, "")


def looked_up(attr: str) -> Callable[[Any, Any], str]:
    """A formatter showing the name `annotate` found for an id column."""
    return lambda m, _a: getattr(m, "admin", {}).get(attr, "")


def _names(session: Session, model: type, ids: Iterable[Any]) -> dict[Any, str]:
    ids = list(ids)
    if not ids:
        return {}
    if model is Person:
        rows = session.execute(select(Person.id, Person.display_name).where(Person.id.in_(ids))).all()
        return {i: name or f"用户{i}" for i, name in rows}
    if model is Room:
        return dict(session.execute(select(Room.id, Room.name).where(Room.id.in_(ids))).all())
    if model is ConsultSession:
        return dict(
            session.execute(select(ConsultSession.id, ConsultSession.title).where(ConsultSession.id.in_(ids))).all()
        )
    if model is Proposal:
        rows = session.execute(select(Proposal.id, Proposal.receipt).where(Proposal.id.in_(ids))).all()
        return {i: receipt or f"#{i}" for i, receipt in rows}
    if model is Suggestion:
        rows = session.execute(select(Suggestion.id, Suggestion.receipt).where(Suggestion.id.in_(ids))).all()
        return {i: receipt or f"#{i}" for i, receipt in rows}
    if model is ListItem:
        rows = session.execute(select(ListItem.id, ListItem.text).where(ListItem.id.in_(ids))).all()
        return {i: _cut(text) for i, text in rows}
    raise ValueError(f"no lookup for {model}")


def _cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cut(attr: str, limit: int = 40) -> Callable[[Any, Any], str]:
    """A formatter shortening long text in lists (escaped by the template like any string)."""
    return lambda m, _a: _cut(getattr(m, attr) or "", limit)


def lines(items: list[str]) -> Markup:
    """Several escaped lines in one cell."""
    return Markup("<br>").join(items)
