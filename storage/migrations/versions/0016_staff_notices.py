"""staff notices: lines waiting for a convenor's next batch, and each convenor's notice mode

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.add_column('people', sa.Column('notice_mode', sa.String(10), nullable=True))
    op.create_table(
        'staff_notices',
        sa.Column('id', ID, primary_key=True),
        sa.Column('person_id', ID, sa.ForeignKey('people.id', ondelete='CASCADE'), nullable=False),
        sa.Column('room_id', ID, sa.ForeignKey('rooms.id', ondelete='CASCADE'), nullable=False),
        sa.Column('line', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_staff_notices_waiting', 'staff_notices', ['sent_at', 'person_id'])


def downgrade() -> None:
    op.drop_index('ix_staff_notices_waiting', table_name='staff_notices')
    op.drop_table('staff_notices')
    with op.batch_alter_table('people') as batch:
        batch.drop_column('notice_mode')
