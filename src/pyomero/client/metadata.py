"""Populating bulk-annotation tables through a pyomero server: the client of
``POST /pyomero/metadata/populate/``.

Like :mod:`pyomero.client.importer` it logs in as an OMERO.web client does (CSRF token,
``/api/v0/login/``), then sends the CSV (or OMERO.tables HDF5 file) as the request body.
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


def populate_metadata(
    server: str,
    path: str | Path,
    target: str,
    *,
    username: str,
    password: str,
    context: str = "table",
    manual_header: bool = False,
    client: httpx.Client | None = None,
) -> list[str]:
    """Build a bulk-annotation table from ``path`` on ``target`` (``Screen:ID``...);
    returns what was created (``FileAnnotation:ID``, then ``MapAnnotation:ID``...)."""
    kind, target_id = parse_target(target)
    source = Path(path)
    try:
        content = source.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{source}: {exc.strerror or exc}", param="file") from None
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
            content=content,
            headers={"X-CSRFToken": token, "Content-Type": "text/csv"},
        )
        _raise_for(response)
        return [str(c) for c in response.json()["created"]]
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
