"""The one shape every channel turns a callback (or a simulator message) into."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bot.text import fold_input


@dataclass(frozen=True, slots=True)
class EventItem:
    """One entry of an event about something sent or chosen: a template message's report
    (TEMPLATESENDJOBFINISH), a subscription choice or a subscription message's result (subscribe_msg_*)."""

    template_id: str = ""
    status: str = ""  # success / failed:user block (template); accept / reject (choice); ErrorStatus (sent)
    msg_id: str = ""  # the MsgID of the send it reports on
    code: int | None = None  # ErrorCode of a subscription message's result (0: delivered)


@dataclass(frozen=True, slots=True)
class Incoming:
    channel: str  # "wechat" | "wecom"
    user: str  # openid (official account) or UserID (WeCom)
    kind: str  # text | image | location | voice | video | link | event | unknown
    text: str = ""
    event: str = ""  # subscribe | unsubscribe | click | ... (lowercase)
    event_key: str = ""
    media_id: str = ""
    pic_url: str = ""
    latitude: float | None = None
    longitude: float | None = None
    label: str = ""
    msg_id: str = ""
    create_time: int = 0
    account: str = ""  # ToUserName: our account, echoed back as FromUserName in the reply
    simulated: bool = False
    items: tuple[EventItem, ...] = ()  # what a delivery report or subscription event is about
    # The text is WeChat's speech recognition of a voice message (kind "text"), not typed: dialogs
    # read it back before taking it as someone's own words (bot/dialogs/engine.py, "Voice").
    recognised: bool = False

    def __post_init__(self) -> None:
        # The one place typed text is normalised: every channel builds an Incoming, and nothing
        # downstream (commands, receipts, phone numbers, dialog steps) sees full-width ＹＳ－２０２６.
        if self.text:
            object.__setattr__(self, "text", fold_input(self.text))

    @property
    def dedup_key(self) -> str:
        """MsgId for messages; sender + CreateTime + event for events (which have no MsgId)."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        key = f"evt:{self.user}:{self.create_time}:{self.event}:{self.event_key}"
        if self.items:
            # Two reports to one person in one second differ only by the sends they name.
            key += ":" + hashlib.sha256(repr(self.items).encode()).hexdigest()[:16]
        return key
