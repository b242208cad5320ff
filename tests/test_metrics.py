"""Metrics, and metrics across processes (real processes on PostgreSQL).

In process: callbacks are timed by their answer's status, the backlog is read from the database.

`shangliang serve --workers 2`: whichever worker answers /metrics, it shows what every worker of that
`serve` counted (prometheus_client's multiprocess mode). `shangliang worker` serves its own metrics
(`--metrics-port`): what it sent, its failures by error code. Both show the outbox backlog, read from
the database when scraped.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from bot import cli
from bot.clock import FakeClock
from bot.settings import METRICS_DIR_ENV
from tests.fake_wechat import CUSTOM_SEND_PATH, FakeWeChat
from tests.processes import Processes, app_env, free_port, wait_for
from tests.test_outbox_faults import add_people, queue
from tests.test_scale_out import outbox_settled
from tests.wxclient import DEFAULT_WECHAT, WeChatCallbackClient

CALLBACKS = 30
SCRAPES = 8


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples_of(text: str) -> Samples:
    """A metrics page as {(sample name, labels): value}."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(url: str) -> Samples:
    """One scrape on a connection of its own."""
    with httpx.Client(timeout=5) as http:
        return samples_of(http.get(url).text)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over the samples carrying these labels (0 when there is none)."""
    wanted = set(labels.items())
    return sum(value for (sample, have), value in samples.items() if sample == name and wanted <= have)


def page(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    return samples_of(response.text)


def test_metrics_time_callbacks_by_answer_and_read_the_outbox_backlog(
    client: TestClient, wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """A callback answered and one refused are timed under their status; rows queued show as due, with
    how long the oldest has waited."""
    before = page(client)
    assert wechat.send_text("o-timed", "你好").ok
    stamp = str(int(clock.now().timestamp()))
    refused = client.post(
        "/wechat", params={"signature": "0" * 40, "timestamp": stamp, "nonce": "1"}, content=b"<xml/>"
    )
    assert refused.status_code == 403
    queue(factory, clock, add_people(factory, channel="wechat", names=["o-q1", "o-q2"], inbound=None), {"text": "通知"})
    clock.advance(timedelta(seconds=90))
    after = page(client)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew("shangliang_callback_seconds_count", channel="wechat", status="200") == 1
    assert grew("shangliang_callback_seconds_count", channel="wechat", status="403") == 1
    assert total(after, "shangliang_outbox_backlog", state="due") == 2
    assert total(after, "shangliang_outbox_backlog", state="sending") == 0
    assert total(after, "shangliang_outbox_oldest_due_seconds") == 90


def test_serve_gives_its_workers_a_fresh_metrics_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`serve` runs its workers with an empty directory of its own, removes it when it ends, leaves the
    environment as it was, and first removes directories of `serve` processes that were killed."""
    import uvicorn

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv(METRICS_DIR_ENV, "/somewhere/else")
    gone = _dead_pid()
    orphan = tmp_path / f"shangliang-metrics-{gone}-x1"
    living = tmp_path / f"shangliang-metrics-{os.getpid()}-x2"
    for path in (orphan, living):
        path.mkdir()
        (path / "counter_1.db").write_bytes(b"")
    seen: list[tuple[str, list[str]]] = []

    def run(*_args: object, **_kwargs: object) -> None:
        path = os.environ[METRICS_DIR_ENV]
        seen.append((path, os.listdir(path)))

    monkeypatch.setattr(uvicorn, "run", run)
    assert CliRunner().invoke(cli.app, ["serve", "--workers", "2"]).exit_code == 0
    ((used, contents),) = seen
    assert Path(used).parent == tmp_path and contents == []
    assert not Path(used).exists() and not orphan.exists() and living.exists()
    assert os.environ[METRICS_DIR_ENV] == "/somewhere/else"


def _dead_pid() -> int:
    """The pid of a process that has exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


@pytest.mark.postgres
def test_every_scrape_counts_every_worker_and_the_worker_exports_its_sends(
    db_url: str, factory: sessionmaker[Session], fake: FakeWeChat, processes: Processes
) -> None:
    """30 callbacks on fresh connections to `serve --workers 2`: each of 8 scrapes (fresh connections
    too, so they land on either worker) counts all 30. Six queued messages show as backlog; the worker
    sends five and reports them, and the one WeChat refuses under its error code."""
    env = app_env(db_url, fake.base_url, DB_POOL_SIZE="3")
    (web,) = processes.serve(env, "web", args=("--workers", "2"))
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=web.base_url, timeout=15, limits=no_keepalive) as http:
        client = WeChatCallbackClient(http, **DEFAULT_WECHAT)
        for number in range(CALLBACKS):
            assert client.send_text(f"o-metrics-{number}", "你好").ok
    for _ in range(SCRAPES):
        samples = scrape(f"{web.base_url}/metrics")
        handled = total(samples, "shangliang_messages_total", channel="wechat", kind="text", outcome="handled")
        assert handled == CALLBACKS
        assert total(samples, "shangliang_callback_seconds_count", channel="wechat", status="200") == CALLBACKS

    clock = FakeClock(datetime.now(UTC) - timedelta(seconds=1))
    names = [f"o-out-{i}" for i in range(5)] + ["o-out-gone"]
    queue(factory, clock, add_people(factory, channel="wechat", names=names, inbound=clock.now()), {"text": "通知"})
    for _ in range(3):
        assert total(scrape(f"{web.base_url}/metrics"), "shangliang_outbox_backlog", state="due") == len(names)

    fake.fail_for(CUSTOM_SEND_PATH, lambda body: isinstance(body, dict) and body.get("touser") == "o-out-gone", 40003)
    port = free_port()
    worker = processes.worker("worker", env, "--metrics-port", str(port))
    wait_for(lambda: outbox_settled(factory), "the worker to send the outbox")

    def worker_metrics() -> Samples | None:
        try:
            return scrape(f"http://127.0.0.1:{port}/metrics")
        except httpx.HTTPError:
            return None

    samples = wait_for(worker_metrics, "the worker's metrics")
    assert total(samples, "shangliang_outbox_sent_total", channel="wechat", via="custom") == 5
    assert total(samples, "shangliang_outbox_failures_total", channel="wechat", code="40003") == 1
    assert total(samples, "shangliang_outbox_backlog", state="due") == 0
    assert total(scrape(f"{web.base_url}/metrics"), "shangliang_outbox_backlog", state="due") == 0
    assert worker.alive()
