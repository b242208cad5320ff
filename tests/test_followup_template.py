"""The follow-up question's own template (WECHAT_TEMPLATE_FOLLOWUP), and a bare digit while answers are pending."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.runtime import Runtime
from bot.settings import Settings
from scheduler import followups
from scheduler.outbox import OutboxWorker
from tests.conftest import make_settings
from tests.fake_wechat import FakeWeChat
from tests.test_followup import DAY, PROPOSER, T0, delivery_of, make_world
from tests.wxclient import WeChatCallbackClient, WeComCallbackClient


@pytest.fixture
def settings(db_url: str, fake: FakeWeChat) -> Settings:
    return make_settings(
        db_url, fake.base_url, wechat_template_result="tpl-result", wechat_template_followup="tpl-followup"
    )


def test_question_uses_the_followup_template_and_a_bare_digit_is_no_answer(
    wechat: WeChatCallbackClient,
    wecom: WeComCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    runtime: Runtime,
    outbox_worker: OutboxWorker,
) -> None:
    make_world(factory, clock, wecom, wechat)
    outbox_worker.run_once()
    clock.set(T0 + 30 * DAY)
    assert followups.ask(runtime) == 3
    outbox_worker.run_once()
    # The result went by customer-service message (the proposer had just written); the question, a month
    # later, by the follow-up template.
    assert [t["template_id"] for t in fake.template_sends(PROPOSER)] == ["tpl-followup"]

    # The proposer never rated the result. Neither question offered numbers, so a bare `2` answers
    # neither: it is no rating and no 没解决.
    assert delivery_of(factory, PROPOSER).rating is None
    reply = wechat.send_text(PROPOSER, "2").content
    assert "请说说现在的情况" not in reply and "评价" not in reply
    assert delivery_of(factory, PROPOSER).rating is None
    assert delivery_of(factory, PROPOSER).followup_answer is None
    # The words answer each: 没解决 asks the reason, a rating word rates.
    assert "请说说现在的情况" in wechat.send_text(PROPOSER, "没解决").content
    wechat.send_text(PROPOSER, "取消")
    assert "的评价「基本满意」" in wechat.send_text(PROPOSER, "基本满意").content
    assert delivery_of(factory, PROPOSER).rating == "basically"
