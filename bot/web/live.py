"""The live page a convenor puts on the room's screen: /live/<session>?key=...

The page (static/live.html, .css, .js) polls `/live/<session>/feed` and renders with textContent,
so whatever residents type is shown literally. Every route checks the signed key first.
"""

from __future__ import annotations

import html
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response

from bot.clock import local
from bot.runtime import Runtime, get_runtime
from bot.services import live, moderation, suggestions
from bot.services.privacy import mask_phones
from bot.services.session_notices import FORMAT_NAMES
from storage.db import transaction
from storage.models import ConsultSession, SessionFormat

router = APIRouter()

STATIC = Path(__file__).parent / "static"
MAX_BODY_BYTES = 4 * 1024
# Residents' text is rendered by script with textContent; the policy keeps any other script out.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",  # the key is in the URL
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex",
    "Cache-Control": "no-store",
}
FORBIDDEN = "链接无效或不完整。请召集人在聊天中发送「现场」获取本场协商的页面链接。"
NOT_FOUND = "没有找到这场协商活动。"
ANSWER_WINDOW = timedelta(days=7)
ANSWER_CLOSED = "这场协商活动已结束一周以上，页面上不能再回应。请召集人在聊天中发「回应 编号 内容」。"
ASSETS = {"live.css": "text/css; charset=utf-8", "live.js": "text/javascript; charset=utf-8"}


def _message_page(status: int, text: str) -> HTMLResponse:
    body = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>协商现场</title>'
        '<link rel="stylesheet" href="/live/static/live.css"></head>'
        f'<body class="message"><main><h1>协商现场</h1><p>{html.escape(text)}</p></main></body></html>'
    )
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def _json(status: int, payload: dict[str, Any]) -> JSONResponse:
    return JSONResponse(payload, status_code=status, headers=SECURITY_HEADERS)


def _session_id(name: str) -> int | None:
    return int(name) if name.isdigit() and len(name) <= 12 else None


def _allowed(runtime: Runtime, session_id: int | None, key: str | None) -> bool:
    secret = runtime.settings.secret_key.get_secret_value()
    return session_id is not None and live.verify(session_id, key, secret=secret)


def _when(consult: ConsultSession, tz: str) -> str:
    start, end = local(consult.starts_at, tz), local(consult.ends_at, tz)
    return f"{start.month}月{start.day}日 {start:%H:%M}–{end:%H:%M}"


def _snapshot(runtime: Runtime, session_id: int) -> dict[str, Any] | None:
    tz = runtime.settings.timezone
    with runtime.factory() as db:
        consult = db.get(ConsultSession, session_id)
        if consult is None:
            return None
        total, answered = live.counts(db, session_id=session_id)
        return {
            # The page is on a screen in the room: numbers typed into the topic or the place are masked.
            "title": mask_phones(consult.title),
            "room": consult.room.name,
            "place": mask_phones(consult.place),
            "format": FORMAT_NAMES.get(SessionFormat(consult.format), consult.format),
            "when": _when(consult, tz),
            "phase": live.phase(consult, runtime.clock.now()),
            "total": total,
            "answered": answered,
            "items": [item.as_json() for item in live.feed(db, session_id=session_id, tz=tz)],
            "opinions": live.opinion_feed(db, session_id=session_id),
        }


@router.get("/live/static/{name}")
def asset(name: str) -> Response:
    if name not in ASSETS:
        return Response(status_code=404)
    return Response((STATIC / name).read_bytes(), media_type=ASSETS[name], headers={"Cache-Control": "max-age=300"})


@router.get("/live/{name}")
def page(name: str, key: str | None = None, runtime: Runtime = Depends(get_runtime)) -> HTMLResponse:
    session_id = _session_id(name)
    if not _allowed(runtime, session_id, key):
        return _message_page(403, FORBIDDEN)
    assert session_id is not None
    snapshot = _snapshot(runtime, session_id)
    if snapshot is None:
        return _message_page(404, NOT_FOUND)
    template = (STATIC / "live.html").read_text(encoding="utf-8")
    filled = {k: html.escape(str(snapshot[k])) for k in ("title", "room", "place", "format", "when", "phase")}
    body = template.format(session_id=session_id, **filled)
    return HTMLResponse(body, headers=SECURITY_HEADERS)


@router.get("/live/{name}/feed")
def feed(name: str, key: str | None = None, runtime: Runtime = Depends(get_runtime)) -> JSONResponse:
    session_id = _session_id(name)
    if not _allowed(runtime, session_id, key):
        return _json(403, {"error": FORBIDDEN})
    assert session_id is not None
    snapshot = _snapshot(runtime, session_id)
    if snapshot is None:
        return _json(404, {"error": NOT_FOUND})
    return _json(200, snapshot)


async def _answer_text(request: Request) -> str | None:
    """The optional `{"answer": "..."}` body; anything else counts as no text."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            return None
    try:
        data = json.loads(body) if body.strip() else {}
    except (ValueError, UnicodeDecodeError):
        return None
    text = data.get("answer") if isinstance(data, dict) else None
    return text if isinstance(text, str) else None


@router.post("/live/{name}/suggestions/{note}/answer")
async def answer(
    name: str, note: str, request: Request, key: str | None = None, runtime: Runtime = Depends(get_runtime)
) -> JSONResponse:
    session_id, suggestion_id = _session_id(name), _session_id(note)
    if not _allowed(runtime, session_id, key):
        return _json(403, {"error": FORBIDDEN})
    text = await _answer_text(request)
    return await run_in_threadpool(_mark_answered, runtime, session_id or 0, suggestion_id, text)


def _mark_answered(runtime: Runtime, session_id: int, suggestion_id: int | None, text: str | None) -> JSONResponse:
    with transaction(runtime.factory) as db:
        found = suggestions.locked(db, suggestion_id=suggestion_id) if suggestion_id is not None else None
        consult = db.get(ConsultSession, session_id)
        if found is None or consult is None or found.session_id != session_id or not moderation.is_visible(found):
            return _json(404, {"error": "这条微建言不属于本场协商活动。"})
        if runtime.clock.now() > consult.ends_at + ANSWER_WINDOW:
            # A screen link is shared in a room: a week after the session it no longer changes anything.
            return _json(403, {"error": ANSWER_CLOSED})
        changed = live.answer(db, note=found, consult=consult, text=text, now=runtime.clock.now())
        return _json(200, {"ok": True, "changed": changed, "answer": found.answer})
