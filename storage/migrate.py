"""Run Alembic migrations programmatically (used by the CLI, the app and the tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine

from storage.db import make_engine, normalize_url

_INI = Path(__file__).with_name("alembic.ini")


def alembic_config(url: str) -> Config:
    config = Config(str(_INI))
    config.set_main_option("script_location", str(_INI.parent / "migrations"))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, engine: Engine | None = None, revision: str = "head") -> None:
    """Bring the database at `url` up to `revision`."""
    _run(url, engine, revision, down=False)


def downgrade(url: str, engine: Engine | None = None, revision: str = "base") -> None:
    """Take the database at `url` down to `revision`."""
    _run(url, engine, revision, down=True)


def _run(url: str, engine: Engine | None, revision: str, *, down: bool) -> None:
    config = alembic_config(url)
    owned = engine is None
    engine = engine or make_engine(url)
    try:
        with engine.connect() as connection, _foreign_keys_deferred_on_sqlite(connection), connection.begin():
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, revision)
            _check_foreign_keys(connection)
    finally:
        if owned:
            engine.dispose()


@contextmanager
def _foreign_keys_deferred_on_sqlite(connection: Connection) -> Iterator[None]:
    """SQLite: foreign keys off for the run (checked before commit), as SQLite's own procedure for
    schema changes says. It cannot drop a constraint, so a migration rebuilds the table, and with
    foreign keys on, dropping the old table would delete every row that references it (ON DELETE
    CASCADE). The pragma only takes effect outside a transaction, hence on the raw connection."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"migration left rows pointing at nothing: {broken[:5]}")
