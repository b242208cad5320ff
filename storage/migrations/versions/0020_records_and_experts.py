"""members' records and expert routing: attendance marked by the convenor, who made a list suggestion
and who answered a micro-suggestion, the office's star rule, people's expertise tags

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.add_column('people', sa.Column('expertise', sa.String(200), nullable=True))
    op.add_column('session_invitees', sa.Column('present', sa.Boolean(), nullable=True))
    op.add_column('consult_sessions', sa.Column('attendance_marked_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('suggestions') as batch:
        batch.add_column(sa.Column('answered_by_id', ID, nullable=True))
        batch.create_foreign_key(
            'fk_suggestions_answered_by_id', 'people', ['answered_by_id'], ['id'], ondelete='SET NULL'
        )
        batch.create_index('ix_suggestions_answered_by_id', ['answered_by_id'])
    with op.batch_alter_table('list_items') as batch:
        batch.add_column(sa.Column('person_id', ID, nullable=True))
        batch.create_foreign_key('fk_list_items_person_id', 'people', ['person_id'], ['id'], ondelete='SET NULL')
        batch.create_index('ix_list_items_person_id', ['person_id'])
    op.create_table(
        'star_rules',
        sa.Column('stars', sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column('min_attendance', sa.Integer(), nullable=False),
        sa.Column('min_contributions', sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('star_rules')
    with op.batch_alter_table('list_items') as batch:
        batch.drop_index('ix_list_items_person_id')
        batch.drop_constraint('fk_list_items_person_id', type_='foreignkey')
        batch.drop_column('person_id')
    with op.batch_alter_table('suggestions') as batch:
        batch.drop_index('ix_suggestions_answered_by_id')
        batch.drop_constraint('fk_suggestions_answered_by_id', type_='foreignkey')
        batch.drop_column('answered_by_id')
    with op.batch_alter_table('consult_sessions') as batch:
        batch.drop_column('attendance_marked_at')
    with op.batch_alter_table('session_invitees') as batch:
        batch.drop_column('present')
    with op.batch_alter_table('people') as batch:
        batch.drop_column('expertise')
