"""The parts of wechatpy the callback path uses, without what its package `__init__` imports.

`import wechatpy.crypto` runs `wechatpy/__init__.py` first, and that imports every API client, the
payment and open-platform modules and `requests` (measured: 15 MB of each web worker's memory); so
does `wechatpy.enterprise`'s for the WeCom client. The callback path only parses, decrypts and
encrypts with wechatpy; it calls the APIs through its own client (bot/outbound). So the two packages
are registered without running their `__init__`, which runs the first time anything asks them for a
name their submodules do not provide: `from wechatpy import WeChatClient` still works, later.
Where wechatpy was imported before this module, it is used as it is.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from typing import Any


def _registered_without_init(name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return  # not a package as we know it: the normal import follows
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader
    # Held while `__init__` runs: another thread asking meanwhile waits for it, the same thread (the
    # `__init__` importing from its own package) goes on as in any import.
    running = threading.RLock()
    started = threading.Event()

    def complete(attribute: str) -> Any:
        """A submodule by that name, or else the package's own `__init__`, run now (once), and its name."""
        try:
            return importlib.import_module(f"{name}.{attribute}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{name}.{attribute}":
                raise
        with running:
            if not started.is_set():
                started.set()
                loader.exec_module(package)
                del package.__getattr__  # the package's own names from here on
        return getattr(package, attribute)

    package.__getattr__ = complete  # type: ignore[method-assign]  # PEP 562: asked only for missing names
    sys.modules[name] = package


for _package in ("wechatpy", "wechatpy.enterprise"):
    _registered_without_init(_package)

from wechatpy.crypto import PrpCrypto  # noqa: E402
from wechatpy.enterprise.parser import parse_message as parse_wecom_message  # noqa: E402
from wechatpy.exceptions import WeChatException  # noqa: E402
from wechatpy.messages import BaseMessage, UnknownMessage  # noqa: E402
from wechatpy.parser import parse_message as parse_wechat_message  # noqa: E402

__all__ = [
    "BaseMessage",
    "PrpCrypto",
    "UnknownMessage",
    "WeChatException",
    "parse_wechat_message",
    "parse_wecom_message",
]
