"""The live page a convenor puts on the room's screen: /live/<session>."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
