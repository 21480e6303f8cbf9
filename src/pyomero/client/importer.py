"""Importing through a pyomero server: the client side of ``/pyomero/imports/``.

The client logs in as any OMERO.web client does (CSRF token, ``/api/v0/login/``), declares
the files it will send, sends each in chunks and asks the server to import them. A chunk
that fails on the way (a dropped connection, a restarted worker) is resent from the count
the server reports, so a large upload survives a bad network without sending a byte twice.
Errors the server answers become :mod:`pyomero.errors` exceptions carrying its message.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import httpx

from pyomero.errors import (
    InvalidInput,
    LoginFailed,
    NotFound,
    NotSupported,
    PyomeroError,
    SecurityViolation,
)

__all__ = [
    "Importer",
    "ServerUnreachable",
    "UploadEntry",
    "collect_files",
    "import_paths",
    "server_url",
]

API = "/api/v0"
IMPORTS = "/pyomero/imports"
CHUNK_SIZE = 8 << 20
DEFAULT_PORT = 4080
#: Files that mark a directory as an OME-Zarr (NGFF 0.4: zarr v2; 0.5: zarr v3).
ZARR_MARKERS = (".zattrs", ".zgroup", "zarr.json")

#: progress(bytes_sent, bytes_total)
Progress = Callable[[int, int], None]


class ServerUnreachable(PyomeroError):
    """No answer from the server: refused, dropped or timed out."""


@dataclass(frozen=True, slots=True)
class UploadEntry:
    """One file to send: its path in the upload (relative, POSIX), where it is, its size."""

    path: str
    source: Path
    size: int


def server_url(server: str) -> str:
    """``http://host:port`` from what a user types: a URL, ``host:port`` or ``host``."""
    text = server.strip()
    if not text:
        raise InvalidInput("the server address is empty", param="server")
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"not a server address: {server!r}", param="server")
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput(f"not a server address: {server!r}", param="server") from None
    netloc = parts.netloc
    if port is None and "://" not in server:
        netloc = f"{netloc}:{DEFAULT_PORT}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


# ---------------------------------------------------------------------------- local files


def _is_zarr(directory: Path) -> bool:
    return any((directory / marker).is_file() for marker in ZARR_MARKERS)


def _walk(directory: Path, prefix: PurePosixPath, *, whole: bool) -> Iterator[UploadEntry]:
    """Files below ``directory``; hidden files are skipped except inside an OME-Zarr,
    whose ``.zattrs`` and ``.zarray`` are its metadata."""
    for child in sorted(directory.iterdir(), key=lambda p: p.name):
        name = prefix / child.name
        if child.is_dir():
            if child.is_symlink() and not whole:
                continue  # a link to a directory could loop; an OME-Zarr's own are followed
            yield from _walk(child, name, whole=whole or _is_zarr(child))
        elif child.is_file() and (whole or not child.name.startswith(".")):
            yield UploadEntry(str(name), child, child.stat().st_size)


def collect_files(paths: Sequence[str | Path]) -> list[UploadEntry]:
    """What to upload for ``paths``: each file by its name, each directory as a tree.

    When two paths share a name, each path's files go below a directory named by its
    position (``1/``, ``2/``), so that neither overwrites the other and file names, which
    multi-file formats refer to, stay as they are.
    """
    if not paths:
        raise InvalidInput("nothing to import: give at least one file or directory")
    sources = [Path(p) for p in paths]
    for source in sources:
        if not source.exists():
            raise InvalidInput(f"{source}: no such file or directory", param="path")
    names = [source.resolve().name for source in sources]
    clash = len(set(names)) < len(names)
    entries: list[UploadEntry] = []
    for position, (source, name) in enumerate(zip(sources, names, strict=True), start=1):
        top = PurePosixPath(str(position), name) if clash else PurePosixPath(name)
        if source.is_dir():
            found = list(_walk(source, top, whole=_is_zarr(source)))
            if not found:
                raise InvalidInput(f"{source}: the directory holds no files", param="path")
            entries.extend(found)
        else:
            entries.append(UploadEntry(str(top), source, source.stat().st_size))
    return entries


