"""称呼: how the bot and the convenors call a person (asked once after 绑定, or any time with 称呼)."""

from __future__ import annotations

from enum import StrEnum

from bot.dialogs.common import typed
from bot.dialogs.engine import Data, Dialog, Finish, Lookups, Outcome, Retry, Step
from bot.incoming import Incoming
from bot.services.people import NAME_MAX, name_problem


class S(StrEnum):
    name = "naming:name"


def ask_name(data: Data, _lookups: Lookups) -> str:
    why = "会议通知、出席情况和召集人看到的都是这个名字" if data.get("member") else "召集人和工作人员会这样称呼您"
    return f"请问怎么称呼您？请回复您的名字，如「王芳」「李老师」（{why}）。"


def name(_data: Data, msg: Incoming, _lookups: Lookups) -> Outcome:
    text = typed(msg)
    problem = name_problem(text)
    if problem is None:
        return Finish("set_name", {"name": text})
    # A short answer was meant as the name: say why not. A long one is something else: let it go on.
    return Retry(f"{problem}请回复您的名字，如「王芳」。", understood=0 < len(text) <= NAME_MAX)


DIALOG = Dialog(
    name="naming",
    title="称呼",
    first=S.name,
    confirm=S.name,
    effects=("set_name",),
    kind="question",  # 帮助 or another command right after binding goes through
    cancelled="好的，没有设置称呼。想设置时发「称呼 名字」。",
    leave_hint=False,
    # Not free text: 「绑定 AB12CD34」 after a binding is the next command, never a name.
    steps={S.name: Step(ask_name, name, next=S.name, help="名字只用来称呼您，不会公开。")},
)
