"""The web chat simulator: a phone-like page and a small JSON API that feed the real message pipeline.

Messages go through the same `ReplyRunner` and `Pipeline` as WeChat's callbacks, as simulated people
(`sim-…`), whose outbox messages are never sent to WeChat and are shown by the page instead.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot import simulated
from bot.channels.common import read_body
from bot.runtime import Runtime, get_runtime

router = APIRouter()

PAGE = Path(__file__).parent / "static" / "simulator.html"
MAX_BODY_BYTES = 16 * 1024
MAX_KEY_CHARS = 64

Name = Annotated[str, AfterValidator(simulated.clean_name)]
ChannelName = Literal["wechat", "wecom"]

# What each field must be, said once in Chinese: 422 answers list the fields that were wrong.
FIELD_RULES = {
    "user": f"用户名需为 1 到 {simulated.MAX_NAME_CHARS} 个字",
    "channel": "渠道只能是 wechat（公众号）或 wecom（企业微信）",
    "kind": "消息类型只能是 text、image、location 或 click",
    "text": f"文字需为 1 到 {simulated.MAX_TEXT_CHARS} 个字",
    "key": f"菜单键需为 1 到 {MAX_KEY_CHARS} 个字符",
    "after": "after 需为不小于 0 的整数",
}


class SendIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user: Name
    channel: ChannelName = "wechat"
    kind: simulated.Kind = "text"
    text: str = Field(default="", max_length=simulated.MAX_TEXT_CHARS)
    key: str = Field(default="", max_length=MAX_KEY_CHARS)

    @model_validator(mode="after")
    def _has_content(self) -> SendIn:
        if self.kind == "text" and not self.text.strip():
            raise ValueError(FIELD_RULES["text"])
        if self.kind == "click" and not self.key.strip():
            raise ValueError(FIELD_RULES["key"])
        return self


class InboxIn(BaseModel):
    user: Name
    channel: ChannelName = "wechat"
    after: int = Field(default=0, ge=0)


class SendOut(BaseModel):
    replies: list[str]


class UserOut(BaseModel):
    external_id: str
    channel: str
    display_name: str | None


class InboxItemOut(BaseModel):
    id: int
    text: str
    status: str
    created_at: datetime


Model = TypeVar("Model", bound=BaseModel)


def _validated(model: type[Model], data: object) -> Model:
    """The model, or 422 with a Chinese message naming what was wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems: list[str] = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            rule = FIELD_RULES.get(field) or str(error.get("ctx", {}).get("error") or "请求内容有误")
            if rule not in problems:
                problems.append(rule)
        raise HTTPException(status_code=422, detail="；".join(problems)) from None


async def _json_body(request: Request) -> Any:
    try:
        raw = await read_body(request, MAX_BODY_BYTES)
    except HTTPException:
        raise HTTPException(status_code=422, detail="请求内容为空或过大") from None
    try:
        return json.loads(raw)
    except ValueError:
        raise HTTPException(status_code=422, detail="请求内容不是有效的 JSON") from None


@router.get("/simulator", response_class=HTMLResponse, include_in_schema=False)
def page() -> HTMLResponse:
    """The chat page (one self-contained file)."""
    return HTMLResponse(PAGE.read_text(encoding="utf-8"), headers={"Cache-Control": "no-store"})


@router.get("/simulator/api/users")
def users(request: Request) -> list[UserOut]:
    """The simulated people: demo users and everyone the simulator has talked as."""
    runtime = get_runtime(request)
    with runtime.factory() as session:
        found = simulated.simulated_users(session)
    return [UserOut(external_id=u.external_id, channel=u.channel, display_name=u.display_name) for u in found]


@router.post("/simulator/api/send")
async def send(request: Request) -> SendOut:
    """One message or menu click, through the same runner as a real callback; the bot's reply back."""
    body = _validated(SendIn, await _json_body(request))
    runtime: Runtime = get_runtime(request)
    incoming = simulated.make_incoming(
        name=body.user, channel=body.channel, kind=body.kind, text=body.text, key=body.key.strip()
    )
    reply = await runtime.runner.run(incoming)
    # The pipeline joins several messages with a blank line; the page shows them as one bubble.
    return SendOut(replies=[reply] if reply else [])


@router.get("/simulator/api/inbox")
def inbox(request: Request) -> list[InboxItemOut]:
    """What the outbox holds for a simulated person after a given id (pushes, notifications, late replies)."""
    query = _validated(InboxIn, dict(request.query_params))
    runtime = get_runtime(request)
    with runtime.factory() as session:
        items = simulated.inbox(
            session, channel=query.channel, external_id=simulated.external_id_for(query.user), after=query.after
        )
    return [InboxItemOut(id=i.id, text=i.text, status=i.status, created_at=i.created_at) for i in items]
