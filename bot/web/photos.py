"""The photos a resident sent with an item, behind the signed link convenors get in chat
(`照片 3 张：<link>`): /photos/<proposal|suggestion>/<id>?key=… (a small page for a phone) and each
photo at /photos/<kind>/<id>/<photo>?key=…, the same key. Anything else is 404: ids tell nothing."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from bot.runtime import Runtime, get_runtime
from bot.services import photos

router = APIRouter()

STATIC = Path(__file__).parent / "static"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",  # the key is in the URL
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
    "Cache-Control": "private, no-store",
}
# A photo opened on its own runs nothing, whatever its bytes.
PHOTO_HEADERS = {**PAGE_HEADERS, "Content-Security-Policy": "default-src 'none'; sandbox"}
INVALID = "链接无效或不完整。请在聊天中重新查看这条提议或微建言，使用新发来的链接。"
WAITING = "正在从微信保存，请稍后刷新"


def _page(status: int, title: str, body: str) -> HTMLResponse:
    page = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{html.escape(title)}</title><link rel="stylesheet" href="/photos/static/photos.css"></head>'
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(page, status_code=status, headers=PAGE_HEADERS)


def _invalid() -> HTMLResponse:
    return _page(404, "照片", f"<p>{html.escape(INVALID)}</p>")


def _allowed(runtime: Runtime, kind: str, item_id: str, key: str | None) -> bool:
    secret = runtime.settings.secret_key.get_secret_value()
    return item_id.isdigit() and len(item_id) <= 12 and photos.key_valid(kind, int(item_id), key, secret=secret)


@router.get("/photos/static/photos.css")
def stylesheet() -> Response:
    css = (STATIC / "photos.css").read_bytes()
    return Response(css, media_type="text/css; charset=utf-8", headers={"Cache-Control": "max-age=300"})


@router.get("/photos/{kind}/{item_id}")
async def page(kind: str, item_id: str, key: str | None = None, runtime: Runtime = Depends(get_runtime)) -> Response:
    if not _allowed(runtime, kind, item_id, key):
        return _invalid()

    def load() -> tuple[str | None, photos.Kept]:
        with runtime.factory() as session:
            return photos.heading(session, kind=kind, item_id=int(item_id)), photos.of_item(
                session, kind=kind, item_id=int(item_id)
            )

    heading, kept = await run_in_threadpool(load)
    if heading is None:
        return _invalid()
    parts = [f'<p class="place">位置：{html.escape(kept.place.text())}</p>'] if kept.place else []
    if not kept.photos:
        parts.append("<p>没有照片。</p>")
    for number, photo in enumerate(kept.photos, 1):
        if photo.status == "stored":
            src = html.escape(f"/photos/{kind}/{item_id}/{photo.attachment_id}?key={key}")
            parts.append(
                f'<figure><a href="{src}"><img src="{src}" alt="照片 {number}"></a>'
                f"<figcaption>照片 {number}</figcaption></figure>"
            )
        else:
            why = WAITING if photo.status in ("pending", "fetching") else photo.error or "未保存"
            parts.append(f'<figure class="missing"><p>照片 {number}：{html.escape(why)}</p></figure>')
    return _page(200, heading, "".join(parts))


@router.get("/photos/{kind}/{item_id}/{photo_id}")
async def photo(
    kind: str, item_id: str, photo_id: str, key: str | None = None, runtime: Runtime = Depends(get_runtime)
) -> Response:
    if not _allowed(runtime, kind, item_id, key) or not photo_id.isdigit() or len(photo_id) > 12:
        return _invalid()

    def load() -> photos.media.Stored | None:
        with runtime.factory() as session:
            return photos.photo(session, kind=kind, item_id=int(item_id), attachment_id=int(photo_id))

    found = await run_in_threadpool(load)
    if found is None:
        return _invalid()
    return Response(found.content, media_type=found.content_type, headers=PHOTO_HEADERS)
