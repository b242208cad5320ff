"""The code's shape holds: the layer contracts in pyproject.toml, and no import cycle between modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def test_layer_contracts_are_kept() -> None:
    """services never import dialogs or handlers; dialogs never import the conversation store or handlers."""
    linter = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout


def _cycle(graph: grimp.ImportGraph, modules: set[str]) -> list[str] | None:
    """One import cycle among `modules` (depth-first), or None."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module) & modules):
            if state.get(imported) == 1:
                return [*path[path.index(imported) :], imported]
            if imported not in state and (found := visit(imported)) is not None:
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(modules):
        if module not in state and (found := visit(module)) is not None:
            return found
    return None


def test_no_module_imports_itself_round_a_circle() -> None:
    """No module of bot/, storage/ or scheduler/ reaches itself through imports (the conversation store
    once imported the effects, which imported handlers, which imported the store)."""
    graph = grimp.build_graph("bot", "storage", "scheduler")
    assert _cycle(graph, set(graph.modules)) is None


def test_the_conversation_store_does_not_import_handlers() -> None:
    graph = grimp.build_graph("bot")
    imported = graph.find_modules_directly_imported_by("bot.conversation")
    assert not any(m == "bot.handlers" or m.startswith("bot.handlers.") for m in imported)
    assert "bot.dispatch" not in imported


def test_a_web_worker_starts_without_the_numeric_stack_or_excel() -> None:
    """numpy, scikit-learn (征求意见, 排序) and openpyxl (exports) are ~110 MB a web worker never needs
    until a round is analysed or a workbook made: they are imported there, not when the app starts."""
    probe = (
        "import sys, bot.app; print(sorted(m for m in ('numpy', 'sklearn', 'scipy', 'openpyxl') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_web_worker_parses_and_decrypts_without_wechatpys_api_clients() -> None:
    """wechatpy's package `__init__` imports its API clients, payment module and `requests` (~15 MB a worker
    never uses: our own client calls the APIs). A worker that has parsed and decrypted a message has not run
    it; anything that later asks wechatpy for a client still gets one."""
    probe = """
import sys
from bot.app import create_app
from bot.channels.crypto import MessageCrypto
from bot.channels.xml import parse_message
create_app()
crypto = MessageCrypto("token", "a" * 43, "wx0123456789abcdef")
xml = "<xml><ToUserName>gh</ToUserName><FromUserName>o-1</FromUserName><CreateTime>1</CreateTime>" \\
      "<MsgType>text</MsgType><Content>路灯坏了</Content><MsgId>7</MsgId><AgentID>1</AgentID></xml>"
envelope = crypto.encrypt(xml, "nonce", "1")
secret = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
assert parse_message(crypto.decrypt(secret), "wechat").text == "路灯坏了"
assert parse_message(xml, "wecom").text == "路灯坏了"
print(sorted(m for m in ("requests", "wechatpy.client", "wechatpy.pay", "wechatpy.enterprise.client") if m in sys.modules))
import threading
clients = []
def ask():  # several threads at once, as several first API calls could
    from wechatpy import WeChatClient
    from wechatpy.enterprise import WeChatClient as WeComClient
    clients.append((WeChatClient.__module__, WeComClient.__module__))
threads = [threading.Thread(target=ask) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(*sorted(set(clients)), len(clients))
"""
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "('wechatpy.client', 'wechatpy.enterprise.client') 4"]
