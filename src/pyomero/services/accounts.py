"""Users, groups, logins and sessions: the use cases behind `pyomero user/group` and login."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pyomero.errors import Conflict, InvalidInput, LoginFailed, NotFound, NotLoggedIn
from pyomero.model.entities import Experimenter, ExperimenterGroup, Membership
from pyomero.model.permissions import GUEST_USER_ID, USER_GROUP_ID, Actor, GroupLevel
from pyomero.services.instance import Instance
from pyomero.services.passwords import hash_password, verify_password
from pyomero.store import accounts as store

#: A session's last access is written at most this often, so reads stay reads.
TOUCH_INTERVAL = timedelta(seconds=30)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class Context:
    """One caller in one request: the instance, who they are and their session."""

    instance: Instance
    actor: Actor
    session_uuid: str
    session_id: int
    started: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class EventContext:
    session_id: int
    session_uuid: str
    user_id: int
    user_name: str
    group_id: int
    group_name: str
    is_admin: bool
    member_of: list[int]
    leader_of: list[int]


def _check_name(name: str, what: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidInput(f"the {what} name must not be empty", param=what)
    if len(name) > 255:
        raise InvalidInput(f"the {what} name is longer than 255 characters", param=what)
    return name


def add_group(
    instance: Instance, *, name: str, level: GroupLevel, description: str | None = None
) -> ExperimenterGroup:
    name = _check_name(name, "group")
    with instance.db.write() as conn:
        gid = store.insert_group(conn, name=name, level=level, description=description)
        return store.get_group(conn, gid)


def add_user(
    instance: Instance,
    *,
    username: str,
    first_name: str,
    last_name: str,
    groups: list[str],
    password: str,
    admin: bool = False,
    email: str = "",
    institution: str | None = None,
    middle_name: str = "",
) -> Experimenter:
    """Create a user in ``groups`` (the first is the default group) and in ``user``."""
    username = _check_name(username, "user")
    if username == "guest":
        raise Conflict("user 'guest' already exists")
    if not password:
        raise InvalidInput("the password must not be empty", param="password")
    if not groups:
        raise InvalidInput("a user needs at least one group", param="group")
    password_hash = hash_password(password)
    with instance.db.write() as conn:
        group_ids = []
        for group_name in groups:
            group = store.find_group(conn, group_name)
            if group is None:
                raise NotFound(f"group {group_name!r} does not exist")
            if group.name in ("user", "guest"):
                raise InvalidInput(
                    f"group {group_name!r} cannot be a user's chosen group", param="group"
                )
            group_ids.append(group.id)
        uid = store.insert_experimenter(
            conn,
            omename=username,
            first_name=first_name,
            last_name=last_name,
            middle_name=middle_name,
            email=email,
            institution=institution,
            password_hash=password_hash,
        )
        for gid in dict.fromkeys(group_ids):
            store.add_membership(conn, group_id=gid, user_id=uid)
        store.add_membership(conn, group_id=USER_GROUP_ID, user_id=uid)
        if admin:
            store.add_membership(conn, group_id=0, user_id=uid)
        return store.get_experimenter(conn, uid)


def add_to_group(
    instance: Instance, *, group: str, usernames: list[str], owner: bool = False
) -> None:
    with instance.db.write() as conn:
        found = store.find_group(conn, group)
        if found is None:
            raise NotFound(f"group {group!r} does not exist")
        for username in usernames:
            row = store.find_experimenter(conn, username)
            if row is None:
                raise NotFound(f"user {username!r} does not exist")
            store.add_membership(conn, group_id=found.id, user_id=row.id, owner=owner)


def set_password(instance: Instance, *, username: str, password: str) -> None:
    if not password:
        raise InvalidInput("the password must not be empty", param="password")
    with instance.db.write() as conn:
        row = store.find_experimenter(conn, username)
        if row is None or row.id == GUEST_USER_ID:
            raise NotFound(f"user {username!r} does not exist")
        store.set_password_hash(conn, row.id, hash_password(password))


def list_groups(instance: Instance) -> list[tuple[ExperimenterGroup, list[Membership]]]:
    with instance.db.read() as conn:
        members = store.memberships(conn)
        return [(g, [m for m in members if m.group_id == g.id]) for g in store.list_groups(conn)]


def list_users(instance: Instance) -> list[tuple[Experimenter, list[Membership]]]:
    with instance.db.read() as conn:
        members = store.memberships(conn)
        return [
            (u, [m for m in members if m.user_id == u.id]) for u in store.list_experimenters(conn)
        ]


def login(
    instance: Instance, *, username: str, password: str, user_agent: str | None = None
) -> Context:
    """Check the credentials and open a session in the user's default group."""
    failure = LoginFailed(instance.settings.login_incorrect_credentials_text)
    with instance.db.read() as conn:
        row = store.find_experimenter(conn, username)
        if row is None or row.id == GUEST_USER_ID:
            raise failure
        password_hash = row.password_hash
        user_id = row.id
    if not verify_password(password_hash, password):
        raise failure
    context = _open_session(instance, user_id, user_agent=user_agent)
    if context is None:
        raise failure
    return context


