"""Every conversation transcript (`tests/transcripts/**/*.chat`), played on each channel it names.

The official account runs in safe mode (encrypted callbacks, as production is configured) with
result and reminder templates, so a message outside WeChat's 48-hour window goes out as a
template message and `<<` can still read it. The format is in `tests/transcripts/README.md`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.settings import Settings
from scheduler.outbox import OutboxWorker
from storage.models import OutboxMessage, Person
from tests.conftest import make_settings
from tests.fake_wechat import CUSTOM_SEND_PATH, TEMPLATE_SEND_PATH, WECOM_SEND_PATH, FakeWeChat
from tests.transcript import (
    Answer,
    Harness,
    Message,
    Transcript,
    TranscriptBroken,
    TranscriptFailure,
    TranscriptSyntaxError,
    parse_file,
    run,
)
from tests.transcript_givens import World, run_given
from tests.wxclient import WeChatCallbackClient, WeComCallbackClient

ROOT = Path(__file__).parent / "transcripts"
REPO = ROOT.parent.parent
TEMPLATES = {
    "wechat_template_result": "tpl-result",
    "wechat_template_reminder": "tpl-reminder",
    # Offered on the page 通知设置 links to; nobody in a transcript accepts one, so templates still carry `<<`.
    "wechat_subscribe_templates": "result:tpl-sub-result,reminder:tpl-sub-reminder",
}


def _cases() -> list[Any]:
    cases = []
    for path in sorted(ROOT.rglob("*.chat")):
        name = path.relative_to(ROOT).as_posix()
        try:
            transcript: Transcript | str = parse_file(path, REPO)
        except TranscriptSyntaxError as exc:
            transcript = str(exc)  # reported by the test, once per channel, instead of breaking collection
        channels = transcript.channels if isinstance(transcript, Transcript) else ("wechat", "wecom")
        for channel in channels:
            marks = []
            if isinstance(transcript, Transcript) and transcript.xfail:
                marks.append(pytest.mark.xfail(reason=transcript.xfail, raises=TranscriptFailure, strict=True))
            cases.append(pytest.param(transcript, channel, id=f"{name}[{channel}]", marks=marks))
    return cases


@pytest.fixture
def settings(db_url: str, fake: FakeWeChat) -> Settings:
    return make_settings(db_url, fake.base_url, wechat_message_mode="safe", **TEMPLATES)


Client = WeChatCallbackClient | WeComCallbackClient


def sender(client: Client, clock: FakeClock) -> Callable[[str, Message], Answer]:
    """Post each message through the signed (and encrypted) callback and read the reply as Tencent does."""
    media = itertools.count(1)
    last_event: dict[str, tuple[str, str, float]] = {}

    def send(user: str, message: Message) -> Answer:
        if message.kind in ("subscribe", "unsubscribe", "click", "scan"):
            # Events have no MsgId: the same event twice in one second is one event to the bot (and to
            # WeChat). A person cannot tap that fast, so the second one comes a second later.
            event = (message.kind, message.text, clock.now().timestamp())
            if last_event.get(user) == event:
                clock.advance(timedelta(seconds=1))
            last_event[user] = (message.kind, message.text, clock.now().timestamp())
        if message.kind == "text":
            reply = client.send_text(user, message.text)
        elif message.kind == "image":
            n = next(media)
            reply = client.send_image(user, pic_url=f"https://mmbiz.qpic.cn/transcript/{n}.jpg", media_id=f"image-{n}")
        elif message.kind == "location":
            reply = client.send_location(user, message.latitude, message.longitude, label=message.label)
        elif message.kind == "voice":
            reply = client.send_voice(user, media_id=f"voice-{next(media)}", recognition=message.text)
        elif message.kind == "click":
            reply = client.click(user, message.text)
        elif message.kind == "scan":
            reply = client.send_event(user, "SCAN", message.text)
        elif message.kind == "subscribe" and message.text:
            reply = client.send_event(user, "subscribe", f"qrscene_{message.text}")
        else:
            reply = client.send_event(user, message.kind)
        return Answer(
            status=reply.status_code,
            text=reply.content,
            empty=reply.is_empty,
            msg_type=reply.msg_type or "text",
            to_user=reply.to_user,
            body=reply.raw,
        )

    return send


def _render(path: str, body: dict[str, Any]) -> str:
    """A delivered message as text: its content, or a template's fields one a line."""
    if path == TEMPLATE_SEND_PATH:
        data = body.get("data") or {}
        lines = [f"［模板消息 {body.get('template_id', '')}］"]
        lines += [
            f"{key}：{value.get('value', '') if isinstance(value, dict) else value}" for key, value in data.items()
        ]
        return "\n".join(lines)
    if body.get("msgtype") == "text":
        return str(body["text"]["content"])
    return f"［{body.get('msgtype')}］{json.dumps(body, ensure_ascii=False)}"


def delivered(fake: FakeWeChat, worker: OutboxWorker, user: str) -> list[str]:
    """Run the outbox until it is idle; then everything the API delivered to `user`, oldest first."""
    for _ in range(20):
        if worker.run_once() == 0:
            break
    out = []
    for call in fake.calls():
        if call.path not in (CUSTOM_SEND_PATH, TEMPLATE_SEND_PATH, WECOM_SEND_PATH) or not call.ok or call.injected:
            continue
        touser = str(call.json.get("touser", ""))
        if user in (touser.split("|") if call.path == WECOM_SEND_PATH else [touser]):
            out.append(_render(call.path, call.json))
    return out


def undelivered(factory: sessionmaker[Session], user: str) -> list[str]:
    """Outbox rows for `user` that did not go out, with why (shown when a `<<` line fails)."""
    with factory() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .join(Person, Person.id == OutboxMessage.person_id)
            .where(Person.external_id == user, OutboxMessage.status.not_in(("sent", "delivered")))
            .order_by(OutboxMessage.id)
        ).all()
        return [f"{row.status}: {row.last_error or 'no error'} — {row.payload.get('text', '')}" for row in rows]


@pytest.mark.parametrize(("transcript", "channel"), _cases())
def test_transcript(
    transcript: Transcript | str,
    channel: str,
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
    settings: Settings,
) -> None:
    if isinstance(transcript, str):
        pytest.fail(transcript, pytrace=False)
    world = World(factory, clock, channel, settings)
    harness = Harness(
        channel=channel,
        send=sender(wechat if channel == "wechat" else wecom, clock),
        given=lambda name, args, captured: run_given(world, name, args, captured),
        advance=clock.advance,
        delivered=lambda user: delivered(fake, outbox_worker, user),
        undelivered=lambda user: undelivered(factory, user),
    )
    failure = ""
    try:
        run(transcript, harness)
    except TranscriptFailure as exc:
        if transcript.xfail:
            raise  # the known defect showed: xfail
        failure = str(exc)
    except TranscriptBroken as exc:  # never the defect an xfail transcript is about
        failure = str(exc)
    if failure:
        pytest.fail(failure, pytrace=False)  # the conversation says it all; no traceback


def test_transcripts_exist() -> None:
    """The directory is not silently empty (a moved folder would otherwise pass with no tests)."""
    assert len(list(ROOT.rglob("*.chat"))) >= 8
