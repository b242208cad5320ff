"""Roles and their Chinese names, in one place, keyed by the model's enum.

Roles are per room and come only from invite codes (SPEC §2). Commands name the roles they need
with the groups below; the dispatcher checks them, once, before a handler runs.
"""

from __future__ import annotations

from storage.models import Role

ROLE_NAMES: dict[str, str] = {Role.member: "委员", Role.representative: "群众代表", Role.convenor: "召集人"}
# A session's invitees may also be named guests (另加 名字), who hold no role in the room.
GUEST = "guest"
INVITEE_NAMES: dict[str, str] = {**ROLE_NAMES, GUEST: "特邀"}

CONVENORS: frozenset[Role] = frozenset({Role.convenor})
INVITED: frozenset[Role] = frozenset({Role.member, Role.representative})  # usually invited to sessions

# What people type for each role when a convenor issues an invite (邀请 委员), in ROLE_ORDER.
ROLE_ORDER: tuple[Role, ...] = (Role.member, Role.representative, Role.convenor)
ROLE_WORDS: tuple[tuple[str, ...], ...] = (
    ("委员", "政协委员", "特邀议事员", "议事员", "member"),
    ("代表", "群众代表", "居民代表", "representative"),
    ("召集人", "共同召集人", "convenor"),
)


def role_name(role: str) -> str:
    """委员 for member; unknown values as they are."""
    return INVITEE_NAMES.get(role, role)
