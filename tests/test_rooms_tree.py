"""Rooms form a tree: a district, its towns (and enterprise and sector rooms), their villages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from bot import cli
from bot.services.admin_users import create_admin
from bot.services.rooms import ancestors, children
from bot.settings import Settings
from storage.db import transaction
from storage.models import Room
from tests.helpers import admin_post


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    return settings


def room(factory: sessionmaker[Session], name: str) -> Room:
    with factory() as session:
        found = session.scalars(select(Room).where(Room.name == name)).one()
        session.expunge(found)
        return found


@pytest.mark.usefixtures("cli_settings")
def test_the_tree_is_built_from_the_command_line(factory: sessionmaker[Session]) -> None:
    """`room add … --parent` puts a village under its town and the town under the district; a level the
    tree does not allow under that parent is refused with a sentence and nothing is created."""
    runner = CliRunner()
    for args in (
        ["room", "add", "东湖区政协", "--level", "district"],
        ["room", "add", "青石镇议事室", "--level", "town", "--parent", "东湖区政协"],
        ["room", "add", "幸福村议事室", "--level", "village", "--parent", "青石镇"],
        ["room", "add", "教育界别议事室", "--level", "sector", "--parent", "东湖区政协"],
    ):
        done = runner.invoke(cli.app, args)
        assert done.exit_code == 0, done.output
    assert (
        "上级：青石镇议事室"
        in runner.invoke(cli.app, ["room", "add", "东风村议事室", "--parent", "青石镇议事室"]).output
    )
    refused = runner.invoke(cli.app, ["room", "add", "西坡村议事室", "--level", "village", "--parent", "东湖区政协"])
    assert refused.exit_code != 0 and "上级应是镇/街道/园区的议事室" in refused.output
    with factory() as session:
        village = session.scalars(select(Room).where(Room.name == "幸福村议事室")).one()
        assert [r.name for r in ancestors(session, village)] == ["青石镇议事室", "东湖区政协"]
        town = session.scalars(select(Room).where(Room.name == "青石镇议事室")).one()
        assert [r.name for r in children(session, room_id=town.id)] == ["东风村议事室", "幸福村议事室"]
        assert session.scalars(select(Room).where(Room.name == "西坡村议事室")).first() is None


def test_the_office_sets_a_parent_in_the_admin(client: TestClient, factory: sessionmaker[Session]) -> None:
    """The admin's room form has 上级议事室: a town under the district is kept; a town under a village,
    or a room under its own child, is refused with the tree's sentence."""
    with transaction(factory) as session:
        create_admin(session, username="office", password="correct horse battery")
        session.add_all([Room(name="东湖区政协", level="district"), Room(name="青石镇议事室", level="town")])
        session.flush()
        session.add(Room(name="幸福村议事室", level="village"))
    admin_post(client, "/admin/login", {"username": "office", "password": "correct horse battery"})
    district, town, village = (room(factory, n) for n in ("东湖区政协", "青石镇议事室", "幸福村议事室"))
    saved = admin_post(
        client,
        f"/admin/room/edit/{town.id}",
        {"name": town.name, "level": "town", "parent": str(district.id), "save": "保存"},
        follow_redirects=False,
    )
    assert saved.status_code == 302
    assert room(factory, "青石镇议事室").parent_id == district.id
    wrong = admin_post(
        client,
        f"/admin/room/edit/{town.id}",
        {"name": town.name, "level": "town", "parent": str(village.id), "save": "保存"},
        follow_redirects=False,
    )
    assert wrong.status_code == 400 and "上级应是区（县）政协的议事室" in wrong.text
    assert room(factory, "青石镇议事室").parent_id == district.id
    admin_post(
        client,
        f"/admin/room/edit/{village.id}",
        {"name": village.name, "level": "village", "parent": str(town.id), "save": "保存"},
    )
    circle = admin_post(
        client,
        f"/admin/room/edit/{district.id}",
        {"name": district.name, "level": "district", "parent": str(village.id), "save": "保存"},
        follow_redirects=False,
    )
    assert circle.status_code == 400 and "最上一级" in circle.text
    listing = client.get("/admin/room/list").text
    assert "上级议事室" in listing and "东湖区政协" in listing
