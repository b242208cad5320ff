"""qr codes (民生码): permanent WeChat QR codes of rooms and proposals, with their scan counts

Revision ID: 0022
Revises: 0017
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0022'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'qr_codes',
        sa.Column('id', ID, primary_key=True),
        sa.Column('scene', sa.String(64), nullable=False, unique=True),
        sa.Column('room_id', ID, sa.ForeignKey('rooms.id', ondelete='CASCADE'), nullable=True),
        sa.Column('proposal_id', ID, sa.ForeignKey('proposals.id', ondelete='CASCADE'), nullable=True),
        sa.Column('ticket', sa.String(200), nullable=False),
        sa.Column('url', sa.String(500), nullable=False),
        sa.Column('image_path', sa.String(500), nullable=False),
        sa.Column('scans', sa.Integer(), nullable=False),
        sa.Column('last_scanned_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_qr_codes_room_id', 'qr_codes', ['room_id'])
    op.create_index('ix_qr_codes_proposal_id', 'qr_codes', ['proposal_id'])


def downgrade() -> None:
    op.drop_index('ix_qr_codes_proposal_id', table_name='qr_codes')
    op.drop_index('ix_qr_codes_room_id', table_name='qr_codes')
    op.drop_table('qr_codes')
