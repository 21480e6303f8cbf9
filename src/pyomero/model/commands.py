"""What a client asks to be written: decoded from JSON by ``wire/``, carried out by services."""

from __future__ import annotations

from dataclasses import dataclass, field

#: The container fields each savable type accepts, by model field name.
SAVABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "Project": ("name", "description"),
    "Dataset": ("name", "description"),
    "Screen": (
        "name",
        "description",
        "protocol_description",
        "protocol_identifier",
        "reagent_set_description",
        "reagent_set_identifier",
        "type",
    ),
}

#: The annotation classes ``/m/save/`` creates and replaces on their own, by class name
#: (the text after ``#`` in ``@type``) -> :attr:`AnnotationSpec.kind`.
SAVABLE_ANNOTATIONS: dict[str, str] = {
    "MapAnnotation": "Map",
    "TagAnnotation": "Tag",
    "CommentAnnotation": "Comment",
}


@dataclass(slots=True)
class AnnotationSpec:
    """An annotation to link: an existing one (``id`` set) or a new one to create.

    ``kind`` is the class name without ``Annotation`` (``Tag``, ``Comment``, ``Map``...).
    ``value`` is str for Tag/Comment/Xml/Term, int for Long, float for Double, bool for
    Boolean, int milliseconds for Timestamp and a list of (key, value) pairs for Map.
    """

    kind: str
    id: int | None = None
    ns: str | None = None
    description: str | None = None
    value: object = None


@dataclass(slots=True)
class SaveRequest:
    """A create (``id`` None) or full replace of a Project, Dataset or Screen.

    ``values`` holds every field of ``SAVABLE_FIELDS[kind]``: a field the client omitted is
    present with value None, because a PUT is a full replace. ``annotations`` is None when
    the JSON had no ``Annotations`` key (existing links are kept either way).
    """

    kind: str
    id: int | None
    values: dict[str, str | None]
    group_id: int | None = None
    annotations: list[AnnotationSpec] | None = field(default=None)


@dataclass(slots=True)
class AnnotationSaveRequest:
    """A create (``annotation.id`` None) or full replace of a standalone annotation.

    A replace sets ``ns``, ``description`` and ``value`` as given: None clears them, and a
    Map's pairs are replaced in order. ``group_id`` is the group asked for (``?group=`` or
    ``omero:details.group``), None when the client named none.
    """

    annotation: AnnotationSpec
    group_id: int | None = None
