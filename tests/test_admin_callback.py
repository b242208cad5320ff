"""Authorised staff can call back (issue 11 §4), and the admin shows a proposal's photos and place (§3):
显示电话 shows the full number to a signed-in administrator and records who saw it; exports stay masked
unless an administrator asks for an unmasked one, which is recorded too; the audit is read-only."""

from __future__ import annotations

import io
import re
from urllib.parse import quote

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Update, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services import media
from storage.db import transaction
from storage.models import AccessAudit, Attachment, MediaFile, Proposal
from tests.fake_wechat import png
from tests.helpers import ADMIN_ORIGIN, admin_post, admin_token
from tests.test_admin import PHONE, Seeded, login, seed

PHOTO = png(240, 160, rgb=(10, 160, 60))


def lamp(factory: sessionmaker[Session], seeded: Seeded) -> Proposal:
    with factory() as s:
        return s.scalars(select(Proposal).where(Proposal.receipt == next(iter(seeded.receipts.values())))).one()


def audit(factory: sessionmaker[Session]) -> list[tuple[str, str, int | None, str | None]]:
    with factory() as s:
        rows = s.scalars(select(AccessAudit).order_by(AccessAudit.id)).all()
        return [(r.admin_username, r.action, r.proposal_id, r.detail) for r in rows]


def test_show_phone_is_a_recorded_post_for_signed_in_administrators(
    client: TestClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    seeded = seed(factory, clock.now())
    proposal = lamp(factory, seeded)
    page = f"/admin/proposal/details/{proposal.id}"
    action = f"/admin/proposal/phone/{proposal.id}"

    # Not signed in: nothing, and nothing recorded.
    assert PHONE not in client.post(action, headers={"Origin": ADMIN_ORIGIN}, follow_redirects=False).text
    login(client)
    details = client.get(page).text
    assert "138****5678" in details and PHONE not in details and "显示电话" in details and action in details
    # Without the page's token (a forged form): refused, nothing recorded.
    forged = client.post(action, data={"csrf_token": "forged"}, headers={"Origin": ADMIN_ORIGIN})
    assert forged.status_code == 403 and PHONE not in forged.text
    assert audit(factory) == []

    shown = admin_post(client, action, {}, page=page)
    assert shown.status_code == 200 and PHONE in shown.text and proposal.receipt in shown.text
    assert "no-store" in shown.headers["cache-control"]
    assert audit(factory) == [("office", "view_phone", proposal.id, None)]
    assert PHONE not in client.get(page).text  # the page itself stays masked

    listed = client.get("/admin/access-audit/list").text
    assert "查看联系电话" in listed and "office" in listed and proposal.receipt in listed and PHONE not in listed
    # Read-only: no create, edit or delete.
    assert client.get("/admin/access-audit/create").status_code in (403, 404)
    (row_id,) = [i for i in re.findall(r"/admin/access-audit/details/(\d+)", listed)][:1]
    assert client.get(f"/admin/access-audit/edit/{row_id}").status_code in (403, 404)
    token = admin_token(client, "/admin/access-audit/list")
    deleted = client.delete(
        f"/admin/access-audit/delete?pks={row_id}", headers={"Origin": ADMIN_ORIGIN, "X-CSRF-Token": token}
    )
    assert deleted.status_code in (403, 404, 405) and len(audit(factory)) == 1


def test_a_proposal_without_a_phone_has_no_button(
    client: TestClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    seeded = seed(factory, clock.now())
    login(client)
    with factory() as s:
        other = s.scalars(select(Proposal).where(Proposal.phone_cipher.is_(None))).first()
        assert other is not None
    assert "显示电话" not in client.get(f"/admin/proposal/details/{other.id}").text
    reply = admin_post(client, f"/admin/proposal/phone/{other.id}", {}, page=f"/admin/proposal/details/{other.id}")
    assert reply.status_code == 404 and audit(factory) == []
    assert seeded


def test_exports_stay_masked_unless_an_unmasked_one_is_asked_for_and_recorded(
    client: TestClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    seed(factory, clock.now())
    login(client)
    masked = client.get("/admin/export/proposals.xlsx")
    assert PHONE not in repr(list(load_workbook(io.BytesIO(masked.content)).active.iter_rows(values_only=True)))  # type: ignore[union-attr]
    assert audit(factory) == []
    # A GET of the unmasked action does nothing; a POST without the explicit confirmation is refused.
    assert client.get("/admin/export/proposals/unmasked.xlsx").status_code in (404, 405)
    refused = admin_post(client, "/admin/export/proposals/unmasked.xlsx", {}, page="/admin/export")
    assert refused.status_code == 400 and audit(factory) == []

    reply = admin_post(client, "/admin/export/proposals/unmasked.xlsx", {"confirm": "yes"}, page="/admin/export")
    assert reply.status_code == 200 and quote("提议-未脱敏") in reply.headers["content-disposition"]
    assert reply.headers["cache-control"] == "no-store"
    rows = list(load_workbook(io.BytesIO(reply.content)).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0][7] == "联系电话" and PHONE in [row[7] for row in rows[1:]]
    assert audit(factory) == [("office", "export_unmasked", None, "proposals")]
    assert "未脱敏导出" in client.get("/admin/access-audit/list").text


def test_the_admin_proposal_page_shows_its_photos_to_a_signed_in_admin_only(
    client: TestClient, factory: sessionmaker[Session], clock: FakeClock
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
        s.get(Proposal, proposal.id).latitude, s.get(Proposal, proposal.id).longitude = 31.23, 121.47  # type: ignore[union-attr]
        s.get(Proposal, proposal.id).location_label = "幸福路北段"  # type: ignore[union-attr]
    login(client)
    details = client.get(f"/admin/proposal/details/{proposal.id}").text
    assert "幸福路北段（坐标 31.23, 121.47）" in details
    sources = re.findall(r'<img[^>]+src="([^"]+)"', details)
    assert len(sources) == 1 and sources[0].startswith("/admin/proposal/photo/")
    got = client.get(sources[0])
    assert got.status_code == 200 and got.content == PHOTO and got.headers["content-type"] == "image/png"
    client.get("/admin/logout")
    assert PHOTO not in client.get(sources[0], follow_redirects=False).content


def media_update(file_id: int) -> Update:
    """The photo kept, as the fetcher leaves it."""
    return (
        update(MediaFile)
        .where(MediaFile.id == file_id)
        .values(status="stored", content=PHOTO, content_type="image/png", size=len(PHOTO))
    )
