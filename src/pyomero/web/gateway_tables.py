"""``/webgateway/``'s bulk-annotation routes, and ``/pyomero/metadata/populate/``.

The table routes follow OMERO.web's ``perform_table_query``, ``object_table_query``,
``_table_metadata``, ``obj_id_bitmask``, ``table_get_where_list``, ``table_slice`` and
``_bulk_file_annotations``: most errors are answered with 200 and ``{"error": ...}``, which
clients test for, so a :class:`~pyomero.services.tables.TableError` becomes that body here.
Bad integers (``offset``, ``limit``, ``start``) are a 400 rather than OMERO's 500.

``POST /pyomero/metadata/populate/`` is pyomero's own (OMERO populates over Ice): the body
is the CSV (or an OMERO.tables HDF5 file), or ``multipart/form-data`` with the parts
``file`` and ``cfg`` (a bulkmap YAML configuration), each optional; ``?target=Screen:ID``,
``?context=csv|bulkmap|deletemap`` and ``?manual_header=true`` say where and how. It runs in the JSON
API's request cycle (CSRF, login, ``{"message"}``).
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import python_multipart
from python_multipart.exceptions import FormParserError
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from pyomero.errors import InvalidInput, NotFound
from pyomero.services import tables
from pyomero.services.tables import BulkAnnotation, QueryResult, TableError
from pyomero.web.api_view import ApiCall, endpoint
from pyomero.web.gateway_view import GatewayCall, gateway
from pyomero.wire import params

_TARGET = re.compile(r"(Screen|Plate|Project|Dataset):(\d+)")
_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


def _errors_in_body(handler: Callable[[GatewayCall], Any]) -> Callable[[GatewayCall], Any]:
    """OMERO.web answers table errors with 200 ``{"error": message, ...}``."""

    def run(call: GatewayCall) -> Any:
        try:
            return handler(call)
        except TableError as exc:
            return {"error": exc.message, **exc.extra}

    run.__name__ = handler.__name__
    return run


def _count(call: GatewayCall, name: str) -> int | None:
    raw = call.query.get(name)
    if raw is None:
        return None
    value = params.parse_int(name, raw)
    if value < 0:
        raise InvalidInput(f"{name} must not be negative: {value}", param=name)
    return value


def _annotation_json(a: BulkAnnotation) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "file": a.file,
        "ns": a.ns,
        "parentType": a.parent_type,
        "parentId": a.parent_id,
        "owner": a.owner,
        "addedBy": a.added_by,
        "addedOn": a.added_on,
    }


def _query_json(r: QueryResult) -> dict[str, Any]:
    body: dict[str, Any] = {
        "data": {"column_types": r.column_types, "columns": r.columns, "rows": r.rows},
        "meta": {
            "rowCount": r.row_count,
            "totalCount": r.total_count,
            "limit": r.limit,
            "offset": r.offset,
        },
    }
    if r.annotation is not None:
        a = r.annotation
        body |= {"id": a.file, "annId": a.id, "owner": a.owner, "addedBy": a.added_by,
                 "parentType": a.parent_type, "parentId": a.parent_id, "addedOn": a.added_on}  # fmt: skip
    return body


def _query_params(call: GatewayCall) -> dict[str, Any]:
    return {
        "query": call.query.get("query"),
        "col_names": call.query.getlist("col_names"),
        "offset": _count(call, "offset") or 0,
        "limit": _count(call, "limit"),
    }


@_errors_in_body
def bulk_annotations(call: GatewayCall) -> Any:
    found = tables.bulk_annotations(
        call.ctx, call.request.path_params["objtype"], call.path_id("objid")
    )
    return {"data": [_annotation_json(a) for a in found]}


@_errors_in_body
def table_query(call: GatewayCall) -> Any:
    return _query_json(tables.query_table(call.ctx, call.path_id("fileid"), **_query_params(call)))


@_errors_in_body
def object_table_query(call: GatewayCall) -> Any:
    result = tables.query_object_table(
        call.ctx,
        call.request.path_params["objtype"],
        call.path_id("objid"),
        **_query_params(call),
    )
    return _query_json(result)


@_errors_in_body
def table_metadata(call: GatewayCall) -> Any:
    return tables.table_metadata(call.ctx, call.path_id("fileid"))


@_errors_in_body
def obj_id_bitmask(call: GatewayCall) -> Any:
    body = tables.id_bitmask(
        call.ctx,
        call.path_id("fileid"),
        query=call.query.get("query"),
        col_name=call.query.get("col_name", "object"),
    )
    return Response(body, media_type="application/octet-stream")


@_errors_in_body
def table_rows(call: GatewayCall) -> Any:
    return tables.where_rows(
        call.ctx,
        call.path_id("fileid"),
        query=call.query.get("query"),
        start=_count(call, "start") or 0,
    )


def _list_slice(text: str | None) -> list[int]:
    """``0,3,5-9``: numbers and inclusive ranges, as OMERO.web's ``table_slice`` takes them."""
    if not text:
        raise ValueError("missing")
    out: list[int] = []
    for part in text.split(","):
        match = _RANGE.fullmatch(part.strip())
        if match is None:
            raise ValueError(f"invalid item {part.strip()!r}")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first or last - first > tables.MAX_SLICE_SIZE:
            raise ValueError(f"invalid range {part.strip()!r}")
        out.extend(range(first, last + 1))
        if len(out) > tables.MAX_SLICE_SIZE:
            raise ValueError("too many items")
    return out


