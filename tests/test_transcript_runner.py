"""The transcript parser and matcher on their own: a scripted fake bot, no HTTP, no database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.pipeline import ERROR_REPLY
from tests.transcript import (
    Answer,
    Delivered,
    Given,
    GivenError,
    Harness,
    Message,
    PatternError,
    Say,
    Tick,
    TranscriptBroken,
    TranscriptFailure,
    TranscriptSyntaxError,
    parse,
    parse_pattern,
    person_id,
    run,
    search,
)
from tests.transcript_givens import GIVENS

RECEIPT = "微建言已提交给「幸福社区议事室」：公交站加个遮雨棚\n编号：WJ-2026-000001\n有答复时会通知您。"


def bot(replies: dict[str, str | Answer]) -> Callable[[str, Message], Answer]:
    """A fake bot answering each text from a table (a string is a 200 text reply)."""

    def send(user: str, message: Message) -> Answer:
        reply = replies[message.text if message.kind == "text" else f"[{message.kind}]"]
        return reply if isinstance(reply, Answer) else Answer(200, reply, to_user=user)

    return send


def play(text: str, replies: dict[str, str | Answer], **harness: object) -> dict[str, str]:
    return run(parse(text, "t.chat"), Harness("wechat", bot(replies), **harness))  # type: ignore[arg-type]


def failure(text: str, replies: dict[str, str | Answer], **harness: object) -> str:
    """What playing `text` fails with when the bot answers differently (a TranscriptFailure)."""
    with pytest.raises(TranscriptFailure) as caught:
        play(text, replies, **harness)
    return str(caught.value)


def broken(text: str, replies: dict[str, str | Answer], **harness: object) -> str:
    """What playing `text` fails with when the transcript itself is wrong (a TranscriptBroken)."""
    with pytest.raises(TranscriptBroken) as caught:
        play(text, replies, **harness)
    return str(caught.value)


# --- patterns --------------------------------------------------------------------------------


def matches(pattern: str, text: str, captured: dict[str, str] | None = None) -> bool:
    return search(parse_pattern(pattern), text, captured or {}) is not None


def test_a_pattern_is_literal_text_found_anywhere_in_the_reply() -> None:
    assert matches("编号：WJ-2026", RECEIPT)
    assert matches("有答复时", RECEIPT)
    assert not matches("编号：YS-2026", RECEIPT)
    # Nothing in it is a regex: a dot is a dot, brackets and stars are themselves.
    assert matches("1. 受理", "1. 受理")
    assert not matches("1. 受理", "1x 受理")
    assert matches("(a+b)*[c]?", "x(a+b)*[c]?y")
    assert not matches("a+", "aa")


def test_the_ellipsis_matches_anything_even_across_lines() -> None:
    assert matches("微建言已提交…有答复时", RECEIPT)
    assert matches("微建言已提交...有答复时", RECEIPT)
    assert matches("编号：…2026", RECEIPT)
    assert not matches("有答复时…编号", RECEIPT)  # still in order


def test_a_backslash_makes_the_next_character_literal() -> None:
    assert matches("还有\\…\\…", "……还有……")
    assert not matches("还有\\…", "还有几条")
    assert matches("\\{A\\}", "{A}")
    assert matches("a\\\\b", "a\\b")
    with pytest.raises(PatternError, match="escapes nothing"):
        parse_pattern("abc\\")


def test_captures_take_a_regex_and_are_reused_literally() -> None:
    pattern = parse_pattern("编号：{WJ1=WJ-\\d{4}-\\d{6}}")
    found = search(pattern, RECEIPT, {})
    assert found is not None and found.groups == {"WJ1": "WJ-2026-000001"}
    assert matches("编号：{WJ1}", RECEIPT, {"WJ1": "WJ-2026-000001"})
    assert not matches("编号：{WJ1}", RECEIPT, {"WJ1": "WJ-2026-000002"})
    assert matches("x{N}y", "x.*y", {"N": ".*"})  # a reused value is literal too
    assert not matches("x{N}y", "xAAy", {"N": ".*"})


def test_braces_that_are_not_a_capture_are_text() -> None:
    assert matches('{"a": 1}', '{"a": 1}')
    assert matches("{1}", "{1}")


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("{A=WJ-\\d{4}", "not closed"),
        ("{A=}", "no regex"),
        ("{A=(}", "not valid"),
        ("{A=(?P<x>a)}", "named groups"),
        ("{A=a}{A=b}", "captured twice"),
        ("…", "matches anything"),
    ],
)
def test_malformed_patterns_are_refused(pattern: str, why: str) -> None:
    with pytest.raises(PatternError, match=why):
        parse_pattern(pattern)


# --- parsing ---------------------------------------------------------------------------------

EXAMPLE = """\
# 回头客留言后选 1 提交微建言
# channels: wechat
given: room 幸福社区议事室

