"""Decoding of ``/api/v0/m/save/`` bodies (omero-marshal JSON, schema 2016-06).

:func:`decode_save` reproduces OMERO.web's ``SaveView`` checks in their order, with their
exact messages (spec/omero-json-api.md 1.3 and 3.1), then decodes the body the way
omero-marshal's ``Project``/``Dataset``/``Screen`` decoders do, strictly: anything
malformed raises :class:`DecodeError`, which OMERO reports as a 400 "Error in decode of
json data by omero_marshal" with the decoder's traceback.

What is decoded and what is ignored:

- ``@id`` (PUT only) must be an int.
- ``omero:details`` may be absent or null; otherwise it must be an object with
  ``@type`` ``TBD#Details``. Its ``group`` (if present and not null) must be an object
  with an int ``@id`` and ``@type`` ``<schema>#ExperimenterGroup``; that id becomes
  :attr:`SaveRequest.group_id`. ``owner``, ``permissions`` and ``externalInfo`` are ignored,
  as OMERO's ``unloadDetails()`` ignores them.
- Every field of ``SAVABLE_FIELDS[kind]`` is read from its JSON key and must be a string
  or null; an omitted key gives None (a PUT is a full replace).
- ``Annotations``, when present, must be a list of annotation objects (see
  :data:`ANNOTATION_TYPES`); each becomes an :class:`AnnotationSpec` to link.
- Child arrays (``Datasets``, ``Images``, ``Plates``), ``url:*`` keys,
  ``omero:childCount`` and any other key are ignored.

A ``MapAnnotation``, ``TagAnnotation`` or ``CommentAnnotation`` body (pyomero's extension,
see :data:`SAVABLE_ANNOTATIONS`) decodes to an :class:`AnnotationSaveRequest` with the
same checks: ``@id``, ``omero:details`` and its group as above; ``Namespace`` and
``Description`` strings or null; ``Value`` a string (Tag, Comment) or a list of
``[key, value]`` string pairs (Map), or null.
"""

from __future__ import annotations

import traceback
from typing import Any

from pyomero.errors import InvalidInput, NotSupported
from pyomero.model.commands import (
    SAVABLE_ANNOTATIONS,
    SAVABLE_FIELDS,
    AnnotationSaveRequest,
    AnnotationSpec,
    SaveRequest,
)

SCHEMA_URL = "http://www.openmicroscopy.org/Schemas/OME/2016-06"

DETAILS_TYPE = "TBD#Details"
GROUP_TYPE = SCHEMA_URL + "#ExperimenterGroup"

#: JSON key of each savable model field.
FIELD_KEYS: dict[str, str] = {
    "name": "Name",
    "description": "Description",
    "protocol_description": "ProtocolDescription",
    "protocol_identifier": "ProtocolIdentifier",
    "reagent_set_description": "ReagentSetDescription",
    "reagent_set_identifier": "ReagentSetIdentifier",
    "type": "Type",
}

#: The annotation ``@type`` values a save body may carry, mapped to ``AnnotationSpec.kind``.
ANNOTATION_TYPES: dict[str, str] = {
    f"{SCHEMA_URL}#{kind}Annotation": kind
    for kind in (
        "Comment",
        "Tag",
        "Xml",
        "Term",
        "Long",
        "Double",
        "Boolean",
        "Timestamp",
        "Map",
        "File",
    )
}

_DECODE_MESSAGE = "Error in decode of json data by omero_marshal"


class DecodeError(InvalidInput):
    """The body has the right ``@type`` but does not decode.

    ``stacktrace`` holds the formatted traceback of the underlying problem, as OMERO puts
    omero-marshal's traceback in the error body.
    """

    def __init__(self, stacktrace: str) -> None:
        super().__init__(_DECODE_MESSAGE)
        self.stacktrace = stacktrace


def decode_save(body: object, *, method: str) -> SaveRequest | AnnotationSaveRequest:
    """Check and decode a ``/m/save/`` body; ``method`` is ``"POST"`` or ``"PUT"``.

    Raises, in this order: InvalidInput "Need to specify @type attribute" (also for a body
    that is not a JSON object), NotSupported "Creation|Update of <Name> not supported",
    InvalidInput for a misplaced or missing ``@id``, InvalidInput "No decoder found for
    type: ...", and finally :class:`DecodeError`.
    """
    method = method.upper()
    if method not in ("POST", "PUT"):
        raise ValueError(f"decode_save: method must be POST or PUT, not {method!r}")
    if not isinstance(body, dict) or "@type" not in body:
        raise InvalidInput("Need to specify @type attribute", param="@type")
    full_type = body["@type"]
    name = _type_name(full_type)
    if name not in SAVABLE_FIELDS and name not in SAVABLE_ANNOTATIONS:
        verb = "Creation" if method == "POST" else "Update"
        raise NotSupported(f"{verb} of {name} not supported")
    if method == "POST" and "@id" in body:
        raise InvalidInput("Object has '@id' attribute. Use PUT to update objects", param="@id")
    if method == "PUT" and "@id" not in body:
        raise InvalidInput("No '@id' attribute. Use POST to create new objects", param="@id")
    if full_type != f"{SCHEMA_URL}#{name}":
        raise InvalidInput(f"No decoder found for type: {full_type}", param="@type")
    try:
        if name in SAVABLE_ANNOTATIONS:
            return _decode_annotation(body, SAVABLE_ANNOTATIONS[name])
        return _decode(body, name)
    except (ValueError, TypeError) as exc:
        raise DecodeError(traceback.format_exc()) from exc