@_errors_in_body
def table_slice(call: GatewayCall) -> Any:
    source = call.form if call.request.method == "POST" else call.query
    try:
        rows = _list_slice(source.get("rows"))
        columns = _list_slice(source.get("columns"))
    except ValueError as exc:
        raise TableError(f"Need comma-separated list of rows and columns ({exc})") from None
    return tables.slice_table(call.ctx, call.path_id("fileid"), rows=rows, columns=columns)


# ---------------------------------------------------------------------------- populate


#: OMERO.web's ``omero.web.page``: rows per page of ``omero_table``'s HTML and JSON.
TABLE_PAGE = 200


def omero_table(call: GatewayCall) -> Any:
    """``/webclient/omero_table/<id>/[json|csv/]``: a page of the table as HTML or JSON, or
    every row the query matches as a CSV download (streamed, no row limit)."""
    file_id = call.path_id("fileid")
    mtype = call.request.path_params.get("mtype")
    query = call.query.get("query") or "*"
    if mtype == "csv":
        return _table_csv(call, file_id, query)
    if mtype not in (None, "json"):
        raise NotFound(f"no {mtype!r} view of a table (use json or csv)")
    offset = _count(call, "offset") or 0
    limit = _count(call, "limit")
    try:
        result = tables.query_table(
            call.ctx, file_id, query=query, offset=offset,
            limit=TABLE_PAGE if limit is None else limit,
        )  # fmt: skip
    except TableError as exc:
        if mtype == "json":
            return {"error": exc.message, **exc.extra}
        raise NotFound(exc.message) from None
    body = _query_json(result)
    body["data"] |= {"id": file_id, "name": tables.table_name(call.ctx, file_id)}
    body["meta"]["query"] = query
    return body if mtype == "json" else _table_page(body)


def _table_page(body: dict[str, Any]) -> Response:
    data, meta = body["data"], body["meta"]
    cell = "<td>{}</td>".format
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in data["columns"])
    rows = "".join(
        "<tr>" + "".join(cell(html.escape(str(v))) for v in row) + "</tr>" for row in data["rows"]
    )
    name = html.escape(str(data["name"]))
    shown = f"{meta['offset'] + 1}-{meta['offset'] + len(data['rows'])}" if data["rows"] else "0"
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{name}</title></head><body>"
        f"<h1>{name}</h1><p>rows {shown} of {meta['totalCount']} matching "
        f"<code>{html.escape(meta['query'])}</code> ({meta['rowCount']} in the table); "
        f"<a href='csv/?query={quote(meta['query'])}'>download as CSV</a></p>"
        f"<table><tr>{head}</tr>{rows}</table></body></html>"
    )
    return HTMLResponse(page)


