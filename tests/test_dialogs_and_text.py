"""Pure tests: every dialog table is sound; typed answers are read as people mean them."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import bot.dialogs as dialogs_package
from bot.dialogs import DIALOGS
from bot.dialogs.engine import CANCELLED, HEARD, Dialog, RoomRef, SimilarRef, advance, begin, resume
from bot.dispatch import EFFECTS
from bot.incoming import Incoming
from bot.services.privacy import clean_phone, mask_id, mask_phone
from bot.services.proposals import find_receipt
from bot.text import choose, control_word, parse_number


class FakeLookups:
    def __init__(self, similar: list[SimilarRef] | None = None) -> None:
        self.similar = similar or []

    def rooms_matching(self, query: str) -> list[RoomRef]:
        return [RoomRef(1, "幸福社区议事室")] if "幸福" in query else []

    def all_rooms(self, limit: int) -> list[RoomRef]:
        return [RoomRef(1, "幸福社区议事室"), RoomRef(2, "青石镇议事室")][:limit]

    def similar_proposals(self, room_id: int, text: str, room_name: str | None = None) -> list[SimilarRef]:
        return self.similar


def text(body: str) -> Incoming:
    return Incoming(channel="wechat", user="u", kind="text", text=body)


@pytest.mark.parametrize("dialog", list(DIALOGS.values()), ids=list(DIALOGS))
def test_dialog_table_is_sound(dialog: Dialog) -> None:
    """Every state a step names exists, the confirm step exists, and states are namespaced by dialog."""
    assert dialog.first in dialog.steps
    assert dialog.confirm in dialog.steps
    for name, step in dialog.steps.items():
        assert name.startswith(f"{dialog.name}:")
        assert step.next in dialog.steps, f"{name} -> {step.next}"


@pytest.mark.parametrize("dialog", list(DIALOGS.values()), ids=list(DIALOGS))
def test_cancel_leaves_every_dialog(dialog: Dialog) -> None:
    """取消 ends every dialog at its first step without an effect."""
    turn = begin(dialog, {"text": "路灯坏了很久了", "room_id": 1, "room_name": "幸福社区议事室"}, FakeLookups())
    assert turn.state is not None
    after = advance(dialog, turn.state, turn.data, turn.stack, text("取消"), FakeLookups())
    assert after.state is None and after.effect is None
    assert after.replies == [dialog.cancelled or CANCELLED]
    assert "没有" in after.replies[0], "the answer says nothing was changed"


def test_similar_step_is_passed_over_when_nothing_is_similar() -> None:
    """Without similar proposals the dialog goes from the description straight to the photo."""
    dialog = DIALOGS["propose"]
    turn = begin(dialog, {"room_id": 1, "room_name": "幸福社区议事室"}, FakeLookups())
    turn = advance(dialog, turn.state or "", turn.data, turn.stack, text("路灯坏了很久了"), FakeLookups())
    assert turn.state == "propose:photo"


def test_heard_words_wait_through_a_photo_and_are_let_go_with_a_draft() -> None:
    """Recognised speech waits for 对 while a photo is kept; a draft resumed asks the step afresh."""
    dialog = DIALOGS["propose"]
    turn = begin(dialog, {"room_id": 1, "room_name": "幸福社区议事室"}, FakeLookups())
    spoken = Incoming(channel="wechat", user="u", kind="text", text="路灯坏了很久了", recognised=True)
    turn = advance(dialog, turn.state or "", turn.data, turn.stack, spoken, FakeLookups())
    assert turn.state == "propose:describe" and "我听到的是：「路灯坏了很久了」" in turn.replies[0]
    photo = Incoming(channel="wechat", user="u", kind="image", media_id="m1", pic_url="https://x/1.jpg")
    turn = advance(dialog, turn.state or "", turn.data, turn.stack, photo, FakeLookups())
    assert turn.data[HEARD]["text"] == "路灯坏了很久了" and len(turn.data["photos"]) == 1
    resumed = resume(dialog, turn.state or "", turn.data, turn.stack, FakeLookups(), "")
    assert HEARD not in resumed.data
    turn = advance(dialog, turn.state or "", turn.data, turn.stack, text("确认"), FakeLookups())
    assert turn.state == "propose:photo" and turn.data["description"] == "路灯坏了很久了" and HEARD not in turn.data


def test_similar_step_numbers_stay_what_was_shown() -> None:
    """The proposals shown are stored on arrival, so `1` supports the one that was listed first."""
    dialog = DIALOGS["propose"]
    shown = [SimilarRef(7, "YS-2026-000007", "路灯坏了", 2)]
    turn = begin(dialog, {"room_id": 1, "room_name": "幸福社区议事室"}, FakeLookups(shown))
    turn = advance(dialog, turn.state or "", turn.data, turn.stack, text("路灯不亮了"), FakeLookups(shown))
    assert turn.state == "propose:similar" and "YS-2026-000007" in turn.replies[0]
    final = advance(dialog, turn.state, turn.data, turn.stack, text("1"), FakeLookups([]))
    assert final.effect == "support_proposal" and final.data["support_id"] == 7


@pytest.mark.parametrize(
    ("typed", "meaning"),
    [
        ("取消", "cancel"),
        ("算了", "cancel"),
        ("取 消！", "cancel"),
        ("取肖", "cancel"),
        ("返回", "back"),
        ("上一步", "back"),
        ("帮助", "help"),
        ("？", None),
        ("跳过", "skip"),
        ("没有", "skip"),
        ("默认", "skip"),  # take the default; not a typo of 确认 (新建协商's name and end)
        ("确认", "confirm"),
        ("确定", "confirm"),
        ("确任", "confirm"),
        ("OK", "agree"),
        ("继续", "resume"),
        ("我的", None),
        ("是的", "agree"),
        ("幸福路路灯坏了", None),
    ],
)
def test_control_words(typed: str, meaning: str | None) -> None:
    """Control words are read with their synonyms and one typo, and ordinary words are not taken for them."""
    assert control_word(typed) == meaning


@pytest.mark.parametrize(
    ("typed", "number"), [("2", 2), ("２", 2), ("二", 2), ("②", 2), ("第2个", 2), ("2号", 2), ("abc", None)]
)
def test_numbers(typed: str, number: int | None) -> None:
    """Digits come half-width, full-width, in Chinese, circled, or with 第/个/号."""
    assert parse_number(typed) == number


def test_choose_by_number_word_or_typo() -> None:
    """An option is picked by its number, its words, a part of them, or a close typo; unclear is None."""
    options = ["作为微建言提交", "作为议题提议", "不用了"]
    assert choose("2", options) == 1
    assert choose("5", options) is None
    assert choose("不用了", options) == 2
    assert choose("议题", options) == 1
    assert choose("作为", options) is None


def test_receipts_phones_and_masks() -> None:
    """Receipts are found in loose typing; phones are validated and masked; ids are masked for logs."""
    assert find_receipt("查一下 ys2026000123 谢谢") == "YS-2026-000123"
    assert find_receipt("WJ-2026-000001") == "WJ-2026-000001"
    assert find_receipt("2026年") is None
    assert clean_phone("138-1234-5678") == "13812345678"
    assert clean_phone("+86 13812345678") == "13812345678"
    assert clean_phone("0512-66778899") == "051266778899"
    assert clean_phone("12345") is None
    assert mask_phone("13812345678") == "138****5678"
    assert "1234567" not in mask_id("oAbCdEfGh1234567xyz")


def _finishes(path: Path) -> set[str]:
    """Effect names a dialog module can finish with, read from its source: Finish("x"), confirm_step(.., "x"),
    and the question helpers' effect argument."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if node.func.id == "Finish" and args:
            found.add(args[0])
        elif node.func.id == "confirm_step" and len(node.args) >= 3:
            effect = node.args[2]
            if isinstance(effect, ast.Constant) and isinstance(effect.value, str):
                found.add(effect.value)
        elif node.func.id == "_pick_item" and args:
            found.add(args[0])
    return found


