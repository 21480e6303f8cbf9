"""Download routes: original files (``archived_files``, ``download_original_file``), their
paths, and rendered planes as files (``render_image_download``, ``download_as``)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from starlette.background import BackgroundTask
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from pyomero.errors import InvalidInput
from pyomero.services import downloads, rendering
from pyomero.services.downloads import Download
from pyomero.web.gateway_view import GatewayCall, gateway
from pyomero.wire import render_params as rp
from pyomero.wire.params import parse_int

FORCE = "application/force-download"
_EXTENSIONS = {"jpeg": "jpg", "png": "png", "tif": "tif"}


def attachment_name(name: str) -> str:
    """OMERO.web's download names: spaces become ``_``, commas ``.``."""
    return name.replace(" ", "_").replace(",", ".")


def _disposition(name: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename={attachment_name(name)}"}


def _file(download: Download, *, media_type: str = FORCE, attach: bool = True) -> Response:
    headers = _disposition(download.name) if attach else {}
    task = BackgroundTask(download.path.unlink, missing_ok=True) if download.temporary else None
    return FileResponse(download.path, media_type=media_type, headers=headers, background=task)


def _ids(call: GatewayCall, name: str) -> list[int]:
    return [parse_int(name, v) for v in call.query.getlist(name)]


def archived_files(call: GatewayCall) -> Response:
    images = _ids(call, "image")
    if "iid" in call.request.path_params:
        images.insert(0, call.path_id("iid"))
    download = downloads.archived_files(
        call.ctx, image_ids=images, well_ids=_ids(call, "well"), zip_name=call.query.get("zipname")
    )
    return _file(download)


def original_file_paths(call: GatewayCall) -> Any:
    found = downloads.original_paths(call.ctx, call.path_id("iid"))
    if found is None:
        rendering.open_image(call.ctx, call.path_id("iid"))  # 404 when unreadable
        return {}
    fileset_id, repo, client = found
    return {"repo": repo, "client": client, "fileset": {"id": fileset_id}}


def download_original_file(call: GatewayCall) -> Response:
    download = downloads.original_file(call.ctx, call.path_id("fid"))
    mimetype = download.mimetype or "application/octet-stream"
    if mimetype == "text/x-python":
        mimetype = "text/plain"
    attach = call.request.url.path.startswith("/webclient/download_original_file/")
    return _file(download, media_type=mimetype, attach=attach)


def _rendered(
    call: GatewayCall, image_id: int, fmt: str, z: int | None, t: int | None
) -> tuple[str, bytes]:
    view = rendering.open_image(call.ctx, image_id)
    req = rp.apply_rendering_query(view.rdef, call.query, size_z=view.record.size_z)
    body = rendering.render_image(
        view,
        req.rdef,
        z=view.rdef.default_z if z is None else z,
        t=view.rdef.default_t if t is None else t,
        projection=req.projection,
        quality=req.quality,
        format=fmt,
    )
    return f"{view.record.image_name}.{_EXTENSIONS[fmt]}", body


def render_image_download(call: GatewayCall) -> Response:
    fmt = rp.parse_jpeg_format(call.query.get("format"), default="jpeg")
    name, body = _rendered(call, call.path_id("iid"), fmt, call.path_int("z"), call.path_int("t"))
    return Response(body, media_type=FORCE, headers=_disposition(name))


def download_as(call: GatewayCall) -> Response:
    fmt = rp.parse_jpeg_format(call.query.get("format"), default="png")
    images = _ids(call, "image")
    if "iid" in call.request.path_params:
        images.insert(0, call.path_id("iid"))
    if not images:
        raise InvalidInput("No images found.", param="image")
    if len(images) == 1:
        name, body = _rendered(call, images[0], fmt, None, None)
        return Response(body, media_type=FORCE, headers=_disposition(name))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for image_id in dict.fromkeys(images):
            name, body = _rendered(call, image_id, fmt, None, None)
            archive.writestr(f"{image_id}_{name}", body)
    zip_name = (call.query.get("zipname") or "Export_as_" + fmt).removesuffix(".zip") + ".zip"
    return Response(buffer.getvalue(), media_type=FORCE, headers=_disposition(zip_name))


def routes() -> list[Route]:
    g = "/webgateway/"
    routes = [
        Route(f"{g}archived_files/download/", gateway(archived_files)),
        Route(f"{g}archived_files/download/{{iid:int}}/", gateway(archived_files)),
        Route(f"{g}original_file_paths/{{iid:int}}/", gateway(original_file_paths, kind="json")),
        Route("/webclient/download_original_file/{fid:int}/", gateway(download_original_file)),
        Route("/webclient/get_original_file/{fid:int}/", gateway(download_original_file)),
        Route(f"{g}download_as/", gateway(download_as)),
        Route(f"{g}download_as/{{iid:int}}/", gateway(download_as)),
    ]
    for prefix in (g, "/webclient/"):
        routes += [
            Route(f"{prefix}render_image_download/{{iid:int}}/", gateway(render_image_download)),
            Route(
                f"{prefix}render_image_download/{{iid:int}}/{{z:int}}/",
                gateway(render_image_download),
            ),
            Route(
                f"{prefix}render_image_download/{{iid:int}}/{{z:int}}/{{t:int}}/",
                gateway(render_image_download),
            ),
        ]
    return routes
