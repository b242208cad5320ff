"""`/wechat`: the official account's callback, in plaintext or safe (AES) mode."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.channels.common import ARRIVED, raw_query, read_body, require
from bot.channels.crypto import CryptoError, sha1_signature, signature_matches
from bot.channels.replay import refuse_reused_nonce, reused, signed_pair
from bot.channels.xml import BadXML, parse_envelope, parse_message, render_text_reply
from bot.runtime import Runtime
from bot.services.nonces import NonceReused

log = logging.getLogger(__name__)


def _check_plain_signature(rt: Runtime, params: dict[str, str]) -> tuple[str, str]:
    signature, timestamp, nonce = require(params, "signature", "timestamp", "nonce")
    token = rt.settings.wechat_token.get_secret_value()
    if not signature_matches(sha1_signature(token, timestamp, nonce), signature):
        raise HTTPException(status_code=403, detail="bad signature")
    rt.freshness.check("wechat", timestamp)
    return timestamp, nonce


async def verify_url(rt: Runtime, request: Request) -> Response:
    """URL check: answer `echostr` as given once the plain signature holds (safe mode too)."""
    params = raw_query(request)
    timestamp, nonce = _check_plain_signature(rt, params)
    (echostr,) = require(params, "echostr")
    if not rt.settings.wechat_plaintext_refused:
        # The URL check's signature would carry a plaintext message just as well.
        await refuse_reused_nonce(
            rt, channel="wechat", timestamp=timestamp, nonce=nonce, body=b"GET " + echostr.encode()
        )
    return PlainTextResponse(echostr)


async def receive(rt: Runtime, request: Request) -> Response:
    params = raw_query(request)
    timestamp, nonce = _check_plain_signature(rt, params)
    body = await read_body(request, rt.settings.max_body_bytes)
    encrypted = params.get("encrypt_type", "raw").lower() == "aes"
    if not encrypted and rt.settings.wechat_plaintext_refused:
        # The plain signature covers timestamp and nonce only: a captured URL could carry any body.
        raise HTTPException(status_code=403, detail="plaintext messages are refused in safe mode")
    try:
        if encrypted:
            crypto = rt.wechat_crypto
            if crypto is None:
                raise HTTPException(status_code=400, detail="safe mode is not configured")
            envelope = parse_envelope(body)
            if not crypto.verify(params.get("msg_signature"), timestamp, nonce, envelope["Encrypt"]):
                raise HTTPException(status_code=403, detail="bad msg_signature")
            plaintext = crypto.decrypt(envelope["Encrypt"])
            msg = parse_message(plaintext, "wechat")
        else:
            msg = parse_message(body, "wechat")
    except (BadXML, CryptoError):
        raise HTTPException(status_code=400, detail="malformed message") from None
    pair = None
    if not rt.settings.wechat_plaintext_refused:
        # Plaintext is accepted, so this URL's signature (an encrypted message's too) could carry any
        # body: the pair is taken by this body, with the message.
        pair = signed_pair(channel="wechat", timestamp=timestamp, nonce=nonce, body=body)
    try:
        reply = await rt.runner.run(msg, since=request.scope.get(ARRIVED), pair=pair)
    except NonceReused:
        raise reused("wechat") from None
    if not reply:
        return PlainTextResponse("success")
    xml = render_text_reply(msg, reply, rt.clock.now().timestamp())
    if encrypted and rt.wechat_crypto is not None:
        xml = rt.wechat_crypto.encrypt(xml, nonce, timestamp)
    return Response(xml, media_type="application/xml")
