"""sessions keep why and when they were cancelled

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-10

取消会议 asks the convenor for a reason, sent to the invitees and shown in the admin and the export.
Whether a session was held is derived from its end time (bot/services/session_status.py), so no
status value is added.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('consult_sessions') as batch:
        batch.add_column(sa.Column('cancel_reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('consult_sessions') as batch:
        batch.drop_column('cancelled_at')
        batch.drop_column('cancel_reason')
