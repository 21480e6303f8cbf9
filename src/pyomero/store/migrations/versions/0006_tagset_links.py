"""tag set membership: annotationannotationlink

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00.000000

OMERO keeps the tags of a tag set as AnnotationAnnotationLinks (parent the set, child the
tag). The table has the shape of every other link table: details, a unique (parent, child)
pair, and both ends cascading when an annotation is deleted.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TABLE = "annotationannotationlink"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("parent", _ID, nullable=False),
        sa.Column("child", _ID, nullable=False),
        sa.Column("owner_id", _ID, nullable=False),
        sa.Column("group_id", _ID, nullable=False),
        sa.Column("creation_event_id", _ID, nullable=False),
        sa.Column("update_event_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["child"],
            ["annotation.id"],
            name=op.f(f"fk_{_TABLE}_child_annotation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["creation_event_id"], ["event.id"], name=op.f(f"fk_{_TABLE}_creation_event_id_event")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["experimentergroup.id"],
            name=op.f(f"fk_{_TABLE}_group_id_experimentergroup"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["experimenter.id"], name=op.f(f"fk_{_TABLE}_owner_id_experimenter")
        ),
        sa.ForeignKeyConstraint(
            ["parent"],
            ["annotation.id"],
            name=op.f(f"fk_{_TABLE}_parent_annotation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["update_event_id"], ["event.id"], name=op.f(f"fk_{_TABLE}_update_event_id_event")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{_TABLE}")),
        sa.UniqueConstraint("parent", "child", name=f"uq_{_TABLE}_parent_child"),
    )
    with op.batch_alter_table(_TABLE, schema=None) as batch_op:
        batch_op.create_index(f"ix_{_TABLE}_child", ["child"], unique=False)
        batch_op.create_index(f"ix_{_TABLE}_group_owner", ["group_id", "owner_id"], unique=False)
        batch_op.create_index(f"ix_{_TABLE}_owner", ["owner_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table(_TABLE, schema=None) as batch_op:
        batch_op.drop_index(f"ix_{_TABLE}_owner")
        batch_op.drop_index(f"ix_{_TABLE}_group_owner")
        batch_op.drop_index(f"ix_{_TABLE}_child")
    op.drop_table(_TABLE)
