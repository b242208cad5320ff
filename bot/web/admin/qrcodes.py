"""The 生成民生码 button on a room's and a proposal's page: the same permanent code as `shangliang qrcode`,
made through the web process's API client, its image shown to signed-in admins, its scans counted."""

from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import Any

import anyio
import httpx
from markupsafe import Markup
from sqladmin import expose
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.outbound.api import ApiError
from bot.services import qrcodes
from storage.db import transaction
from storage.models import Proposal, QrCode, Room

log = logging.getLogger(__name__)

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}


def _code_of(session: Session, kind: str, pk: int) -> QrCode | None:
    column = QrCode.room_id if kind == "room" else QrCode.proposal_id
    return session.scalars(select(QrCode).where(column == pk)).first()


def _target(session: Session, kind: str, pk: int) -> qrcodes.Target | None:
    if kind == "room":
        room = session.get(Room, pk)
        return qrcodes.target_of_room(room) if room is not None else None
    proposal = session.get(Proposal, pk)
    return qrcodes.target_of_proposal(proposal) if proposal is not None and proposal.receipt else None


class QrCodeActions:
    """Mixed into the room and proposal views (their sqladmin identity is the kind: room, proposal)."""

    qr_kind = "room"

    def qr_cell(self, session: Session, row: Any) -> Markup:
        """What the details page shows: the code (image, scene, scans) if made, and the button."""
        base = self._admin_ref.base_url.rstrip("/")  # type: ignore[attr-defined]
        code = _code_of(session, self.qr_kind, row.id)
        action = f"{base}/{self.qr_kind}/qrcode/{row.id}"
        label = "重新生成民生码" if code else "生成民生码"
        button = (
            f'<form method="post" action="{action}" class="d-inline">'
            f'<button type="submit" class="btn btn-sm btn-outline-primary" id="make-qrcode">{label}</button></form>'
        )
        if code is None:
            return Markup(f"未生成 {button}")
        image = f"{base}/{self.qr_kind}/qrcode-image/{row.id}"
        return Markup(
            f'<a href="{image}" target="_blank" rel="noopener"><img src="{image}" alt="民生码" '
            'style="width:160px;height:160px;display:block;margin-bottom:6px"></a>'
            f"场景值 {html.escape(code.scene)} · 扫码 {code.scans} 次 {button}"
        )

    @expose("/qrcode/{pk}", methods=["POST"])
    async def make_qrcode(self, request: Request) -> Response:
        """生成民生码: WeChat's permanent code for this room or proposal, saved under QRCODE_DIR."""
        pk = str(request.path_params["pk"])
        if not pk.isdigit() or len(pk) > 12:
            raise HTTPException(status_code=404)
        runtime = self.runtime  # type: ignore[attr-defined]
        kind = self.qr_kind

        def make() -> str | None:
            with runtime.factory() as session:
                target = _target(session, kind, int(pk))
            if target is None:
                return None
            made = qrcodes.make(api=runtime.wechat_api, target=target, directory=Path(runtime.settings.qrcode_dir))
            with transaction(runtime.factory) as session:
                qrcodes.keep(session, target=target, made=made, now=runtime.clock.now())
            return target.scene

        try:
            scene = await anyio.to_thread.run_sync(make)
        except (ApiError, httpx.HTTPError, KeyError, OSError) as failed:
            log.warning("QR code not made: %s", failed)
            raise HTTPException(status_code=502, detail=f"微信接口没有生成二维码：{failed}") from None
        if scene is None:
            raise HTTPException(status_code=404)
        return RedirectResponse(request.url_for("admin:details", identity=kind, pk=pk), status_code=303)

    @expose("/qrcode-image/{pk}")
    async def qrcode_image(self, request: Request) -> Response:
        """The saved image of the code, for signed-in admins (to print and post on site)."""
        pk = str(request.path_params["pk"])
        if not pk.isdigit() or len(pk) > 12:
            raise HTTPException(status_code=404)
        runtime = self.runtime  # type: ignore[attr-defined]

        def load() -> tuple[bytes, str] | None:
            with runtime.factory() as session:
                code = _code_of(session, self.qr_kind, int(pk))
            path = Path(code.image_path) if code is not None and code.image_path else None
            if path is None or not path.is_file():
                return None
            return path.read_bytes(), IMAGE_TYPES.get(path.suffix.lower(), "application/octet-stream")

        found = await anyio.to_thread.run_sync(load)
        if found is None:
            raise HTTPException(status_code=404, detail="还没有生成民生码，或图片已不在")
        content, media_type = found
        headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
        return Response(content, media_type=media_type, headers=headers)
