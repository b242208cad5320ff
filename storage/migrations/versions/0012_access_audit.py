"""access_audit: who in the office saw a phone number in full or exported unmasked, and when

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'access_audit',
        sa.Column('id', ID, primary_key=True),
        sa.Column('admin_user_id', ID, sa.ForeignKey('admin_users.id', ondelete='SET NULL'), nullable=True),
        sa.Column('admin_username', sa.String(64), nullable=False),
        sa.Column('action', sa.String(20), nullable=False),
        sa.Column('proposal_id', ID, sa.ForeignKey('proposals.id', ondelete='SET NULL'), nullable=True),
        sa.Column('detail', sa.String(200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_access_audit_admin_user_id', 'access_audit', ['admin_user_id'])
    op.create_index('ix_access_audit_proposal_id', 'access_audit', ['proposal_id'])
    op.create_index('ix_access_audit_created_at', 'access_audit', ['created_at'])


def downgrade() -> None:
    op.drop_table('access_audit')
