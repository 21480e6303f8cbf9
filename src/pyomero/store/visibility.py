"""The read rule of ``model.permissions.can_read`` compiled into SQL.

Lists, counts, ``totalCount`` and search filter with this predicate inside the query, so a
LIMIT never counts a row the caller may not see. ``tests/test_permissions.py`` checks that
the predicate and the Python policy agree on every case.

The predicate comes in a few shapes (``Mode``) whose values are bound parameters, so that a
statement built once per shape serves every caller (``readable_clause`` + ``readable_params``);
``readable`` binds them in place for one-off queries.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import ColumnElement, FromClause, and_, or_, true
from sqlalchemy import bindparam as _bindparam

from pyomero.model.permissions import SYSTEM_GROUP_ID, USER_GROUP_ID, Actor

_SYSTEM = (SYSTEM_GROUP_ID, USER_GROUP_ID)


class Mode(enum.Enum):
    EVERYTHING = "everything"  # an admin across all groups
    GROUPS_OR_OWN = "groups-or-own"  # readable groups, plus one's own objects anywhere
    CONTEXT_ALL = "context-all"  # one group, all of it readable
    CONTEXT_OWN = "context-own"  # one group, only one's own objects
    SYSTEM = "system"  # the system or user group as context


def readable_params(actor: Actor, context_group: int | None = None) -> tuple[Mode, dict[str, Any]]:
    """The shape of the predicate for ``actor`` and the values of its parameters."""
    if context_group is not None and context_group >= 0:
        if context_group in _SYSTEM:
            return Mode.SYSTEM, {}
        if actor.is_admin or context_group in actor.readable_groups():
            return Mode.CONTEXT_ALL, {"vis_ctx": context_group}
        return Mode.CONTEXT_OWN, {"vis_ctx": context_group, "vis_user": actor.user_id}
    if actor.is_admin:
        return Mode.EVERYTHING, {}
    groups = sorted(actor.readable_groups())  # never empty: system and user are readable
    return Mode.GROUPS_OR_OWN, {"vis_groups": groups, "vis_user": actor.user_id}


def readable_clause(
    table: FromClause, mode: Mode, values: dict[str, Any] | None = None
) -> ColumnElement[bool]:
    """A WHERE clause of the given shape over ``table`` (with ``owner_id``/``group_id``).

    Its parameters are left unbound unless ``values`` are given.
    """

    def bindparam(name: str, *, expanding: bool = False) -> Any:
        if values is None:
            return _bindparam(name, expanding=expanding)
        return _bindparam(name, values[name], expanding=expanding)

    group = table.c.group_id
    owner = table.c.owner_id
    system = group.in_(_SYSTEM)
    if mode is Mode.EVERYTHING:
        return true()
    if mode is Mode.SYSTEM:
        return system
    if mode is Mode.CONTEXT_ALL:
        return or_(group == bindparam("vis_ctx"), system)
    if mode is Mode.CONTEXT_OWN:
        return or_(and_(group == bindparam("vis_ctx"), owner == bindparam("vis_user")), system)
    return or_(group.in_(bindparam("vis_groups", expanding=True)), owner == bindparam("vis_user"))


def readable(
    actor: Actor, table: FromClause, *, context_group: int | None = None
) -> ColumnElement[bool]:
    """A WHERE clause: rows of ``table`` that ``actor`` may read, with values bound in.

    ``context_group`` is OMERO's ``omero.group``: None or -1 for every group the caller can
    read, otherwise that group only.
    """
    mode, values = readable_params(actor, context_group)
    return readable_clause(table, mode, values)
