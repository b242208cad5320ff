"""Similar-proposal search through the keyword index, and the command-line tools."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from bot import cli
from bot.runtime import Runtime
from bot.services import proposals
from bot.services.people import get_or_create
from bot.services.proposals import NewProposal
from bot.services.rooms import create_room
from bot.settings import Settings
from scheduler import jobs
from storage.db import transaction
from storage.models import Invite, Proposal, ProposalKeyword, ProposalStatus, Room, RoomLevel

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TOPICS = ["健身器材损坏", "快递柜太少", "垃圾分类点气味大", "停车位不够", "楼道堆放杂物", "噪音扰民", "下水道堵塞"]


def test_lookup_reads_only_candidates(factory: sessionmaker[Session]) -> None:
    """With hundreds of proposals the lookup loads only the few candidates, never every proposal's text."""
    with transaction(factory) as session:
        home = create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        other = create_room(session, name="青石镇议事室", level=RoomLevel.town)
        person = get_or_create(session, channel="wechat", external_id="o-bulk")
        for i in range(300):
            room = home if i % 2 else other
            proposals.file_proposal(
                session,
                new=NewProposal(
                    room_id=room.id, proposer_id=person.id, description=f"{TOPICS[i % len(TOPICS)]}，第{i}号楼"
                ),
                now=NOW,
            )
        target = proposals.file_proposal(
            session,
            new=NewProposal(room_id=home.id, proposer_id=person.id, description="幸福路北段路灯坏了一个多月，晚上很黑"),
            now=NOW,
        )
        home_id, target_id = home.id, target.id

    loaded: list[int] = []
    with factory() as session:

        @event.listens_for(session, "loaded_as_persistent")
        def _count(_session: Session, instance: object) -> None:
            if isinstance(instance, Proposal):
                loaded.append(instance.id)

        found = proposals.similar_open(session, room_id=home_id, text="幸福路的路灯不亮，晚上走路不安全")
    assert [s.id for s in found] == [target_id]
    assert len(loaded) <= 12


def test_closed_proposals_are_not_offered(factory: sessionmaker[Session]) -> None:
    """A declined proposal drops out of the similar search; its history records who and why."""
    with transaction(factory) as session:
        room = create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        person = get_or_create(session, channel="wechat", external_id="o-x")
        proposal = proposals.file_proposal(
            session,
            new=NewProposal(room_id=room.id, proposer_id=person.id, description="小区健身器材损坏需要维修"),
            now=NOW,
        )
        room_id = room.id
        assert proposals.similar_open(session, room_id=room_id, text="健身器材坏了")
        proposals.change_status(
            session, proposal=proposal, to=ProposalStatus.declined, actor_id=person.id, reason="已由物业维修", now=NOW
        )
    with factory() as session:
        assert proposals.similar_open(session, room_id=room_id, text="健身器材坏了") == []
        history = proposals.history(session, proposal_id=proposal.id)
        assert [(h.to_status, h.reason) for h in history][-1] == ("declined", "已由物业维修")


def test_same_problem_at_the_same_place_first_and_a_place_alone_never(factory: sessionmaker[Session]) -> None:
    """3号楼路灯坏了 is offered the lamp proposals, 3号楼's first, never 3号楼垃圾桶太少."""
    with transaction(factory) as session:
        room = create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        person = get_or_create(session, channel="wechat", external_id="o-lamp")
        filed = {
            text: proposals.file_proposal(
                session, new=NewProposal(room_id=room.id, proposer_id=person.id, description=text), now=NOW
            ).id
            for text in ["3号楼垃圾桶太少，每天都满", "三号楼门前晚上照明太暗", "5号楼的路灯不亮", "3号楼楼道堆满杂物"]
        }
        room_id = room.id
    with factory() as session:
        found = proposals.similar_open(session, room_id=room_id, text="3号楼路灯坏了")
        assert [s.id for s in found] == [filed["三号楼门前晚上照明太暗"], filed["5号楼的路灯不亮"]]
        assert proposals.similar_open(session, room_id=room_id, text="3号楼单元门的门禁坏了") == []


