"""a proposal keeps the keyword rules it was indexed under

Proposals indexed under older rules than the code's (bot/services/proposals.py INDEX_RULES) are
brought up to date in the background, a batch at a time, instead of waiting for someone to run
`shangliang reindex`. Every proposal stored before this starts at 0: all are refreshed once.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0026'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('proposals') as batch:
        batch.add_column(sa.Column('index_version', sa.Integer(), server_default='0', nullable=False))
        batch.create_index('ix_proposals_index_version', ['index_version'])


def downgrade() -> None:
    with op.batch_alter_table('proposals') as batch:
        batch.drop_index('ix_proposals_index_version')
        batch.drop_column('index_version')
