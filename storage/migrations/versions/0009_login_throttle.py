"""admin login attempts counted per address and per name, shared by every worker

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'login_throttle',
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_login_throttle_window_start', 'login_throttle', ['window_start'])


def downgrade() -> None:
    op.drop_index('ix_login_throttle_window_start', table_name='login_throttle')
    op.drop_table('login_throttle')
