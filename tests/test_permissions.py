"""OMERO's permission policy against the spec, and the SQL read predicate against the policy.

The expected results are written out by hand from spec/service-api.md sections 3.3-3.4 (the
truth table) and spec/omero-json-api.md section 2.9, never computed by the code under test.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, insert, select

from pyomero.model.permissions import (
    GUEST_GROUP_ID,
    GUEST_USER_ID,
    ROOT_USER_ID,
    SYSTEM_GROUP_ID,
    USER_GROUP_ID,
    Action,
    Actor,
    GroupLevel,
    Permissions,
    allowed,
    can_read,
    permissions_for,
)
from pyomero.services.instance import Instance, init_instance
from pyomero.store.accounts import add_membership, insert_experimenter, insert_group, load_actor
from pyomero.store.schema import event, project
from pyomero.store.visibility import readable

# --- 1. The truth table --------------------------------------------------------------------

# Roles, relative to one object in group G owned by OBJECT_OWNER unless the role says "own":
#   owner       a plain member of G who owns the object
#   member      a plain member of G; the object is someone else's
#   leader      an owner ("PI") of G; someone else's object
#   admin       root: member of system, not of G; someone else's object
#   non-member  a user of another (read-write) group only
#   guest       the guest account, even when it is a member of G
#   leader-own  a group owner's own object
#   admin-own   an admin's own object in G
# Y = allowed, N = denied. Columns: read annotate edit delete link chgrp chown.
# Private groups: members cannot see others' data; leaders and admins can, and may edit and
# delete it, but the graph-critical rule forbids them to annotate or link it. chgrp needs
# ownership of the object (or admin), chown leadership of G (or admin).
EXPECTED = """
owner       private        Y Y Y Y Y Y N
owner       read-only      Y Y Y Y Y Y N
owner       read-annotate  Y Y Y Y Y Y N
owner       read-write     Y Y Y Y Y Y N
member      private        N N N N N N N
member      read-only      Y N N N N N N
member      read-annotate  Y Y N N N N N
member      read-write     Y Y Y Y Y N N
leader      private        Y N Y Y N N Y
leader      read-only      Y Y Y Y Y N Y
leader      read-annotate  Y Y Y Y Y N Y
leader      read-write     Y Y Y Y Y N Y
admin       private        Y N Y Y N Y Y
admin       read-only      Y Y Y Y Y Y Y
admin       read-annotate  Y Y Y Y Y Y Y
admin       read-write     Y Y Y Y Y Y Y
non-member  private        N N N N N N N
non-member  read-only      N N N N N N N
non-member  read-annotate  N N N N N N N
non-member  read-write     N N N N N N N
guest       private        N N N N N N N
guest       read-only      Y N N N N N N
guest       read-annotate  Y N N N N N N
guest       read-write     Y N N N N N N
leader-own  private        Y Y Y Y Y Y Y
leader-own  read-only      Y Y Y Y Y Y Y
leader-own  read-annotate  Y Y Y Y Y Y Y
leader-own  read-write     Y Y Y Y Y Y Y
admin-own   private        Y Y Y Y Y Y Y
admin-own   read-only      Y Y Y Y Y Y Y
admin-own   read-annotate  Y Y Y Y Y Y Y
admin-own   read-write     Y Y Y Y Y Y Y
"""

COLUMNS = (
    Action.READ,
    Action.ANNOTATE,
    Action.EDIT,
    Action.DELETE,
    Action.LINK,
    Action.CHGRP,
    Action.CHOWN,
)
G = 5  # the object's group
OTHER_GROUP = 6
OBJECT_OWNER = 10


def _parse_table(text: str) -> dict[tuple[str, GroupLevel], dict[Action, bool]]:
    table: dict[tuple[str, GroupLevel], dict[Action, bool]] = {}
    for line in text.strip().splitlines():
        role, type_name, *cells = line.split()
        assert len(cells) == len(COLUMNS) and set(cells) <= {"Y", "N"}, line
        key = (role, GroupLevel.from_type_name(type_name))
        assert key not in table, line
        table[key] = {action: cell == "Y" for action, cell in zip(COLUMNS, cells, strict=True)}
    return table


TABLE = _parse_table(EXPECTED)
ROLES = sorted({role for role, _ in TABLE}, key=[role for role, _ in TABLE].index)


def test_table_is_complete() -> None:
    assert len(ROLES) == 8
    assert set(TABLE) == set(itertools.product(ROLES, GroupLevel))


def role_actor(role: str, level: GroupLevel) -> tuple[Actor, int]:
    """The actor playing ``role`` for an object in G (at ``level``), and the object's owner."""
    in_g = frozenset({USER_GROUP_ID, G})
    levels = {USER_GROUP_ID: GroupLevel.READ_ONLY, G: level}
    admin = Actor(
        user_id=ROOT_USER_ID,
        user_name="root",
        group_id=SYSTEM_GROUP_ID,
        is_admin=True,
        member_of=frozenset({SYSTEM_GROUP_ID, USER_GROUP_ID}),
        group_levels={SYSTEM_GROUP_ID: GroupLevel.PRIVATE, USER_GROUP_ID: GroupLevel.READ_ONLY},
    )
    leader = Actor(12, "leader", G, member_of=in_g, leader_of=frozenset({G}), group_levels=levels)
    match role:
        case "owner":
            return Actor(
                OBJECT_OWNER, "owner", G, member_of=in_g, group_levels=levels
            ), OBJECT_OWNER
        case "member":
            return Actor(11, "member", G, member_of=in_g, group_levels=levels), OBJECT_OWNER
        case "leader":
            return leader, OBJECT_OWNER
        case "admin":
            return admin, OBJECT_OWNER
        case "non-member":
            other = Actor(
                14,
                "outsider",
                OTHER_GROUP,
                member_of=frozenset({USER_GROUP_ID, OTHER_GROUP}),
                group_levels={
                    USER_GROUP_ID: GroupLevel.READ_ONLY,
                    OTHER_GROUP: GroupLevel.READ_WRITE,
                },
            )
            return other, OBJECT_OWNER
        case "guest":
            guest = Actor(
                GUEST_USER_ID,
                "guest",
                GUEST_GROUP_ID,
                member_of=frozenset({GUEST_GROUP_ID, G}),
                group_levels={GUEST_GROUP_ID: GroupLevel.PRIVATE, G: level},
            )
            return guest, OBJECT_OWNER
        case "leader-own":
            return leader, leader.user_id
        case "admin-own":
            return admin, admin.user_id
    raise AssertionError(role)


