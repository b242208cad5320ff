"""Photos are kept (issue 11 §3): each photo a resident sends is fetched from the channel's media API after
the callback (never in it), kept in the database, and opened by convenors through the signed link in chat."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services import media
from bot.services.rooms import create_room
from scheduler import media as fetching
from scheduler.media import MediaFetcher
from storage.db import transaction
from storage.models import Attachment, MediaFile, Role, RoomLevel
from tests.fake_wechat import MEDIA_GET_PATH, FakeWeChat, png
from tests.helpers import bind, talk
from tests.wxclient import WeChatCallbackClient, WeComCallbackClient

LINK = re.compile(r"照片 (\d) 张：(http://127\.0\.0\.1:8000(/photos/\w+/\d+)\?key=([0-9a-f]{32}))(（\d 张未能保存）)?")
RED, BLUE = png(rgb=(200, 30, 30)), png(16, 12, rgb=(30, 30, 200))


@pytest.fixture
def room(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as session:
        return create_room(session, name="幸福社区议事室", level=RoomLevel.village).id


def propose_with_photos(client: WeChatCallbackClient | WeComCallbackClient, user: str, *media_ids: str) -> str:
    """提议题 with these photos and a location, filed; its receipt."""
    talk(client, user, "提议题", "幸福社区", "幸福路北段的路灯坏了一个多月，晚上很黑")
    for media_id in media_ids:
        assert (
            "照片已收到"
            in client.send_image(user, pic_url=f"https://mmbiz.qpic.cn/{media_id}.jpg", media_id=media_id).content
        )
    client.send_location(user, 31.23, 121.47, label="幸福路北段")
    done = talk(client, user, "跳过", "确认")[-1]
    found = re.search(r"YS-\d{4}-\d{6}", done)
    assert found, done
    return found.group(0)


def review_link(client: WeChatCallbackClient | WeComCallbackClient, convenor: str) -> re.Match[str]:
    """The convenor opens the first proposal of 待审; the photo line of that view."""
    view = talk(client, convenor, "待审", "1")[-1]
    found = LINK.search(view)
    assert found, view
    assert "位置：幸福路北段（坐标 31.23, 121.47）" in view
    return found


def photo_sources(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', page)


def test_photos_are_fetched_after_the_callback_and_open_from_the_convenors_link(
    wechat: WeChatCallbackClient,
    client: TestClient,
    fake: FakeWeChat,
    factory: sessionmaker[Session],
    clock: FakeClock,
    media_fetcher: MediaFetcher,
    room: int,
) -> None:
    fake.add_media("m-red", RED, "image/png")
    fake.add_media("m-blue", BLUE, "image/jpeg")  # declared wrongly: what is kept is what the bytes are
    receipt = propose_with_photos(wechat, "o-wang", "m-red", "m-blue")
    assert fake.calls(MEDIA_GET_PATH) == []  # never in the callback

    assert media_fetcher.run_once() == 2
    calls = fake.calls(MEDIA_GET_PATH)
    assert sorted(c.query["media_id"] for c in calls) == ["m-blue", "m-red"]
    assert all(c.ok and c.query["access_token"].startswith("oa-token") for c in calls)
    with factory() as session:
        kept = session.scalars(select(MediaFile).order_by(MediaFile.id)).all()
        assert [(f.status, f.content_type, f.size) for f in kept] == [
            ("stored", "image/png", len(RED)),
            ("stored", "image/png", len(BLUE)),
        ]
        assert media.stored(session, media_file_id=kept[0].id) == media.Stored(RED, "image/png")
        photos = session.scalars(select(Attachment).where(Attachment.kind == "image").order_by(Attachment.id)).all()
        assert [a.media_file_id for a in photos] == [f.id for f in kept]
    assert media_fetcher.run_once() == 0  # nothing fetched twice

    bind(wechat, factory, clock, "o-li", room_id=room, role=Role.convenor)
    found = review_link(wechat, "o-li")
    assert found.group(1) == "2" and found.group(5) is None
    page = client.get(found.group(3), params={"key": found.group(4)})
    assert page.status_code == 200 and receipt in page.text and "幸福路北段（坐标 31.23, 121.47）" in page.text
    assert (
        page.headers["referrer-policy"] == "no-referrer"
        and "default-src 'none'" in page.headers["content-security-policy"]
    )
    sources = photo_sources(page.text)
    assert len(sources) == 2
    first, second = (client.get(src.replace("&amp;", "&")) for src in sources)
    assert (first.status_code, first.content, first.headers["content-type"]) == (200, RED, "image/png")
    assert second.content == BLUE and "sandbox" in second.headers["content-security-policy"]

    # Without the key, with a wrong one, or with another item's, nothing opens.
    path, key = found.group(3), found.group(4)
    other = f"/photos/proposal/{int(path.rsplit('/', 1)[1]) + 1}"
    for url, params in [
        (path, {}),
        (path, {"key": "0" * 32}),
        (path, {"key": key[:-1] + ("0" if key[-1] != "0" else "1")}),
        (other, {"key": key}),
        (path.replace("proposal", "suggestion"), {"key": key}),
        (sources[0].split("?")[0], {}),
        (sources[0].split("?")[0], {"key": "f" * 32}),
    ]:
        refused = client.get(url, params=params)
        assert refused.status_code == 404 and RED not in refused.content, url


def test_a_wecom_photo_is_fetched_with_the_wecom_token_and_shown_in_the_waiting_list(
    wecom: WeComCallbackClient,
    client: TestClient,
    fake: FakeWeChat,
    factory: sessionmaker[Session],
    clock: FakeClock,
    media_fetcher: MediaFetcher,
    room: int,
) -> None:
    """A 微建言 with a photo on WeCom: fetched from WeCom's media/get; 待回应 and the answer preview carry the link."""
    fake.add_media("wm-1", RED, "image/png", channel="wecom")
    talk(wecom, "zhang", "微建言", "幸福社区", "垃圾分类点晚上没有灯")
    wecom.send_image("zhang", pic_url="https://p.qpic.cn/wm-1.jpg", media_id="wm-1")
    talk(wecom, "zhang", "确认")
    assert media_fetcher.run_once() == 1
    (call,) = fake.calls(MEDIA_GET_PATH)
    assert call.ok and call.query["access_token"].startswith("wecom-token")

    bind(wecom, factory, clock, "li", room_id=room, role=Role.convenor)
    listed, preview = talk(wecom, "li", "待回应", "1")
    found = LINK.search(listed)
    assert found and "/photos/suggestion/" in found.group(3)
    assert found.group(2) in preview  # the same link in the answer preview
    sources = photo_sources(client.get(found.group(2).removeprefix("http://127.0.0.1:8000")).text)
    assert client.get(sources[0].replace("&amp;", "&")).content == RED


