"""`shangliang chat`: talk to the bot in a terminal, through the same pipeline as real callbacks."""

from __future__ import annotations

import typer

from bot import simulated
from bot.app import build_runtime
from bot.incoming import Incoming
from bot.runtime import Runtime
from bot.services import keywords
from bot.settings import get_settings

BOT = "商量："
PUSH = "【推送】"
BANNER = """\
「有事好商量」终端聊天（{user} · {channel}）：消息走与公众号、企业微信相同的处理流程。
  直接输入文字后回车发送；
  /menu 提议题 | /menu 微建言 | /menu 我的   点击公众号菜单
  /photo   发送一张模拟照片        /location   发送一个模拟位置（{place}）
  /help    再看一遍这段说明        /quit       退出（或按 Ctrl+D、Ctrl+C）
不知道从哪开始？试试「/menu 提议题」。"""
CHANNEL_NAMES = {"wechat": "公众号", "wecom": "企业微信"}


def run_chat(*, user: str, channel: str) -> None:
    """Read lines, send each as the simulated `user`, print the reply and any new pushes."""
    if channel not in simulated.CHANNELS:
        raise typer.BadParameter("渠道只能是 wechat（公众号）或 wecom（企业微信）", param_hint="--channel")
    try:
        name = simulated.clean_name(user)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--user") from None
    runtime = build_runtime(get_settings())
    keywords.warm_up()
    banner = BANNER.format(user=name, channel=CHANNEL_NAMES[channel], place=simulated.FAKE_LOCATION[2])
    try:
        _loop(runtime, name=name, channel=channel, banner=banner)
    finally:
        runtime.runner.close()
        runtime.close()


def _loop(runtime: Runtime, *, name: str, channel: str, banner: str) -> None:
    external_id = simulated.external_id_for(name)
    with runtime.factory() as session:
        seen = simulated.last_inbox_id(session, channel=channel, external_id=external_id)
    print(banner)
    while True:
        try:
            line = input("你：").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return
        if line in {"/quit", "/exit"}:
            return
        if line == "/help":
            print(banner)
            continue
        msg = _message(line, name=name, channel=channel)
        if msg is None:
            continue
        _show(runtime.pipeline.handle(msg).reply)
        seen = _show_pushes(runtime, channel=channel, external_id=external_id, after=seen)


def _message(line: str, *, name: str, channel: str) -> Incoming | None:
    """The message a typed line stands for, or None (nothing to send, or an unknown command)."""
    if not line:
        return None
    if line == "/photo":
        return simulated.make_incoming(name=name, channel=channel, kind="image")
    if line == "/location":
        return simulated.make_incoming(name=name, channel=channel, kind="location")
    if line.startswith("/menu"):
        item = line.removeprefix("/menu").strip()
        key = simulated.MENU_KEYS.get(item) or (item.upper() if item.upper() in simulated.MENU_KEYS.values() else "")
        if not key:
            print(f"菜单只有：{' / '.join(simulated.MENU_KEYS)}（例如「/menu 提议题」）")
            return None
        return simulated.make_incoming(name=name, channel=channel, kind="click", key=key)
    if line.startswith("/") and " " not in line and line.isascii():
        print("不认识这个命令。可用：/menu /photo /location /help /quit")
        return None
    if len(line) > simulated.MAX_TEXT_CHARS:
        print(f"一条消息最多 {simulated.MAX_TEXT_CHARS} 个字。")
        return None
    return simulated.make_incoming(name=name, channel=channel, kind="text", text=line)


def _indented(prefix: str, text: str) -> str:
    """Later lines start under the first line's text (the prefixes are full-width: two columns each)."""
    pad = " " * (2 * len(prefix))
    lines = text.split("\n")
    return "\n".join([prefix + lines[0], *(pad + line if line else "" for line in lines[1:])])


def _show(reply: str) -> None:
    print(_indented(BOT, reply) if reply else f"{BOT}（没有回复）")
    print()


def _show_pushes(runtime: Runtime, *, channel: str, external_id: str, after: int) -> int:
    """Print outbox messages newer than `after` for this person; returns the newest id seen."""
    while True:
        with runtime.factory() as session:
            items = simulated.inbox(session, channel=channel, external_id=external_id, after=after)
        for item in items:
            print(_indented(PUSH, item.text))
            print()
            after = item.id
        if len(items) < simulated.INBOX_LIMIT:
            return after
