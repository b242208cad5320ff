"""Scanning an item's 民生码: the item is shown, and 附议 (or 1) supports it at once.

A question, not a form: anything else (满意 for its result, another command) goes on to the other routes.
"""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.common import typed
from bot.dialogs.engine import Data, Dialog, Finish, Lookups, Outcome, Retry, Step
from bot.dialogs.propose import SUPPORT_WORDS
from bot.incoming import Incoming
from bot.text import choose


class S(StrEnum):
    item = "scan:item"


def _item(data: Data) -> str:
    return str(data.get("support_receipt") or "这条提议")


def ask(data: Data, _lookups: Lookups) -> str:
    return f"您也关心这件事？回复「附议」或「1」支持 {_item(data)}，有进展时会通知您。"


def pick(data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    if choose(typed(msg), ["附议"], aliases=[SUPPORT_WORDS]) == 0:
        return Finish("support_proposal")
    return Retry(f"回复「附议」支持 {_item(data)}。")


DIALOG = Dialog(
    name="scan",
    title="民生码",
    first=S.item,
    confirm=S.item,
    effects=("support_proposal",),
    kind="question",
    steps={
        S.item: Step(
            ask,
            pick,
            next=S.item,
            help="回复「附议」支持这条提议，有进展时会和提议人一起收到通知。",
            commands=frozenset({"附议"}),
            passes=True,
        )
    },
)
