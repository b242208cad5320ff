"""The message hot path in SQL: a plain dialog step is the read, the state write, the claim (and COMMIT).

Issue 12: a 提议题 step reads (and locks, and stamps the 48-hour window of) the person together with
their open question in one statement, writes the dialog state in one, and stores the claim with the
reply in one; on PostgreSQL the state write and the claim are one statement (one round trip). Anything more (an ORM load of the person, a second look at the state) is a regression
this test names, statement by statement.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from bot.app import create_app
from bot.clock import FakeClock
from bot.runtime import Runtime
from bot.services.rooms import create_room
from storage.db import transaction
from storage.models import DialogState, Person, ProcessedMessage, RoomLevel
from tests.conftest import make_settings
from tests.fake_wechat import FakeWeChat
from tests.wxclient import DEFAULT_WECHAT, WeChatCallbackClient


@contextmanager
def statements_of(runtime: Runtime) -> Iterator[list[str]]:
    """The SQL the app sends meanwhile, whitespace folded."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(runtime.message_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(runtime.message_engine, "before_cursor_execute", record)


@contextmanager
def sessions_made() -> Iterator[list[Session]]:
    """Every ORM Session that begins a transaction meanwhile (making one and committing through it cost
    about as much as a plain step's SQL)."""
    made: list[Session] = []

    def record(session: Session, *_args: Any) -> None:
        made.append(session)

    event.listen(Session, "after_begin", record)
    try:
        yield made
    finally:
        event.remove(Session, "after_begin", record)


