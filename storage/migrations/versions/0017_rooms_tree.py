"""rooms form a tree: a room's parent (village under town, the rest under the district)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('rooms') as batch:
        batch.add_column(sa.Column('parent_id', ID, nullable=True))
        batch.create_foreign_key('fk_rooms_parent_id', 'rooms', ['parent_id'], ['id'], ondelete='SET NULL')
        batch.create_index('ix_rooms_parent_id', ['parent_id'])


def downgrade() -> None:
    with op.batch_alter_table('rooms') as batch:
        batch.drop_index('ix_rooms_parent_id')
        batch.drop_constraint('fk_rooms_parent_id', type_='foreignkey')
        batch.drop_column('parent_id')
