"""The read rule of ``model.permissions.can_read`` compiled into SQL.

Lists, counts, ``totalCount`` and search filter with this predicate inside the query, so a
LIMIT never counts a row the caller may not see. ``tests/test_permissions.py`` checks that
the predicate and the Python policy agree on every case.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, FromClause, and_, false, or_, true

from pyomero.model.permissions import SYSTEM_GROUP_ID, USER_GROUP_ID, Actor


def readable(
    actor: Actor, table: FromClause, *, context_group: int | None = None
) -> ColumnElement[bool]:
    """A WHERE clause: rows of ``table`` (with ``owner_id``/``group_id``) that ``actor`` may read.

    ``context_group`` is OMERO's ``omero.group``: None or -1 for every group the caller can
    read, otherwise that group only.
    """
    group = table.c.group_id
    owner = table.c.owner_id
    system = group.in_((SYSTEM_GROUP_ID, USER_GROUP_ID))
    if context_group is not None and context_group >= 0:
        if context_group in (SYSTEM_GROUP_ID, USER_GROUP_ID):
            return system
        if actor.is_admin or context_group in actor.readable_groups():
            return or_(group == context_group, system)
        return or_(and_(group == context_group, owner == actor.user_id), system)
    if actor.is_admin:
        return true()
    groups = sorted(actor.readable_groups())
    return or_(group.in_(groups), owner == actor.user_id) if groups else owner == actor.user_id


def nothing() -> ColumnElement[bool]:
    return false()
