"""``pyomero import``: import files through a running server, from any machine.

The command is a client of the server's HTTP upload (``pyomero.client``), not of the
instance directory, so it works wherever the server is reachable. It prints one line per
created object (``Image:ID``, ``Plate:ID``) on stdout for scripts, and a progress bar on
stderr only when that is a terminal, so that pipes and logs stay clean.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from pyomero.client import import_paths
from pyomero.errors import InvalidInput

_TARGET = re.compile(r"(Dataset|Screen):(id|name):(.+)", re.DOTALL)


@dataclass(frozen=True)
class Target:
    dataset: int | None = None
    dataset_name: str | None = None
    screen: int | None = None


def _positive_id(text: str, option: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise InvalidInput(f"{option}: {text!r} is not an id", param=option)
    return int(text)


def parse_target(dataset: int | None, screen: int | None, target: str | None) -> Target:
    """One of ``-d``, ``-r`` and ``-T`` (``Dataset:id:N``, ``Dataset:name:NAME``,
    ``Screen:id:N``, as omero-py's importer spells them)."""
    given = [name for name, v in (("-d", dataset), ("-r", screen), ("-T", target)) if v is not None]
    if len(given) > 1:
        raise InvalidInput(f"{' and '.join(given)} cannot be used together", param="target")
    for option, given_id in (("-d", dataset), ("-r", screen)):
        if given_id is not None and given_id <= 0:
            raise InvalidInput(f"{option}: {given_id} is not an id", param=option)
    if target is None:
        return Target(dataset=dataset, screen=screen)
    match = _TARGET.fullmatch(target)
    if match is None or (match[1], match[2]) == ("Screen", "name"):
        raise InvalidInput(
            f"-T {target!r}: expected Dataset:id:ID, Dataset:name:NAME or Screen:id:ID",
            param="-T",
        )
    kind, how, value = match.groups()
    if how == "name":
        if not value.strip():
            raise InvalidInput("-T Dataset:name: needs a name", param="-T")
        return Target(dataset_name=value)
    object_id = _positive_id(value, "-T")
    return Target(dataset=object_id) if kind == "Dataset" else Target(screen=object_id)


@contextmanager
def _progress_bar() -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback drawing on stderr when it is a terminal; None otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("uploading", total=None)

    def update(sent: int, total: int) -> None:
        description = "importing" if sent >= total else "uploading"
        bar.update(task, completed=sent, total=total, description=description)

    with bar:
        yield update


@click.command("import")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("-s", "--server", required=True, help="server URL, or host:port  [port: 4080]")
@click.option("-u", "--user", "username", required=True, help="user name")
@click.option("-w", "--password", default=None, help="password (asked if omitted)")
@click.option("-g", "--group", default=None, help="group (name or id) to import into")
@click.option("-d", "--dataset", type=int, default=None, help="Dataset id to put images in")
@click.option("-r", "--screen", type=int, default=None, help="Screen id to link plates to")
@click.option(
    "-T",
    "--target",
    default=None,
    help="Dataset:name:NAME (found or created), Dataset:id:ID or Screen:id:ID",
)
@click.option(
    "--transfer",
    type=click.Choice(["upload", "ln_s"]),
    default="upload",
    show_default=True,
    help="upload the files, or register server paths in place (under an import root)",
)
def import_command(
    paths: tuple[str, ...],
    server: str,
    username: str,
    password: str | None,
    group: str | None,
    dataset: int | None,
    screen: int | None,
    target: str | None,
    transfer: str,
) -> None:
    """Import PATH... (files, directories, OME-Zarr) through the server at --server.

    Prints one line per created object: Image:ID, or Plate:ID for a plate.
    """
    where = parse_target(dataset, screen, target)
    if password is None:
        password = click.prompt("Password", hide_input=True, default="", show_default=False)
    with _progress_bar() as progress:
        created = import_paths(
            server,
            list(paths),
            username=username,
            password=password,
            group=group,
            dataset=where.dataset,
            dataset_name=where.dataset_name,
            screen=where.screen,
            transfer=transfer,
            progress=progress,
        )
    for name in created:
        click.echo(name)
