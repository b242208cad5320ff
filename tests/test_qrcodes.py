"""民生码 end to end: `shangliang qrcode` makes the codes through the (fake) WeChat API and saves their images;
scans come back through the signed, encrypted callback as SCAN and subscribe events with the scene."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from bot import cli
from bot.clock import FakeClock
from bot.services import proposals, qrcodes
from bot.services.admin_users import create_admin
from bot.services.proposals import NewProposal
from bot.services.rooms import create_room
from bot.settings import Settings
from storage.models import Person, Proposal, ProposalSupporter, QrCode, RoomLevel
from tests.conftest import make_settings
from tests.fake_wechat import QRCODE_CREATE_PATH, QRCODE_SHOW_PATH, FakeWeChat
from tests.helpers import admin_post
from tests.test_admin import login
from tests.wxclient import WeChatCallbackClient


@pytest.fixture
def settings(db_url: str, fake: FakeWeChat, tmp_path: Path) -> Settings:
    """The app's settings with a directory of this test for the images."""
    return make_settings(db_url, fake.base_url, qrcode_dir=str(tmp_path / "codes"))


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI on the test database and the fake API."""
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    return settings


def _make_code(target: str) -> tuple[str, Path]:
    result = CliRunner().invoke(cli.app, ["qrcode", target])
    assert result.exit_code == 0, result.output
    scene, path = result.stdout.strip().splitlines()
    return scene, Path(path)


def _room(factory: sessionmaker[Session], name: str, level: RoomLevel = RoomLevel.village) -> int:
    with factory.begin() as session:
        return create_room(session, name=name, level=level).id


def test_room_code_is_made_and_its_scan_files_a_proposal_in_that_room(
    cli_settings: Settings, factory: sessionmaker[Session], fake: FakeWeChat, wechat: WeChatCallbackClient
) -> None:
    """`shangliang qrcode ROOM` asks for a permanent string-scene code and saves its image; a follower's SCAN
    of it starts 提议题 with that room chosen, and the proposal is filed there; the scan is counted once."""
    _room(factory, "幸福社区议事室")
    room_id = _room(factory, "青石镇议事室", RoomLevel.town)

    scene, path = _make_code("青石镇议事室")

    assert scene == f"room-{room_id}"
    asked = fake.calls(QRCODE_CREATE_PATH)[-1].json
    assert asked == {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}}
    shown = fake.calls(QRCODE_SHOW_PATH)[-1]
    assert path.is_absolute() and path.parent == Path(cli_settings.qrcode_dir).resolve()
    assert path.read_bytes().startswith(b"\x89PNG") and path.suffix == ".png"
    assert shown.query["ticket"] in fake.qrcode_scenes()

    reply = wechat.send_event("o-scanner", "SCAN", scene)
    assert "「青石镇议事室」的民生码" in reply.content and "请用几句话说说" in reply.content
    assert "哪个议事室" not in reply.content
    wechat.send_text("o-scanner", "镇卫生院门口的斑马线磨没了，过马路很危险")
    for _ in range(3):
        wechat.send_text("o-scanner", "跳过")
    done = wechat.send_text("o-scanner", "确认")
    assert "已送到「青石镇议事室」" in done.content

    with factory() as session:
        filed = session.scalars(select(Proposal)).one()
        code = session.scalars(select(QrCode).where(QrCode.scene == scene)).one()
        assert filed.room_id == room_id
        assert code.room_id == room_id and code.scans == 1 and code.image_path == str(path)
        assert code.ticket in fake.qrcode_scenes()


def test_item_code_scanned_by_a_new_follower_shows_it_and_supports_it(
    cli_settings: Settings,
    factory: sessionmaker[Session],
    fake: FakeWeChat,
    wechat: WeChatCallbackClient,
    clock: FakeClock,
) -> None:
    """`shangliang qrcode YS-…` makes the item's code; someone following by scanning it (subscribe with
    `qrscene_<scene>`) is welcomed, sees the item with the phone number masked, and 附议 supports it.
    WeChat's retry of the same event is not a second scan."""
    room_id = _room(factory, "幸福社区议事室")
    with factory.begin() as session:
        proposer = Person(channel="wechat", external_id="o-proposer", display_name="王阿姨")
        session.add(proposer)
        session.flush()
        text = "幸福路北段路灯坏了一个多月，联系13812345678"
        filed = proposals.file_proposal(
            session, new=NewProposal(room_id=room_id, proposer_id=proposer.id, description=text), now=clock.now()
        )
        receipt, proposal_id = filed.receipt or "", filed.id

    scene, path = _make_code(receipt)
    assert scene == receipt and path.exists()

    clock.advance(timedelta(minutes=5))
    event = f"qrscene_{scene}"
    reply = wechat.send_event("o-passer-by", "subscribe", event)
    assert reply.content.startswith("欢迎关注")
    assert f"提议 {receipt}（幸福社区议事室）" in reply.content and "138****5678" in reply.content
    assert "13812345678" not in reply.content and "王阿姨" not in reply.content
    assert f"回复「附议」或「1」支持 {receipt}" in reply.content
    again = wechat.send_event("o-passer-by", "subscribe", event)  # the same second: WeChat's retry
    assert again.content == reply.content

    supported = wechat.send_text("o-passer-by", "附议")
    assert f"已附议 {receipt}" in supported.content

    with factory() as session:
        supporters = session.scalars(select(ProposalSupporter).where(ProposalSupporter.proposal_id == proposal_id))
        assert len(list(supporters)) == 1
        counts = qrcodes.scan_counts(session, room_id=room_id)
        assert [(c.scene, c.label, c.scans) for c in counts] == [(receipt, receipt, 1)]


