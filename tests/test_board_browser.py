"""The public board in headless Chromium on a phone-sized screen: it reads in one column, shows the year's
figures and the three lists, runs no script of anyone's, and its data links download the same data.

Set SAVE_SCREENSHOTS=1 to refresh docs/board.png (the whole page at 390 px wide, as on a phone).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from tests.board_data import HOSTILE, PHONE, seed
from tests.browser import browser_page, live_server  # noqa: F401

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "board.png"


def test_board_on_a_phone(
    browser_page: Any,  # noqa: F811 (the imported fixture)
    live_server: str,  # noqa: F811
    factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    """Open /rooms/<id> at 390×844: the room, the figures, the topics and the session's lists are there, nothing
    is wider than the screen, what a resident typed is text, and the JSON link serves the same room."""
    seeded = seed(factory, clock)
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server}/rooms/{seeded.room_id}")

    assert page.locator("#room").inner_text() == "幸福社区议事室"
    assert page.locator("#held").inner_text() == "1"
    assert page.locator("#satisfaction").inner_text() == "67%"
    topics = page.locator("#topics .topic")
    assert topics.count() == 3
    assert page.locator(".topic", has_text=seeded.answered).locator(".status").inner_text() == "已反馈"
    assert page.locator(".topic .text", has_text="垃圾站").inner_text().startswith(HOSTILE)
    session = page.locator(".session", has_text="幸福路照明和停车协商会")
    for heading in ("协商建议清单", "责任落实清单", "结果反馈清单"):
        assert session.get_by_text(heading).is_visible()
    assert session.get_by_text("结果：已更换路灯12盏，夜间照明恢复").is_visible()
    assert dialogs == [] and PHONE not in page.content()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
    font = page.evaluate("getComputedStyle(document.querySelector('.topic .text')).fontSize")
    assert float(font.removesuffix("px")) >= 15

    if os.environ.get("SAVE_SCREENSHOTS"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.get_by_role("link", name="JSON").click()
    page.wait_for_url(f"**/rooms/{seeded.room_id}/data.json")
    assert '"room":"幸福社区议事室"' in page.content().replace(" ", "")
