"""Annotation routes of ``/webclient/``: the annotate_* forms, ``action/remove|delete``, the
annotation panel, file downloads. The JSON API's annotations are in ``web/api_annotations``.

Each handler parses the request strictly, calls one service in ``services.annotations``
and encodes with ``wire``. Webclient routes use the webgateway's cycle (login redirect,
CSRF on POST); the multipart upload has its own small cycle, because its CSRF token and
file arrive in a multipart body that must be parsed before the check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from pyomero.errors import InvalidInput, NotFound, NotLoggedIn, PyomeroError
from pyomero.services import annotations as service
from pyomero.services.instance import Instance
from pyomero.web import csrf
from pyomero.web.errors import api_error_body, status_of
from pyomero.web.gateway_downloads import attachment_name
from pyomero.web.gateway_view import LOGIN_URL, GatewayCall, gateway, jsonp_response
from pyomero.web.session import authenticate, set_session_cookie
from pyomero.wire.annotations import panel_json
from pyomero.wire.params import parse_int

W = "/webclient"
FORCE = "application/force-download"
#: ANNOTATIONS_LIMIT of OMERO.web (PAGE * 100).
ANNOTATIONS_LIMIT = 20000

#: Request field -> store kind of the objects the webclient annotates.
TARGETS = {
    "project": "project",
    "dataset": "dataset",
    "image": "image",
    "screen": "screen",
    "plate": "plate",
    "acquisition": "plateacquisition",
    "well": "well",
}
#: ``action/<action>/<o_type>/<id>/`` types that name an annotation.
ANNOTATION_TYPES = frozenset({"tag", "tagset", "comment", "file", "annotation", "map", "rating"})


# ---------------------------------------------------------------------------- parsing


def _fields(call: GatewayCall) -> dict[str, list[str]]:
    """Every value of every field of a form-encoded POST (fields repeat: ``image=1&image=2``)."""
    try:
        return parse_qs(call.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise InvalidInput("the form is not UTF-8") from None


def _targets(
    values: Mapping[str, Sequence[str]], names: Mapping[str, str] = TARGETS
) -> dict[str, list[int]]:
    """Object ids by store kind; empty values are ignored as OMERO.web does."""
    out: dict[str, list[int]] = {}
    for name, kind in names.items():
        ids = [parse_int(name, v) for v in values.get(name, ()) if v != ""]
        if ids:
            out.setdefault(kind, []).extend(ids)
    return out


def _one(values: Mapping[str, Sequence[str]], name: str) -> str | None:
    found = values.get(name)
    return found[-1] if found else None


def _pairs(raw: str | None) -> list[tuple[str, str]]:
    """``mapAnnotation``: a JSON list of ``[key, value]`` string pairs, in order."""
    if raw is None:
        raise InvalidInput("mapAnnotation is required: a JSON list of [key, value] pairs")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"mapAnnotation is not valid JSON: {exc}", param="mapAnnotation"
        ) from None
    if not isinstance(data, list):
        raise InvalidInput(
            "mapAnnotation must be a JSON list of [key, value] pairs", param="mapAnnotation"
        )
    pairs = []
    for pair in data:
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            raise InvalidInput(
                f"mapAnnotation entries must be [key, value] string pairs, not {pair!r}",
                param="mapAnnotation",
            )
        pairs.append((pair[0], pair[1]))
    return pairs


# ---------------------------------------------------------------------------- annotate_*


def annotate_map(call: GatewayCall) -> Any:
    form = _fields(call)
    pairs = _pairs(_one(form, "mapAnnotation"))
    ann_ids = [parse_int("annId", v) for v in form.get("annId", ()) if v != ""]
    ids = service.annotate_map(
        call.ctx,
        pairs=pairs,
        ns=_one(form, "ns") or None,
        annotation_ids=ann_ids,
        targets=_targets(form) if not ann_ids else {},
        duplicate=(_one(form, "duplicate") or "").lower() == "true",
    )
    return {"annId": ids}


def annotate_comment(call: GatewayCall) -> Any:
    form = _fields(call)
    ann_id = service.annotate_comment(
        call.ctx, text=_one(form, "comment") or "", targets=_targets(form)
    )
    return {"annId": ann_id, "added_by": call.ctx.actor.user_id}


def annotate_tags(call: GatewayCall) -> Any:
    form = _fields(call)
    raw = _one(form, "tags") or ""
    tags = [parse_int("tags", t) for t in raw.split(",")] if raw else []
    total = parse_int("newtags-TOTAL_FORMS", _one(form, "newtags-TOTAL_FORMS") or "0")
    new = []
    for i in range(min(total, 1000)):
        tagset = _one(form, f"newtags-{i}-tagset")
        new.append(
            service.NewTag(
                text=_one(form, f"newtags-{i}-tag") or "",
                description=_one(form, f"newtags-{i}-description") or None,
                tagset=parse_int("tagset", tagset) if tagset else None,
            )
        )
    return service.annotate_tags(call.ctx, tag_ids=tags, new_tags=new, targets=_targets(form))


def annotate_rating(call: GatewayCall) -> Any:
    form = _fields(call)
    rating = parse_int("rating", _one(form, "rating") or "0")
    service.annotate_rating(call.ctx, rating=rating, targets=_targets(form))
    return {"success": True}


def _parents(raw: str) -> list[tuple[str, int]]:
    """``parent=image-1|dataset-2`` as OMERO.web's ``remove`` action takes it; ``tagset-3``
    takes a tag out of a tag set."""
    out = []
    for part in raw.split("|"):
        kind, _, oid = part.partition("-")
        if kind not in TARGETS and kind != "tagset":
            raise InvalidInput(f"parent {part!r}: expected e.g. image-123", param="parent")
        out.append((TARGETS.get(kind, "annotation"), parse_int("parent", oid)))
    return out


def action(call: GatewayCall) -> Response:
    """``action/remove/<type>/<id>/`` unlinks, ``action/delete/<type>/<id>/`` deletes an
    annotation; answered ``{"bad": "false"}`` or ``{"bad": "true", "errs": message}``."""
    name, o_type = call.request.path_params["action"], call.request.path_params["o_type"]
    ann_id = call.path_id("o_id")
    if name not in ("remove", "delete"):
        raise NotFound(f"no action {name}")
    try:
        if o_type not in ANNOTATION_TYPES:
            raise InvalidInput(f"action {name} on {o_type} is not supported here", param="o_type")
        if name == "remove":
            parent = _one(_fields(call), "parent")
            if not parent:
                raise InvalidInput("parent is required, e.g. image-123", param="parent")
            service.remove_links(call.ctx, annotation_id=ann_id, parents=_parents(parent))
        else:
            service.delete_annotation(call.ctx, ann_id)
    except PyomeroError as exc:
        return jsonp_response({"bad": "true", "errs": str(exc)}, call.request, status_of(exc))
    return jsonp_response({"bad": "false"}, call.request)


# ---------------------------------------------------------------------------- reads


def api_annotations(call: GatewayCall) -> Response | Any:
    query = call.query
    values = {name: query.getlist(name) for name in TARGETS}
    try:
        targets = _targets(values)
        page = parse_int("page", query.get("page", "1"))
        limit = parse_int("limit", query.get("limit", str(ANNOTATIONS_LIMIT)))
    except InvalidInput:
        return Response(b"Invalid parameter value", 400, media_type="text/html; charset=utf-8")
    if not targets:
        return {"annotations": [], "experimenters": []}
    page, limit = max(page, 1), max(limit, 0)
    panel = service.panel(
        call.ctx,
        targets=targets,
        ann_type=query.get("type"),
        ns=query.get("ns"),
        offset=(page - 1) * limit,
        limit=limit,
        with_parents=query.get("parents") == "true",
    )
    return panel_json(panel, panel.parents)


def download_annotation(call: GatewayCall) -> Response:
    found = service.download(call.ctx, call.path_id("ann_id"))
    headers = {"Content-Disposition": f"attachment; filename={attachment_name(found.name)}"}
    return FileResponse(found.path, media_type=FORCE, headers=headers)


# ---------------------------------------------------------------------------- upload


async def annotate_file(request: Request) -> Response:
    """Multipart ``annotation_file`` (new attachment) and/or ``files`` (existing ids)."""
    instance: Instance = request.app.state.instance
    try:
        form = await request.form(max_files=1, max_fields=10_000)
    except Exception:  # noqa: BLE001 - a body that does not parse as a form
        return jsonp_response({"message": "the request is not a valid form"}, request, 400)
    try:
        token = form.get(csrf.FORM_FIELD)
        try:
            csrf.check(request, token if isinstance(token, str) else None)
        except csrf.CsrfFailure as failure:
            return Response(f"CSRF Failed: {failure.reason}".encode(), 403, media_type="text/html")
        return await run_in_threadpool(_upload, request, instance, form)
    finally:
        await form.close()


def _upload(request: Request, instance: Instance, form: Any) -> Response:
    try:
        caller = authenticate(instance, request)
    except NotLoggedIn:
        if request.headers.get("x-requested-with") == "XMLHttpRequest":
            return Response(b"", 403)
        return RedirectResponse(f"{LOGIN_URL}?url={request.url.path}", status_code=302)
    try:
        values = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form}
        upload = form.get("annotation_file")
        upload = upload if isinstance(upload, UploadFile) else None
        files = [parse_int("files", v) for v in values.get("files", ()) if v != ""]
        ids = service.annotate_file(
            caller.ctx,
            upload=upload.file if upload is not None else None,
            name=upload.filename if upload is not None else None,
            mimetype=upload.content_type if upload is not None else None,
            file_annotation_ids=files,
            targets=_targets(values),
        )
        response = jsonp_response({"fileIds": ids}, request)
    except Exception as exc:  # noqa: BLE001 - mapped to a status, never a trace
        status, body = api_error_body(exc, debug=instance.settings.debug)
        response = jsonp_response(body, request, status)
    if caller.new_session:
        set_session_cookie(response, request, instance, caller.ctx.session_uuid)
    return response


def routes() -> list[Route]:
    post = ["POST"]
    return [
        Route(f"{W}/annotate_map/", gateway(annotate_map, kind="json"), methods=post),
        Route(f"{W}/annotate_comment/", gateway(annotate_comment, kind="json"), methods=post),
        Route(f"{W}/annotate_tags/", gateway(annotate_tags, kind="json"), methods=post),
        Route(f"{W}/annotate_rating/", gateway(annotate_rating, kind="json"), methods=post),
        Route(f"{W}/annotate_file/", annotate_file, methods=post),
        Route(
            f"{W}/action/{{action:str}}/{{o_type:str}}/{{o_id:int}}/",
            gateway(action, kind="json"),
            methods=post,
        ),
        Route(f"{W}/api/annotations/", gateway(api_annotations, kind="json"), methods=["GET"]),
        Route(f"{W}/annotation/{{ann_id:int}}/", gateway(download_annotation), methods=["GET"]),
    ]