> 王阿姨: 微建言 公交站加个遮雨棚
# a comment between a message and its checks
< 您的微建言
<! 哪个议事室
@+1d2h
> 王阿姨: [位置 31.23,121.47 幸福路12号]
> 王阿姨: [取消关注]
< (无回复)
<< 王阿姨: (无消息)
"""


def test_a_transcript_reads_like_the_chat() -> None:
    transcript = parse(EXAMPLE, "t.chat")
    assert transcript.title == "回头客留言后选 1 提交微建言"
    assert transcript.channels == ("wechat",)
    given, say, tick, where, leave, delivered = transcript.steps
    assert given == Given(3, "given: room 幸福社区议事室", "room", "幸福社区议事室")
    assert isinstance(say, Say) and say.who == "王阿姨" and say.message == Message("text", "微建言 公交站加个遮雨棚")
    assert [(e.line, e.negative) for e in say.expects] == [(7, False), (8, True)]
    assert isinstance(tick, Tick) and tick.delta == timedelta(days=1, hours=2)
    assert isinstance(where, Say) and where.message == Message("location", "", 31.23, 121.47, "幸福路12号")
    assert isinstance(leave, Say) and leave.message.kind == "unsubscribe" and leave.no_reply
    assert isinstance(delivered, Delivered) and delivered.pattern is None


def test_special_messages() -> None:
    def message(text: str) -> Message:
        step = parse(f"# t\n> 王阿姨: {text}\n< x").steps[0]
        assert isinstance(step, Say)
        return step.message

    assert message("[图片]") == Message("image")
    assert message("[语音]") == Message("voice")
    assert message("[语音 路灯又坏了]") == Message("voice", "路灯又坏了")
    assert message("[关注]") == Message("subscribe")
    assert message("[菜单 PROPOSE]") == Message("click", "PROPOSE")
    assert message("[位置 31.2,121.5]") == Message("location", "", 31.2, 121.5, "")
    assert message("\\[图片]") == Message("text", "[图片]")
    assert message("我的：全部") == Message("text", "我的：全部")  # only the first colon separates


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("> 王阿姨: 你好", "start with a `# title`"),
        ("# t\n< 你好", "must follow a `> who: message`"),
        ("# t\ngiven: room A\n< 你好", "must follow a `> who: message`"),
        ("# t\n> 王阿姨: [视频]", "not a message this runner can send"),
        ("# t\n> 王阿姨: [位置 幸福路]", "write a location as"),
        ("# t\n> 王阿姨:", "write `> 王阿姨: what she sends`"),
        ("# t\n> 王阿姨: 你好\n< (无回复)\n< 你好", "already said to be"),
        ("# t\n> 王阿姨: 你好\n< 你好\n< (无回复)", "must be the only line"),
        ("# t\n> 王阿姨: 你好\n<! {A=a}", "cannot capture"),
        ("# t\n> 王阿姨: 你好\n< {A=(}", "not valid"),
        ("# t\n@+3 days", "write the time to pass"),
        ("# t\n# channel: wechat\n> 王阿姨: 你好", "unknown directive `# channel:`"),
        ("# t\n# channels: weixin\n> 王阿姨: 你好", "`# channels:` takes"),
        ("# t\n# xfail:\n> 王阿姨: 你好", "needs the reason"),
        ("# t\n王阿姨: 你好", "cannot read this line"),
        ("# t\n", "no conversation"),
    ],
)
def test_unreadable_lines_are_named(text: str, why: str) -> None:
    with pytest.raises(TranscriptSyntaxError, match=why) as caught:
        parse(text, "x.chat")
    assert str(caught.value).startswith("x.chat:")


# --- running ---------------------------------------------------------------------------------


def test_lines_match_the_reply_in_order_and_captures_flow_on() -> None:
    captured = play(
        "# t\n> 王阿姨: 确认\n< 微建言已提交\n< 编号：{WJ1=WJ-\\d{4}-\\d{6}}\n<! 没有提交过\n> 王阿姨: {WJ1}\n< 微建言 {WJ1}",
        {"确认": RECEIPT, "WJ-2026-000001": "微建言 WJ-2026-000001"},
    )
    assert captured == {"WJ1": "WJ-2026-000001"}


def test_a_mismatch_shows_the_conversation_the_pattern_and_the_reply() -> None:
    text = "# t\ngiven: room 幸福社区议事室\n> 王阿姨: 你好\n< 欢迎\n> 王阿姨: 确认\n< 编号：YS-"
    shown = failure(text, {"你好": "欢迎来到「有事好商量」！", "确认": RECEIPT}, given=lambda *_: None)
    assert shown.startswith("t.chat:6 [wechat]: the reply to line 5 (> 王阿姨: 确认) does not match line 6")
    assert "expected:  < 编号：YS-" in shown
    assert "closest:   the reply has «编号：» but not what follows it" in shown
    assert "        | 编号：WJ-2026-000001" in shown  # the actual reply
    conversation = shown.split("conversation so far:")[1]
    assert "    2  given: room 幸福社区议事室" in conversation
    assert "    3  > 王阿姨: 你好\n        | 欢迎来到「有事好商量」！" in conversation
    assert "    5  > 王阿姨: 确认\n        | 微建言已提交给" in conversation
    assert f"people: 王阿姨 = {person_id('wechat', '王阿姨')}" in shown


def test_a_later_line_only_matches_after_the_earlier_match() -> None:
    shown = failure("# t\n> 王阿姨: 确认\n< 编号：\n< 微建言已提交", {"确认": RECEIPT})
    assert "does not match line 4" in shown
    assert "searched after what line 3 matched" in shown
    assert "are the `<` lines in the reply's order?" in shown


def test_a_forbidden_text_fails_wherever_it_is() -> None:
    shown = failure("# t\n> 王阿姨: 确认\n< 有答复时\n<! 微建言已提交", {"确认": RECEIPT})
    assert "contains what line 4 says it must not" in shown
    assert "found:     «微建言已提交»" in shown


def test_an_empty_reply_fails_unless_the_transcript_expects_none() -> None:
    nothing = Answer(200, "", empty=True)
    shown = failure("# t\n> 王阿姨: 嗯", {"嗯": nothing})
    assert "no reply to line 2 (> 王阿姨: 嗯)" in shown and "write `< (无回复)`" in shown
    play("# t\n> 王阿姨: 嗯\n< (无回复)", {"嗯": nothing})
    assert "expects `< (无回复)`, but the bot replied" in failure("# t\n> 王阿姨: 嗯\n< (无回复)", {"嗯": "欢迎"})


def test_http_errors_and_the_error_sentence_fail_even_without_checks() -> None:
    assert "HTTP 503 for line 2" in failure("# t\n> 王阿姨: 你好", {"你好": Answer(503, body="database unavailable")})
    shown = failure("# t\n> 王阿姨: 你好", {"你好": ERROR_REPLY})
    assert "the bot failed while handling line 2" in shown


def test_a_reply_to_someone_else_fails() -> None:
    shown = failure("# t\n> 王阿姨: 你好", {"你好": Answer(200, "欢迎", to_user="o-other")})
    assert "is addressed to o-other, not 王阿姨" in shown


def test_an_unknown_capture_is_named() -> None:
    shown = broken("# t\n> 王阿姨: {YS9}", {})
    assert "{YS9} was never captured (captured so far: none yet)" in shown
    shown = broken("# t\n> 王阿姨: 你好\n< {A=欢.}\n< {A=迎}", {"你好": "欢迎迎"})
    assert "{A} is captured twice" in shown
    play("# t\n> 王阿姨: \\{YS9}\n< ok", {"{YS9}": "ok"})  # an escaped brace is sent as it is


def test_givens_and_the_clock() -> None:
    calls: list[tuple[str, str]] = []
    ticks: list[timedelta] = []

    def given(name: str, args: str, captured: dict[str, str]) -> None:
        if name == "invite":
            captured["CODE"] = "ABCD2345"
        elif name != "room":
            raise GivenError(f"there is no given {name!r}")
        calls.append((name, args))

    text = "# t\ngiven: room 幸福社区议事室 town\ngiven: invite 幸福社区议事室 委员 {CODE}\n@+90s\n@+31m\n> 小张: 绑定 {CODE}"
    play(text, {"绑定 ABCD2345": "绑定成功"}, given=given, advance=ticks.append)
    assert calls == [("room", "幸福社区议事室 town"), ("invite", "幸福社区议事室 委员 {CODE}")]
    assert ticks == [timedelta(seconds=90), timedelta(minutes=31)]
    shown = broken("# t\ngiven: meeting 明天", {}, given=given)
    assert shown.startswith("t.chat:2 [wechat]: cannot set up `given: meeting 明天`: there is no given 'meeting'")


def test_delivered_messages_are_claimed_once_each() -> None:
    inbox = {person_id("wechat", "王阿姨"): ["您提交的提议 YS-2026-000001 已被受理", "结果：已更换灯泡"]}

    def delivered(user: str) -> list[str]:
        return inbox.get(user, [])

    text = "# t\n<< 王阿姨: 结果：{R=\\S+}\n<< 王阿姨: 已被受理\n<< 老李: (无消息)\n<< 王阿姨: (无消息)"
    assert play(text, {}, delivered=delivered) == {"R": "已更换灯泡"}
    shown = failure("# t\n<< 王阿姨: 受理\n<< 王阿姨: 受理", {}, delivered=delivered)
    assert "t.chat:3 [wechat]: no new message to 王阿姨 matches line 3" in shown
    assert "#1 (claimed by an earlier <<)" in shown and "#2 (not yet claimed)" in shown
    shown = failure(
        "# t\n<< 王阿姨: (无消息)", {}, delivered=delivered, undelivered=lambda _user: ["failed: 未配置模板消息"]
    )
    assert "was sent something new" in shown and "! failed: 未配置模板消息" in shown


def test_people_have_stable_ids_per_channel() -> None:
    assert person_id("wechat", "王阿姨") == person_id("wechat", "王阿姨")
    assert person_id("wechat", "王阿姨") != person_id("wechat", "老李")
    assert person_id("wechat", "王阿姨").startswith("o") and len(person_id("wechat", "王阿姨")) == 28
    assert person_id("wecom", "王阿姨") != person_id("wechat", "王阿姨")


def test_a_message_may_run_over_several_lines() -> None:
    """`>>` lines continue the text of the `>` line above, joined by newlines; elsewhere they are refused."""
    parsed = parse("# 清单\n> 老李: 第一行\n>> 第二行\n>> 第三行\n< 共 3 条\n", "lists.chat")
    say = parsed.steps[0]
    assert isinstance(say, Say) and say.message.text == "第一行\n第二行\n第三行"
    with pytest.raises(TranscriptSyntaxError, match="continues the text"):
        parse("# 清单\n> 老李: 第一行\n< 好\n>> 第二行\n", "lists.chat")


def test_every_given_is_in_the_transcripts_readme() -> None:
    """The README's table is how a newcomer learns the givens: each one registered is listed there."""
    readme = (Path(__file__).parent / "transcripts" / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `")]
    missing = [name for name in GIVENS if not any(f"`{name} " in r or f"`{name}`" in r for r in rows)]
    assert not missing, f"givens missing from tests/transcripts/README.md: {missing}"