def _type_name(full_type: object) -> str | None:
    """The text after the first ``#`` up to the next one, as ``split("#")[1]``; else None."""
    if not isinstance(full_type, str):
        return None
    parts = full_type.split("#")
    return parts[1] if len(parts) > 1 else None


def _decode(body: dict[str, Any], kind: str) -> SaveRequest:
    obj_id = None
    if "@id" in body:
        obj_id = _int(body["@id"], "@id")
    values: dict[str, str | None] = {
        field: _str(body.get(FIELD_KEYS[field]), FIELD_KEYS[field])
        for field in SAVABLE_FIELDS[kind]
    }
    group_id = _group_id(body.get("omero:details"))
    annotations = None
    if "Annotations" in body:
        raw = body["Annotations"]
        if not isinstance(raw, list):
            raise TypeError(f"Annotations must be a list, not {type(raw).__name__}")
        annotations = [_annotation(item, i) for i, item in enumerate(raw)]
    return SaveRequest(
        kind=kind, id=obj_id, values=values, group_id=group_id, annotations=annotations
    )


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{where} must be an integer, not {value!r}")
    return value


def _str(value: object, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{where} must be a string or null, not {value!r}")
    return value


def _details(details: object, where: str) -> dict[str, Any] | None:
    """Validate an ``omero:details`` value; None when absent or null."""
    if details is None:
        return None
    if not isinstance(details, dict):
        raise TypeError(f"{where} must be an object, not {type(details).__name__}")
    if details.get("@type") != DETAILS_TYPE:
        raise ValueError(
            f"{where}: no decoder for @type {details.get('@type')!r} (expected {DETAILS_TYPE!r})"
        )
    return details


def _group_id(details: object) -> int | None:
    checked = _details(details, "omero:details")
    if checked is None:
        return None
    group = checked.get("group")
    if group is None:
        return None
    if not isinstance(group, dict):
        raise TypeError(f"omero:details.group must be an object, not {type(group).__name__}")
    if group.get("@type") != GROUP_TYPE:
        raise ValueError(
            f"omero:details.group: no decoder for @type {group.get('@type')!r} "
            f"(expected {GROUP_TYPE!r})"
        )
    return _int(group.get("@id"), "omero:details.group.@id")


def _decode_annotation(body: dict[str, Any], kind: str) -> AnnotationSaveRequest:
    """A standalone annotation: its fields, then the group of its ``omero:details``."""
    if "@id" in body:
        _int(body["@id"], "@id")  # a PUT's ``@id`` may not be null
    spec = _annotation_spec(body, kind, "")
    return AnnotationSaveRequest(spec, _group_id(body.get("omero:details")))


def _annotation(item: object, index: int) -> AnnotationSpec:
    where = f"Annotations[{index}]."
    if not isinstance(item, dict):
        raise TypeError(f"{where[:-1]} must be an object, not {type(item).__name__}")
    kind = ANNOTATION_TYPES.get(item.get("@type"))  # type: ignore[arg-type]
    if kind is None:
        raise ValueError(f"{where[:-1]}: no decoder for @type {item.get('@type')!r}")
    _details(item.get("omero:details"), f"{where}omero:details")
    return _annotation_spec(item, kind, where)


def _annotation_spec(item: dict[str, Any], kind: str, where: str) -> AnnotationSpec:
    """``@id``, ``Namespace``, ``Description`` and ``Value``; ``where`` prefixes messages."""
    ann_id = item.get("@id")
    return AnnotationSpec(
        kind=kind,
        id=None if ann_id is None else _int(ann_id, f"{where}@id"),
        ns=_str(item.get("Namespace"), f"{where}Namespace"),
        description=_str(item.get("Description"), f"{where}Description"),
        value=_annotation_value(kind, item.get("Value"), f"{where}Value"),
    )


def _annotation_value(kind: str, value: object, where: str) -> object:
    if value is None or kind == "File":
        return None
    if kind in ("Comment", "Tag", "Xml", "Term"):
        return _str(value, where)
    if kind in ("Long", "Timestamp"):
        return _int(value, where)
    if kind == "Double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{where} must be a number, not {value!r}")
        return float(value)
    if kind == "Boolean":
        if not isinstance(value, bool):
            raise TypeError(f"{where} must be a boolean, not {value!r}")
        return value
    # Map: a list of [key, value] string pairs
    if not isinstance(value, list):
        raise TypeError(f"{where} must be a list of [key, value] pairs, not {value!r}")
    pairs: list[tuple[str, str]] = []
    for pair in value:
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(part, str) for part in pair)
        ):
            raise TypeError(f"{where} entries must be [key, value] string pairs, not {pair!r}")
        pairs.append((pair[0], pair[1]))
    return pairs
