"""The ``pyomero`` command: create, serve and administer an instance.

Every command calls services only. A :class:`~pyomero.errors.PyomeroError` from any of them
is caught in one place (:class:`PyomeroCommand`) and printed as one ``error: ...`` line on
stderr with exit status 1; services change nothing when they raise, so neither does the
command.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click

from pyomero import __version__
from pyomero.cli import admin, importer, metadata
from pyomero.cli.common import ask_password
from pyomero.errors import PyomeroError
from pyomero.services.instance import init_instance, load_instance
from pyomero.settings import load as load_settings

DEMO_PASSWORD = "omero"


class PyomeroCommand(click.Group):
    """The root group: turns every domain error into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PyomeroError as exc:
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            click.echo(f"error: {lines[0]}", err=True)
            ctx.exit(1)


@click.group(cls=PyomeroCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pyomero")
def main() -> None:
    """pyomero: an OMERO-compatible image data server."""


main.add_command(admin.group)
main.add_command(admin.user)
main.add_command(importer.import_command)
main.add_command(metadata.group)

_DIRECTORY = click.Path(path_type=Path, file_okay=False)
_HOST = click.option("--host", default=None, help="address to listen on  [default: 127.0.0.1]")
_PORT = click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="port  [default: 4080]"
)


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def _show_url(url: str) -> str:
    """A database URL without its password, fit to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@main.command()
@click.argument("directory", type=_DIRECTORY)
@click.option("--root-password", help="password of the administrator `root` (asked if omitted)")
@click.option(
    "--database-url",
    default=None,
    help="postgresql://... to keep metadata in PostgreSQL  [default: SQLite in DIRECTORY]",
)
def init(directory: Path, root_password: str | None, database_url: str | None) -> None:
    """Create an instance in DIRECTORY with the administrator root."""
    if root_password is None:
        root_password = ask_password("Root password")
    instance = init_instance(directory, root_password=root_password, database_url=database_url)
    url = instance.settings.resolved_database_url
    instance.close()
    click.echo(f"Created pyomero instance in {directory.resolve()}")
    click.echo(f"  database: {_show_url(url)}")
    click.echo("  administrator: root (group system)")
    click.echo(f"Start it with: pyomero serve {directory}")


def serve_instance(
    directory: Path, *, host: str | None, port: int | None, workers: int | None
) -> None:
    """Open the instance once (a broken one fails here, in one line), then run uvicorn.

    The server processes build their app from ``PYOMERO_DATA_DIR`` and the other
    ``PYOMERO_*`` variables, so every worker sees the same settings.
    """
    overrides = {"host": host, "port": port, "workers": workers}
    instance = load_instance(directory, **overrides)
    settings = instance.settings
    instance.close()
    os.environ["PYOMERO_DATA_DIR"] = str(settings.data_dir)
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"PYOMERO_{name.upper()}"] = str(value)
    click.echo(f"pyomero serving {settings.data_dir} on {_url(settings.host, settings.port)}")
    import uvicorn  # here, so that administration commands start fast

    uvicorn.run(
        "pyomero.web.app:app_factory",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
        access_log=False,
    )


@main.command()
@click.argument("directory", type=_DIRECTORY)
@_HOST
@_PORT
@click.option("--workers", type=click.IntRange(min=1), default=None, help="server processes")
def serve(directory: Path, host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the instance in DIRECTORY: the JSON API, webgateway, webclient and search."""
    serve_instance(directory, host=host, port=port, workers=workers)


@main.command()
@_HOST
@_PORT
@click.option(
    "--dir",
    "directory",
    type=_DIRECTORY,
    default=None,
    help="create the instance here and keep it  [default: a temporary directory]",
)
@click.option(
    "--password", default=DEMO_PASSWORD, show_default=True, help="password of root and demo users"
)
@click.option("--no-serve", is_flag=True, hidden=True, help="create and seed only (for tests)")
def demo(
    host: str | None, port: int | None, directory: Path | None, password: str, no_serve: bool
) -> None:
    """Create a throw-away instance with sample content and serve it."""
    temporary = directory is None
    target = Path(tempfile.mkdtemp(prefix="pyomero-demo-")) if directory is None else directory
    remove = temporary and not no_serve  # a temporary instance goes when its server stops
    try:
        instance = init_instance(target, root_password=password)
        try:
            from pyomero.services.seed import seed_demo  # numpy, tifffile: only for the demo

            content = seed_demo(instance, password=password)
        finally:
            instance.close()
        settings = load_settings(target, overrides={"host": host, "port": port})
        _print_demo(target, content, password, _url(settings.host, settings.port))
        if not no_serve:
            if temporary:
                click.echo("The instance is deleted when the server stops.")
            serve_instance(target, host=host, port=port, workers=None)
    except BaseException:
        remove = temporary
        raise
    finally:
        if remove:
            shutil.rmtree(target, ignore_errors=True)


def _print_demo(directory: Path, content: dict[str, Any], password: str, url: str) -> None:
    group = content["group"]["name"]
    click.echo(f"pyomero demo instance in {directory.resolve()}")
    click.echo(
        f"  Project:{content['project']} with Dataset:{content['datasets'][0]} and "
        f"Dataset:{content['datasets'][1]}, orphan Dataset:{content['orphan_dataset']}, "
        f"{len(content['images'])} images"
    )
    click.echo(
        f"  Screen:{content['screen']} with Plate:{content['plate']} "
        f"({len(content['wells'])} wells, {len(content['plate_images'])} images), "
        f"Roi:{content['roi']} with {len(content['shapes'])} shapes on Image:{content['images'][0]}"
    )
    click.echo(f"Log in at {url} as")
    click.echo(f"  root / {password}  (administrator)")
    for user in content["users"]:
        role = "owner" if user["owner"] else "member"
        click.echo(f"  {user['username']} / {user['password']}  ({role} of group {group})")


if __name__ == "__main__":
    main()
