"""Pieces shared by the commands: the ``--data`` option, opening an instance, passwords."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from pyomero.errors import InstanceError
from pyomero.services.instance import Instance, load_instance

F = TypeVar("F", bound=Callable[..., Any])


def data_option(function: F) -> F:
    """``--data DIR``: the instance directory (or ``PYOMERO_DATA_DIR``)."""
    return click.option(
        "--data",
        "data_dir",
        type=click.Path(path_type=Path, file_okay=False),
        envvar="PYOMERO_DATA_DIR",
        default=None,
        metavar="DIR",
        help="instance directory  [env: PYOMERO_DATA_DIR]",
    )(function)


@contextmanager
def opened(data_dir: Path | None) -> Iterator[Instance]:
    """The instance in ``data_dir``, closed afterwards."""
    if data_dir is None:
        raise InstanceError("no instance directory: pass --data DIR or set PYOMERO_DATA_DIR")
    instance = load_instance(data_dir)
    try:
        yield instance
    finally:
        instance.close()


def ask_password(label: str) -> str:
    """Ask twice without echo. An empty answer is returned, for the service to refuse."""
    return click.prompt(
        label, hide_input=True, confirmation_prompt=True, default="", show_default=False
    )
