"""Saving, copying, resetting and listing users' rendering settings (RenderingDefs).

As in OMERO, every user keeps their own settings per image; a reader may save theirs on any
image they can read (the guest user may not). ``copyImgRDef`` keeps the copied settings in
the web session until they are pasted onto other images.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pyomero.errors import InvalidInput, SecurityViolation
from pyomero.model.entities import Experimenter
from pyomero.model.rendering import RenderingDef, default_rendering
from pyomero.pixels import luts as lut_tables
from pyomero.services.accounts import Context, utcnow
from pyomero.services.rendering import ImageView, open_image, open_images
from pyomero.store import accounts as account_store
from pyomero.store import pixels as store
from pyomero.store import targets

__all__ = [
    "TARGET_TYPES",
    "apply_owners",
    "copied",
    "copy_to",
    "image_rdefs",
    "luts",
    "luts_png",
    "remember_copy",
    "reset_defaults",
    "save",
]

#: ``to_type`` values of copyImgRDef / resetRDef / applyOwnersRDef.
TARGET_TYPES = ("image", "dataset", "plate", "acquisition")


def _check_writer(ctx: Context) -> None:
    if ctx.actor.is_guest:
        raise SecurityViolation("the guest user may not save rendering settings")


def _store(ctx: Context, view: ImageView, rdef: RenderingDef) -> None:
    with ctx.instance.db.write() as conn:
        event = account_store.new_event(
            conn, ctx.actor, kind="Internal", now=utcnow(), session_id=ctx.session_id
        )
        store.save_rendering_def(
            conn,
            view.record.pixels_id,
            rdef,
            owner_id=ctx.actor.user_id,
            group_id=view.record.group_id,
            event_id=event,
        )


def save(ctx: Context, image_id: int, make: Callable[[ImageView], RenderingDef]) -> None:
    """Save the caller's settings of one image; ``make`` derives them from the current ones."""
    _check_writer(ctx)
    view = open_image(ctx, image_id)
    _store(ctx, view, make(view))


@dataclass(frozen=True, slots=True)
class RdefListing:
    rdef: RenderingDef
    owner: Experimenter


def image_rdefs(ctx: Context, image_id: int) -> list[RdefListing]:
    """Every user's saved settings of a readable image."""
    view = open_image(ctx, image_id)
    with ctx.instance.db.read() as conn:
        found = store.rendering_defs(conn, view.record.pixels_id)
        return [
            RdefListing(r, account_store.get_experimenter(conn, r.owner_id or 0)) for r in found
        ]


def _image_ids(ctx: Context, to_type: str, ids: Sequence[int]) -> list[int]:
    if to_type not in TARGET_TYPES:
        raise InvalidInput(f"to_type must be one of {', '.join(TARGET_TYPES)}", param="to_type")
    if to_type == "image":
        return list(ids)
    with ctx.instance.db.read() as conn:
        return targets.images_in(conn, ctx.actor, to_type, ids)


def _apply_each(
    ctx: Context, to_type: str, ids: Sequence[int], make: Callable[[ImageView], RenderingDef | None]
) -> tuple[list[int], list[int]]:
    """Save ``make(view)`` for each target image; (succeeded, failed) image ids."""
    _check_writer(ctx)
    image_ids = _image_ids(ctx, to_type, ids)
    views = open_images(ctx, image_ids)
    done, failed = [], []
    for iid in image_ids:
        view = views.get(iid)
        rdef = None if view is None else make(view)
        if view is None or rdef is None:
            failed.append(iid)
            continue
        _store(ctx, view, rdef)
        done.append(iid)
    return done, failed


def reset_defaults(ctx: Context, to_type: str, ids: Sequence[int]) -> list[int]:
    """Reset the caller's settings to the imported defaults; the image ids done."""
    return _apply_each(ctx, to_type, ids, lambda v: default_rendering(v.record.info))[0]


def apply_owners(ctx: Context, to_type: str, ids: Sequence[int]) -> list[int]:
    """Give the caller the owner's settings (or the defaults where the owner saved none)."""

    def owners(view: ImageView) -> RenderingDef:
        with ctx.instance.db.read() as conn:
            found = store.rendering_def(conn, view.record.pixels_id, view.record.owner_id)
        return found or default_rendering(view.record.info)

    return _apply_each(ctx, to_type, ids, owners)[0]


def copy_to(
    ctx: Context,
    to_type: str,
    ids: Sequence[int],
    apply: Callable[[ImageView], RenderingDef | None],
) -> tuple[list[int], list[int]]:
    """Paste settings (``apply`` builds them per target, None where they do not fit)."""
    return _apply_each(ctx, to_type, ids, apply)


def remember_copy(ctx: Context, settings: dict[str, Any] | None) -> None:
    """Keep copied settings (the ``getImgRDef`` shape) in the caller's session."""
    with ctx.instance.db.write() as conn:
        account_store.set_copied_rdef(
            conn, ctx.session_id, None if settings is None else json.dumps(settings)
        )


def copied(ctx: Context) -> dict[str, Any] | None:
    with ctx.instance.db.read() as conn:
        text = account_store.copied_rdef(conn, ctx.session_id)
    return None if text is None else json.loads(text)


def luts() -> list[dict[str, object]]:
    """The shipped LUTs as ``/webgateway/luts/`` lists them, each with its 256 RGB rows."""
    listing = lut_tables.luts_listing()
    for entry in listing:
        table = lut_tables.lut(str(entry["name"]))
        entry["rgb"] = [] if table is None else np.asarray(table).tolist()
    return listing


def luts_png() -> bytes:
    return lut_tables.luts_png()


def legacy_lut_paths() -> list[str]:
    return list(lut_tables.LEGACY_PNG_LUTS)