def _open_session(instance: Instance, user_id: int, *, user_agent: str | None) -> Context | None:
    """A new session in the user's default group; None for an inactive account (OMERO:
    membership of ``user`` is what makes an account active) or one without a group."""
    with instance.db.write() as conn:
        actor = store.load_actor(conn, user_id, 0)
        group_id = store.default_group_id(conn, user_id)
        if USER_GROUP_ID not in actor.member_of or group_id is None:
            return None
        uuid = secrets.token_urlsafe(24)
        sid = store.insert_session(
            conn,
            uuid=uuid,
            user_id=user_id,
            group_id=group_id,
            now=utcnow(),
            time_to_idle=instance.settings.session_timeout,
            user_agent=user_agent,
        )
        actor = store.load_actor(conn, user_id, group_id)
    return Context(instance=instance, actor=actor, session_uuid=uuid, session_id=sid)


def open_public_session(instance: Instance, *, user_agent: str | None) -> Context:
    """A new session for the public user, without a password: the server lends the account.

    ``NotLoggedIn`` when the setting names no usable account, so a misconfiguration looks
    like the public user being off, never like an error page.
    """
    name = instance.settings.public_user
    if not name:
        raise NotLoggedIn()
    with instance.db.read() as conn:
        row = store.find_experimenter(conn, name)
    context = None if row is None else _open_session(instance, row.id, user_agent=user_agent)
    if context is None:
        raise NotLoggedIn()
    return context


def join_session(instance: Instance, uuid: str) -> Context:
    """The caller of an open, unexpired session; ``NotLoggedIn`` otherwise."""
    if not uuid or len(uuid) > 64:
        raise NotLoggedIn()
    now = utcnow()
    with instance.db.read() as conn:
        found = store.session_actor(conn, uuid)
    if found is None:
        raise NotLoggedIn()
    row, actor = found
    if row.closed is not None:
        raise NotLoggedIn()
    if row.time_to_idle > 0 and now - row.last_access > timedelta(seconds=row.time_to_idle):
        raise NotLoggedIn()
    if USER_GROUP_ID not in actor.member_of:
        raise NotLoggedIn()
    if now - row.last_access > TOUCH_INTERVAL:
        with instance.db.write() as conn:
            store.touch_session(conn, row.id, now)
    return Context(instance=instance, actor=actor, session_uuid=uuid, session_id=row.id)


def logout(instance: Instance, uuid: str) -> None:
    with instance.db.write() as conn:
        store.close_session(conn, uuid, utcnow())


def event_context(ctx: Context) -> EventContext:
    actor = ctx.actor
    with ctx.instance.db.read() as conn:
        group = store.get_group(conn, actor.group_id)
        rows = store.memberships(conn, user_id=actor.user_id)
    return EventContext(
        session_id=ctx.session_id,
        session_uuid=ctx.session_uuid,
        user_id=actor.user_id,
        user_name=actor.user_name,
        group_id=actor.group_id,
        group_name=group.name,
        is_admin=actor.is_admin,
        member_of=[m.group_id for m in rows],
        leader_of=[m.group_id for m in rows if m.owner],
    )
