"""The web admin in headless Chromium: log in, read the statistics charts, download an Excel export.

Set SAVE_SCREENSHOTS=1 to refresh docs/admin-stats.png (the statistics page, 1280 wide, full height).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from storage.models import RoomRole
from tests.browser import browser_page, live_server  # noqa: F401
from tests.test_admin import HOSTILE, PASSWORD, PHONE, seed

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "admin-stats.png"


def test_admin_statistics_and_excel_download_in_a_browser(
    browser_page: Any,  # noqa: F811 (the imported fixture)
    live_server: str,  # noqa: F811
    factory: sessionmaker[Session],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    """Log in through the form, see the seeded figures drawn as SVG, and download the proposals workbook."""
    seeded = seed(factory, clock.now())
    page = browser_page

    page.goto(f"{live_server}/admin/stats")
    assert page.url.endswith("/admin/login")
    page.fill("input[name=username]", "office")
    page.fill("input[name=password]", "wrong password")
    page.click("button[type=submit]")
    assert page.locator(".invalid-feedback").first.inner_text().startswith("用户名或密码不正确")
    page.fill("input[name=username]", "office")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/stats$"))

    assert page.locator("h2.page-title").inner_text() == "统计"
    sessions = page.locator('#chart-sessions svg g.bar[data-kind="sessions"]')
    assert sessions.count() == 5
    drawn = {sessions.nth(i).get_attribute("data-label"): sessions.nth(i).get_attribute("data-value") for i in range(5)}
    # 幸福社区's second session (12月3日) is still ahead: not held yet.
    assert drawn["东风村议事厅（村/社区）"] == "3" and drawn["幸福社区议事室（村/社区）"] == "1"
    assert page.locator("#chart-sessions svg line.target").count() == 5
    assert "1 / 3 次" in page.locator("#chart-sessions svg").inner_html()
    assert page.locator('#chart-status g.bar[data-label="已提交"]').get_attribute("data-value") == "3"
    assert page.locator('#chart-tags g.bar[data-label="公共设施"]').get_attribute("data-value") == "2"
    assert (page.locator("#chart-rates svg g.donut").nth(0).text_content() or "").startswith("67%")
    assert (page.locator("#chart-rates svg g.donut").nth(1).text_content() or "").startswith("80%")
    stack = page.locator('#chart-ratings g.stack[data-label="幸福社区议事室"]')
    assert stack.get_attribute("data-value") == "2/1/1"
    # The SVG is drawn: bars have a real width on screen.
    box = sessions.nth(0).locator("rect").nth(1).bounding_box()
    assert box is not None and box["width"] > 20

    shot = tmp_path / "admin-stats.png"
    # The whole page in one viewport, so the sidebar reaches the bottom of the picture.
    page.set_viewport_size({"width": 1280, "height": page.evaluate("document.documentElement.scrollHeight")})
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("SAVE_SCREENSHOTS"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)

    # The hostile proposal is shown as text in the proposals table, and no script ran.
    page.goto(f"{live_server}/admin/proposal/list")
    assert HOSTILE in page.locator("table").inner_text()
    assert page.evaluate("document.querySelectorAll('table script').length") == 0

    page.click("text=导出 Excel")
    page.wait_for_url(re.compile(r"/admin/export$"))
    with page.expect_download() as download_info:
        page.click("#export-proposals")
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx") and "提议" in download.suggested_filename
    target = tmp_path / "proposals.xlsx"
    download.save_as(str(target))
    rows = [list(r) for r in load_workbook(target).active.iter_rows(values_only=True)]  # type: ignore[union-attr]
    assert rows[0][0] == "受理编号" and len(rows) == 9
    receipts = {row[0]: row for row in rows[1:]}
    lamp = receipts[seeded.receipts["幸福路北段路灯坏了一个多月，晚上很黑"]]
    assert lamp[7] == "138****5678"
    text = repr(rows)
    assert PHONE not in text and not any(openid in text for openid in seeded.openids)


def test_admin_forms_and_delete_button_carry_their_token_in_a_browser(
    browser_page: Any,  # noqa: F811 (the imported fixture)
    live_server: str,  # noqa: F811
    factory: sessionmaker[Session],
    clock: FakeClock,
) -> None:
    """With the CSRF guard on, sqladmin's own edit form and its delete button (jQuery) still work: the
    page's script adds the session's token to both."""
    seed(factory, clock.now())
    with factory() as s:
        member = s.scalars(select(RoomRole).where(RoomRole.role == "member")).one()
    page = browser_page
    page.goto(f"{live_server}/admin/login")
    page.fill("input[name=username]", "office")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/stats$"))

    page.goto(f"{live_server}/admin/room-role/edit/{member.id}")
    page.select_option("select[name=role]", "representative")
    page.click("input[name=save][value=保存]")
    page.wait_for_url(re.compile(r"/admin/room-role/list"))
    with factory() as s:
        assert s.get(RoomRole, member.id).role == "representative"  # type: ignore[union-attr]

    page.click(f'a[data-bs-target="#modal-delete"][data-pk="{member.id}"]')
    page.click("#modal-delete-button")
    page.wait_for_url(re.compile(r"/admin/room-role/list"))
    page.wait_for_function(f"!document.querySelector('a[data-pk=\"{member.id}\"]')")
    with factory() as s:
        assert s.get(RoomRole, member.id) is None
