"""The one shape every channel turns a callback (or a simulator message) into."""

from __future__ import annotations

from dataclasses import dataclass

from bot.text import fold_input


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
        return f"evt:{self.user}:{self.create_time}:{self.event}:{self.event_key}"
