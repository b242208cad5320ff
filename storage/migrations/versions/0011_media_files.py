"""photos kept: media_files (the fetch queue and the bytes), attachments.media_file_id

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09

WeChat keeps a resident's photo three days (temporary media). Each photo is now fetched soon after it
arrives and kept in media_files. Photos already attached are queued too: those still within WeChat's
three days are fetched, older ones are recorded as expired.
"""
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'media_files',
        sa.Column('id', ID, primary_key=True),
        sa.Column('channel', sa.String(10), nullable=False),
        sa.Column('media_id', sa.String(200), nullable=False),
        sa.Column('status', sa.String(10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('content_type', sa.String(50), nullable=True),
        sa.Column('size', sa.Integer(), nullable=True),
        sa.Column('content', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint('channel', 'media_id'),
    )
    op.create_index('ix_media_files_status_due', 'media_files', ['status', 'next_attempt_at'])
    op.create_index('ix_media_files_created_at', 'media_files', ['created_at'])
    with op.batch_alter_table('attachments') as batch:
        batch.add_column(sa.Column('media_file_id', ID, nullable=True))
        batch.create_foreign_key(
            'fk_attachments_media_file_id', 'media_files', ['media_file_id'], ['id'], ondelete='SET NULL'
        )
        batch.create_index('ix_attachments_media_file_id', ['media_file_id'])
    _queue_attached_photos()


def _queue_attached_photos() -> None:
    """Every photo already attached by a real person becomes a pending fetch, linked to its attachment."""
    now = datetime.now(UTC)
    conn = op.get_bind()
    sender = sa.text(
        "SELECT a.id, a.media_id, COALESCE(pp.channel, sp.channel), COALESCE(pp.simulated, sp.simulated) "
        "FROM attachments a "
        "LEFT JOIN proposals p ON p.id = a.proposal_id LEFT JOIN people pp ON pp.id = p.proposer_id "
        "LEFT JOIN suggestions s ON s.id = a.suggestion_id LEFT JOIN people sp ON sp.id = s.person_id "
        "WHERE a.kind = 'image' AND a.media_id IS NOT NULL"
    )
    files = sa.table(
        'media_files',
        sa.column('id', ID), sa.column('channel', sa.String), sa.column('media_id', sa.String),
        sa.column('status', sa.String), sa.column('attempts', sa.Integer),
        sa.column('next_attempt_at', sa.DateTime(timezone=True)), sa.column('created_at', sa.DateTime(timezone=True)),
    )
    ids: dict[tuple[str, str], int] = {}
    for attachment_id, media_id, channel, simulated in conn.execute(sender).all():
        if channel is None or simulated:
            continue
        key = (str(channel), str(media_id))
        if key not in ids:
            ids[key] = conn.execute(
                sa.insert(files)
                .values(channel=key[0], media_id=key[1], status='pending', attempts=0, next_attempt_at=now, created_at=now)
                .returning(files.c.id)
            ).scalar_one()
        conn.execute(
            sa.text("UPDATE attachments SET media_file_id = :file WHERE id = :id"), {"file": ids[key], "id": attachment_id}
        )


def downgrade() -> None:
    with op.batch_alter_table('attachments') as batch:
        batch.drop_index('ix_attachments_media_file_id')
        batch.drop_constraint('fk_attachments_media_file_id', type_='foreignkey')
        batch.drop_column('media_file_id')
    op.drop_index('ix_media_files_created_at', table_name='media_files')
    op.drop_index('ix_media_files_status_due', table_name='media_files')
    op.drop_table('media_files')
