"""``pyomero metadata populate``: bulk-annotation tables from a CSV, through a running server.

As omero-metadata's ``omero metadata populate --file FILE.csv Screen:ID``, but over HTTP
(``pyomero.client``), so it works from any machine that reaches the server. It prints what
it created, one ``Class:ID`` per line; errors are one ``error: ...`` line and exit status 1
(the root command prints them), and the server has then created nothing.
"""

from __future__ import annotations

from pathlib import Path

import click

from pyomero.client.metadata import populate_metadata


@click.group("metadata")
def group() -> None:
    """Bulk metadata: tables and key-value pairs from CSV files."""


@group.command("populate")
@click.argument("target", metavar="Screen:ID|Plate:ID|Project:ID|Dataset:ID")
@click.option(
    "--file",
    "path",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False),
    help="the CSV (or an OMERO.tables HDF5 file); bulkmap without it uses the newest table "
    "on TARGET",
)
@click.option("-s", "--server", required=True, help="server URL, or host:port  [port: 4080]")
@click.option("-u", "--user", "username", required=True, help="user name")
@click.option("-w", "--password", default=None, help="password (asked if omitted)")
@click.option(
    "--context",
    type=click.Choice(["csv", "table", "bulkmap", "deletemap"]),
    default="csv",
    show_default=True,
    help="csv (or table): attach the table; bulkmap: write each row's values as map "
    "annotations on its Well/Image; deletemap: delete those annotations again",
)
@click.option(
    "--cfg",
    "config",
    default=None,
    type=click.Path(path_type=Path, dir_okay=False),
    help="bulkmap, deletemap: a YAML configuration (columns, namespaces, primary keys) as "
    "for omero-metadata",
)
@click.option(
    "--manual_header",
    "--manual-header",
    "manual_header",
    is_flag=True,
    help="without a '# header' row, type only the object columns by name, the rest as text "
    "(default: detect each column's type from its values)",
)
def populate(
    target: str,
    path: Path,
    server: str,
    username: str,
    password: str | None,
    context: str,
    config: Path | None,
    manual_header: bool,
) -> None:
    """Attach a bulk-annotation table built from --file to TARGET, and/or (bulkmap) write
    its rows as key-value pairs on the Wells and Images they name."""
    if path is None and context in ("csv", "table"):
        raise click.UsageError("--file is required unless --context bulkmap or deletemap")
    if password is None:
        password = click.prompt("Password", hide_input=True, default="", show_default=False)
    created = populate_metadata(
        server,
        path,
        target,
        username=username,
        password=password,
        context=context,
        manual_header=manual_header,
        config=config,
    )
    for name in created:
        click.echo(name)
