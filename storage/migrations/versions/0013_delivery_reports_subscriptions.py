"""delivery is known: template msgids and final statuses, unfollowed people, subscription consents

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10

outbox.status grows to 12 characters (delivered, unfollowed, undelivered); outbox.msgid keeps what a
template or subscription send answered, which WeChat's delivery report names; people.unfollowed_at
marks who unfollowed the account; subscribe_consents keeps each person's answer per subscription
template (订阅通知).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.alter_column('status', existing_type=sa.String(length=10), type_=sa.String(length=12))
        batch.add_column(sa.Column('msgid', sa.String(length=32), nullable=True))
        batch.create_index('ix_outbox_msgid', ['msgid'], unique=False)
    with op.batch_alter_table('people') as batch:
        batch.add_column(sa.Column('unfollowed_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'subscribe_consents',
        sa.Column('id', ID, nullable=False),
        sa.Column('person_id', ID, sa.ForeignKey('people.id', ondelete='CASCADE'), nullable=False),
        sa.Column('template_id', sa.String(length=128), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('person_id', 'template_id'),
    )


def downgrade() -> None:
    op.drop_table('subscribe_consents')
    with op.batch_alter_table('people') as batch:
        batch.drop_column('unfollowed_at')
    # The statuses a 10-character column cannot hold go back to what the old code knew.
    op.execute("UPDATE outbox SET status = 'sent' WHERE status = 'delivered'")
    op.execute("UPDATE outbox SET status = 'failed' WHERE status IN ('blocked', 'unfollowed', 'undelivered')")
    with op.batch_alter_table('outbox') as batch:
        batch.drop_index('ix_outbox_msgid')
        batch.drop_column('msgid')
        batch.alter_column('status', existing_type=sa.String(length=12), type_=sa.String(length=10))
