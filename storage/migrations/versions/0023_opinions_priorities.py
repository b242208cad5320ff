"""征求意见 rounds (statements, participants, votes) and 排序 rounds (pairs put to residents)

Revision ID: 0023
Revises: 0017
Create Date: 2026-12-07
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'opinion_rounds',
        sa.Column('id', ID, primary_key=True),
        sa.Column('room_id', ID, sa.ForeignKey('rooms.id'), nullable=False),
        sa.Column('session_id', ID, sa.ForeignKey('consult_sessions.id', ondelete='SET NULL'), nullable=True),
        sa.Column('created_by', ID, sa.ForeignKey('people.id', ondelete='SET NULL'), nullable=True),
        sa.Column('created_at', WHEN, nullable=False),
        sa.Column('closed_at', WHEN, nullable=True),
    )
    op.create_index('ix_opinion_rounds_room_id', 'opinion_rounds', ['room_id'])
    op.create_index('ix_opinion_rounds_session_id', 'opinion_rounds', ['session_id'])
    op.create_table(
        'opinion_statements',
        sa.Column('id', ID, primary_key=True),
        sa.Column('round_id', ID, sa.ForeignKey('opinion_rounds.id', ondelete='CASCADE'), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('text', sa.String(200), nullable=False),
        sa.Column('author_id', ID, sa.ForeignKey('people.id', ondelete='SET NULL'), nullable=True),
        sa.Column('status', sa.String(10), nullable=False),
        sa.Column('created_at', WHEN, nullable=False),
        sa.UniqueConstraint('round_id', 'number', name='uq_opinion_statements_round_number'),
    )
    op.create_table(
        'opinion_participants',
        sa.Column('round_id', ID, sa.ForeignKey('opinion_rounds.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('person_id', ID, sa.ForeignKey('people.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('joined_at', WHEN, nullable=False),
        sa.Column('asked_at', WHEN, nullable=True),
    )
    op.create_index('ix_opinion_participants_person_id', 'opinion_participants', ['person_id'])
    op.create_table(
        'opinion_votes',
        sa.Column(
            'statement_id', ID, sa.ForeignKey('opinion_statements.id', ondelete='CASCADE'), primary_key=True
        ),
        sa.Column('person_id', ID, sa.ForeignKey('people.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('round_id', ID, sa.ForeignKey('opinion_rounds.id', ondelete='CASCADE'), nullable=False),
        sa.Column('vote', sa.String(10), nullable=False),
        sa.Column('created_at', WHEN, nullable=False),
    )
    op.create_index('ix_opinion_votes_round_id', 'opinion_votes', ['round_id'])
    op.create_table(
        'priority_rounds',
        sa.Column('id', ID, primary_key=True),
        sa.Column('room_id', ID, sa.ForeignKey('rooms.id'), nullable=False),
        sa.Column('created_by', ID, sa.ForeignKey('people.id', ondelete='SET NULL'), nullable=True),
        sa.Column('created_at', WHEN, nullable=False),
        sa.Column('closed_at', WHEN, nullable=True),
    )
    op.create_index('ix_priority_rounds_room_id', 'priority_rounds', ['room_id'])
    op.create_table(
        'priority_pairs',
        sa.Column('id', ID, primary_key=True),
        sa.Column('round_id', ID, sa.ForeignKey('priority_rounds.id', ondelete='CASCADE'), nullable=False),
        sa.Column('person_id', ID, sa.ForeignKey('people.id', ondelete='CASCADE'), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('first_id', ID, sa.ForeignKey('proposals.id', ondelete='CASCADE'), nullable=False),
        sa.Column('second_id', ID, sa.ForeignKey('proposals.id', ondelete='CASCADE'), nullable=False),
        sa.Column('answer', sa.String(10), nullable=True),
        sa.Column('asked_at', WHEN, nullable=True),
        sa.Column('answered_at', WHEN, nullable=True),
        sa.UniqueConstraint('round_id', 'person_id', 'position', name='uq_priority_pairs_round_person_position'),
    )
    op.create_index('ix_priority_pairs_round_id', 'priority_pairs', ['round_id'])
    op.create_index('ix_priority_pairs_person_id', 'priority_pairs', ['person_id'])


def downgrade() -> None:
    op.drop_table('priority_pairs')
    op.drop_table('priority_rounds')
    op.drop_table('opinion_votes')
    op.drop_table('opinion_participants')
    op.drop_table('opinion_statements')
    op.drop_table('opinion_rounds')
