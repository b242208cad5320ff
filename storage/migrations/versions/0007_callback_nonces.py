"""callback nonces: a plaintext-signed (timestamp, nonce) is taken once per body

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'callback_nonces',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('timestamp', sa.BigInteger(), nullable=False),
        sa.Column('nonce', sa.String(length=64), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('channel', 'timestamp', 'nonce'),
    )
    with op.batch_alter_table('callback_nonces') as batch:
        batch.create_index(batch.f('ix_callback_nonces_seen_at'), ['seen_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('callback_nonces') as batch:
        batch.drop_index(batch.f('ix_callback_nonces_seen_at'))
    op.drop_table('callback_nonces')
