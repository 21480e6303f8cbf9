"""OMERO's permission policy, in one place.

Every permission decision pyomero makes comes from this module: the read rule of
``OneGroupSecurityFilter``/``AllGroupsSecurityFilter`` and the per-object ``allow`` mask of
``BasicACLVoter`` (spec/service-api.md sections 3.3 and 3.4). ``store/visibility.py``
compiles :func:`can_read` into SQL; a test checks that the two agree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

SYSTEM_GROUP_ID = 0
USER_GROUP_ID = 1
GUEST_GROUP_ID = 2
ROOT_USER_ID = 0
GUEST_USER_ID = 1


class GroupLevel(enum.Enum):
    """The four group permission levels, valued by their OMERO perm string."""

    PRIVATE = "rw----"
    READ_ONLY = "rwr---"
    READ_ANNOTATE = "rwra--"
    READ_WRITE = "rwrw--"

    @classmethod
    def from_type_name(cls, name: str) -> GroupLevel:
        """Parse the CLI names (``private``, ``read-only``, ``read-annotate``, ``read-write``)."""
        try:
            return _TYPE_NAMES[name]
        except KeyError:
            raise ValueError(
                f"unknown group type {name!r}: expected one of {', '.join(_TYPE_NAMES)}"
            ) from None

    @property
    def type_name(self) -> str:
        return next(k for k, v in _TYPE_NAMES.items() if v is self)

    @property
    def group_read(self) -> bool:
        return self.value[2] == "r"

    @property
    def group_annotate(self) -> bool:
        return self.value[3] in "aw"

    @property
    def group_write(self) -> bool:
        return self.value[3] == "w"


_TYPE_NAMES = {
    "private": GroupLevel.PRIVATE,
    "read-only": GroupLevel.READ_ONLY,
    "read-annotate": GroupLevel.READ_ANNOTATE,
    "read-write": GroupLevel.READ_WRITE,
}


class Action(enum.Enum):
    READ = "read"
    ANNOTATE = "annotate"
    EDIT = "edit"
    DELETE = "delete"
    LINK = "link"
    CHGRP = "chgrp"
    CHOWN = "chown"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is calling: the user, the session's group and the memberships the policy needs."""

    user_id: int
    user_name: str
    group_id: int
    is_admin: bool = False
    member_of: frozenset[int] = field(default_factory=frozenset)
    leader_of: frozenset[int] = field(default_factory=frozenset)
    group_levels: dict[int, GroupLevel] = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_guest(self) -> bool:
        return self.user_id == GUEST_USER_ID

    def readable_groups(self) -> frozenset[int]:
        """Groups in which the actor reads every object (not only their own).

        Admins read everything and are not described by this set; see :func:`can_read`.
        """
        open_groups = {
            gid
            for gid in self.member_of
            if (level := self.group_levels.get(gid)) is not None and level.group_read
        }
        return frozenset(open_groups | self.leader_of | {SYSTEM_GROUP_ID, USER_GROUP_ID})


def can_read(
    actor: Actor, *, owner_id: int, group_id: int, context_group: int | None = None
) -> bool:
    """The read rule of OMERO's security filters.

    ``context_group`` is the call context's ``omero.group``: ``None`` or -1 for all groups,
    otherwise only objects of that group are visible at all.
    """
    if context_group is not None and context_group >= 0 and group_id != context_group:
        return group_id in (SYSTEM_GROUP_ID, USER_GROUP_ID)
    if actor.is_admin:
        return True
    if owner_id == actor.user_id:
        return True
    return group_id in actor.readable_groups()


def allowed(
    actor: Actor, action: Action, *, owner_id: int, group_id: int, level: GroupLevel
) -> bool:
    """Whether ``actor`` may perform ``action`` on an object it can read (BasicACLVoter)."""
    if action is Action.READ:
        return can_read(actor, owner_id=owner_id, group_id=group_id)
    if actor.is_guest:
        return False
    owns = owner_id == actor.user_id
    leads = group_id in actor.leader_of
    if action is Action.CHGRP:
        return actor.is_admin or owns
    if action is Action.CHOWN:
        return actor.is_admin or leads
    graph_critical = level is GroupLevel.PRIVATE and (actor.is_admin or leads)
    if graph_critical and not owns and action in (Action.LINK, Action.ANNOTATE):
        return False
    if actor.is_admin or leads or owns:
        return True
    if group_id in (SYSTEM_GROUP_ID, USER_GROUP_ID) and action in (Action.LINK, Action.ANNOTATE):
        return True
    if group_id not in actor.member_of:
        return False
    if action is Action.ANNOTATE:
        return level.group_annotate
    return level.group_write


@dataclass(frozen=True, slots=True)
class Permissions:
    """An object's ``omero:details.permissions`` as seen by one caller."""

    perm: str
    can_annotate: bool
    can_delete: bool
    can_edit: bool
    can_link: bool

    @property
    def is_user_read(self) -> bool:
        return self.perm[0] == "r"

    @property
    def is_user_write(self) -> bool:
        return self.perm[1] == "w"

    @property
    def is_group_read(self) -> bool:
        return self.perm[2] == "r"

    @property
    def is_group_write(self) -> bool:
        return self.perm[3] == "w"

    @property
    def is_group_annotate(self) -> bool:
        return self.perm[3] in "aw"

    @property
    def is_world_read(self) -> bool:
        return self.perm[4] == "r"

    @property
    def is_world_write(self) -> bool:
        return self.perm[5] == "w"


ALL_ALLOWED_RWRWRW = Permissions("rwrwrw", True, True, True, True)


def permissions_for(
    actor: Actor, *, owner_id: int, group_id: int, level: GroupLevel
) -> Permissions:
    """The perm string and the four ``can*`` flags of one object for ``actor``."""

    def ok(action: Action) -> bool:
        return allowed(actor, action, owner_id=owner_id, group_id=group_id, level=level)

    return Permissions(
        perm=level.value,
        can_annotate=ok(Action.ANNOTATE),
        can_delete=ok(Action.DELETE),
        can_edit=ok(Action.EDIT),
        can_link=ok(Action.LINK),
    )