def _table_csv(call: GatewayCall, file_id: int, query: str) -> Response:
    try:
        export = tables.export_table(call.ctx, file_id, query=query)
    except TableError as exc:
        raise NotFound(exc.message) from None

    def lines() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(export.columns)
        for row in export.rows:
            writer.writerow(["" if v is None else v for v in row])
            if out.tell() > 1 << 16:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    filename = export.name.replace(" ", "_").replace(",", ".") + ".csv"
    return StreamingResponse(
        lines(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _target(raw: str | None) -> tuple[str, int]:
    match = _TARGET.fullmatch(raw or "")
    if match is None:
        raise InvalidInput(
            "target must be Screen:ID, Plate:ID, Project:ID or Dataset:ID", param="target"
        )
    return match.group(1), params.parse_int("target", match.group(2))


def populate(call: ApiCall) -> Any:
    """A table (and map annotations) on ``?target=``; answers what was created or linked."""
    kind, target_id = _target(call.query.get("target"))
    manual = call.query.get("manual_header", "false")
    if manual not in ("true", "false"):
        raise InvalidInput("manual_header must be true or false", param="manual_header")
    parts = _populate_parts(call)
    done = tables.populate(
        call.context,
        target=kind,
        target_id=target_id,
        content=parts.get("file"),
        context=call.query.get("context", "csv"),
        manual_header=manual == "true",
        config=parts.get("cfg"),
    )
    created = [f"FileAnnotation:{done.file_annotation}"] if done.file_annotation else []
    return {
        "created": created + [f"MapAnnotation:{m}" for m in done.map_annotations],
        "linked": [f"MapAnnotation:{m}" for m in done.linked_annotations],
        "deleted": [f"MapAnnotation:{m}" for m in done.deleted_annotations],
        "file": done.original_file,
        "rows": done.rows,
    }


POPULATE_PARTS = ("file", "cfg")


def _populate_parts(call: ApiCall) -> dict[str, bytes]:
    """The ``file`` and ``cfg`` of a multipart body, or the whole body as ``file``."""
    content_type = call.request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "multipart/form-data":
        return {"file": call.body} if call.body else {}
    found: dict[str, bytes] = {}
    problems: list[str] = []

    def keep(name: bytes | None, value: bytes) -> None:
        key = (name or b"").decode("utf-8", "replace")
        if key not in POPULATE_PARTS:
            problems.append(f"unknown part {key!r} (expected {', '.join(POPULATE_PARTS)})")
        elif key in found:
            problems.append(f"the part {key!r} appears twice")
        else:
            found[key] = value

    def on_file(part: Any) -> None:
        part.file_object.seek(0)
        keep(part.field_name, part.file_object.read())
        part.close()

    try:
        python_multipart.parse_form(
            {"Content-Type": content_type.encode("latin-1")},
            io.BytesIO(call.body),
            lambda part: keep(part.field_name, part.value or b""),
            on_file,
        )
    except (FormParserError, ValueError) as exc:
        raise InvalidInput(f"the multipart body does not parse: {exc}", param="file") from None
    if problems:
        raise InvalidInput(problems[0], param="file")
    return found


def routes() -> list[Route]:
    g = "/webgateway/"

    def json(handler: Callable[[GatewayCall], Any]) -> Any:
        return gateway(handler, kind="json")

    return [
        Route(f"{g}annotations/{{objtype}}/{{objid:int}}/", json(bulk_annotations)),
        Route(f"{g}table/{{fileid:int}}/query/", json(table_query)),
        Route(f"{g}table/{{objtype}}/{{objid:int}}/query/", json(object_table_query)),
        Route(f"{g}table/{{fileid:int}}/metadata/", json(table_metadata)),
        Route(f"{g}table/{{fileid:int}}/obj_id_bitmask/", json(obj_id_bitmask)),
        Route(f"{g}table/{{fileid:int}}/rows/", json(table_rows)),
        Route(f"{g}table/{{fileid:int}}/slice/", json(table_slice), methods=["GET", "POST"]),
        Route("/webclient/omero_table/{fileid:int}/", gateway(omero_table)),
        Route("/webclient/omero_table/{fileid:int}/{mtype}/", gateway(omero_table)),
        Route("/pyomero/metadata/populate/", endpoint(populate), methods=["POST"]),
    ]
