"""open questions with an expiry, kept drafts, and attachments (several photos per item)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

A row of dialog_states used to be either the active dialog or its draft. Now it holds the open
question (status active, until expires_at) and, apart from it, a list of drafts: an old draft row
becomes the one draft of its list.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

states = sa.table(
    'dialog_states',
    sa.column('person_id', sa.Integer()),
    sa.column('dialog', sa.String()),
    sa.column('state', sa.String()),
    sa.column('data', sa.JSON()),
    sa.column('history', sa.JSON()),
    sa.column('status', sa.String()),
    sa.column('updated_at', sa.DateTime(timezone=True)),
    sa.column('drafts', sa.JSON()),
)


def upgrade() -> None:
    with op.batch_alter_table('dialog_states') as batch:
        batch.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('drafts', sa.JSON(), nullable=True))
    conn = op.get_bind()
    for row in conn.execute(sa.select(states).where(states.c.status == 'draft')).mappings().all():
        draft = {
            'dialog': row['dialog'],
            'state': row['state'],
            'data': row['data'] or {},
            'stack': (row['history'] or {}).get('stack', []),
            'saved_at': row['updated_at'].isoformat() if row['updated_at'] is not None else '',
        }
        conn.execute(
            states.update().where(states.c.person_id == row['person_id']).values(status='closed', drafts=[draft])
        )
    conn.execute(states.update().where(states.c.drafts.is_(None)).values(drafts=[]))
    with op.batch_alter_table('dialog_states') as batch:
        batch.alter_column('drafts', existing_type=sa.JSON(), nullable=False)

    op.create_table(
        'attachments',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True),
        sa.Column('proposal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  sa.ForeignKey('proposals.id', ondelete='CASCADE'), nullable=True),
        sa.Column('suggestion_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  sa.ForeignKey('suggestions.id', ondelete='CASCADE'), nullable=True),
        sa.Column('kind', sa.String(10), nullable=False),
        sa.Column('media_id', sa.String(200), nullable=True),
        sa.Column('pic_url', sa.String(500), nullable=True),
        sa.Column('latitude', sa.Float(), nullable=True),
        sa.Column('longitude', sa.Float(), nullable=True),
        sa.Column('label', sa.String(200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_attachments_proposal_id', 'attachments', ['proposal_id'])
    op.create_index('ix_attachments_suggestion_id', 'attachments', ['suggestion_id'])
    # Photos kept on proposals so far become their first attachment.
    proposals = sa.table(
        'proposals',
        sa.column('id', sa.Integer()),
        sa.column('photo_media_id', sa.String()),
        sa.column('photo_url', sa.String()),
        sa.column('created_at', sa.DateTime(timezone=True)),
    )
    attachments = sa.table(
        'attachments',
        sa.column('proposal_id', sa.Integer()),
        sa.column('kind', sa.String()),
        sa.column('media_id', sa.String()),
        sa.column('pic_url', sa.String()),
        sa.column('created_at', sa.DateTime(timezone=True)),
    )
    with_photo = sa.or_(proposals.c.photo_media_id.is_not(None), proposals.c.photo_url.is_not(None))
    rows = conn.execute(sa.select(proposals).where(with_photo)).mappings().all()
    if rows:
        conn.execute(
            attachments.insert(),
            [
                {
                    'proposal_id': r['id'],
                    'kind': 'image',
                    'media_id': r['photo_media_id'],
                    'pic_url': r['photo_url'],
                    'created_at': r['created_at'],
                }
                for r in rows
            ],
        )


def downgrade() -> None:
    op.drop_index('ix_attachments_suggestion_id', table_name='attachments')
    op.drop_index('ix_attachments_proposal_id', table_name='attachments')
    op.drop_table('attachments')
    conn = op.get_bind()
    for row in conn.execute(sa.select(states).where(states.c.status == 'closed')).mappings().all():
        drafts = row['drafts'] or []
        if drafts:
            draft = drafts[0]
            conn.execute(
                states.update()
                .where(states.c.person_id == row['person_id'])
                .values(
                    dialog=draft['dialog'],
                    state=draft['state'],
                    data=draft['data'],
                    history={'stack': draft.get('stack', [])},
                    status='draft',
                )
            )
    with op.batch_alter_table('dialog_states') as batch:
        batch.drop_column('drafts')
        batch.drop_column('expires_at')
