"""Cross-site request forgery on the admin: a page elsewhere (another port, a sibling subdomain) posting
with the office's cookie changes nothing; the admin's own forms, carrying their token, still work."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.services.admin_users import create_admin
from bot.services.rooms import create_room
from storage.db import transaction
from storage.models import Person, RoomLevel, RoomRole
from tests.helpers import ADMIN_ORIGIN as HOME
from tests.helpers import admin_post
from tests.helpers import admin_token as token_on

PASSWORD = "correct horse battery"


@pytest.fixture
def role_id(factory: sessionmaker[Session], clock: FakeClock) -> int:
    with transaction(factory) as session:
        create_admin(session, username="office", password=PASSWORD)
        room = create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        person = Person(channel="wecom", external_id="LiWei", display_name="李委员")
        session.add(person)
        session.flush()
        role = RoomRole(room_id=room.id, person_id=person.id, role="member")
        session.add(role)
        session.flush()
        return role.id


@pytest.fixture
def signed_in(client: TestClient, role_id: int) -> TestClient:
    reply = admin_post(client, "/admin/login", {"username": "office", "password": PASSWORD}, follow_redirects=False)
    assert reply.status_code == 302, reply.text
    return client


def role_of(factory: sessionmaker[Session], role_id: int) -> str | None:
    with factory() as session:
        return session.scalar(select(RoomRole.role).where(RoomRole.id == role_id))


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://testserver:8081"},  # the same host, another port
        {"Origin": "http://evil.testserver"},  # a sibling subdomain
        {"Origin": "null"},  # a sandboxed frame
        {"Referer": "http://testserver:8081/prize.html"},  # no Origin, a foreign Referer
        {},  # neither: a plain form post without the token
    ],
)
def test_a_forged_post_with_the_office_cookie_changes_nothing(
    signed_in: TestClient, role_id: int, factory: sessionmaker[Session], headers: dict[str, str]
) -> None:
    """The attack from the issue: promote a member to convenor from a page elsewhere. 403, in Chinese."""
    reply = signed_in.post(
        f"/admin/room-role/edit/{role_id}", data={"role": "convenor", "save": "保存"}, headers=headers
    )
    assert reply.status_code == 403
    assert "请求来源无法确认" in reply.text
    assert role_of(factory, role_id) == "member"


def test_the_right_token_from_another_origin_is_refused_too(
    signed_in: TestClient, role_id: int, factory: sessionmaker[Session]
) -> None:
    token = token_on(signed_in, f"/admin/room-role/edit/{role_id}")
    reply = signed_in.post(
        f"/admin/room-role/edit/{role_id}",
        data={"role": "convenor", "save": "保存", "csrf_token": token},
        headers={"Origin": "http://testserver:8081"},
    )
    assert reply.status_code == 403
    assert role_of(factory, role_id) == "member"


def test_a_forged_delete_is_refused(signed_in: TestClient, role_id: int, factory: sessionmaker[Session]) -> None:
    reply = signed_in.delete(f"/admin/room-role/delete?pks={role_id}", headers={"Origin": "http://evil.testserver"})
    assert reply.status_code == 403
    assert role_of(factory, role_id) == "member"


def test_the_admin_forms_still_work(signed_in: TestClient, role_id: int, factory: sessionmaker[Session]) -> None:
    """The edit form posts its token from the same origin; the delete button sends it as a header."""
    token = token_on(signed_in, f"/admin/room-role/edit/{role_id}")
    assert token
    reply = signed_in.post(
        f"/admin/room-role/edit/{role_id}",
        data={"role": "convenor", "save": "保存", "csrf_token": token},
        headers={"Origin": HOME},
        follow_redirects=False,
    )
    assert reply.status_code == 302
    assert role_of(factory, role_id) == "convenor"

    token = token_on(signed_in, "/admin/room-role/list")
    reply = signed_in.delete(
        f"/admin/room-role/delete?pks={role_id}",
        headers={"X-CSRF-Token": token, "Referer": f"{HOME}/admin/room-role/list"},
    )
    assert reply.status_code == 200
    assert role_of(factory, role_id) is None


def test_a_forged_login_is_refused(client: TestClient, role_id: int) -> None:
    """Signing the office's browser into an attacker's login needs the login page's token too."""
    reply = client.post(
        "/admin/login", data={"username": "office", "password": PASSWORD}, headers={"Origin": "http://evil.testserver"}
    )
    assert reply.status_code == 403
    assert client.get("/admin/stats", follow_redirects=False).status_code == 302