def test_a_room_full_of_the_same_complaint_ranks_only_the_newest(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thousand open 路灯 proposals in one room: the look-up ranks the newest SIMILAR_CANDIDATES of
    them (bounded work per 提议题), so an older, better match is not offered, a newer one is."""
    monkeypatch.setattr(proposals, "SIMILAR_CANDIDATES", 3)
    with transaction(factory) as session:
        room = create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        person = get_or_create(session, channel="wechat", external_id="o-many")
        texts = ["3号楼路灯坏了", "5号楼路灯不亮", "7号楼路灯坏了", "9号楼路灯坏了", "11号楼路灯坏了"]
        ids = [
            proposals.file_proposal(
                session, new=NewProposal(room_id=room.id, proposer_id=person.id, description=t), now=NOW
            ).id
            for t in texts
        ]
        room_id = room.id
    with factory() as session:
        found = [s.id for s in proposals.similar_open(session, room_id=room_id, text="3号楼路灯坏了")]
    assert ids[0] not in found  # the same place, but fourth-newest: not ranked
    assert set(found) == set(ids[2:])


@pytest.fixture
def cli_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    return settings


@pytest.mark.usefixtures("cli_settings")
def test_room_add_invite_and_demo(factory: sessionmaker[Session]) -> None:
    """`room add` creates a room, `invite` prints a one-time code, `demo` seeds only an empty database."""
    runner = CliRunner()
    result = runner.invoke(cli.app, ["demo"])
    assert result.exit_code == 0 and "已写入演示数据" in result.output
    assert "未写入" in runner.invoke(cli.app, ["demo"]).output
    result = runner.invoke(cli.app, ["room", "add", "东湖村议事室", "--level", "village"])
    assert result.exit_code == 0 and "东湖村议事室" in result.output
    result = runner.invoke(cli.app, ["invite", "东湖村", "--role", "convenor"])
    assert result.exit_code == 0, result.output
    code = result.stdout.strip().splitlines()[0]
    with factory() as session:
        invite = session.scalars(select(Invite).where(Invite.code == code)).one()
        assert invite.role == "convenor" and invite.used_at is None
        assert session.get(Room, invite.room_id).name == "东湖村议事室"  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(Proposal)) == 4
    assert runner.invoke(cli.app, ["invite", "不存在的议事室"]).exit_code != 0


def test_metrics_and_health(client: object) -> None:
    """/healthz answers ok and /metrics speaks the Prometheus text format with our counters."""
    from fastapi.testclient import TestClient

    assert isinstance(client, TestClient)
    assert client.get("/healthz").json() == {"status": "ok"}
    body = client.get("/metrics").text
    assert "shangliang_messages_total" in body


@pytest.mark.usefixtures("cli_settings")
def test_reindex_recomputes_categories_and_keywords(factory: sessionmaker[Session]) -> None:
    """Proposals filed under the old rules (raw jieba tags, raw keyword rows) are compared and counted anew."""
    with transaction(factory) as session:
        room = create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        person = get_or_create(session, channel="wechat", external_id="o-old")
        old = proposals.file_proposal(
            session, new=NewProposal(room_id=room.id, proposer_id=person.id, description="3号楼路灯坏了"), now=NOW
        )
        closed = proposals.file_proposal(
            session, new=NewProposal(room_id=room.id, proposer_id=person.id, description="路灯太暗"), now=NOW
        )
        proposals.change_status(
            session, proposal=closed, to=ProposalStatus.answered, actor_id=person.id, reason="已修", now=NOW
        )
        # As the old code left them.
        session.execute(delete(ProposalKeyword))
        session.add_all(
            [
                ProposalKeyword(proposal_id=old.id, keyword=w, room_id=room.id, weight=1.0, is_open=True)
                for w in ("号楼", "路灯")
            ]
            + [ProposalKeyword(proposal_id=closed.id, keyword="路灯", room_id=room.id, weight=1.0, is_open=False)]
        )
        old.tags = closed.tags = "号楼 路灯"
        ids = (room.id, old.id, closed.id)

    result = CliRunner().invoke(cli.app, ["reindex"])
    assert result.exit_code == 0 and "已重新计算 2 条提议" in result.output, result.output

    room_id, old_id, closed_id = ids
    with factory() as session:
        assert {p.tags for p in session.scalars(select(Proposal))} == {"公共设施"}
        rows = session.execute(select(ProposalKeyword.proposal_id, ProposalKeyword.keyword, ProposalKeyword.is_open))
        assert set(rows) == {(old_id, "#路灯", True), (old_id, "@3号楼", True), (closed_id, "#路灯", False)}
        found = proposals.similar_open(session, room_id=room_id, text="三号楼照明不行")
        assert [s.id for s in found] == [old_id]


def test_proposals_indexed_under_older_rules_are_brought_up_to_date_in_the_background(
    runtime: Runtime, factory: sessionmaker[Session]
) -> None:
    """After an upgrade that changes the keyword rules (INDEX_RULES 2: the request everyone ends with is no
    longer a keyword), the proposals stored before it are reindexed by the scheduler's job, with no one
    running `shangliang reindex`; a proposal filed now is already current and costs the job nothing."""
    with transaction(factory) as session:
        room = create_room(session, name="幸福社区议事室", level=RoomLevel.village)
        person = get_or_create(session, channel="wechat", external_id="o-upgrade")
        old = proposals.file_proposal(
            session,
            new=NewProposal(room_id=room.id, proposer_id=person.id, description="旗杆歪了，请议事室帮忙协调一下"),
            now=NOW,
        )
        new = proposals.file_proposal(
            session,
            new=NewProposal(room_id=room.id, proposer_id=person.id, description="花坛的石头松动了"),
            now=NOW,
        )
        assert new.index_version == proposals.INDEX_RULES
        # As the rules before version 2 left it.
        old.index_version = 1
        session.add_all(
            ProposalKeyword(proposal_id=old.id, keyword=word, room_id=room.id, weight=0.6, is_open=True)
            for word in ("帮忙", "协调")
        )
        old_id, new_id = old.id, new.id

    jobs.bind(runtime)
    assert jobs.reindex_stale() == 1
    assert jobs.reindex_stale() == 0
    with factory() as session:
        versions = dict(session.execute(select(Proposal.id, Proposal.index_version)).all())
        assert versions == {old_id: proposals.INDEX_RULES, new_id: proposals.INDEX_RULES}
        rows = session.execute(
            select(ProposalKeyword.keyword, ProposalKeyword.weight).where(ProposalKeyword.proposal_id == old_id)
        ).all()
        assert sorted(rows) == sorted(proposals.indexed("旗杆歪了，请议事室帮忙协调一下", "幸福社区议事室").keywords)
        assert not {"帮忙", "协调"} & {keyword for keyword, _ in rows}
