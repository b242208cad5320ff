"""three lists, result deliveries, live comments, admin users

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table('admin_users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username')
    )
    op.create_table('list_items',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('session_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('unit', sa.String(length=100), nullable=True),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('adopted', sa.Boolean(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_overdue_reminder_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['consult_sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('list_items', schema=None) as batch_op:
        batch_op.create_index('ix_list_items_session_kind', ['session_id', 'kind'], unique=False)

    op.create_table('list_item_links',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('proposal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('suggestion_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['list_items.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['suggestion_id'], ['suggestions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('list_item_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_list_item_links_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_list_item_links_proposal_id'), ['proposal_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_list_item_links_suggestion_id'), ['suggestion_id'], unique=False)

    op.create_table('result_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('person_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('proposal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('suggestion_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rating', sa.String(length=12), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.Column('rated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('followup_asked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('followup_answer', sa.String(length=12), nullable=True),
    sa.Column('followup_reason', sa.Text(), nullable=True),
    sa.Column('followup_answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reopened', sa.Boolean(), nullable=False),
    sa.Column('convenor_reply', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['list_items.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['suggestion_id'], ['suggestions.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('item_id', 'person_id')
    )
    with op.batch_alter_table('result_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_result_deliveries_person_id'), ['person_id'], unique=False)

    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_suggestions_session_id'), ['session_id'], unique=False)
        batch_op.create_foreign_key('fk_suggestions_session_id', 'consult_sessions', ['session_id'], ['id'], ondelete='SET NULL')




def downgrade() -> None:

    with op.batch_alter_table('suggestions', schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint('fk_suggestions_session_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_suggestions_session_id'))
        batch_op.drop_column('answered_at')
        batch_op.drop_column('session_id')

    with op.batch_alter_table('result_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_result_deliveries_person_id'))

    op.drop_table('result_deliveries')
    with op.batch_alter_table('list_item_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_list_item_links_suggestion_id'))
        batch_op.drop_index(batch_op.f('ix_list_item_links_proposal_id'))
        batch_op.drop_index(batch_op.f('ix_list_item_links_item_id'))

    op.drop_table('list_item_links')
    with op.batch_alter_table('list_items', schema=None) as batch_op:
        batch_op.drop_index('ix_list_items_session_kind')

    op.drop_table('list_items')
    op.drop_table('admin_users')

