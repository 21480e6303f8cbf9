"""Populating bulk-annotation tables through a pyomero server: the client of
``POST /pyomero/metadata/populate/``.

Like :mod:`pyomero.client.importer` it logs in as an OMERO.web client does (CSRF token,
``/api/v0/login/``), then sends the CSV (or OMERO.tables HDF5 file) and the bulkmap
configuration as the parts ``file`` and ``cfg`` of a multipart body.
The server builds the table and its annotations in one transaction, so an error leaves
nothing behind; it comes back as a :mod:`pyomero.errors` exception with the server's message.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from pyomero.client.importer import ServerUnreachable, server_url
from pyomero.errors import (
    InvalidInput,
    LoginFailed,
    NotFound,
    NotSupported,
    PyomeroError,
    SecurityViolation,
)

__all__ = ["populate_metadata"]

API = "/api/v0"
POPULATE = "/pyomero/metadata/populate/"
TARGETS = ("Screen", "Plate", "Project", "Dataset")


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    message = (
        str(body["message"])
        if isinstance(body, dict) and isinstance(body.get("message"), str)
        else f"the server answered {response.status_code} {response.reason_phrase}"
    )
    error: type[PyomeroError] = {
        400: InvalidInput,
        403: SecurityViolation,
        404: NotFound,
        405: NotSupported,
    }.get(response.status_code, PyomeroError)
    raise error(message)


def parse_target(text: str) -> tuple[str, int]:
    """``Screen:12`` -> ("Screen", 12), as omero-metadata names its target object."""
    kind, _, raw = text.partition(":")
    if kind not in TARGETS or not raw.isdigit() or int(raw) <= 0:
        raise InvalidInput(
            f"{text!r}: expected Screen:ID, Plate:ID, Project:ID or Dataset:ID", param="target"
        )
    return kind, int(raw)


def _read(path: str | Path | None, param: str) -> bytes | None:
    if path is None:
        return None
    source = Path(path)
    try:
        return source.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{source}: {exc.strerror or exc}", param=param) from None


def populate_metadata(
    server: str,
    path: str | Path | None,
    target: str,
    *,
    username: str,
    password: str,
    context: str = "csv",
    manual_header: bool = False,
    config: str | Path | None = None,
    client: httpx.Client | None = None,
) -> list[str]:
    """omero-metadata's ``populate`` on ``target`` (``Screen:ID``...): a bulk-annotation
    table from ``path``, and with ``context="bulkmap"`` map annotations (from ``path``'s
    table, or from the newest one on the target when ``path`` is None), as the YAML
    ``config`` says. Returns what was created (``FileAnnotation:ID``, ``MapAnnotation:ID``...)
    then the existing MapAnnotations it linked (``MapAnnotation:ID (linked)``), and for
    ``context="deletemap"`` those it deleted (``MapAnnotation:ID (deleted)``)."""
    kind, target_id = parse_target(target)
    files = {
        name: (Path(source).name, content)
        for name, source, content in (
            ("file", path, _read(path, "file")),
            ("cfg", config, _read(config, "cfg")),
        )
        if source is not None and content is not None
    }
    http = client or httpx.Client(base_url=server_url(server), timeout=None)
    try:
        token = _send(http, "GET", f"{API}/token/").json()["data"]
        login = _send(
            http,
            "POST",
            f"{API}/login/",
            data={"username": username, "password": password, "server": "1"},
            headers={"X-CSRFToken": token},
        )
        if login.status_code == 403:
            raise LoginFailed(login.json().get("message", "Login failed"))
        _raise_for(login)
        response = _send(
            http,
            "POST",
            POPULATE,
            params={
                "target": f"{kind}:{target_id}",
                "context": context,
                "manual_header": "true" if manual_header else "false",
            },
            files=files or None,
            headers={"X-CSRFToken": token},
        )
        _raise_for(response)
        body = response.json()
        return (
            [str(c) for c in body["created"]]
            + [f"{c} (linked)" for c in body["linked"]]
            + [f"{c} (deleted)" for c in body["deleted"]]
        )
    finally:
        if client is None:
            http.close()


def _send(http: httpx.Client, method: str, url: str, **kwargs: object) -> httpx.Response:
    try:
        return http.request(method, url, **kwargs)  # type: ignore[arg-type]
    except httpx.TransportError as exc:
        raise ServerUnreachable(
            f"cannot reach {http.base_url}: {exc or type(exc).__name__}"
        ) from None