def test_expired_media_is_recorded_once_and_reported(
    wechat: WeChatCallbackClient,
    client: TestClient,
    fake: FakeWeChat,
    factory: sessionmaker[Session],
    clock: FakeClock,
    media_fetcher: MediaFetcher,
    room: int,
) -> None:
    """40007 (WeChat no longer has it): failed at once with the reason, never asked again; the convenor's
    line and the page say so, and the photo that was kept still shows."""
    fake.add_media("kept", RED)
    propose_with_photos(wechat, "o-wang", "kept", "gone")
    assert media_fetcher.run_once() == 2
    clock.advance(timedelta(days=2))
    assert media_fetcher.run_once() == 0
    assert len(fake.calls(MEDIA_GET_PATH)) == 2
    with factory() as session:
        failed = session.scalars(select(MediaFile).where(MediaFile.media_id == "gone")).one()
        assert (failed.status, failed.attempts, failed.content) == ("failed", 1, None)
        assert failed.last_error == fetching.GONE

    bind(wechat, factory, clock, "o-li", room_id=room, role=Role.convenor)
    found = review_link(wechat, "o-li")
    assert found.group(1) == "2" and found.group(5) == "（1 张未能保存）"
    page = client.get(found.group(3), params={"key": found.group(4)}).text
    assert len(photo_sources(page)) == 1 and "照片 2：微信上的原图已过期或无效（40007），未能保存" in page


def test_a_passing_failure_is_retried_with_backoff(
    wechat: WeChatCallbackClient,
    fake: FakeWeChat,
    factory: sessionmaker[Session],
    clock: FakeClock,
    media_fetcher: MediaFetcher,
    room: int,
) -> None:
    """A 5xx or a network error: back in the queue after the backoff, kept at the next try."""
    fake.add_media("m-1", RED)
    fake.fail_next(MEDIA_GET_PATH, status=502)
    propose_with_photos(wechat, "o-wang", "m-1")
    assert media_fetcher.run_once() == 1
    with factory() as session:
        row = session.scalars(select(MediaFile)).one()
        assert row.status == "pending" and row.next_attempt_at == clock.now() + fetching.BACKOFF[0]
    assert media_fetcher.run_once() == 0
    clock.advance(fetching.BACKOFF[0])
    assert media_fetcher.run_once() == 1
    with factory() as session:
        assert session.scalars(select(MediaFile.status)).one() == "stored"


