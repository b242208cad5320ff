"""the similar look-up's candidate search answered from the index alone

The room-and-keyword index also holds `is_open` and `proposal_id`: the look-up's search for open
proposals sharing a term no longer visits a table row per match (SQLite: 0.65 to 0.13 ms with 800
proposals in a room; bench/README.md, issue 12).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0025'
down_revision: str | None = '0024'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = 'ix_proposal_keywords_room_keyword'
NEW = 'ix_proposal_keywords_room_keyword_open'


def upgrade() -> None:
    op.create_index(NEW, 'proposal_keywords', ['room_id', 'keyword', 'is_open', 'proposal_id'])
    op.drop_index(OLD, table_name='proposal_keywords')


def downgrade() -> None:
    op.create_index(OLD, 'proposal_keywords', ['room_id', 'keyword'])
    op.drop_index(NEW, table_name='proposal_keywords')