# ---------------------------------------------------------------------------- the client


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return str(body["message"])
    return f"the server answered {response.status_code} {response.reason_phrase}"


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    message = _message(response)
    status = response.status_code
    error: type[PyomeroError] = {
        400: InvalidInput,
        403: SecurityViolation,
        404: NotFound,
        405: NotSupported,
    }.get(status, PyomeroError)
    raise error(message)


class Importer:
    """A logged-in session on one server that uploads and imports files.

    ``client`` lets tests pass an in-process transport; otherwise an ``httpx.Client`` on
    ``server`` is made and closed with the importer.
    """

    def __init__(
        self,
        server: str,
        *,
        client: httpx.Client | None = None,
        chunk_size: int = CHUNK_SIZE,
        retries: int = 5,
        retry_wait: float = 1.0,
        timeout: float = 60.0,
    ) -> None:
        self.server = server_url(server) if client is None else server
        self.http = client or httpx.Client(base_url=self.server, timeout=timeout)
        self._owns_client = client is None
        self.chunk_size = chunk_size
        self.retries = retries
        self.retry_wait = retry_wait
        self._token: str | None = None
        # An import may take minutes; a client passed in keeps the timeouts it was given.
        self._no_timeout: dict[str, Any] = {"timeout": None} if client is None else {}

    def __enter__(self) -> Importer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_client:
            self.http.close()

    # ------------------------------------------------------------------ plumbing

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; a refused or dropped connection becomes one clear error."""
        if method not in ("GET", "HEAD"):
            headers = dict(kwargs.pop("headers", None) or {})
            headers["X-CSRFToken"] = self._csrf()
            kwargs["headers"] = headers
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise ServerUnreachable(f"cannot reach {self.server}: {reason}") from None

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        _raise_for(response)
        return response.json()

    def _csrf(self) -> str:
        if self._token is None:
            response = self._request("GET", f"{API}/token/")
            _raise_for(response)
            self._token = str(response.json()["data"])
        return self._token

    # ------------------------------------------------------------------ session

    def login(self, username: str, password: str) -> dict[str, Any]:
        """Log in as OMERO.web clients do; return the event context."""
        response = self._request(
            "POST",
            f"{API}/login/",
            data={"username": username, "password": password, "server": "1"},
        )
        if response.status_code == 403:
            raise LoginFailed(_message(response))
        _raise_for(response)
        context: dict[str, Any] = response.json()["eventContext"]
        return context

    def group_id(self, group: str | int) -> int:
        """A group's id from its name or id, as ``-g`` takes it."""
        text = str(group).strip()
        groups: list[dict[str, Any]] = []
        while True:
            page = self._json(
                "GET", f"{API}/m/experimentergroups/", params={"offset": len(groups), "limit": 500}
            )
            groups.extend(page["data"])
            if not page["data"] or len(groups) >= page["meta"]["totalCount"]:
                break
        by_id = [g for g in groups if str(g["@id"]) == text]
        by_name = [g for g in groups if g.get("Name") == text]
        for found in by_id or by_name:
            return int(found["@id"])
        raise NotFound(f"Group {text} not found")

    def check_container(self, kind: str, object_id: int) -> None:
        """Fail before uploading anything when the target Dataset or Screen is not there."""
        segment = {"Dataset": "datasets", "Screen": "screens"}[kind]
        response = self._request("GET", f"{API}/m/{segment}/{object_id}/")
        if response.status_code == 404:
            raise NotFound(f"{kind} {object_id} not found")
        _raise_for(response)

    # ------------------------------------------------------------------ imports

    def upload(self, entries: Sequence[UploadEntry], *, progress: Progress | None = None) -> str:
        """Send ``entries``; return the upload's token, for :meth:`finish`."""
        declared = [{"path": e.path, "size": e.size} for e in entries]
        started = self._json("POST", f"{IMPORTS}/", json={"files": declared})
        token = str(started["token"])
        total = sum(e.size for e in entries)
        received = [f["received"] for f in started["files"]]

        def report(index: int, count: int) -> None:
            received[index] = count
            if progress is not None:
                progress(sum(received), total)

        report(0, received[0])
        try:
            for index, entry in enumerate(entries):
                if received[index] < entry.size:
                    self._send(token, index, entry, received[index], report)
        except BaseException:
            self._cancel_quietly(token)
            raise
        return token

    def _send(
        self,
        token: str,
        index: int,
        entry: UploadEntry,
        offset: int,
        report: Callable[[int, int], None],
    ) -> None:
        """Send one file from ``offset``; after a failure, resume from the server's count."""
        url = f"{IMPORTS}/{token}/files/{index}/"
        failures = 0
        try:
            handle = entry.source.open("rb")
        except OSError as exc:
            raise InvalidInput(
                f"{entry.source} cannot be read any more: {exc.strerror or exc}", param="path"
            ) from None
        with handle:
            while offset < entry.size:
                handle.seek(offset)
                data = handle.read(min(self.chunk_size, entry.size - offset))
                if not data:
                    raise InvalidInput(f"{entry.source} became shorter while it was sent")
                try:
                    response = self._request(
                        "PUT",
                        url,
                        params={"offset": offset},
                        content=data,
                        headers={"Content-Type": "application/octet-stream"},
                    )
                except ServerUnreachable:
                    failures += 1
                    if failures > self.retries:
                        raise
                    time.sleep(self.retry_wait * failures)
                    offset = self._resume_point(token, index, offset)
                    continue
                if response.status_code == 409 and failures < self.retries:
                    failures += 1
                    offset = int(response.json().get("received", offset))
                    time.sleep(self.retry_wait * (failures - 1))
                    continue
                _raise_for(response)
                offset, failures = int(response.json()["received"]), 0
                report(index, offset)

    def _resume_point(self, token: str, index: int, fallback: int) -> int:
        try:
            status = self._json("GET", f"{IMPORTS}/{token}/")
        except ServerUnreachable:
            return fallback  # the next PUT says (409) where to go on
        return int(status["files"][index]["received"])

    def _cancel_quietly(self, token: str) -> None:
        with contextlib.suppress(PyomeroError):
            self._request("DELETE", f"{IMPORTS}/{token}/")

    def finish(self, token: str, target: dict[str, Any] | None = None) -> list[str]:
        """Import a complete upload; return the created objects (``Image:1``, ``Plate:2``)."""
        created = self._json(
            "POST", f"{IMPORTS}/{token}/import/", json=target or {}, **self._no_timeout
        )["created"]
        return [str(c) for c in created]

    def import_in_place(
        self, paths: Sequence[str | Path], target: dict[str, Any] | None = None
    ) -> list[str]:
        """Register server-readable paths (under the server's import roots) without copying."""
        body = {"paths": [os.path.abspath(p) for p in paths], "transfer": "ln_s", **(target or {})}
        created = self._json("POST", f"{IMPORTS}/", json=body, **self._no_timeout)["created"]
        return [str(c) for c in created]


