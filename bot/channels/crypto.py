"""Callback signatures and message crypto, on wechatpy's AES code.

wechatpy compares signatures with `!=` and lets garbage ciphertext escape as struct/unicode/value
errors; we sign and compare ourselves (constant time) and fold every decryption failure into one
`CryptoError`, so the HTTP edge can answer 400.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct

from bot.channels.wechatpy_parts import PrpCrypto, WeChatException


class CryptoError(Exception):
    """The message could not be verified or decrypted."""


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: sha1 over the sorted, concatenated parts, lowercase hex."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.lower().encode())


class _PrpCrypto(PrpCrypto):
    """wechatpy's AES, with the 16 random bytes that lead each plaintext drawn from `secrets`: wechatpy
    draws them with `random.sample` (not a cryptographic generator), and slowly (3 % of a callback)."""

    def get_random_string(self) -> str:
        return secrets.token_hex(8)


class MessageCrypto:
    """AES-256-CBC crypto for one app: an official account (AppID) or a WeCom corp (CorpID)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=")
        except (binascii.Error, ValueError) as exc:
            raise ValueError("EncodingAESKey is not valid base64") from exc
        if len(key) != 32:
            raise ValueError("EncodingAESKey must be 43 characters (32 bytes once decoded)")
        self.token = token
        self.key = key
        self.receive_id = receive_id
        # Built once: the cipher object is immutable (each call makes its own encryptor/decryptor).
        self._prp = _PrpCrypto(key)

    def sign(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return sha1_signature(self.token, timestamp, nonce, encrypt)

    def verify(self, msg_signature: str | None, timestamp: str, nonce: str, encrypt: str) -> bool:
        return signature_matches(self.sign(timestamp, nonce, encrypt), msg_signature)

    def decrypt(self, encrypt: str) -> str:
        """Decrypt `encrypt` and check it was meant for this app."""
        try:
            return str(self._prp.decrypt(encrypt, self.receive_id))
        except (
            WeChatException,
            struct.error,
            UnicodeDecodeError,
            ValueError,
            binascii.Error,
            IndexError,
            TypeError,
            KeyError,
        ) as exc:
            raise CryptoError(type(exc).__name__) from exc

    def encrypt(self, plaintext: str, nonce: str, timestamp: str) -> str:
        """Encrypt and sign a reply, returning the XML envelope WeChat expects."""
        encrypt = self._prp.encrypt(plaintext, self.receive_id).decode("ascii")
        signature = self.sign(timestamp, nonce, encrypt)
        return (
            f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce><![CDATA[{cdata_safe(nonce)}]]></Nonce></xml>"
        )


def cdata_safe(text: str) -> str:
    """Split `]]>` so text cannot close its CDATA section (wechatpy does not)."""
    return text.replace("]]>", "]]]]><![CDATA[>")
