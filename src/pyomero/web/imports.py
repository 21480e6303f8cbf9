"""``/pyomero/imports/``: importing over HTTP, pyomero's own namespace (OMERO has no such URL).

An upload is a session: declare the files (``POST``), send each in chunks (``PUT`` with
``?offset=``, resumable from the ``received`` count that the status and every 409 carry),
then import them (``POST .../import/``). Files the server can already read are registered
in place with one ``POST`` naming their paths (``transfer: "ln_s"``). The request cycle is
the JSON API's (:func:`pyomero.web.api_view.endpoint`): CSRF, login, ``{"message"}`` errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio.from_thread
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.routing import Route

from pyomero.errors import InvalidInput
from pyomero.services import imports, uploads
from pyomero.services.imports import Created, ImportTarget
from pyomero.web.api_view import ApiCall, endpoint
from pyomero.web.responses import json_response
from pyomero.wire import params

PREFIX = "/pyomero/imports"
TARGET_FIELDS = ("dataset", "dataset_name", "screen", "group")


# ---------------------------------------------------------------------------- parsing


def _json_object(body: bytes, *, empty_ok: bool = False) -> dict[str, Any]:
    if empty_ok and not body.strip():
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}", param="body") from None
    if not isinstance(value, dict):
        raise InvalidInput("the request body must be a JSON object", param="body")
    return value


def _only(body: dict[str, Any], allowed: Sequence[str]) -> None:
    for key in body:
        if key not in allowed:
            raise InvalidInput(f"unknown field {key!r} (allowed: {', '.join(allowed)})", param=key)


def _optional_id(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer id or null", param=name)
    if not 0 <= value <= params.LONG_MAX:
        raise InvalidInput(f"{name} is out of range: {value}", param=name)
    return value


def _target(body: dict[str, Any]) -> ImportTarget:
    """Where the imported objects go: at most one of dataset, dataset_name and screen."""
    name = body.get("dataset_name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise InvalidInput("dataset_name must be a non-empty string or null", param="dataset_name")
    target = ImportTarget(
        dataset_id=_optional_id(body, "dataset"),
        dataset_name=name,
        screen_id=_optional_id(body, "screen"),
        group_id=_optional_id(body, "group"),
    )
    given = [
        field
        for field, value in (
            ("dataset", target.dataset_id),
            ("dataset_name", target.dataset_name),
            ("screen", target.screen_id),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise InvalidInput(
            f"give at most one of dataset, dataset_name and screen, not {' and '.join(given)}",
            param=given[1],
        )
    return target


def _files(value: Any) -> list[tuple[str, int]]:
    """``[{"path": str, "size": int}, ...]``; the service checks the paths and sizes."""
    if not isinstance(value, list):
        raise InvalidInput("files must be a list of {path, size} objects", param="files")
    files = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"path", "size"}:
            raise InvalidInput(
                f"files[{i}] must be an object with exactly the keys path and size", param="files"
            )
        files.append((item["path"], item["size"]))
    return files


def _server_paths(value: Any) -> list[Path]:
    """Absolute paths on the server; the import service checks them against import roots."""
    if not isinstance(value, list) or not value:
        raise InvalidInput("paths must be a non-empty list of absolute paths", param="paths")
    paths = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.startswith("/") or "\x00" in item:
            raise InvalidInput(f"paths[{i}] must be an absolute path", param="paths")
        paths.append(Path(item))
    return paths


def _offset(call: ApiCall) -> int:
    raw = call.query.get("offset")
    if raw is None:
        raise InvalidInput("the query parameter offset is required", param="offset")
    offset = params.parse_int("offset", raw)
    if offset < 0:
        raise InvalidInput(f"offset must not be negative: {offset}", param="offset")
    return offset


def _content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    return None if raw is None else params.parse_int("Content-Length", raw)


def _body_pieces(request: Request) -> Iterator[bytes]:
    """The request body as it arrives, for a worker thread: each piece is fetched from the
    event loop, so no more than one network read is held in memory. A client that goes away
    ends the body early; what arrived stays, as a resume point."""
    stream = request.stream()

    async def next_piece() -> bytes | None:
        try:
            return await stream.__anext__()
        except (StopAsyncIteration, ClientDisconnect):
            return None

    while (piece := anyio.from_thread.run(next_piece)) is not None:
        if piece:
            yield piece


# ---------------------------------------------------------------------------- answers


def _status(status: uploads.UploadStatus) -> dict[str, Any]:
    return {
        "token": status.token,
        "files": [{"path": f.path, "size": f.size, "received": f.received} for f in status.files],
    }


def _created(created: Sequence[Created]) -> dict[str, Any]:
    return {"created": [str(c) for c in created]}


def _conflicts(handler: Callable[[ApiCall], Any]) -> Callable[[ApiCall], Any]:
    """An :class:`~pyomero.services.uploads.UploadBusy` is a 409 that says where to resume."""

    def wrapped(call: ApiCall) -> Any:
        try:
            return handler(call)
        except uploads.UploadBusy as exc:
            body: dict[str, Any] = {"message": str(exc)}
            if exc.received is not None:
                body["received"] = exc.received
            return json_response(body, 409)

    wrapped.__name__ = handler.__name__
    return wrapped


# ---------------------------------------------------------------------------- handlers


def start(call: ApiCall) -> Any:
    """Start an upload (``files``), or import server paths in place (``paths``)."""
    body = _json_object(call.body)
    if "paths" in body:
        _only(body, ("paths", "transfer", *TARGET_FIELDS))
        if body.get("transfer") != "ln_s":
            raise InvalidInput('transfer must be "ln_s" to import server paths', param="transfer")
        paths, target = _server_paths(body["paths"]), _target(body)
        return _created(imports.import_files(call.context, paths, target=target, transfer="ln_s"))
    _only(body, ("files",))
    if "files" not in body:
        raise InvalidInput("give files (to upload) or paths (to import in place)", param="files")
    status = uploads.start_upload(call.context, _files(body["files"]))
    location = f"{PREFIX}/{status.token}/"
    return json_response(_status(status), 201, headers={"Location": location})


def status_or_cancel(call: ApiCall) -> Any:
    token = call.request.path_params["token"]
    if call.request.method == "DELETE":
        uploads.cancel_upload(call.context, token)
        return {"token": token, "cancelled": True}
    return _status(uploads.upload_status(call.context, token))


def put_chunk(call: ApiCall) -> Any:
    """Append the raw body to one file at ``?offset=``, streamed to disk as it arrives."""
    path = call.request.path_params
    received = uploads.write_chunk(
        call.context,
        path["token"],
        path["index"],
        offset=_offset(call),
        length=_content_length(call.request),
        data=_body_pieces(call.request),
    )
    return {"received": received}


def finish(call: ApiCall) -> Any:
    body = _json_object(call.body, empty_ok=True)
    _only(body, TARGET_FIELDS)
    token = call.request.path_params["token"]
    return _created(uploads.finish_upload(call.context, token, target=_target(body)))


def routes() -> list[Route]:
    def view(handler: Callable[[ApiCall], Any], **options: bool) -> Callable[[Request], Any]:
        return endpoint(_conflicts(handler), jsonp=False, **options)

    return [
        Route(f"{PREFIX}/", view(start), methods=["POST"]),
        Route(f"{PREFIX}/{{token}}/", view(status_or_cancel), methods=["GET", "DELETE"]),
        Route(
            f"{PREFIX}/{{token}}/files/{{index:int}}/",
            view(put_chunk, read_body=False),
            methods=["PUT"],
        ),
        Route(f"{PREFIX}/{{token}}/import/", view(finish), methods=["POST"]),
    ]
