"""The admin's proposal page in headless Chromium: its photo is shown, 显示电话 reveals the number once and
the view is in 个人信息查看记录; the convenor's signed photo page shows the photo on a phone's screen.

Set SAVE_SCREENSHOTS=1 to refresh docs/admin-proposal.png (the proposal page with its photo and place)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services import media, photos
from bot.settings import Settings
from storage.db import transaction
from storage.models import Attachment, Proposal
from tests.browser import browser_page, live_server  # noqa: F401
from tests.test_admin import PASSWORD, PHONE, seed
from tests.test_admin_callback import audit, lamp, media_update

SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "admin-proposal.png"


def test_admin_proposal_page_with_a_photo_and_the_phone_view_audit_in_a_browser(
    browser_page: Any,  # noqa: F811 (the imported fixture)
    live_server: str,  # noqa: F811
    factory: sessionmaker[Session],
    clock: FakeClock,
    settings: Settings,
    tmp_path: Path,
) -> None:
    seeded = seed(factory, clock.now())
    proposal = lamp(factory, seeded)
    with transaction(factory) as s:
        kept = media.keep(s, channel="wechat", media_id="m-1", now=clock.now())
        s.execute(media_update(kept))
        s.add(
            Attachment(
                proposal_id=proposal.id, kind="image", media_id="m-1", media_file_id=kept, created_at=clock.now()
            )
        )
        row = s.get(Proposal, proposal.id)
        assert row is not None
        row.latitude, row.longitude, row.location_label = 31.23, 121.47, "幸福路北段"
    page = browser_page
    page.goto(f"{live_server}/admin/login")
    page.fill("input[name=username]", "office")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/stats$"))

    page.goto(f"{live_server}/admin/proposal/details/{proposal.id}")
    body = page.locator("table").inner_text()
    assert "138****5678" in body and PHONE not in body and "幸福路北段（坐标 31.23, 121.47）" in body
    image = page.locator('img[alt="照片 1"]')
    image.wait_for()
    assert page.evaluate("document.querySelector('img[alt=\"照片 1\"]').naturalWidth") == 240  # the photo loaded
    assert audit(factory) == []

    page.click("#show-phone")
    page.wait_for_url(re.compile(r"/admin/proposal/phone/\d+$"))
    assert page.locator("#full-phone").inner_text() == PHONE
    assert audit(factory) == [("office", "view_phone", proposal.id, None)]

    page.goto(f"{live_server}/admin/proposal/details/{proposal.id}")
    assert PHONE not in page.locator("table").inner_text()
    shot = tmp_path / "admin-proposal.png"
    page.set_viewport_size({"width": 1280, "height": page.evaluate("document.documentElement.scrollHeight")})
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("SAVE_SCREENSHOTS"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)

    page.goto(f"{live_server}/admin/access-audit/list")
    listed = page.locator("table").inner_text()
    assert "查看联系电话" in listed and "office" in listed and (proposal.receipt or "") in listed

    # The convenor's signed link on a phone: the photo is there; a wrong key shows none.
    page.set_viewport_size({"width": 390, "height": 844})
    links = photos.PhotoLinks(live_server, settings.secret_key.get_secret_value())
    page.goto(links.page(photos.PROPOSAL, proposal.id))
    page.locator('img[alt="照片 1"]').wait_for()
    assert page.evaluate("document.querySelector('img[alt=\"照片 1\"]').naturalWidth") == 240
    assert "幸福路北段（坐标 31.23, 121.47）" in page.locator("main").inner_text()
    page.goto(f"{live_server}/photos/proposal/{proposal.id}?key={'0' * 32}")
    assert page.locator("img").count() == 0 and "链接无效" in page.locator("main").inner_text()
