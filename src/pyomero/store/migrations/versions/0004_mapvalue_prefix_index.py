"""key-value search: index a bounded prefix of each value

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:00:00.000000

PostgreSQL refuses a B-tree entry over about 2.7 KB, so the index of 0003 on
``(lower(name), lower(value))`` made a value of a few thousand characters impossible to
store. The index now holds ``lower(substr(value, 1, 256))``: at most 256 characters (1 KB
in UTF-8) next to a key of at most 255, so every entry fits. Exact and ``in`` searches
match the prefix through the index and recheck the whole value (``store/search.py``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: Keep in step with ``store/schema.py`` (``MAPVALUE_PREFIX``).
PREFIX = 256


def upgrade() -> None:
    op.drop_index("ix_annotation_mapvalue_lower_name_value", table_name="annotation_mapvalue")
    op.create_index(
        "ix_annotation_mapvalue_lower_name_value_prefix",
        "annotation_mapvalue",
        [sa.text("lower(name)"), sa.text(f"lower(substr(value, 1, {PREFIX}))")],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_annotation_mapvalue_lower_name_value_prefix", table_name="annotation_mapvalue"
    )
    op.create_index(
        "ix_annotation_mapvalue_lower_name_value",
        "annotation_mapvalue",
        [sa.text("lower(name)"), sa.text("lower(value)")],
    )
