"""simulated people are a key space of their own

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08

A person was unique by (channel, external_id), so the simulator's `sim-zhang` and a real WeCom user
whose UserID is `sim-zhang` were one row: the simulator could act as the real person, and the real
person's messages were treated as simulated. Now `simulated` is part of the key.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite keeps the old constraint unnamed; batch mode names it by this convention so it can be dropped.
NAMING = {'uq': 'uq_%(table_name)s_%(column_0_N_name)s'}
people = sa.table(
    'people',
    sa.column('id', sa.Integer()),
    sa.column('channel', sa.String()),
    sa.column('external_id', sa.String()),
    sa.column('simulated', sa.Boolean()),
)


def _unique_name(columns: list[str]) -> str:
    for constraint in sa.inspect(op.get_bind()).get_unique_constraints('people'):
        if constraint['column_names'] == columns:
            return constraint['name'] or NAMING['uq'].replace('%(table_name)s', 'people').replace(
                '%(column_0_N_name)s', '_'.join(columns)
            )
    raise RuntimeError(f'people has no unique constraint on {columns}')


def upgrade() -> None:
    old = _unique_name(['channel', 'external_id'])
    with op.batch_alter_table('people', naming_convention=NAMING) as batch:
        batch.drop_constraint(old, type_='unique')
        batch.create_unique_constraint('uq_people_identity', ['channel', 'external_id', 'simulated'])


def downgrade() -> None:
    # A simulated person sharing a real person's id gets an id of its own (`sim:<row id>`) first.
    real = people.alias('real')
    clash = sa.exists().where(
        real.c.channel == people.c.channel,
        real.c.external_id == people.c.external_id,
        real.c.simulated == sa.false(),
    )
    op.get_bind().execute(
        people.update()
        .where(people.c.simulated == sa.true(), clash)
        .values(external_id=sa.literal('sim:') + sa.cast(people.c.id, sa.String()))
    )
    with op.batch_alter_table('people', naming_convention=NAMING) as batch:
        batch.drop_constraint('uq_people_identity', type_='unique')
        batch.create_unique_constraint('people_channel_external_id_key', ['channel', 'external_id'])  # PostgreSQL's name