def import_paths(
    server: str,
    paths: Sequence[str | Path],
    *,
    username: str,
    password: str,
    group: str | int | None = None,
    dataset: int | None = None,
    dataset_name: str | None = None,
    screen: int | None = None,
    transfer: str = "upload",
    progress: Progress | None = None,
    client: httpx.Client | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> list[str]:
    """Import ``paths`` into the server as ``pyomero import`` does; return what was created.

    ``transfer="upload"`` sends the files; ``"ln_s"`` registers paths the server can read.
    """
    if transfer not in ("upload", "ln_s"):
        raise InvalidInput(f"transfer must be upload or ln_s, not {transfer!r}", param="transfer")
    targets = [t for t in (dataset, dataset_name, screen) if t is not None]
    if len(targets) > 1:
        raise InvalidInput("give at most one of dataset, dataset_name and screen")
    with Importer(server, client=client, chunk_size=chunk_size) as importer:
        entries = collect_files(paths) if transfer == "upload" else []
        importer.login(username, password)
        target: dict[str, Any] = {}
        if group is not None:
            target["group"] = importer.group_id(group)
        if dataset is not None:
            importer.check_container("Dataset", dataset)
            target["dataset"] = dataset
        if screen is not None:
            importer.check_container("Screen", screen)
            target["screen"] = screen
        if dataset_name is not None:
            target["dataset_name"] = dataset_name
        if transfer == "ln_s":
            return importer.import_in_place(paths, target)
        token = importer.upload(entries, progress=progress)
        return importer.finish(token, target)
