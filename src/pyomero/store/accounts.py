"""Experimenters, groups, memberships, sessions and events in SQL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select, text, update

from pyomero.errors import Conflict, NotFound
from pyomero.model.entities import Experimenter, ExperimenterGroup, Membership
from pyomero.model.permissions import SYSTEM_GROUP_ID, Actor, GroupLevel
from pyomero.store.db import inserted_id
from pyomero.store.schema import (
    event,
    experimenter,
    experimentergroup,
    groupexperimentermap,
    session,
)


def _mapping(row: Row | Mapping[str, Any]) -> Mapping[str, Any]:
    return row._mapping if isinstance(row, Row) else row  # type: ignore[return-value]


def experimenter_from_row(row: Row | Mapping[str, Any]) -> Experimenter:
    row = _mapping(row)
    return Experimenter(
        id=row["id"],
        omename=row["omename"],
        first_name=row["firstname"],
        last_name=row["lastname"],
        middle_name=row["middlename"],
        email=row["email"],
        institution=row["institution"],
        ldap=row["ldap"],
    )


def group_from_row(row: Row | Mapping[str, Any]) -> ExperimenterGroup:
    row = _mapping(row)
    return ExperimenterGroup(
        id=row["id"],
        name=row["name"],
        level=GroupLevel(row["permissions"]),
        description=row["description"],
        ldap=row["ldap"],
    )


def insert_group(
    conn: Connection,
    *,
    name: str,
    level: GroupLevel,
    description: str | None = None,
    group_id: int | None = None,
) -> int:
    if (
        conn.scalar(select(experimentergroup.c.id).where(experimentergroup.c.name == name))
        is not None
    ):
        raise Conflict(f"group {name!r} already exists")
    values: dict[str, Any] = {
        "name": name,
        "permissions": level.value,
        "description": description,
        "ldap": False,
    }
    if group_id is not None:
        values["id"] = group_id
    return inserted_id(conn.execute(insert(experimentergroup).values(**values)))


def insert_experimenter(
    conn: Connection,
    *,
    omename: str,
    first_name: str,
    last_name: str,
    password_hash: str | None,
    email: str = "",
    institution: str | None = None,
    middle_name: str = "",
    user_id: int | None = None,
) -> int:
    if conn.scalar(select(experimenter.c.id).where(experimenter.c.omename == omename)) is not None:
        raise Conflict(f"user {omename!r} already exists")
    values: dict[str, Any] = {
        "omename": omename,
        "firstname": first_name,
        "lastname": last_name,
        "middlename": middle_name,
        "email": email,
        "institution": institution,
        "ldap": False,
        "password_hash": password_hash,
    }
    if user_id is not None:
        values["id"] = user_id
    return inserted_id(conn.execute(insert(experimenter).values(**values)))


def sync_sequences(conn: Connection) -> None:
    """After inserting fixed ids (root 0, guest 1...), move PostgreSQL's sequences past them."""
    if conn.dialect.name != "postgresql":
        return
    for table in ("experimenter", "experimentergroup"):
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        )


def add_membership(conn: Connection, *, group_id: int, user_id: int, owner: bool = False) -> None:
    """Add ``user_id`` to ``group_id``; an existing membership only gains ownership if asked."""
    existing = conn.execute(
        select(groupexperimentermap.c.id, groupexperimentermap.c.owner).where(
            groupexperimentermap.c.parent == group_id, groupexperimentermap.c.child == user_id
        )
    ).first()
    if existing is not None:
        if owner and not existing.owner:
            conn.execute(
                update(groupexperimentermap)
                .where(groupexperimentermap.c.id == existing.id)
                .values(owner=True)
            )
        return
    index = conn.scalar(select(func.count()).where(groupexperimentermap.c.child == user_id))
    conn.execute(
        insert(groupexperimentermap).values(
            parent=group_id, child=user_id, owner=owner, child_index=index
        )
    )


def get_experimenter(conn: Connection, user_id: int) -> Experimenter:
    row = conn.execute(select(experimenter).where(experimenter.c.id == user_id)).first()
    if row is None:
        raise NotFound(f"Experimenter {user_id} not found")
    return experimenter_from_row(row)


def find_experimenter(conn: Connection, omename: str) -> Row | None:
    return conn.execute(select(experimenter).where(experimenter.c.omename == omename)).first()


def find_group(conn: Connection, name: str) -> ExperimenterGroup | None:
    row = conn.execute(select(experimentergroup).where(experimentergroup.c.name == name)).first()
    return None if row is None else group_from_row(row)


def get_group(conn: Connection, group_id: int) -> ExperimenterGroup:
    row = conn.execute(select(experimentergroup).where(experimentergroup.c.id == group_id)).first()
    if row is None:
        raise NotFound(f"ExperimenterGroup {group_id} not found")
    return group_from_row(row)


def list_groups(conn: Connection) -> list[ExperimenterGroup]:
    rows = conn.execute(select(experimentergroup).order_by(experimentergroup.c.id))
    return [group_from_row(r) for r in rows]


def list_experimenters(conn: Connection) -> list[Experimenter]:
    rows = conn.execute(select(experimenter).order_by(experimenter.c.id))
    return [experimenter_from_row(r) for r in rows]


