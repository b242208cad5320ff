"""adoption values: list_items.adopted holds adopted | partly | pending | not_adopted instead of a bool

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

Upgrade: true -> adopted, false -> not_adopted, NULL stays NULL.
Downgrade: adopted and partly -> true (something was adopted), not_adopted -> false, pending -> NULL
(no decision yet, as an item recorded without one).

The column is swapped (add, copy, drop, rename) with plain ALTER TABLE statements, never a batch
copy of the table: on SQLite with foreign keys on, dropping the old list_items table in a batch copy
would cascade to list_item_links and result_deliveries and delete every link and rating.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _swap(new_type: sa.types.TypeEngine, old_type: sa.types.TypeEngine, mapping: list[tuple[object, object]]) -> None:
    """Replace list_items.adopted by a column of `new_type`, each (old value, new value) in `mapping` carried over."""
    op.add_column("list_items", sa.Column("adopted_new", new_type, nullable=True))
    items = sa.table("list_items", sa.column("adopted", old_type), sa.column("adopted_new", new_type))
    for old, new in mapping:
        op.execute(items.update().where(items.c.adopted == old).values(adopted_new=new))
    op.drop_column("list_items", "adopted")
    op.alter_column("list_items", "adopted_new", new_column_name="adopted", existing_type=new_type)


def upgrade() -> None:
    _swap(sa.String(length=12), sa.Boolean(), [(sa.true(), "adopted"), (sa.false(), "not_adopted")])


def downgrade() -> None:
    _swap(
        sa.Boolean(),
        sa.String(length=12),
        [("adopted", sa.true()), ("partly", sa.true()), ("not_adopted", sa.false())],
    )