def _dialogs_of(module: object) -> list[Dialog]:
    found: list[Dialog] = []
    for value in vars(module).values():
        if isinstance(value, Dialog):
            found.append(value)
        elif isinstance(value, tuple) and value and all(isinstance(v, Dialog) for v in value):
            found.extend(value)
    return found


def test_every_effect_a_dialog_can_finish_with_exists() -> None:
    """Each dialog declares the effects it may finish with, each is in the dispatcher's table, and every
    effect named in a dialog module's steps is declared by one of that module's dialogs."""
    for dialog in DIALOGS.values():
        missing = set(dialog.effects) - set(EFFECTS)
        assert not missing, f"{dialog.name} declares effects nobody performs: {missing}"
    for path in sorted(Path(dialogs_package.__file__).parent.glob("*.py")):
        module = importlib.import_module(f"bot.dialogs.{path.stem}")
        declared = {effect for dialog in _dialogs_of(module) for effect in dialog.effects}
        named = _finishes(path)
        assert named <= declared, f"{path.name} finishes with undeclared effects: {named - declared}"
    assert set(EFFECTS) == {e for d in DIALOGS.values() for e in d.effects}, "an effect no dialog finishes with"


def test_a_long_reply_is_cut_into_parts_wechat_will_show_and_nothing_is_lost() -> None:
    """WeChat shows nothing for a text past 2048 bytes: parts stay under it, cut between paragraphs (else
    lines, else characters), each but the last says more follows, and together they hold every character."""
    from bot.text import MORE_FOLLOWS, split_reply

    short = "您可以发送：\n\n【居民】\n· 提议题"
    assert split_reply(short) == [short]
    sections = [f"【第{n}节】\n" + "\n".join(f"· 第{i}条：说明说明说明说明说明" for i in range(25)) for n in range(4)]
    text = "\n\n".join(sections)
    one_line = "长" * 2500
    for whole in (text, one_line, text + "\n\n" + one_line):
        parts = split_reply(whole)
        assert len(parts) > 1 and all(len(p.encode()) <= 2000 for p in parts)
        assert all(p.endswith(MORE_FOLLOWS) for p in parts[:-1]) and not parts[-1].endswith(MORE_FOLLOWS)
        kept = "".join(p.removesuffix(MORE_FOLLOWS) for p in parts)
        assert kept.replace("\n", "") == whole.replace("\n", "")
    assert split_reply(text)[0].startswith("【第0节】") and split_reply(text)[1].startswith("【第1节】")
