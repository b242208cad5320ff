"""sessions, reminders, broadcasts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('broadcasts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('room_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('audience', sa.String(length=20), nullable=False),
    sa.Column('audience_ref', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['people.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('consult_sessions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('room_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('convenor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('materials_url', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('lists_recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('nudges_sent', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['convenor_id'], ['people.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['room_id'], ['rooms.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('consult_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_consult_sessions_room_start', ['room_id', 'starts_at'], unique=False)

    op.create_table('reminder_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('session_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('offset_seconds', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['consult_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id', 'offset_seconds', 'starts_at')
    )
    op.create_table('session_invitees',
    sa.Column('session_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('rsvp', sa.String(length=10), nullable=False),
    sa.Column('rsvp_reason', sa.Text(), nullable=True),
    sa.Column('rsvp_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['consult_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'person_id')
    )
    with op.batch_alter_table('session_invitees', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_invitees_person_id'), ['person_id'], unique=False)

    op.create_table('session_topics',
    sa.Column('session_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('proposal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['consult_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'proposal_id')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('via', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('broadcast_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_broadcast_id'), ['broadcast_id'], unique=False)
        batch_op.create_foreign_key('fk_outbox_broadcast_id', 'broadcasts', ['broadcast_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unsubscribed', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approval_unit', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True))




def downgrade() -> None:

    with op.batch_alter_table('proposals', schema=None) as batch_op:
        batch_op.drop_column('approved_at')
        batch_op.drop_column('approval_unit')

    with op.batch_alter_table('people', schema=None) as batch_op:
        batch_op.drop_column('unsubscribed')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint('fk_outbox_broadcast_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_broadcast_id'))
        batch_op.drop_column('broadcast_id')
        batch_op.drop_column('via')

    op.drop_table('session_topics')
    with op.batch_alter_table('session_invitees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_invitees_person_id'))

    op.drop_table('session_invitees')
    op.drop_table('reminder_deliveries')
    with op.batch_alter_table('consult_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_consult_sessions_room_start')

    op.drop_table('consult_sessions')
    op.drop_table('broadcasts')