def test_unknown_target_and_unknown_scene(
    cli_settings: Settings, factory: sessionmaker[Session], fake: FakeWeChat, wechat: WeChatCallbackClient
) -> None:
    """A room or receipt that does not exist makes no code and asks WeChat nothing; a scan of a code we do
    not know (or made by someone else) gets the welcome, as a plain follow does."""
    _room(factory, "幸福社区议事室")
    result = CliRunner().invoke(cli.app, ["qrcode", "YS-2026-999999"])
    assert result.exit_code != 0 and "YS-2026-999999" in result.output
    assert CliRunner().invoke(cli.app, ["qrcode", "火星议事室"]).exit_code != 0
    assert fake.calls(QRCODE_CREATE_PATH) == []
    assert "欢迎来到「有事好商量」" in wechat.send_event("o-x", "subscribe", "qrscene_room-999").content
    assert wechat.send_event("o-x", "SCAN", "somebody-else").content == ""


def test_admin_button_makes_the_code_and_shows_its_scans(
    client: TestClient,
    settings: Settings,
    factory: sessionmaker[Session],
    fake: FakeWeChat,
    wechat: WeChatCallbackClient,
) -> None:
    """生成民生码 on a room's page (a CSRF-guarded POST) makes the same code as the command; the page then shows
    its image (to signed-in admins only), its scene, how often it was scanned, and the room's public board."""
    room_id = _room(factory, "幸福社区议事室")
    with factory.begin() as session:
        create_admin(session, username="office", password="correct horse battery staple")
    login(client, password="correct horse battery staple")
    page = f"/admin/room/details/{room_id}"
    assert "未生成" in client.get(page).text and f"/rooms/{room_id}" in client.get(page).text

    made = admin_post(client, f"/admin/room/qrcode/{room_id}", {}, page=page, follow_redirects=False)
    assert made.status_code == 303, made.text
    assert fake.calls(QRCODE_CREATE_PATH)[-1].json["action_info"]["scene"]["scene_str"] == f"room-{room_id}"
    wechat.send_event("o-scanner", "SCAN", f"room-{room_id}")
    shown = client.get(page).text
    assert f"场景值 room-{room_id} · 扫码 1 次" in shown and "重新生成民生码" in shown
    image = client.get(f"/admin/room/qrcode-image/{room_id}")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert client.post(f"/admin/room/qrcode/{room_id}").status_code == 403  # no token, no code
    stats = client.get("/admin/stats").text
    assert 'id="qrcode-scans"' in stats and "<td>幸福社区议事室</td><td>room-" in stats
    client.get("/admin/logout")
    assert client.get(f"/admin/room/qrcode-image/{room_id}", follow_redirects=False).status_code in (302, 303)