@pytest.fixture
def rooms(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        create_room(session, name="青石镇议事室", level=RoomLevel.town)


@pytest.mark.usefixtures("rooms")
@pytest.mark.parametrize("returning", [True, False], ids=["update-returning", "sqlite-before-3.35"])
def test_a_dialog_step_is_one_read_one_state_write_and_the_claim(
    db_url: str, fake: FakeWeChat, clock: FakeClock, factory: sessionmaker[Session], returning: bool
) -> None:
    """Resident: 提议题 … 跳过 (the photo step): the reply asks for the location, and the database saw the
    person read-and-stamped, the state written and the claim stored, nothing else (safe mode, as a
    deployment with an EncodingAESKey runs: no plaintext replay guard); PostgreSQL writes the state and
    the claim in one statement. Without UPDATE … RETURNING (a SQLite older than 3.35) the read and the
    stamp are two statements, and the window moves just the same."""
    app = create_app(make_settings(db_url, fake.base_url, wechat_message_mode="safe"), clock)
    runtime: Runtime = app.state.runtime
    if not returning:
        runtime.message_engine.dialect.update_returning = False
    with TestClient(app) as http:
        wechat = WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
        _walk_to_the_photo_step(wechat)
        clock.advance(timedelta(minutes=3))
        with statements_of(runtime) as seen, sessions_made() as sessions:
            reply = wechat.send_text("o-hot", "跳过")
    runtime.close()
    assert "位置" in reply.content
    assert sessions == [], "a plain dialog step runs on the connection, without an ORM Session"
    postgres = runtime.engine.dialect.name == "postgresql"
    read = (
        ["UPDATE people SET last_inbound_at="]
        if returning
        else ["SELECT people.id", "UPDATE people SET last_inbound_at="]
    )
    expected = [  # BEGIN is the driver's own call, not an execute (SQLite's BEGIN IMMEDIATE too: storage/db.py)
        *read,  # the read (with the dialog state), the row lock and the window's stamp
        *(["WITH state_write AS (UPDATE dialog_states SET"] if postgres else ["UPDATE dialog_states SET"]),
        *([] if postgres else ["INSERT INTO processed_messages"]),
    ]
    assert len(seen) == len(expected), seen
    for statement, start in zip(seen, expected, strict=True):
        assert statement.startswith(start), (statement, start)
    assert ("RETURNING" in seen[0]) is returning
    assert "INSERT INTO processed_messages" in seen[-1]
    with factory() as session:
        person = session.scalars(select(Person).where(Person.external_id == "o-hot")).one()
        assert person.last_inbound_at == clock.now()
        state = session.get(DialogState, person.id)
        assert state is not None and state.state.endswith("location")


def _walk_to_the_photo_step(
    wechat: WeChatCallbackClient, description: str = "幸福路北段第七根路灯坏了一个多月"
) -> None:
    asked = wechat.send_text("o-hot", "提议题").content
    if "哪个议事室" in asked:  # a second proposal goes to the remembered room
        wechat.send_text("o-hot", "1")
    assert "照片" in wechat.send_text("o-hot", description).content


@pytest.mark.usefixtures("rooms")
def test_filing_writes_its_own_rows_without_loading_the_person_or_the_room(
    db_url: str, fake: FakeWeChat, clock: FakeClock, factory: sessionmaker[Session]
) -> None:
    """Resident: 提议题 … 确认, twice in the same room. Filing reads neither the person nor the room (the
    dialog holds the room's name); the first filing remembers the room, the second has nothing to move."""
    app = create_app(make_settings(db_url, fake.base_url, wechat_message_mode="safe"), clock)
    runtime: Runtime = app.state.runtime
    filings: list[list[str]] = []
    with TestClient(app) as http:
        wechat = WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
        for description in ("幸福路北段第七根路灯坏了一个多月", "安宁里垃圾桶满了没人清运，夏天很臭"):
            _walk_to_the_photo_step(wechat, description)
            for answer in ("跳过", "跳过", "跳过"):
                wechat.send_text("o-hot", answer)
            with statements_of(runtime) as seen:
                reply = wechat.send_text("o-hot", "确认")
            assert "受理编号" in reply.content and "幸福社区议事室" in reply.content
            filings.append(seen)
    runtime.close()
    for seen in filings:
        assert not [s for s in seen if s.startswith(("SELECT people.", "SELECT rooms."))], seen
    moves = [[s for s in seen if s.startswith("UPDATE people SET last_room_id")] for seen in filings]
    assert [len(m) for m in moves] == [1, 0], "the room is remembered once, then unchanged"
    with factory() as session:
        person = session.scalars(select(Person).where(Person.external_id == "o-hot")).one()
        assert person.last_room is not None and person.last_room.name == "幸福社区议事室"


@pytest.mark.usefixtures("rooms")
def test_the_description_step_looks_similar_proposals_up_by_the_room_it_already_shows(
    db_url: str, fake: FakeWeChat, clock: FakeClock
) -> None:
    """Resident: 提议题, 1, a description: the similar look-up reads keyword rows, not the room again."""
    app = create_app(make_settings(db_url, fake.base_url, wechat_message_mode="safe"), clock)
    runtime: Runtime = app.state.runtime
    with TestClient(app) as http:
        wechat = WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
        assert "哪个议事室" in wechat.send_text("o-hot", "提议题").content
        wechat.send_text("o-hot", "1")
        with statements_of(runtime) as seen:
            reply = wechat.send_text("o-hot", "幸福路北段第七根路灯坏了一个多月")
    runtime.close()
    assert "照片" in reply.content
    assert any("FROM proposal_keywords" in s for s in seen), seen
    assert not [s for s in seen if "FROM rooms" in s.split(" RETURNING ")[0]], seen


def test_on_postgresql_only_the_message_path_is_bounded_at_three_seconds(db_url: str, fake: FakeWeChat) -> None:
    """The pipeline's connections open with the 3 s statement and lock timeouts (WeChat's 5 s deadline), so a
    message sends no `set_config` of its own; the connections pages, jobs and migrations use stay unbounded."""
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's timeouts; SQLite's writers wait on busy_timeout and the writer lock")
    runtime = create_app(make_settings(db_url, fake.base_url)).state.runtime
    try:
        with runtime.message_engine.connect() as conn:
            bounds = conn.exec_driver_sql(
                "SELECT current_setting('statement_timeout'), current_setting('lock_timeout')"
            )
            assert bounds.one() == ("3s", "3s")
        with runtime.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT current_setting('statement_timeout')").scalar() == "0"
    finally:
        runtime.close()


@pytest.mark.usefixtures("rooms")
def test_in_plaintext_mode_the_replay_guard_takes_its_nonce_in_the_message_transaction(
    db_url: str, fake: FakeWeChat, clock: FakeClock
) -> None:
    """Resident, on an account in 兼容模式 sending plaintext: 提议题 … 跳过. The URL's (timestamp, nonce) is taken
    by the first statement of the message's own transaction, not in a transaction (and a thread) of its own."""
    app = create_app(make_settings(db_url, fake.base_url, wechat_message_mode="compat"), clock)
    runtime: Runtime = app.state.runtime
    with TestClient(app) as http:
        wechat = WeChatCallbackClient(
            http, token=DEFAULT_WECHAT["token"], encoding_aes_key=None, app_id=DEFAULT_WECHAT["app_id"], clock=clock
        )
        _walk_to_the_photo_step(wechat)
        with statements_of(runtime) as seen:
            reply = wechat.send_text("o-hot", "跳过")
    runtime.close()
    assert "位置" in reply.content
    postgres = runtime.engine.dialect.name == "postgresql"
    expected = [
        "INSERT INTO callback_nonces",
        "UPDATE people SET last_inbound_at=",
        *(["WITH state_write AS"] if postgres else ["UPDATE dialog_states SET", "INSERT INTO processed_messages"]),
    ]
    assert [s.split(" (")[0][: len(e)] for s, e in zip(seen, expected, strict=False)] == expected, seen
    assert len(seen) == len(expected), seen


def test_a_message_whose_handler_asks_for_the_session_but_runs_nothing_is_still_claimed(
    db_url: str, fake: FakeWeChat, clock: FakeClock, factory: sessionmaker[Session]
) -> None:
    """WeChat reports a template send without a msgid: the handler takes `ctx.session` and finds nothing to
    record, so the Session never touches the connection. The message's claim (and the window's stamp of the
    text before it) is committed all the same, and the next message is handled: a transaction that only a
    Session could commit would be rolled back, and the report handled again on WeChat's retry."""
    app = create_app(make_settings(db_url, fake.base_url, wechat_message_mode="safe"), clock)
    runtime: Runtime = app.state.runtime
    with TestClient(app) as http:
        wechat = WeChatCallbackClient(http, clock=clock, **DEFAULT_WECHAT)
        wechat.send_text("o-hot", "你好")
        clock.advance(timedelta(minutes=1))
        assert wechat.send_event("o-hot", "TEMPLATESENDJOBFINISH").content == ""
        clock.advance(timedelta(minutes=1))
        assert "提议题" in wechat.send_text("o-hot", "帮助").content
    runtime.close()
    with factory() as session:
        claims = session.scalars(select(ProcessedMessage.dedup_key).order_by(ProcessedMessage.id)).all()
    assert len(claims) == 3, claims
    assert "templatesendjobfinish" in claims[1].lower(), claims
