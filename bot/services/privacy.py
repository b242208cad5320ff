"""Personal data: phone numbers are stored encrypted and shown masked; openids are masked in logs."""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography.fernet import Fernet, InvalidToken

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}\d{7,8}$")


def clean_phone(text: str) -> str | None:
    """A Chinese mobile or landline number from what was typed, or None."""
    digits = re.sub(r"[\s\-－—()（）]", "", text)
    if len(digits) > 11:  # +86, 0086 and 86 in front of a mobile number
        digits = digits.removeprefix("+").removeprefix("00").removeprefix("86")
    if _MOBILE.match(digits) or _LANDLINE.match(digits):
        return digits
    return None


def mask_phone(phone: str) -> str:
    """`13812345678` -> `138****5678`."""
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


# Numbers inside free text. A mobile number with an optional +86 / 0086 / 86 in front and a space,
# dash or dot between its 3-4-4 groups; a landline with its area code (0xx or 0xxx, maybe in
# brackets) and a 7- or 8-digit number. Never inside a longer run of digits, so receipt numbers
# (YS-2026-000123), dates and amounts stay as they are.
_SEP = r"[\s\-－—.]?"
_MOBILE_IN_TEXT = re.compile(rf"(?<!\d)(?:(?:\+|00)?86{_SEP})?1[3-9]\d{_SEP}\d{{4}}{_SEP}\d{{4}}(?!\d)")
_LANDLINE_IN_TEXT = re.compile(rf"(?<![\d(（])(?:[(（]0\d{{2,3}}[)）]\s?|0\d{{2,3}}{_SEP})\d{{3,4}}{_SEP}\d{{4}}(?!\d)")


def mask_phones(text: str) -> str:
    """Free text as someone other than its author may read it: `请打13566667777` -> `请打135****7777`."""
    text = _MOBILE_IN_TEXT.sub(lambda m: mask_phone(re.sub(r"\D", "", m.group(0))[-11:]), text)
    return _LANDLINE_IN_TEXT.sub(lambda m: mask_phone(re.sub(r"\D", "", m.group(0))), text)


def mask_id(external_id: str) -> str:
    """An openid or UserID as it may appear in logs: `oAbc…9xyz`."""
    if len(external_id) <= 8:
        return external_id[:2] + "…"
    return f"{external_id[:4]}…{external_id[-4:]}"


class Sealer:
    """Symmetric encryption of personal data at rest, keyed from SECRET_KEY."""

    PREFIX = "enc:"

    def __init__(self, secret: str) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(("shangliang-pii:" + secret).encode()).digest())
        self._fernet = Fernet(key)

    def seal(self, plain: str) -> str:
        return self.PREFIX + self._fernet.encrypt(plain.encode()).decode()

    def unseal(self, sealed: str) -> str | None:
        if not sealed.startswith(self.PREFIX):
            return None
        try:
            return self._fernet.decrypt(sealed[len(self.PREFIX) :].encode()).decode()
        except InvalidToken:
            return None
