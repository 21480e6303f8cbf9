"""A real ``pyomero serve`` process on a free port, for tests that talk over a socket."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx


def pyomero_command(*args: str) -> list[str]:
    """The ``pyomero`` command line: the installed script, else this interpreter's module."""
    script = shutil.which("pyomero")
    if script is not None:
        return [script, *args]
    return [sys.executable, "-c", "from pyomero.cli.main import main; main()", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(
    base: str, process: subprocess.Popen[bytes], *, timeout: float, log: Path | None = None
) -> None:
    """Poll ``base/api/`` until it answers; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise AssertionError(log.read_text() if log else "pyomero serve exited")
        try:
            if httpx.get(f"{base}/api/", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"pyomero serve did not answer within {timeout} s")
        time.sleep(0.1)


@contextmanager
def served(
    directory: Path, *, env: Mapping[str, str] | None = None, timeout: float = 60
) -> Iterator[str]:
    """Serve the instance in ``directory`` for the duration of the block; yields its base URL.

    The server's output goes to ``server.log`` beside the directory (shown if it fails to start).
    """
    port = free_port()
    log_path = directory.parent / f"server-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            pyomero_command("serve", str(directory), "--port", str(port)),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(base, process, timeout=timeout, log=log_path)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
