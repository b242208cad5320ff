"""clocks in working days: when a proposal's first answer and 审定 are due, the supporter threshold,
when a 微建言's answer is due, and when each goes to the parent room

Revision ID: 0019
Revises: 0017
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rows filed before this revision have no clock (NULL): they are in no 督办 list and no 响应率.


def upgrade() -> None:
    with op.batch_alter_table('proposals') as batch:
        batch.add_column(sa.Column('answer_due_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('first_answered_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('decision_due_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('threshold_reached_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('escalate_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_index('ix_proposals_answer_due_at', ['answer_due_at'])
        batch.create_index('ix_proposals_decision_due_at', ['decision_due_at'])
    with op.batch_alter_table('suggestions') as batch:
        batch.add_column(sa.Column('answer_due_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('escalate_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_index('ix_suggestions_answer_due_at', ['answer_due_at'])


def downgrade() -> None:
    with op.batch_alter_table('suggestions') as batch:
        batch.drop_index('ix_suggestions_answer_due_at')
        batch.drop_column('escalate_at')
        batch.drop_column('answer_due_at')
    with op.batch_alter_table('proposals') as batch:
        batch.drop_index('ix_proposals_decision_due_at')
        batch.drop_index('ix_proposals_answer_due_at')
        batch.drop_column('escalate_at')
        batch.drop_column('threshold_reached_at')
        batch.drop_column('decision_due_at')
        batch.drop_column('first_answered_at')
        batch.drop_column('answer_due_at')
