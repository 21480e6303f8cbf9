"""``pyomero group ...`` and ``pyomero user ...``: administration on the instance directory,
like ``omero group add`` / ``omero user add``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.table import Table

from pyomero.cli.common import ask_password, data_option, opened
from pyomero.errors import InvalidInput
from pyomero.model.permissions import SYSTEM_GROUP_ID, USER_GROUP_ID, GroupLevel
from pyomero.services import accounts

GROUP_TYPES = "private, read-only, read-annotate or read-write"


def _level(type_name: str) -> GroupLevel:
    try:
        return GroupLevel.from_type_name(type_name)
    except ValueError as exc:
        raise InvalidInput(str(exc), param="type") from None


def _print(table: Table) -> None:
    """On a terminal, fit the table to its width; in a pipe, never wrap a row."""
    width = None if sys.stdout.isatty() else 1000
    Console(soft_wrap=False, highlight=False, width=width).print(table)


@click.group()
def group() -> None:
    """Add and list groups, add users to groups."""


@group.command("add")
@click.argument("name")
@click.option(
    "--type", "type_name", default="private", show_default=True, help=f"one of {GROUP_TYPES}"
)
@click.option("--description", default=None, help="free text")
@data_option
def group_add(name: str, type_name: str, description: str | None, data_dir: Path | None) -> None:
    """Add the group NAME."""
    level = _level(type_name)
    with opened(data_dir) as instance:
        created = accounts.add_group(instance, name=name, level=level, description=description)
    click.echo(
        f"Added group {created.name} (id={created.id}) with permissions "
        f"{created.level.value} ({created.level.type_name})"
    )


@group.command("list")
@data_option
def group_list(data_dir: Path | None) -> None:
    """List the groups with their members (* marks group owners)."""
    with opened(data_dir) as instance:
        groups = accounts.list_groups(instance)
        names = {user.id: user.omename for user, _ in accounts.list_users(instance)}
    table = Table("ID", "Name", "Type", "Perms", "Members", box=box.SIMPLE, caption="* owner")
    for found, members in groups:
        people = ", ".join(f"{names[m.user_id]}{'*' if m.owner else ''}" for m in members)
        table.add_row(
            str(found.id), found.name, found.level.type_name, found.level.value, people or "-"
        )
    _print(table)


@group.command("adduser")
@click.argument("group_name", metavar="GROUP")
@click.argument("usernames", metavar="USER...", nargs=-1, required=True)
@click.option("--as-owner", is_flag=True, help="make them owners (leaders) of the group")
@data_option
def group_adduser(
    group_name: str, usernames: tuple[str, ...], as_owner: bool, data_dir: Path | None
) -> None:
    """Add one or more users to GROUP."""
    with opened(data_dir) as instance:
        accounts.add_to_group(instance, group=group_name, usernames=list(usernames), owner=as_owner)
    role = " as owner" + ("s" if len(usernames) > 1 else "") if as_owner else ""
    click.echo(f"Added {', '.join(usernames)} to group {group_name}{role}")


@click.group()
def user() -> None:
    """Add and list users, set passwords."""


@user.command("add")
@click.argument("username")
@click.option("--first", "first_name", required=True, help="first name")
@click.option("--last", "last_name", required=True, help="last name")
@click.option(
    "--group",
    "groups",
    multiple=True,
    required=True,
    help="a group to join; repeat for more, the first is the default group",
)
@click.option("--password", default=None, help="the password (asked if omitted)")
@click.option("--admin", is_flag=True, help="make the user an administrator (group system)")
@click.option("--email", default="", help="e-mail address")
@click.option("--institution", default="", help="institution")
@data_option
def user_add(
    username: str,
    first_name: str,
    last_name: str,
    groups: tuple[str, ...],
    password: str | None,
    admin: bool,
    email: str,
    institution: str,
    data_dir: Path | None,
) -> None:
    """Add the user USERNAME."""
    with opened(data_dir) as instance:
        if password is None:
            password = ask_password(f"Password for {username}")
        created = accounts.add_user(
            instance,
            username=username,
            first_name=first_name,
            last_name=last_name,
            groups=list(groups),
            password=password,
            admin=admin,
            email=email,
            institution=institution,
        )
    where = f"group {groups[0]}"
    if len(groups) > 1:
        where = f"groups {groups[0]} (default), {', '.join(groups[1:])}"
    extra = ", administrator" if admin else ""
    click.echo(f"Added user {created.omename} (id={created.id}) in {where}{extra}")


@user.command("list")
@data_option
def user_list(data_dir: Path | None) -> None:
    """List the users with their groups (default group first, * marks ownership)."""
    with opened(data_dir) as instance:
        users = accounts.list_users(instance)
        names = {found.id: found.name for found, _ in accounts.list_groups(instance)}
    table = Table(
        "ID", "Username", "Name", "Email", "Groups", "Admin", box=box.SIMPLE, caption="* owner"
    )
    for found, members in users:
        chosen = [m for m in members if m.group_id != USER_GROUP_ID]
        ordered = chosen + [m for m in members if m.group_id == USER_GROUP_ID]
        groups = ", ".join(f"{names[m.group_id]}{'*' if m.owner else ''}" for m in ordered)
        admin = any(m.group_id == SYSTEM_GROUP_ID for m in members)
        table.add_row(
            str(found.id),
            found.omename,
            f"{found.first_name} {found.last_name}".strip(),
            found.email or "-",
            groups or "-",
            "yes" if admin else "",
        )
    _print(table)


@user.command("password")
@click.argument("username")
@click.option("--password", default=None, help="the new password (asked twice if omitted)")
@data_option
def user_password(username: str, password: str | None, data_dir: Path | None) -> None:
    """Set the password of USERNAME."""
    with opened(data_dir) as instance:
        if password is None:
            password = ask_password(f"New password for {username}")
        accounts.set_password(instance, username=username, password=password)
    click.echo(f"Password changed for {username}")
