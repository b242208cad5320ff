"""`/wecom`: the WeCom (企业微信) app callback, always encrypted."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.channels.common import ARRIVED, raw_query, read_body, require
from bot.channels.crypto import CryptoError, MessageCrypto
from bot.channels.xml import BadXML, parse_envelope, parse_message, render_text_reply
from bot.runtime import Runtime

log = logging.getLogger(__name__)


def _crypto(rt: Runtime) -> MessageCrypto:
    if rt.wecom_crypto is None:
        raise HTTPException(status_code=404, detail="WeCom is not configured")
    return rt.wecom_crypto


async def verify_url(rt: Runtime, request: Request) -> Response:
    """URL check: verify the signature over the encrypted echostr and answer its plaintext."""
    crypto = _crypto(rt)
    params = raw_query(request)
    signature, timestamp, nonce, echostr = require(params, "msg_signature", "timestamp", "nonce", "echostr")
    if not crypto.verify(signature, timestamp, nonce, echostr):
        raise HTTPException(status_code=403, detail="bad msg_signature")
    rt.freshness.check("wecom", timestamp)
    try:
        plain = crypto.decrypt(echostr)
    except CryptoError:
        raise HTTPException(status_code=400, detail="bad echostr") from None
    return PlainTextResponse(plain)


async def receive(rt: Runtime, request: Request) -> Response:
    crypto = _crypto(rt)
    params = raw_query(request)
    signature, timestamp, nonce = require(params, "msg_signature", "timestamp", "nonce")
    body = await read_body(request, rt.settings.max_body_bytes)
    try:
        envelope = parse_envelope(body)
        if not crypto.verify(signature, timestamp, nonce, envelope["Encrypt"]):
            raise HTTPException(status_code=403, detail="bad msg_signature")
        rt.freshness.check("wecom", timestamp)
        msg = parse_message(crypto.decrypt(envelope["Encrypt"]), "wecom")
    except (BadXML, CryptoError):
        raise HTTPException(status_code=400, detail="malformed message") from None
    reply = await rt.runner.run(msg, since=request.scope.get(ARRIVED))
    if not reply:
        return PlainTextResponse("")
    xml = render_text_reply(msg, reply, rt.clock.now().timestamp())
    return Response(crypto.encrypt(xml, nonce, timestamp), media_type="application/xml")
