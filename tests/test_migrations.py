"""The Alembic migrations build exactly the models' schema, and go down and up again."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, insert, text

from storage.migrate import downgrade, upgrade
from storage.models import Base


def test_migrated_schema_matches_the_models(engine: Engine, db_url: str) -> None:
    """Autogenerate finds nothing to change after `upgrade head`: no model change lacks its migration."""
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_up_again(engine: Engine, db_url: str) -> None:
    """Every migration's downgrade runs, and the schema can be rebuilt from nothing."""
    downgrade(db_url, engine, "base")
    upgrade(db_url, engine, "head")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def _migrate(engine: Engine, db_url: str, revision: str, *, down: bool = False) -> None:
    (downgrade if down else upgrade)(db_url, engine, revision)


def test_adoption_values_carry_over_both_ways(engine: Engine, db_url: str) -> None:
    """0005: true / false / NULL become adopted / not_adopted / NULL and back again (partly reads as
    true, pending as NULL), and swapping the column loses no link or rating of the items."""
    _migrate(engine, db_url, "0004", down=True)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    with engine.begin() as conn:
        tables = MetaData()
        tables.reflect(conn)
        t = tables.tables
        room = conn.execute(
            insert(t["rooms"]).values(name="幸福社区议事室", level="village", created_at=now)
        ).inserted_primary_key[0]
        person = conn.execute(
            insert(t["people"]).values(
                channel="wechat", external_id="o-1", simulated=False, unsubscribed=False, created_at=now
            )
        ).inserted_primary_key[0]
        meeting = conn.execute(
            insert(t["consult_sessions"]).values(
                room_id=room,
                title="路灯协商",
                starts_at=now,
                ends_at=now,
                place="",
                format="meeting",
                status="scheduled",
                nudges_sent=0,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        for position, adopted in enumerate([True, False, None], 1):
            item = conn.execute(
                insert(t["list_items"]).values(
                    session_id=meeting,
                    kind="feedback",
                    position=position,
                    text=f"事项{position}",
                    progress=0,
                    adopted=adopted,
                    created_at=now,
                )
            ).inserted_primary_key[0]
            conn.execute(insert(t["list_item_links"]).values(item_id=item))
            conn.execute(
                insert(t["result_deliveries"]).values(
                    item_id=item, person_id=person, delivered_at=now, rating="satisfied", reopened=False
                )
            )

    _migrate(engine, db_url, "head")
    with engine.connect() as conn:
        values = conn.execute(text("SELECT adopted FROM list_items ORDER BY position")).scalars().all()
        assert values == ["adopted", "not_adopted", None]
        assert conn.execute(text("SELECT count(*) FROM list_item_links")).scalar() == 3
        assert conn.execute(text("SELECT count(*) FROM result_deliveries WHERE rating = 'satisfied'")).scalar() == 3

    with engine.begin() as conn:  # the two new values, and back down
        conn.execute(text("UPDATE list_items SET adopted = 'partly' WHERE position = 2"))
        conn.execute(
            text(
                "INSERT INTO list_items (session_id, kind, position, text, progress, adopted, created_at) "
                "SELECT session_id, kind, 4, '事项4', 0, 'pending', created_at FROM list_items WHERE position = 1"
            )
        )
    _migrate(engine, db_url, "0004", down=True)
    with engine.connect() as conn:
        values = conn.execute(text("SELECT adopted FROM list_items ORDER BY position")).scalars().all()
        assert [None if v is None else bool(v) for v in values] == [True, True, None, None]
        assert conn.execute(text("SELECT count(*) FROM result_deliveries")).scalar() == 3
    _migrate(engine, db_url, "head")


def test_simulated_people_get_a_key_space_of_their_own(engine: Engine, db_url: str) -> None:
    """0007: (channel, external_id, simulated) is the key. Rebuilding the table on SQLite loses no row that
    points at a person; going down, a simulated twin of a real person is renamed `sim:<id>` first."""
    _migrate(engine, db_url, "0006", down=True)
    now = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
    with engine.begin() as conn:
        tables = MetaData()
        tables.reflect(conn)
        t = tables.tables
        real = conn.execute(
            insert(t["people"]).values(
                channel="wecom", external_id="sim-zhang", simulated=False, unsubscribed=False, created_at=now
            )
        ).inserted_primary_key[0]
        room = conn.execute(insert(t["rooms"]).values(name="幸福社区议事室", level="village", created_at=now))
        conn.execute(
            insert(t["room_roles"]).values(
                room_id=room.inserted_primary_key[0], person_id=real, role="convenor", created_at=now
            )
        )

    _migrate(engine, db_url, "head")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM room_roles")).scalar() == 1
        conn.execute(
            text(
                "INSERT INTO people (channel, external_id, simulated, unsubscribed, created_at) "
                "SELECT channel, external_id, true, false, created_at FROM people"
            )
        )
        twin = conn.execute(text("SELECT max(id) FROM people")).scalar()

    _migrate(engine, db_url, "0006", down=True)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT external_id, simulated FROM people ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [("sim-zhang", False), (f"sim:{twin}", True)]
        assert conn.execute(text("SELECT count(*) FROM room_roles")).scalar() == 1
    _migrate(engine, db_url, "head")


def test_photos_attached_before_0011_are_queued_for_fetching(engine: Engine, db_url: str) -> None:
    """0011: each photo a real person attached becomes a pending fetch linked to its attachment (the same
    MediaId once); the simulator's photos and locations are not queued."""
    _migrate(engine, db_url, "0010", down=True)
    now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    with engine.begin() as conn:
        tables = MetaData()
        tables.reflect(conn)
        t = tables.tables
        room = conn.execute(insert(t["rooms"]).values(name="幸福社区议事室", level="village", created_at=now))
        room_id = room.inserted_primary_key[0]
        people = {}
        for name, simulated in (("o-real", False), ("sim-wang", True)):
            people[name] = conn.execute(
                insert(t["people"]).values(
                    channel="wechat", external_id=name, simulated=simulated, unsubscribed=False, created_at=now
                )
            ).inserted_primary_key[0]
        attachments = []
        for person, media_id in (("o-real", "m-1"), ("o-real", "m-1"), ("sim-wang", "sim-media-1")):
            proposal = conn.execute(
                insert(t["proposals"]).values(
                    room_id=room_id,
                    proposer_id=people[person],
                    source="resident",
                    description="路灯坏了",
                    status="submitted",
                    tags="",
                    created_at=now,
                    updated_at=now,
                )
            ).inserted_primary_key[0]
            attachments.append(
                conn.execute(
                    insert(t["attachments"]).values(
                        proposal_id=proposal, kind="image", media_id=media_id, created_at=now
                    )
                ).inserted_primary_key[0]
            )
        conn.execute(
            insert(t["attachments"]).values(proposal_id=proposal, kind="location", latitude=1.0, created_at=now)
        )
    _migrate(engine, db_url, "head")
    with engine.connect() as conn:
        files = conn.execute(text("SELECT id, channel, media_id, status FROM media_files")).all()
        assert [(f.channel, f.media_id, f.status) for f in files] == [("wechat", "m-1", "pending")]
        linked = dict(conn.execute(text("SELECT id, media_file_id FROM attachments")).all())
    assert [linked[a] for a in attachments] == [files[0].id, files[0].id, None]