def memberships(conn: Connection, *, user_id: int | None = None) -> list[Membership]:
    query = select(groupexperimentermap).order_by(
        groupexperimentermap.c.child, groupexperimentermap.c.child_index
    )
    if user_id is not None:
        query = query.where(groupexperimentermap.c.child == user_id)
    return [Membership(r.parent, r.child, r.owner) for r in conn.execute(query)]


def set_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    conn.execute(
        update(experimenter).where(experimenter.c.id == user_id).values(password_hash=password_hash)
    )


@dataclass(frozen=True)
class SessionRow:
    id: int
    user_id: int
    group_id: int
    last_access: datetime
    time_to_idle: int
    closed: datetime | None


_SESSION_ACTOR = (
    select(
        session.c.id,
        session.c.experimenter_id,
        session.c.group_id,
        session.c.last_access,
        session.c.time_to_idle,
        session.c.closed,
        experimenter.c.omename,
        groupexperimentermap.c.parent,
        groupexperimentermap.c.owner,
        experimentergroup.c.permissions,
    )
    .join(experimenter, experimenter.c.id == session.c.experimenter_id)
    .outerjoin(groupexperimentermap, groupexperimentermap.c.child == session.c.experimenter_id)
    .outerjoin(experimentergroup, experimentergroup.c.id == groupexperimentermap.c.parent)
    .where(session.c.uuid == bindparam("uuid"))
)


def session_actor(conn: Connection, uuid: str) -> tuple[SessionRow, Actor] | None:
    """A session and its caller in one query (it runs on every request)."""
    rows = conn.execute(_SESSION_ACTOR, {"uuid": uuid}).all()
    if not rows:
        return None
    first = rows[0]
    found = SessionRow(
        first.id,
        first.experimenter_id,
        first.group_id,
        first.last_access,
        first.time_to_idle,
        first.closed,
    )
    memberships = [r for r in rows if r.parent is not None]
    return found, _actor(first.experimenter_id, first.omename, found.group_id, memberships)


def _actor(user_id: int, name: str, group_id: int, rows: list[Any]) -> Actor:
    member_of = frozenset(r.parent for r in rows)
    return Actor(
        user_id=user_id,
        user_name=name,
        group_id=group_id,
        is_admin=SYSTEM_GROUP_ID in member_of,
        member_of=member_of,
        leader_of=frozenset(r.parent for r in rows if r.owner),
        group_levels={r.parent: GroupLevel(r.permissions) for r in rows},
    )


def load_actor(conn: Connection, user_id: int, group_id: int) -> Actor:
    """The Actor for ``user_id`` with the session's group and every membership the policy needs."""
    rows = conn.execute(
        select(
            groupexperimentermap.c.parent,
            groupexperimentermap.c.owner,
            experimentergroup.c.permissions,
            experimenter.c.omename,
        )
        .join(experimentergroup, experimentergroup.c.id == groupexperimentermap.c.parent)
        .join(experimenter, experimenter.c.id == groupexperimentermap.c.child)
        .where(groupexperimentermap.c.child == user_id)
    ).all()
    if not rows:
        row = conn.execute(
            select(experimenter.c.omename).where(experimenter.c.id == user_id)
        ).first()
        if row is None:
            raise NotFound(f"Experimenter {user_id} not found")
        name = row.omename
    else:
        name = rows[0].omename
    return _actor(user_id, name, group_id, list(rows))


def default_group_id(conn: Connection, user_id: int) -> int | None:
    """The user's default group: the first membership (``child_index`` 0) that is not ``user``."""
    rows = conn.execute(
        select(groupexperimentermap.c.parent)
        .where(groupexperimentermap.c.child == user_id)
        .order_by(groupexperimentermap.c.child_index)
    ).all()
    for (gid,) in rows:
        if gid != 1:
            return gid
    return rows[0][0] if rows else None


def insert_session(
    conn: Connection,
    *,
    uuid: str,
    user_id: int,
    group_id: int,
    now: datetime,
    time_to_idle: int,
    user_agent: str | None,
) -> int:
    return inserted_id(
        conn.execute(
            insert(session).values(
                uuid=uuid,
                experimenter_id=user_id,
                group_id=group_id,
                started=now,
                last_access=now,
                time_to_idle=time_to_idle,
                user_agent=user_agent,
            )
        )
    )


def touch_session(conn: Connection, session_id: int, now: datetime) -> None:
    conn.execute(update(session).where(session.c.id == session_id).values(last_access=now))


def close_session(conn: Connection, uuid: str, now: datetime) -> None:
    conn.execute(update(session).where(session.c.uuid == uuid).values(closed=now))


def new_event(
    conn: Connection, actor: Actor, *, kind: str, now: datetime, session_id: int | None = None
) -> int:
    """Record one event (OMERO's ``Event``); objects point at it as creation or update event."""
    return inserted_id(
        conn.execute(
            insert(event).values(
                experimenter_id=actor.user_id,
                group_id=actor.group_id,
                session_id=session_id,
                type=kind,
                time=now,
            )
        )
    )


def set_copied_rdef(conn: Connection, session_id: int, text: str | None) -> None:
    """The rendering settings a session copied (webgateway ``copyImgRDef``), as JSON text."""
    conn.execute(update(session).where(session.c.id == session_id).values(copied_rdef=text))


def copied_rdef(conn: Connection, session_id: int) -> str | None:
    return conn.scalar(select(session.c.copied_rdef).where(session.c.id == session_id))
