"""escalations: each hop of a proposal up the room tree (报上级) and its return (退回)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'escalations',
        sa.Column('id', ID, primary_key=True),
        sa.Column('proposal_id', ID, sa.ForeignKey('proposals.id', ondelete='CASCADE'), nullable=False),
        sa.Column('from_room_id', ID, sa.ForeignKey('rooms.id', ondelete='CASCADE'), nullable=False),
        sa.Column('to_room_id', ID, sa.ForeignKey('rooms.id', ondelete='CASCADE'), nullable=False),
        sa.Column('kind', sa.String(12), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('by_id', ID, sa.ForeignKey('people.id', ondelete='SET NULL'), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('return_reason', sa.Text(), nullable=True),
        sa.Column('returned_by_id', ID, sa.ForeignKey('people.id', ondelete='SET NULL'), nullable=True),
    )
    op.create_index('ix_escalations_proposal_id', 'escalations', ['proposal_id'])


def downgrade() -> None:
    op.drop_index('ix_escalations_proposal_id', table_name='escalations')
    op.drop_table('escalations')
