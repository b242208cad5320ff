"""a moderated wall: sensitive words kept in the admin; proposals and micro-suggestions shown, held or hidden

Revision ID: 0024
Revises: 0017
Create Date: 2026-12-08
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TABLES = ('proposals', 'suggestions')


def upgrade() -> None:
    op.create_table(
        'sensitive_words',
        sa.Column('id', ID, nullable=False),
        sa.Column('word', sa.String(length=50), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('word'),
    )
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            # Everything already filed was shown before there was a check: it stays shown.
            batch.add_column(sa.Column('visibility', sa.String(length=10), server_default='shown', nullable=False))
            batch.add_column(sa.Column('moderated_by_id', ID, nullable=True))
            batch.add_column(sa.Column('moderated_at', sa.DateTime(timezone=True), nullable=True))
            batch.create_foreign_key(
                f'fk_{table}_moderated_by_id', 'people', ['moderated_by_id'], ['id'], ondelete='SET NULL'
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f'fk_{table}_moderated_by_id', type_='foreignkey')
            batch.drop_column('moderated_at')
            batch.drop_column('moderated_by_id')
            batch.drop_column('visibility')
    op.drop_table('sensitive_words')