CELLS = [
    pytest.param(role, level, action, id=f"{role}-{level.type_name}-{action.value}")
    for role, level in TABLE
    for action in COLUMNS
]


@pytest.mark.parametrize(("role", "level", "action"), CELLS)
def test_allowed(role: str, level: GroupLevel, action: Action) -> None:
    actor, owner_id = role_actor(role, level)
    expected = TABLE[role, level][action]
    assert allowed(actor, action, owner_id=owner_id, group_id=G, level=level) is expected
    if action is Action.READ:
        # Reading across all groups and reading with G as the call context agree here.
        for context in (None, -1, G):
            got = can_read(actor, owner_id=owner_id, group_id=G, context_group=context)
            assert got is expected, context
        # A context naming another group hides every object of G, even from admins.
        assert not can_read(actor, owner_id=owner_id, group_id=G, context_group=OTHER_GROUP)


@pytest.mark.parametrize(
    ("role", "level"),
    [pytest.param(role, level, id=f"{role}-{level.type_name}") for role, level in TABLE],
)
def test_permissions_for(role: str, level: GroupLevel) -> None:
    actor, owner_id = role_actor(role, level)
    row = TABLE[role, level]
    expected = Permissions(
        perm=level.value,
        can_annotate=row[Action.ANNOTATE],
        can_delete=row[Action.DELETE],
        can_edit=row[Action.EDIT],
        can_link=row[Action.LINK],
    )
    assert permissions_for(actor, owner_id=owner_id, group_id=G, level=level) == expected


# perm string and the is* flags of each level (omero-json-api.md 4.2, service-api.md 3.2).
# Columns: userRead userWrite groupRead groupAnnotate groupWrite worldRead worldWrite.
LEVEL_FLAGS = {
    GroupLevel.PRIVATE: ("rw----", "YYNNNNN"),
    GroupLevel.READ_ONLY: ("rwr---", "YYYNNNN"),
    GroupLevel.READ_ANNOTATE: ("rwra--", "YYYYNNN"),
    GroupLevel.READ_WRITE: ("rwrw--", "YYYYYNN"),
}


