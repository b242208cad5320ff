"""Events about reaching a person: unfollowing and following again, and WeChat's reports on the template
messages we sent. They change what the outbox does; none of them gets an answer."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.context import Ctx
from bot.services import delivery

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
        if not delivery.record_template_report(ctx.session, person_id=ctx.person.id, report=report):
            log.info("template report for no waiting message (msgid %s, %s)", report.msg_id, report.status[:40])
    return []


EVENTS: dict[str, Callable[[Ctx], list[str]]] = {
    "unsubscribe": on_unfollow,
    "templatesendjobfinish": on_template_report,
}
