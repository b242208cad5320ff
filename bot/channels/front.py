"""The callback front: `/wechat` and `/wecom` as plain ASGI routes in front of the FastAPI app.

A callback is the hot path (every message a resident sends), and it needs nothing FastAPI adds:
no dependencies, no validation, no response models, no middleware stack. So the two URLs are
answered here, on a Starlette `Request` and `Response`, and everything else (the admin, the
simulator, pages, /healthz, /metrics, the lifespan) goes to the FastAPI app unchanged. Measured on
this machine: FastAPI's routing and middlewares cost ~0.15 ms a request against ~0.05 for this.

What the routes answer is what they did as FastAPI routes: `HTTPException`s become
`{"detail": ...}` JSON with their status, an unexpected error a 500, a method the URL does not take
405; and every POST is timed in `shangliang_callback_seconds` by channel and status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.channels import wechat, wecom
from bot.channels.common import ARRIVED
from bot.metrics import CALLBACK_SECONDS
from bot.runtime import Runtime

log = logging.getLogger(__name__)

Endpoint = Callable[[Runtime, Request], Awaitable[Response]]

# path -> (channel, {method: endpoint})
ROUTES: dict[str, tuple[str, dict[str, Endpoint]]] = {
    "/wechat": ("wechat", {"GET": wechat.verify_url, "POST": wechat.receive}),
    "/wecom": ("wecom", {"GET": wecom.verify_url, "POST": wecom.receive}),
}


class CallbackFront:
    """ASGI app: the callback URLs here, anything else to `app` (FastAPI)."""

    def __init__(self, app: Any, runtime: Runtime) -> None:
        self.app: ASGIApp = app
        self.runtime = runtime

    @property
    def state(self) -> Any:
        """The FastAPI app's state (`app.state.runtime`), for callers that hold this front."""
        return self.app.state  # type: ignore[attr-defined]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = ROUTES.get(scope["path"]) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        channel, endpoints = route
        method = scope["method"]
        endpoint = endpoints.get(method)
        started = time.perf_counter()
        scope[ARRIVED] = started  # the reply deadline counts from here (ReplyRunner.run)
        status = 500
        try:
            if endpoint is None:
                response: Response = JSONResponse(
                    {"detail": "Method Not Allowed"}, status_code=405, headers={"Allow": ", ".join(endpoints)}
                )
            else:
                try:
                    response = await endpoint(self.runtime, Request(scope, receive))
                except HTTPException as exc:
                    response = JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
                except Exception:
                    log.exception("%s %s failed", method, scope["path"])
                    response = PlainTextResponse("Internal Server Error", status_code=500)
            status = response.status_code
            await response(scope, receive, send)
        finally:
            if method == "POST":
                CALLBACK_SECONDS.labels(channel, str(status)).observe(time.perf_counter() - started)