@pytest.mark.parametrize("level", list(GroupLevel), ids=lambda level: level.type_name)
def test_level_flags(level: GroupLevel) -> None:
    perm, flags = LEVEL_FLAGS[level]
    p = permissions_for(
        role_actor("owner", level)[0], owner_id=OBJECT_OWNER, group_id=G, level=level
    )
    got = (
        p.is_user_read,
        p.is_user_write,
        p.is_group_read,
        p.is_group_annotate,
        p.is_group_write,
        p.is_world_read,
        p.is_world_write,
    )
    assert p.perm == level.value == perm
    assert got == tuple(flag == "Y" for flag in flags)
    assert (level.group_read, level.group_annotate, level.group_write) == got[2:5]


def test_user_group_objects_may_be_annotated_and_linked_by_members() -> None:
    """Step 4's last rule: anyone may annotate or link (not edit) objects of ``user``."""
    actor, _ = role_actor("member", GroupLevel.READ_ONLY)
    level = GroupLevel.READ_ONLY
    got = {
        action: allowed(actor, action, owner_id=ROOT_USER_ID, group_id=USER_GROUP_ID, level=level)
        for action in COLUMNS
    }
    assert got == {
        Action.READ: True,
        Action.ANNOTATE: True,
        Action.EDIT: False,
        Action.DELETE: False,
        Action.LINK: True,
        Action.CHGRP: False,
        Action.CHOWN: False,
    }


# --- 3. CLI group type names ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("private", GroupLevel.PRIVATE),
        ("read-only", GroupLevel.READ_ONLY),
        ("read-annotate", GroupLevel.READ_ANNOTATE),
        ("read-write", GroupLevel.READ_WRITE),
    ],
)
def test_from_type_name(name: str, level: GroupLevel) -> None:
    assert GroupLevel.from_type_name(name) is level
    assert level.type_name == name


@pytest.mark.parametrize(
    "name", ["", "Private", "READ-ONLY", "read_only", "readwrite", "rwra--", " private", "world"]
)
def test_from_type_name_rejects(name: str) -> None:
    with pytest.raises(ValueError, match="unknown group type"):
        GroupLevel.from_type_name(name)


# --- 2. SQL predicate == Python policy ------------------------------------------------------

NOW = datetime(2024, 1, 1, 12, 0, 0)
SEEDED_GROUPS = (SYSTEM_GROUP_ID, USER_GROUP_ID, GUEST_GROUP_ID)


def _insert_event(conn: Connection) -> int:
    values = {"experimenter_id": ROOT_USER_ID, "group_id": SYSTEM_GROUP_ID}
    return conn.execute(
        insert(event).values(**values, type="Internal", time=NOW)
    ).inserted_primary_key[0]


def _insert_project(conn: Connection, *, owner_id: int, group_id: int, event_id: int) -> int:
    return conn.execute(
        insert(project).values(
            name=f"p-{owner_id}-{group_id}",
            owner_id=owner_id,
            group_id=group_id,
            creation_event_id=event_id,
            update_event_id=event_id,
        )
    ).inserted_primary_key[0]


def _new_user(conn: Connection, name: str) -> int:
    uid = insert_experimenter(
        conn, omename=name, first_name=name, last_name="T", password_hash=None
    )
    add_membership(conn, group_id=USER_GROUP_ID, user_id=uid)
    return uid


def _check_agreement(
    conn: Connection,
    actor: Actor,
    objects: dict[int, tuple[int, int]],
    contexts: list[int | None],
) -> None:
    for context in contexts:
        query = select(project.c.id).where(readable(actor, project, context_group=context))
        got = set(conn.scalars(query))
        expected = {
            pid
            for pid, (owner_id, group_id) in objects.items()
            if can_read(actor, owner_id=owner_id, group_id=group_id, context_group=context)
        }
        assert got == expected, (actor, context)


@pytest.fixture
def instance(tmp_path: Path, database_url: str | None) -> Iterator[Instance]:
    inst = init_instance(tmp_path / "instance", root_password="secret", database_url=database_url)
    try:
        yield inst
    finally:
        inst.close()


