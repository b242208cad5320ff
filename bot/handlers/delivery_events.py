"""Events about reaching a person: unfollowing and following again, WeChat's reports on the template and
subscription messages we sent, and subscription choices (订阅通知). They change what the outbox does;
none of them gets an answer."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.context import Ctx
from bot.services import delivery, subscriptions

log = logging.getLogger(__name__)

FOLLOWS = frozenset({"subscribe", "subscribe_scan"})  # a follow, also through a QR code with a scene


def on_follow(ctx: Ctx) -> None:
    """关注 (again): the person can be written to; the welcome is the dispatcher's."""
    delivery.mark_followed(ctx.person)


def on_unfollow(ctx: Ctx) -> list[str]:
    ended = delivery.mark_unfollowed(ctx.session, person=ctx.person, now=ctx.now)
    if ended:
        log.info("unfollowed: %d waiting messages ended", ended)
    return []


def on_template_report(ctx: Ctx) -> list[str]:
    for report in ctx.msg.items:
        if not delivery.record_template_report(ctx.session, person_id=ctx.person_id, report=report):
            log.info("template report for no waiting message (msgid %s, %s)", report.msg_id, report.status[:40])
    return []


def on_subscription_choice(ctx: Ctx) -> list[str]:
    """The subscribe popup answered, or a notification refused in WeChat's settings."""
    subscriptions.record_choices(ctx.session, person_id=ctx.person_id, items=ctx.msg.items, now=ctx.now)
    return []


def on_subscription_report(ctx: Ctx) -> list[str]:
    templates = ctx.settings.wechat_subscribe_templates

    def template_of(kind: str, payload: dict[str, object]) -> str:
        chosen = subscriptions.template_for(templates, kind, payload)
        return chosen.template_id if chosen is not None else ""

    for report in ctx.msg.items:
        found = delivery.record_subscription_report(
            ctx.session, person_id=ctx.person_id, report=report, template_of=template_of
        )
        if found is None:
            log.info("subscription report for no waiting message (%s, %s)", report.template_id[:12], report.code)
        if delivery.refused(report):
            subscriptions.take_back(ctx.session, person_id=ctx.person_id, template_id=report.template_id, now=ctx.now)
    return []


EVENTS: dict[str, Callable[[Ctx], list[str]]] = {
    "unsubscribe": on_unfollow,
    "templatesendjobfinish": on_template_report,
    "subscribe_msg_popup_event": on_subscription_choice,
    "subscribe_msg_change_event": on_subscription_choice,
    "subscribe_msg_sent_event": on_subscription_report,
}
