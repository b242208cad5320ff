"""Subscription notifications (订阅通知, issue 11 item 10): the popup and WeChat's notification settings are
recorded per person and template; past the 48-hour window a message goes as a subscription message
(`bizsend`) when the person accepted its kind, as a template otherwise, and with neither it waits in 我的,
counted as undelivered. WeChat's report on a subscription message sets the row's final status."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FakeClock
from bot.settings import Settings, SubscribeTemplate
from scheduler.outbox import OutboxWorker
from scheduler.wechat_delivery import NO_TEMPLATE
from storage.models import OutboxMessage, Person, SubscribeConsent
from tests.conftest import make_settings
from tests.fake_wechat import CUSTOM_SEND_PATH, SUBSCRIBE_SEND_PATH, TEMPLATE_SEND_PATH, FakeWeChat
from tests.helpers import drain
from tests.transcript import person_id
from tests.transcript_givens import World, run_given
from tests.wxclient import Bare, WeChatCallbackClient

SUB_RESULT = "SubResult_0123456789abcdefghijklmnopqrstuvw"  # 43 characters, like a real template id
SUB_REMINDER = "SubReminder_123456789abcdefghijklmnopqrstu"
POPUP = "subscribe_msg_popup_event"
CHANGE = "subscribe_msg_change_event"
SENT = "subscribe_msg_sent_event"
SUBSCRIBE_TEMPLATES = f"result:{SUB_RESULT}:thing1/thing3/phrase5/thing6,reminder:{SUB_REMINDER}"


CONFIGURED = {
    "wechat_template_result": "tpl-result",
    "wechat_template_reminder": "tpl-reminder",
    "wechat_subscribe_templates": SUBSCRIBE_TEMPLATES,
}


@pytest.fixture
def settings(request: pytest.FixtureRequest, db_url: str, fake: FakeWeChat) -> Settings:
    """Templates and subscriptions configured; a test changes them with indirect parametrization."""
    return make_settings(db_url, fake.base_url, **{**CONFIGURED, **getattr(request, "param", {})})


def choice(template_id: str, status: str) -> dict[str, Any]:
    return {"TemplateId": template_id, "SubscribeStatusString": status, "PopupScene": Bare("1")}


def consents(factory: sessionmaker[Session], user: str) -> dict[str, str]:
    with factory() as session:
        rows = session.execute(
            select(SubscribeConsent.template_id, SubscribeConsent.status)
            .join(Person, Person.id == SubscribeConsent.person_id)
            .where(Person.external_id == user)
        ).all()
        return {r.template_id: r.status for r in rows}


def result_for(factory: sessionmaker[Session], clock: FakeClock, *names: str) -> list[str]:
    """A published result waiting for each of `names` (their outbox rows queued); their openids."""
    world = World(factory, clock, "wechat")
    run_given(world, "room", "幸福社区议事室", {})
    for name in names:
        run_given(world, "resident", f"{name} 幸福社区议事室", {})
        run_given(world, "result", f"{name} 路灯已经修好，亮了", {})
    return [person_id("wechat", name) for name in names]


def rows_to(factory: sessionmaker[Session], user: str) -> list[OutboxMessage]:
    with factory() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .join(Person, Person.id == OutboxMessage.person_id)
                .where(Person.external_id == user)
                .order_by(OutboxMessage.id)
            )
        )


# --- settings ----------------------------------------------------------------------------------


def test_subscription_templates_and_the_order_are_read_from_settings(db_url: str) -> None:
    """`kind:template_id[:key/key/…]` per kind; the keys default to thing1…; kinds and routes are checked."""
    read = make_settings(db_url, "http://api.invalid", wechat_subscribe_templates=SUBSCRIBE_TEMPLATES)
    assert read.wechat_subscribe_templates == {
        "result": SubscribeTemplate(SUB_RESULT, ("thing1", "thing3", "phrase5", "thing6")),
        "reminder": SubscribeTemplate(SUB_REMINDER, ("thing1", "thing2")),
    }
    assert read.wechat_delivery_order == ["custom", "subscribe", "template"]
    assert make_settings(db_url, "http://api.invalid").wechat_subscribe_templates == {}
    swapped = make_settings(db_url, "http://api.invalid", wechat_delivery_order="custom, template,subscribe")
    assert swapped.wechat_delivery_order == ["custom", "template", "subscribe"]
    for bad in ("custom,custom", "custom,sms", ""):
        with pytest.raises(ValidationError):
            make_settings(db_url, "http://api.invalid", wechat_delivery_order=bad)
    for bad in ("results:abc", "result", "result:abc:thing1/", "notice:a,notice:b"):
        with pytest.raises(ValidationError):
            make_settings(db_url, "http://api.invalid", wechat_subscribe_templates=bad)


# --- choices ------------------------------------------------------------------------------------


def test_popup_and_settings_choices_are_recorded_per_person_and_template(
    wechat: WeChatCallbackClient, factory: sessionmaker[Session], clock: FakeClock
) -> None:
    """A popup answered (accept / reject per template) and a later reject in WeChat's settings are kept,
    the latest answer per template; none of these events gets an answer."""
    user = "o-chooser"
    assert wechat.subscribe_msg_event(
        user, POPUP, [choice(SUB_RESULT, "accept"), choice(SUB_REMINDER, "reject")]
    ).is_empty
    assert consents(factory, user) == {SUB_RESULT: "accepted", SUB_REMINDER: "rejected"}
    assert wechat.subscribe_msg_event(
        user, CHANGE, [{"TemplateId": SUB_RESULT, "SubscribeStatusString": "reject"}]
    ).is_empty
    assert consents(factory, user) == {SUB_RESULT: "rejected", SUB_REMINDER: "rejected"}
    wechat.subscribe_msg_event(user, POPUP, [choice(SUB_RESULT, "accept")])  # one entry: <List> once
    assert consents(factory, user) == {SUB_RESULT: "accepted", SUB_REMINDER: "rejected"}
    with factory() as session:
        changed = session.scalars(select(SubscribeConsent.changed_at)).all()
        assert set(changed) == {clock.now()}


def test_malformed_subscription_events_are_refused(wechat: WeChatCallbackClient) -> None:
    """More entries than any popup holds, or a template id longer than WeChat makes, is a 400: nothing stored."""
    too_many = [choice(f"tpl{i}", "accept") for i in range(21)]
    assert wechat.post_xml(_popup_xml(wechat, too_many)).status_code == 400
    assert wechat.post_xml(_popup_xml(wechat, [choice("x" * 129, "accept")])).status_code == 400


def _popup_xml(wechat: WeChatCallbackClient, items: list[dict[str, Any]]) -> str:
    from tests.wxclient import build_subscribe_msg_event

    return build_subscribe_msg_event("o-odd", wechat.to_user, POPUP, items, wechat.now())


# --- the fallback order ---------------------------------------------------------------------------


def test_past_48_hours_an_accepted_kind_goes_as_a_subscription_message_else_as_a_template(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """Customer service within 48 hours; past them `bizsend` for someone who accepted results (the template's
    own keys, each value cut to its type's length), the template for whoever did not or took it back."""
    near, accepted, declined, silent = result_for(factory, clock, "近邻", "同意者", "拒绝者", "沉默者")
    wechat.send_text(near, "你好")  # opens the window
    wechat.subscribe_msg_event(near, POPUP, [choice(SUB_RESULT, "accept")])
    wechat.subscribe_msg_event(accepted, POPUP, [choice(SUB_RESULT, "accept")])
    wechat.subscribe_msg_event(declined, POPUP, [choice(SUB_RESULT, "reject")])
    drain(outbox_worker)

    assert [c.json["touser"] for c in fake.calls(CUSTOM_SEND_PATH) if c.json.get("touser") == near] == [near]
    (sub,) = fake.subscription_sends()
    assert sub["touser"] == accepted and sub["template_id"] == SUB_RESULT
    assert list(sub["data"]) == ["thing1", "thing3", "phrase5", "thing6"]
    assert sub["data"]["thing3"]["value"] == "路灯已经修好，亮了"
    assert sub["data"]["phrase5"]["value"] == "已采纳"  # a phrase holds 5 characters
    assert sorted(t["touser"] for t in fake.template_sends()) == sorted([declined, silent])
    assert [(r.via, r.status) for r in rows_to(factory, accepted)] == [("subscribe", "sent")]

    # WeChat's report on the subscription message (bizsend answered no msgid: matched by template).
    report = {
        "TemplateId": SUB_RESULT,
        "MsgID": Bare("1700827132819554304"),
        "ErrorCode": Bare("0"),
        "ErrorStatus": "success",
    }
    assert wechat.subscribe_msg_event(accepted, SENT, [report]).is_empty
    assert [r.status for r in rows_to(factory, accepted)] == ["delivered"]


def test_a_refused_subscription_falls_back_to_the_template_and_is_taken_back(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """`bizsend` answering 43101 (the person withdrew, or a one-time subscription was used up) records the
    consent as rejected and the message goes as a template in the same pass."""
    (user,) = result_for(factory, clock, "变卦者")
    wechat.subscribe_msg_event(user, POPUP, [choice(SUB_RESULT, "accept")])
    fake.fail_for(SUBSCRIBE_SEND_PATH, lambda body: body.get("touser") == user, 43101)
    drain(outbox_worker)
    assert [t["touser"] for t in fake.template_sends()] == [user]
    assert [(r.via, r.status) for r in rows_to(factory, user)] == [("template", "sent")]
    assert consents(factory, user) == {SUB_RESULT: "rejected"}


def test_a_subscription_report_found_by_msgid_and_a_refusal(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """When `bizsend` answers a msgid it is kept and the report is matched by it; a refusal in the report
    marks the row blocked and the consent rejected."""
    fake.answer_subscribe_msgids()
    (user,) = result_for(factory, clock, "同意者")
    wechat.subscribe_msg_event(user, POPUP, [choice(SUB_RESULT, "accept")])
    drain(outbox_worker)
    (call,) = fake.calls(SUBSCRIBE_SEND_PATH)
    msgid = str(call.response["msgid"])  # type: ignore[index]
    (row,) = rows_to(factory, user)
    assert row.msgid == msgid
    report = {
        "TemplateId": SUB_RESULT,
        "MsgID": Bare(msgid),
        "ErrorCode": Bare("43101"),
        "ErrorStatus": "failed: user refuse",
    }
    wechat.subscribe_msg_event(user, SENT, [report])
    (row,) = rows_to(factory, user)
    assert row.status == "blocked" and "43101" in (row.last_error or "")
    assert consents(factory, user) == {SUB_RESULT: "rejected"}


@pytest.mark.parametrize("settings", [{"wechat_delivery_order": "custom,template,subscribe"}], indirect=True)
def test_the_order_setting_puts_templates_before_subscriptions(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """WECHAT_DELIVERY_ORDER=custom,template,subscribe: a template when configured, even for someone who accepted."""
    (user,) = result_for(factory, clock, "同意者")
    wechat.subscribe_msg_event(user, POPUP, [choice(SUB_RESULT, "accept")])
    drain(outbox_worker)
    assert [t["touser"] for t in fake.template_sends()] == [user] and fake.subscription_sends() == []


@pytest.mark.parametrize("settings", [{"wechat_template_result": "", "wechat_template_reminder": ""}], indirect=True)
def test_with_no_way_to_reach_them_the_result_waits_in_mine(
    wechat: WeChatCallbackClient,
    factory: sessionmaker[Session],
    clock: FakeClock,
    fake: FakeWeChat,
    outbox_worker: OutboxWorker,
) -> None:
    """No template and no subscription past 48 hours: the row ends `undelivered` saying why (no API call), and
    the result is in 我的 when the resident next writes."""
    (user,) = result_for(factory, clock, "王阿姨")
    drain(outbox_worker)
    (row,) = rows_to(factory, user)
    assert row.status == "undelivered"
    assert NO_TEMPLATE in (row.last_error or "") and "48小时" in (row.last_error or "")
    assert "未开启「办理结果」服务通知" in (row.last_error or "")
    assert fake.calls(TEMPLATE_SEND_PATH) == [] and fake.calls(SUBSCRIBE_SEND_PATH) == []
    assert "路灯已经修好" in wechat.send_text(user, "我的").content


def test_the_json_push_format_is_read_too(wechat_plain: WeChatCallbackClient, factory: sessionmaker[Session]) -> None:
    """An account pushing JSON puts `List` at the top, a record for one entry and a list for several."""
    import json

    def event(items: Any) -> str:
        return json.dumps(
            {
                "ToUserName": "gh_test",
                "FromUserName": "o-json",
                "CreateTime": wechat_plain.now(),
                "MsgType": "event",
                "Event": CHANGE,
                "List": items,
            },
            ensure_ascii=False,
        )

    assert (
        wechat_plain.post_xml(event({"TemplateId": SUB_RESULT, "SubscribeStatusString": "accept"})).status_code == 200
    )
    assert consents(factory, "o-json") == {SUB_RESULT: "accepted"}
    several = [
        {"TemplateId": SUB_RESULT, "SubscribeStatusString": "reject"},
        {"TemplateId": SUB_REMINDER, "SubscribeStatusString": "accept"},
    ]
    assert wechat_plain.post_xml(event(several)).status_code == 200
    assert consents(factory, "o-json") == {SUB_RESULT: "rejected", SUB_REMINDER: "accepted"}