def test_sql_agrees_with_policy(instance: Instance) -> None:
    with instance.db.write() as conn:
        groups = {
            level: [insert_group(conn, name=f"{level.type_name}-{i}", level=level) for i in (1, 2)]
            for level in GroupLevel
        }
        priv, ro, ra, rw = (groups[level] for level in GroupLevel)
        users = {name: _new_user(conn, name) for name in ("ann", "bob", "cat", "dan", "eve", "fay")}
        # (user, group, owner?) memberships: members, leaders of some groups and not others,
        # a second admin, a user in no group but ``user``, and the guest in a shared group.
        plan = [
            ("ann", priv[0], False),
            ("ann", ro[0], False),
            ("ann", ra[0], False),
            ("ann", rw[0], False),
            ("bob", priv[0], True),
            ("bob", ro[0], False),
            ("bob", rw[1], True),
            ("cat", priv[1], False),
            ("cat", ra[0], True),
            ("cat", ra[1], False),
            ("cat", ro[1], False),
            ("dan", SYSTEM_GROUP_ID, False),
            ("dan", rw[0], False),
            ("eve", priv[0], False),
            ("eve", priv[1], True),
            ("eve", rw[1], False),
        ]
        for name, gid, owner in plan:
            add_membership(conn, group_id=gid, user_id=users[name], owner=owner)
        add_membership(conn, group_id=ro[1], user_id=GUEST_USER_ID)
        event_id = _insert_event(conn)
        all_groups = [*SEEDED_GROUPS, *itertools.chain.from_iterable(groups.values())]
        all_users = [ROOT_USER_ID, GUEST_USER_ID, *users.values()]
        # Every user owns one project in every group, including groups they have left.
        objects = {
            _insert_project(conn, owner_id=uid, group_id=gid, event_id=event_id): (uid, gid)
            for uid in all_users
            for gid in all_groups
        }
    contexts: list[int | None] = [None, -1, *all_groups]
    with instance.db.read() as conn:
        actors = [load_actor(conn, uid, SYSTEM_GROUP_ID) for uid in all_users]
        assert [a.is_admin for a in actors] == [
            True,
            False,
            False,
            False,
            False,
            True,
            False,
            False,
        ]
        for actor in actors:
            _check_agreement(conn, actor, objects, contexts)


# The property test reuses one migrated SQLite instance; each example writes inside a
# transaction that is rolled back, so examples never see each other's rows.


@pytest.fixture(scope="module")
def sqlite_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    inst = init_instance(tmp_path_factory.mktemp("perm") / "instance", root_password="secret")
    try:
        yield inst
    finally:
        inst.close()


ROLE = st.sampled_from(["none", "member", "leader"])
worlds = st.fixed_dictionaries(
    {
        "levels": st.lists(st.sampled_from(list(GroupLevel)), min_size=1, max_size=4),
        "users": st.integers(min_value=1, max_value=4),
        "admins": st.sets(st.integers(min_value=0, max_value=3), max_size=2),
        "roles": st.lists(ROLE, min_size=16, max_size=16),
        "guest_in": st.sets(st.integers(min_value=0, max_value=3), max_size=2),
        # (owner index, group index) with indexes past the new ones naming seeded rows.
        "objects": st.lists(
            st.tuples(st.integers(min_value=0, max_value=5), st.integers(min_value=0, max_value=6)),
            max_size=15,
        ),
    }
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(world=worlds)
def test_sql_agrees_with_policy_property(sqlite_instance: Instance, world: dict) -> None:
    with sqlite_instance.db.engine.connect() as conn:
        transaction = conn.begin()
        try:
            _check_world(conn, world)
        finally:
            transaction.rollback()


def _check_world(conn: Connection, world: dict) -> None:
    gids = [
        insert_group(conn, name=f"g{i}", level=level) for i, level in enumerate(world["levels"])
    ]
    uids = [_new_user(conn, f"u{i}") for i in range(world["users"])]
    for (i, uid), (j, gid) in itertools.product(enumerate(uids), enumerate(gids)):
        role = world["roles"][i * 4 + j]
        if role != "none":
            add_membership(conn, group_id=gid, user_id=uid, owner=role == "leader")
    for i in world["admins"]:
        if i < len(uids):
            add_membership(conn, group_id=SYSTEM_GROUP_ID, user_id=uids[i])
    for j in world["guest_in"]:
        if j < len(gids):
            add_membership(conn, group_id=gids[j], user_id=GUEST_USER_ID)
    owners = [*uids, ROOT_USER_ID, GUEST_USER_ID]
    groups = [*gids, *SEEDED_GROUPS]
    event_id = _insert_event(conn)
    objects: dict[int, tuple[int, int]] = {}
    for owner_index, group_index in world["objects"]:
        owner_id = owners[owner_index % len(owners)]
        group_id = groups[group_index % len(groups)]
        pid = _insert_project(conn, owner_id=owner_id, group_id=group_id, event_id=event_id)
        objects[pid] = (owner_id, group_id)
    contexts: list[int | None] = [None, -1, *groups, max(groups) + 100]
    for uid in owners:
        actor = load_actor(conn, uid, groups[0])
        _check_agreement(conn, actor, objects, contexts)
