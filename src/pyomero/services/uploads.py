"""Upload sessions: files sent over HTTP in resumable chunks, then imported in one go.

A session lives on disk, not in a worker's memory, so that any server process can take the
next chunk of an upload that another started::

    DIR/.uploads/<token>/manifest.json    owner, declared paths and sizes (written once)
    DIR/.uploads/<token>/files/<path>     the bytes received so far, one file per path

The bytes received for a file are simply its size on disk: a chunk is appended at
``offset`` only when that equals the size already there, so a client that lost a
connection asks for the status and carries on from the server's count, never sending a
byte twice or leaving a gap. A chunk cut short (the client went away) keeps its prefix,
which is as good as any other resume point.

Locks (``flock`` on the manifest) keep the three kinds of writers apart: chunk writers share
the session, while finishing, cancelling and sweeping take it exclusively and refuse at
once (409) instead of waiting when it is busy. ``finish_upload`` hands the complete files
to :func:`pyomero.services.imports.import_files` with ``transfer="move"`` and removes the
session afterwards, whether the import succeeded or not. An *incomplete* upload is
refused before anything is attempted and is kept, so that the client can still complete
it. Sessions nobody touched for a day are removed by :func:`sweep_uploads`.
"""

from __future__ import annotations

import fcntl
import json
import os
import posixpath
import re
import secrets
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO

from pyomero.errors import InstanceError, InvalidInput, NotFound
from pyomero.services import imports
from pyomero.services.accounts import Context
from pyomero.services.imports import Created, ImportTarget, Progress
from pyomero.services.instance import Instance

__all__ = [
    "MAX_AGE",
    "UploadBusy",
    "UploadFile",
    "UploadStatus",
    "cancel_upload",
    "finish_upload",
    "start_upload",
    "sweep_uploads",
    "upload_status",
    "write_chunk",
]

UPLOADS = ".uploads"
MANIFEST = "manifest.json"
FILES = "files"
#: Sessions untouched for longer than this are swept.
MAX_AGE = timedelta(days=1)
#: Bounds on a manifest, so that one request cannot make the server walk without end.
MAX_FILES = 1_000_000
MAX_PATH_BYTES = 4096
MAX_NAME_BYTES = 255
MAX_SIZE = 2**50
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
_COPY_BUFFER = 1 << 20


@dataclass(frozen=True, slots=True)
class UploadFile:
    """One declared file: its relative client path, declared size and bytes received."""

    path: str
    size: int
    received: int

    @property
    def complete(self) -> bool:
        return self.received == self.size


@dataclass(frozen=True, slots=True)
class UploadStatus:
    token: str
    files: tuple[UploadFile, ...]

    @property
    def complete(self) -> bool:
        return all(f.complete for f in self.files)


class UploadBusy(InvalidInput):
    """The session cannot take this request now: a chunk at the wrong offset, or another
    request holds the session. ``received`` (when the request names a file) is where the
    client resumes. The web layer answers 409; elsewhere it is a plain InvalidInput."""

    def __init__(self, message: str, *, received: int | None = None) -> None:
        super().__init__(message, param="offset" if received is not None else None)
        self.received = received


# ---------------------------------------------------------------------------- layout


def _uploads_root(instance: Instance) -> Path:
    data_dir = instance.settings.data_dir
    if data_dir is None:
        raise InstanceError("this instance has no data directory to hold uploads")
    return Path(data_dir) / UPLOADS


@dataclass(frozen=True, slots=True)
class _Session:
    token: str
    root: Path
    owner: int
    paths: tuple[str, ...]
    sizes: tuple[int, ...]

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def files_dir(self) -> Path:
        return self.root / FILES

    def data(self, index: int) -> Path:
        return self.files_dir / self.paths[index]

    def received(self, index: int) -> int:
        try:
            return self.data(index).stat().st_size
        except FileNotFoundError:
            return 0

    def status(self) -> UploadStatus:
        files = tuple(
            UploadFile(path, size, self.received(i))
            for i, (path, size) in enumerate(zip(self.paths, self.sizes, strict=True))
        )
        return UploadStatus(self.token, files)


def _not_found(token: str) -> NotFound:
    return NotFound(f"Upload {token} not found")


def _open(ctx: Context, token: str) -> _Session:
    """The caller's session ``token``; another user's is as absent as a missing one."""
    if not _TOKEN.fullmatch(token):
        raise _not_found(token)
    root = _uploads_root(ctx.instance) / token
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (FileNotFoundError, NotADirectoryError, ValueError):
        raise _not_found(token) from None
    if manifest.get("owner") != ctx.actor.user_id:
        raise _not_found(token)
    files = manifest["files"]
    return _Session(
        token,
        root,
        manifest["owner"],
        tuple(f["path"] for f in files),
        tuple(f["size"] for f in files),
    )


