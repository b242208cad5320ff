"""Personal data seen in full by the office: a proposal's phone number (显示电话, to call the resident
back) and unmasked exports. Each is read only through here, which records who saw it and when in the
same transaction (`access_audit`, read-only in the admin)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bot.services.privacy import Sealer
from storage.models import AccessAudit, AdminUser, Proposal

VIEW_PHONE = "view_phone"
EXPORT_UNMASKED = "export_unmasked"
ACTION_NAMES = {VIEW_PHONE: "查看联系电话", EXPORT_UNMASKED: "未脱敏导出"}


def record(
    session: Session,
    *,
    admin_user_id: int,
    action: str,
    now: datetime,
    proposal_id: int | None = None,
    detail: str | None = None,
) -> AccessAudit:
    user = session.get(AdminUser, admin_user_id)
    row = AccessAudit(
        admin_user_id=admin_user_id,
        admin_username=user.username if user is not None else f"#{admin_user_id}",
        action=action,
        proposal_id=proposal_id,
        detail=detail,
        created_at=now,
    )
    session.add(row)
    return row


def reveal_phone(
    session: Session, *, proposal: Proposal, admin_user_id: int, sealer: Sealer, now: datetime
) -> str | None:
    """The proposal's full phone number, recorded as seen by this administrator; None when it has none."""
    phone = sealer.unseal(proposal.phone_cipher) if proposal.phone_cipher else None
    if phone is None:
        return None
    record(session, admin_user_id=admin_user_id, action=VIEW_PHONE, proposal_id=proposal.id, now=now)
    return phone


def unmasked_export(session: Session, *, name: str, admin_user_id: int, now: datetime) -> None:
    """Record an unmasked export of workbook `name` (before it is built and handed over)."""
    record(session, admin_user_id=admin_user_id, action=EXPORT_UNMASKED, detail=name, now=now)