def test_a_claim_whose_process_died_goes_back_to_the_queue(
    wechat: WeChatCallbackClient,
    fake: FakeWeChat,
    factory: sessionmaker[Session],
    clock: FakeClock,
    media_fetcher: MediaFetcher,
    room: int,
) -> None:
    fake.add_media("m-1", RED)
    propose_with_photos(wechat, "o-wang", "m-1")
    assert len(media_fetcher._claim(4)) == 1  # claimed, then the process died
    assert media_fetcher.run_once() == 0
    clock.advance(fetching.LEASE + timedelta(seconds=1))
    assert media_fetcher.run_once() == 1
    with factory() as session:
        assert session.scalars(select(MediaFile.status)).one() == "stored"


def test_too_large_or_not_an_image_is_not_kept(
    wechat: WeChatCallbackClient,
    fake: FakeWeChat,
    factory: sessionmaker[Session],
    media_fetcher: MediaFetcher,
    monkeypatch: pytest.MonkeyPatch,
    room: int,
) -> None:
    monkeypatch.setattr(fetching, "MAX_BYTES", 1000)
    fake.add_media("big", png(200, 200) + b"\0" * 2000)
    fake.add_media("page", b"<html><script>alert(1)</script></html>", "image/jpeg")
    propose_with_photos(wechat, "o-wang", "big", "page")
    assert media_fetcher.run_once() == 2
    with factory() as session:
        rows = {f.media_id: (f.status, f.last_error) for f in session.scalars(select(MediaFile))}
    assert rows == {"big": ("failed", fetching.TOO_LARGE), "page": ("failed", fetching.NOT_IMAGE)}


def test_a_photo_left_in_a_draft_is_kept_although_the_proposal_is_filed_days_later(
    wechat: WeChatCallbackClient,
    client: TestClient,
    fake: FakeWeChat,
    factory: sessionmaker[Session],
    clock: FakeClock,
    media_fetcher: MediaFetcher,
    room: int,
) -> None:
    """Fetched when it arrived, not when the item is filed: WeChat's three days may be over by then."""
    fake.add_media("m-1", RED)
    talk(wechat, "o-wang", "提议题", "幸福社区", "幸福路北段的路灯坏了一个多月，晚上很黑")
    wechat.send_image("o-wang", pic_url="https://mmbiz.qpic.cn/m-1.jpg", media_id="m-1")
    talk(wechat, "o-wang", "我的")  # the form is kept as a draft
    assert media_fetcher.run_once() == 1
    clock.advance(timedelta(days=4))
    fake.expire_media("m-1")
    talk(wechat, "o-wang", "继续", "跳过", "跳过", "确认")
    assert media_fetcher.run_once() == 0
    with factory() as session:
        attached = session.scalars(select(Attachment).where(Attachment.kind == "image")).one()
        assert attached.media_file_id is not None
        assert media.stored(session, media_file_id=attached.media_file_id) == media.Stored(RED, "image/png")


def test_photos_no_item_holds_are_forgotten_after_a_month(
    wechat: WeChatCallbackClient,
    fake: FakeWeChat,
    factory: sessionmaker[Session],
    clock: FakeClock,
    media_fetcher: MediaFetcher,
    room: int,
) -> None:
    fake.add_media("filed", RED)
    fake.add_media("stray", BLUE)
    propose_with_photos(wechat, "o-wang", "filed")
    wechat.send_image("o-zhao", pic_url="https://mmbiz.qpic.cn/stray.jpg", media_id="stray")  # offered, never filed
    assert media_fetcher.run_once() == 2
    clock.advance(media.KEEP_UNFILED - timedelta(hours=1))
    with transaction(factory) as session:
        assert media.prune_unfiled(session, now=clock.now()) == 0
    clock.advance(timedelta(hours=2))
    with transaction(factory) as session:
        assert media.prune_unfiled(session, now=clock.now()) == 1
    with factory() as session:
        assert session.scalars(select(MediaFile.media_id)).all() == ["filed"]