@contextmanager
def _locked(session: _Session, *, exclusive: bool, busy: str) -> Iterator[None]:
    """``flock`` on the manifest without waiting: ``UploadBusy(busy)`` if someone holds it."""
    try:
        handle = session.manifest.open("rb")
    except FileNotFoundError:  # removed since it was opened: finished or cancelled
        raise _not_found(session.token) from None
    with handle:
        try:
            fcntl.flock(handle, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadBusy(busy) from None
        yield


# ---------------------------------------------------------------------------- manifests


def _check_path(path: object, where: str) -> str:
    """A relative, normalised POSIX path that cannot leave the upload directory."""
    if not isinstance(path, str):
        raise InvalidInput(f"{where}: a path must be a string", param="files")
    shown = repr(path)
    if not path:
        raise InvalidInput(f"{where}: the path is empty", param="files")
    if "\x00" in path:
        raise InvalidInput(f"{where}: the path {shown} contains a NUL character", param="files")
    if "\\" in path:
        raise InvalidInput(f"{where}: the path {shown} must use / as separator", param="files")
    if path.startswith("/"):
        raise InvalidInput(f"{where}: the path {shown} is absolute", param="files")
    parts = path.split("/")
    if ".." in parts:
        raise InvalidInput(f"{where}: the path {shown} contains '..'", param="files")
    if posixpath.normpath(path) != path or "." in parts:
        raise InvalidInput(f"{where}: the path {shown} is not normalised", param="files")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES or any(
        len(p.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for p in parts
    ):
        raise InvalidInput(f"{where}: the path {shown} is too long", param="files")
    return path


def _check_size(size: object, where: str) -> int:
    if not isinstance(size, int) or isinstance(size, bool):
        raise InvalidInput(f"{where}: a size must be an integer", param="files")
    if not 0 <= size <= MAX_SIZE:
        raise InvalidInput(f"{where}: the size {size} is out of range", param="files")
    return size


def _check_files(files: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    if not files:
        raise InvalidInput("an upload needs at least one file", param="files")
    if len(files) > MAX_FILES:
        raise InvalidInput(f"an upload holds at most {MAX_FILES} files", param="files")
    checked = [
        (_check_path(path, f"files[{i}]"), _check_size(size, f"files[{i}]"))
        for i, (path, size) in enumerate(files)
    ]
    seen: set[str] = set()
    for i, (path, _) in enumerate(checked):
        if path in seen:
            raise InvalidInput(f"files[{i}]: the path {path!r} is declared twice", param="files")
        seen.add(path)
    parents = {a for path, _ in checked for a in _ancestors(posixpath.dirname(path))}
    for i, (path, _) in enumerate(checked):
        if path in parents:
            raise InvalidInput(
                f"files[{i}]: the path {path!r} is declared as a file and holds other files",
                param="files",
            )
    return checked


def _ancestors(directory: str) -> Iterator[str]:
    while directory:
        yield directory
        directory = posixpath.dirname(directory)


# ---------------------------------------------------------------------------- services


def start_upload(ctx: Context, files: Sequence[tuple[str, int]]) -> UploadStatus:
    """Declare the files (relative client paths and sizes) of a new upload session.

    Every file is created empty at once, so that a missing file can only mean a broken
    session, and an upload that cannot fit on the disk is refused before a byte is sent.
    Abandoned sessions are swept here, so that no worker needs a timer for them.
    """
    checked = _check_files(files)
    uploads = _uploads_root(ctx.instance)
    uploads.mkdir(exist_ok=True)
    sweep_uploads(ctx.instance)  # a listing and a stat per session: cheap, and no timer needed
    total = sum(size for _, size in checked)
    free = shutil.disk_usage(uploads).free
    if total > free:
        raise InvalidInput(
            f"the upload needs {total} bytes and the server has {free} free", param="files"
        )
    token = secrets.token_urlsafe(24)
    root = uploads / token
    root.mkdir()
    try:
        files_dir = root / FILES
        for path, _ in checked:
            target = files_dir / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch(exist_ok=False)
        manifest = {
            "owner": ctx.actor.user_id,
            "created": time.time(),
            "files": [{"path": p, "size": s} for p, s in checked],
        }
        temporary = root / (MANIFEST + ".tmp")
        temporary.write_text(json.dumps(manifest))
        os.replace(temporary, root / MANIFEST)  # a session exists once its manifest does
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return UploadStatus(token, tuple(UploadFile(p, s, 0) for p, s in checked))


def upload_status(ctx: Context, token: str) -> UploadStatus:
    """Bytes received per file: where a client resumes."""
    return _open(ctx, token).status()


def write_chunk(
    ctx: Context,
    token: str,
    index: int,
    *,
    offset: int,
    data: bytes | Iterable[bytes],
    length: int | None = None,
) -> int:
    """Append ``data`` to file ``index`` at ``offset``; return the bytes received since.

    ``offset`` must be what the server already holds (else :class:`UploadBusy` with that
    count, for the client to resume from). ``length``, when the client announced it, is
    checked against the declared size before any byte is read; a chunk that would grow
    the file beyond its declared size is refused and what it wrote is cut off again.
    """
    session = _open(ctx, token)
    if not 0 <= index < len(session.paths):
        raise NotFound(f"Upload {token} has no file {index}")
    if offset < 0:
        raise InvalidInput(f"offset must not be negative: {offset}", param="offset")
    size, path = session.sizes[index], session.paths[index]
    if length is not None and offset + length > size:
        raise InvalidInput(
            f"{path}: a chunk of {length} bytes at offset {offset} goes beyond the declared "
            f"size of {size} bytes",
            param="offset",
        )
    busy = f"Upload {token} is being imported or cancelled"
    with _locked(session, exclusive=False, busy=busy):
        data_path = session.data(index)
        try:
            handle = data_path.open("r+b")
        except FileNotFoundError:
            raise _not_found(token) from None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadBusy(
                    f"{path}: another request is writing this file",
                    received=session.received(index),
                ) from None
            received = os.fstat(handle.fileno()).st_size
            if offset != received:
                raise UploadBusy(
                    f"{path}: the chunk starts at offset {offset} but the server holds "
                    f"{received} bytes; resume from {received}",
                    received=received,
                )
            received = _append(handle, data, start=offset, size=size, path=path)
        os.utime(session.manifest)  # the session is alive: the sweep measures age from here
    return received


def _append(
    handle: IO[bytes], data: bytes | Iterable[bytes], *, start: int, size: int, path: str
) -> int:
    handle.seek(start)
    position = start
    pieces: Iterable[bytes] = (data,) if isinstance(data, bytes) else data
    for piece in pieces:
        if position + len(piece) > size:
            handle.truncate(start)
            raise InvalidInput(
                f"{path}: the chunk at offset {start} goes beyond the declared size of "
                f"{size} bytes",
                param="offset",
            )
        handle.write(piece)
        position += len(piece)
    handle.flush()
    return position


def finish_upload(
    ctx: Context,
    token: str,
    *,
    target: ImportTarget | None = None,
    progress: Progress | None = None,
) -> list[Created]:
    """Import a complete upload (its files are moved into the instance); remove the session.

    An incomplete upload is refused with the files still missing bytes and kept, so that
    the client can complete and retry. Once the import has been attempted the session is
    removed whatever the outcome: a failed import leaves nothing behind, and the client
    learns why from the error.
    """
    session = _open(ctx, token)
    busy = f"Upload {token} is busy: chunks are being written or it is being imported"
    with _locked(session, exclusive=True, busy=busy):
        status = session.status()
        missing = [f for f in status.files if not f.complete]
        if missing:
            shown = ", ".join(f"{f.path} ({f.received} of {f.size} bytes)" for f in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise InvalidInput(f"the upload is incomplete: {shown}{more}", param="files")
        tops = sorted({path.split("/", 1)[0] for path in session.paths})
        try:
            return imports.import_files(
                ctx,
                [session.files_dir / top for top in tops],
                target=target or ImportTarget(),
                transfer="move",
                client_paths=tops,
                progress=progress,
            )
        finally:
            shutil.rmtree(session.root, ignore_errors=True)


def cancel_upload(ctx: Context, token: str) -> None:
    """Drop an upload and everything received for it."""
    session = _open(ctx, token)
    busy = f"Upload {token} is busy: chunks are being written or it is being imported"
    with _locked(session, exclusive=True, busy=busy):
        shutil.rmtree(session.root, ignore_errors=True)


def sweep_uploads(instance: Instance, max_age: timedelta = MAX_AGE) -> int:
    """Remove upload sessions untouched for ``max_age`` (and half-made ones); return how many.

    Age counts from the last chunk written (the manifest's mtime), so a slow upload that
    is still moving is never swept. A session some request holds is left alone.
    """
    try:
        entries = list(_uploads_root(instance).iterdir())
    except FileNotFoundError:
        return 0
    cutoff = time.time() - max_age.total_seconds()
    removed = 0
    for root in entries:
        if _sweep_one(root, cutoff):
            removed += 1
    return removed


def _sweep_one(root: Path, cutoff: float) -> bool:
    manifest = root / MANIFEST
    try:
        if not root.is_dir():
            return False
        if not manifest.exists():  # a start that died before its manifest was written
            if root.stat().st_mtime >= cutoff:
                return False
            shutil.rmtree(root, ignore_errors=True)
            return True
        with manifest.open("rb") as handle:
            if os.fstat(handle.fileno()).st_mtime >= cutoff:
                return False
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(root, ignore_errors=True)
            return True
    except (BlockingIOError, FileNotFoundError):  # in use, or gone meanwhile
        return False
