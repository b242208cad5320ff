"""通知设置: the link to the page where an official-account user turns on subscription notifications
(订阅通知), and what they have turned on so far."""

from __future__ import annotations

from bot.context import Ctx
from bot.handlers.registry import Command
from bot.services import subscriptions

STATES = {subscriptions.ACCEPTED: "已开启", subscriptions.REJECTED: "未开启（已拒收）", None: "未开启"}
WECOM = "企业微信里的消息随时都能收到，不需要开启服务通知。"
NOT_OFFERED = "本公众号暂未开通服务通知。您留言后 48 小时内我们都能直接回复您；之后的进展可随时发送「我的」查看。"


def cmd_notifications(ctx: Ctx, _rest: str) -> list[str]:
    """通知设置：开启服务通知，留言 48 小时后也能收到办理结果和会议提醒。"""
    if ctx.person.channel != "wechat":
        return [WECOM]
    templates = ctx.settings.wechat_subscribe_templates
    if not templates:
        return [NOT_OFFERED]
    kinds = subscriptions.kinds_of(ctx.session, person_id=ctx.person_id, templates=templates)
    link = subscriptions.link(
        ctx.settings.public_base_url, ctx.person_id, secret=ctx.settings.secret_key.get_secret_value()
    )
    lines = [
        "议事室的答复常常在您留言 48 小时之后才有。按微信的规定，那时公众号只能通过「服务通知」找到您。",
        *(f"· {subscriptions.KIND_NAMES[kind]}：{STATES.get(answer, '未开启')}" for kind, _t, answer in kinds),
        f"点开这个链接，选择要开启的通知（请在微信里打开）：\n{link}",
        "开启后随时可以在微信「服务通知」里关闭。",
    ]
    return ["\n".join(lines)]


COMMANDS: list[Command] = [
    Command(
        "通知设置",
        ("通知设置", "服务通知", "开启通知", "订阅通知", "开启服务通知"),
        cmd_notifications,
        "开启服务通知，48小时后也能收到答复",
    ),
]
