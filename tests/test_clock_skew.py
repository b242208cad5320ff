"""A server clock off by more than SIGNATURE_MAX_AGE turns every callback into a 403. That is said
where an operator looks: a log line with the measured skew (at most once a minute), a metric, and
/healthz, until a callback passes again."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from bot.clock import FakeClock
from tests.wxclient import DEFAULT_WECHAT, DEFAULT_WECOM, WeChatCallbackClient, WeComCallbackClient, build_text

OPENID = "oXyZ12345abcdeFGHIJ-klmno_pq"


def lagging(clock: FakeClock, seconds: int) -> FakeClock:
    """WeChat's clock, `seconds` behind ours."""
    return FakeClock(clock.now() - timedelta(seconds=seconds))


def refused_count(client: TestClient, channel: str) -> float:
    wanted = f'shangliang_callbacks_refused_total{{channel="{channel}",reason="stale_timestamp"}} '
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(wanted):
            return float(line.removeprefix(wanted))
    return 0.0


def test_stale_callbacks_are_refused_and_the_skew_is_reported(
    client: TestClient, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    before = refused_count(client, "wechat")
    wechat = WeChatCallbackClient(client, clock=lagging(clock, 412), **DEFAULT_WECHAT)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert (
                wechat.post_xml(build_text(OPENID, wechat.to_user, "你好", create_time=wechat.now())).status_code == 403
            )
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["clock_skew_seconds"] == 412
    assert "时钟" in health.json()["warning"]
    lines = [r.getMessage() for r in caplog.records if "skew" in r.getMessage()]
    assert len(lines) == 1, lines  # three refusals within a minute: one line
    assert "412" in lines[0] and "SIGNATURE_MAX_AGE=300" in lines[0] and OPENID not in lines[0]
    assert refused_count(client, "wechat") == before + 3


def test_one_line_a_minute_and_the_report_clears_once_a_callback_passes(
    client: TestClient, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    wecom = WeComCallbackClient(client, clock=lagging(clock, 0), **DEFAULT_WECOM)
    ahead = WeComCallbackClient(client, clock=FakeClock(clock.now() + timedelta(seconds=900)), **DEFAULT_WECOM)
    with caplog.at_level(logging.WARNING):
        assert ahead.post_xml(build_text("zhangsan", ahead.to_user, "你好", create_time=ahead.now())).status_code == 403
        clock.advance(timedelta(seconds=30))
        assert ahead.post_xml(build_text("zhangsan", ahead.to_user, "你好", create_time=ahead.now())).status_code == 403
        clock.advance(timedelta(seconds=31))
        assert ahead.post_xml(build_text("zhangsan", ahead.to_user, "你好", create_time=ahead.now())).status_code == 403
    assert len([r for r in caplog.records if "skew" in r.getMessage()]) == 2
    assert client.get("/healthz").json()["clock_skew_seconds"] == -839  # WeChat's clock ahead of ours
    wecom.clock = clock  # WeChat's clock and ours agree again
    assert wecom.send_text("zhangsan", "你好").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}
