"""Accounts, logins and sessions at the service level, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from pyomero.errors import Conflict, LoginFailed, NotFound, NotLoggedIn
from pyomero.model.permissions import USER_GROUP_ID, GroupLevel
from pyomero.services import accounts
from pyomero.store.schema import experimenter, session


def _lab(instance, name="lab", level=GroupLevel.READ_ANNOTATE):
    return accounts.add_group(instance, name=name, level=level)


def test_init_creates_root_and_system_groups(instance):
    groups = {g.name: (g.id, g.level) for g, _ in accounts.list_groups(instance)}
    assert groups == {
        "system": (0, GroupLevel.PRIVATE),
        "user": (1, GroupLevel.READ_ONLY),
        "guest": (2, GroupLevel.PRIVATE),
    }
    users = {u.omename: [m.group_id for m in ms] for u, ms in accounts.list_users(instance)}
    assert users == {"root": [0, 1], "guest": [2]}
    ctx = accounts.login(instance, username="root", password="root-password")
    assert ctx.actor.is_admin and ctx.actor.user_id == 0


def test_passwords_are_hashed_with_argon2(instance):
    _lab(instance)
    accounts.add_user(
        instance, username="alice", first_name="A", last_name="L", groups=["lab"], password="pw"
    )
    with instance.db.read() as conn:
        stored = conn.scalar(
            select(experimenter.c.password_hash).where(experimenter.c.omename == "alice")
        )
    assert stored.startswith("$argon2id$") and "pw" not in stored


def test_user_in_groups_and_default_group(instance):
    lab = _lab(instance)
    other = _lab(instance, "other", GroupLevel.PRIVATE)
    user = accounts.add_user(
        instance,
        username="alice",
        first_name="A",
        last_name="L",
        groups=["other", "lab"],
        password="pw",
    )
    ctx = accounts.login(instance, username="alice", password="pw")
    assert ctx.actor.user_id == user.id
    assert ctx.actor.group_id == other.id  # the first --group is the default group
    assert ctx.actor.member_of == {lab.id, other.id, USER_GROUP_ID}
    ec = accounts.event_context(ctx)
    assert ec.member_of == [other.id, lab.id, USER_GROUP_ID]
    assert ec.group_name == "other" and not ec.is_admin


def test_admin_flag_makes_a_system_member(instance):
    _lab(instance)
    accounts.add_user(
        instance,
        username="boss",
        first_name="B",
        last_name="S",
        groups=["lab"],
        password="pw",
        admin=True,
    )
    ctx = accounts.login(instance, username="boss", password="pw")
    assert ctx.actor.is_admin and 0 in ctx.actor.member_of


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong"), ("nobody", "pw"), ("guest", ""), ("guest", "x")]
)
def test_bad_logins_fail_with_omero_message(instance, username, password):
    _lab(instance)
    accounts.add_user(
        instance, username="alice", first_name="A", last_name="L", groups=["lab"], password="pw"
    )
    with pytest.raises(LoginFailed) as info:
        accounts.login(instance, username=username, password=password)
    assert str(info.value) == "Connection not available, please check your user name and password."


def test_duplicates_and_unknown_groups_change_nothing(instance):
    _lab(instance)
    with pytest.raises(Conflict):
        _lab(instance)
    accounts.add_user(
        instance, username="alice", first_name="A", last_name="L", groups=["lab"], password="pw"
    )
    before = accounts.list_users(instance)
    with pytest.raises(Conflict):
        accounts.add_user(
            instance, username="alice", first_name="X", last_name="Y", groups=["lab"], password="pw"
        )
    with pytest.raises(NotFound):
        accounts.add_user(
            instance,
            username="bob",
            first_name="B",
            last_name="B",
            groups=["lab", "nope"],
            password="pw",
        )
    assert accounts.list_users(instance) == before


def test_password_change(instance):
    _lab(instance)
    accounts.add_user(
        instance, username="alice", first_name="A", last_name="L", groups=["lab"], password="old"
    )
    accounts.set_password(instance, username="alice", password="new")
    with pytest.raises(LoginFailed):
        accounts.login(instance, username="alice", password="old")
    assert accounts.login(instance, username="alice", password="new").actor.user_name == "alice"
    with pytest.raises(NotFound):
        accounts.set_password(instance, username="nobody", password="x")


def test_sessions_expire_after_idle_time(instance):
    _lab(instance)
    accounts.add_user(
        instance, username="alice", first_name="A", last_name="L", groups=["lab"], password="pw"
    )
    ctx = accounts.login(instance, username="alice", password="pw")
    assert accounts.join_session(instance, ctx.session_uuid).actor.user_name == "alice"
    idle = instance.settings.session_timeout + 1
    with instance.db.write() as conn:
        conn.execute(
            update(session)
            .where(session.c.uuid == ctx.session_uuid)
            .values(last_access=accounts.utcnow() - timedelta(seconds=idle))
        )
    with pytest.raises(NotLoggedIn):
        accounts.join_session(instance, ctx.session_uuid)


def test_logout_closes_the_session(instance):
    ctx = accounts.login(instance, username="root", password="root-password")
    accounts.logout(instance, ctx.session_uuid)
    with pytest.raises(NotLoggedIn):
        accounts.join_session(instance, ctx.session_uuid)
    with pytest.raises(NotLoggedIn):
        accounts.join_session(instance, "no-such-session")


def test_group_adduser_as_owner(instance):
    lab = _lab(instance)
    accounts.add_user(
        instance, username="alice", first_name="A", last_name="L", groups=["lab"], password="pw"
    )
    accounts.add_group(instance, name="second", level=GroupLevel.READ_WRITE)
    accounts.add_to_group(instance, group="lab", usernames=["alice"], owner=True)
    accounts.add_to_group(instance, group="second", usernames=["alice"])
    actor = accounts.login(instance, username="alice", password="pw").actor
    assert actor.leader_of == {lab.id}
    assert len(actor.member_of) == 3
    with pytest.raises(NotFound):
        accounts.add_to_group(instance, group="nope", usernames=["alice"])


def test_a_request_touches_an_old_session_inside_its_read_scope(instance):
    """join_session writes last_access (at most every 30 s) while the request's shared read
    transaction is open: the write must go through and the session must stay valid."""
    ctx = accounts.login(instance, username="root", password="root-password")
    old = accounts.utcnow() - timedelta(seconds=120)
    with instance.db.write() as conn:
        conn.execute(
            update(session).where(session.c.uuid == ctx.session_uuid).values(last_access=old)
        )
    with instance.read_scope():
        assert accounts.join_session(instance, ctx.session_uuid).actor.user_id == 0
    with instance.db.read() as conn:
        touched = conn.scalar(
            select(session.c.last_access).where(session.c.uuid == ctx.session_uuid)
        )
    assert touched > old + timedelta(seconds=60)
