"""The office's web admin at /admin (sqladmin): login, tables, statistics with charts, Excel export.

Create a login with `shangliang admin create USERNAME`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from sqladmin import Admin
from sqladmin.authentication import login_required
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.runtime import Runtime

from . import i18n
from .auth import AdminAuth
from .csrf import csrf_token
from .login_guard import LoginRefused
from .pages import ExportView, StatsView
from .records import RecordsView, StarRuleView
from .views import VIEWS

TEMPLATES = Path(__file__).parent / "templates"


class ShangliangAdmin(Admin):
    """sqladmin with the runtime at hand, Chinese chrome, and the statistics as its home page."""

    def __init__(self, app: FastAPI, runtime: Runtime) -> None:
        self.runtime = runtime
        super().__init__(
            app,
            engine=runtime.engine,
            title="有事好商量 · 管理后台",
            templates_dir=str(TEMPLATES),
            authentication_backend=AdminAuth(runtime.settings, runtime.engine, runtime.clock),
        )
        self.templates.env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
        self.templates.env.globals["csrf_token"] = csrf_token

    async def login(self, request: Request) -> Response:
        """sqladmin's login, plus 429 with the reason on the login page when an attempt is not even tried."""
        try:
            return await super().login(request)
        except LoginRefused as refused:
            response = await self.templates.TemplateResponse(
                request, "sqladmin/login.html", {"error": refused.message}, status_code=429
            )
            response.headers["Retry-After"] = str(refused.retry_after)
            return response

    @login_required
    async def index(self, request: Request) -> Response:
        return RedirectResponse(request.url_for("admin:view-stats"), status_code=302)

    @staticmethod
    async def _handle_form_data(request: Request, obj: object = None) -> FormData:
        form = await Admin._handle_form_data(request, obj)
        save = form.get("save")
        if isinstance(save, str) and save in i18n.SAVE_LABELS:
            items = [(k, i18n.SAVE_LABELS[save] if k == "save" else v) for k, v in form.multi_items()]
            return FormData(items)
        return form


def mount(app: FastAPI, runtime: Runtime) -> None:
    """Attach the admin to the app under /admin."""
    admin = ShangliangAdmin(app, runtime)
    admin.add_view(StatsView)
    for view in VIEWS:
        admin.add_view(view)
    admin.add_view(RecordsView)
    admin.add_view(StarRuleView)
    admin.add_view(ExportView)
