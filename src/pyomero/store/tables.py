"""SQL of bulk-annotation tables: walking object paths (``Screen.plateLinks.child.wells``)
back to the annotated object, the bulk-annotation files on it, the objects a CSV may name
inside a target, and the rows a populated table adds. Permission checks are the caller's;
every read here filters with the compiled visibility predicate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, insert, literal, or_, select, union_all

from pyomero.model.permissions import Actor
from pyomero.store import schema as s
from pyomero.store.annotations import map_values
from pyomero.store.db import inserted_id
from pyomero.store.visibility import readable

NS_BULK = "openmicroscopy.org/omero/bulk_annotations"
MIMETYPE = "OMERO.tables"


@dataclass(frozen=True, slots=True)
class BulkFileRow:
    """A bulk-annotation file linked to an object, with who linked it and when."""

    id: int
    name: str
    file: int
    ns: str | None
    parent_type: str
    parent_id: int
    owner: str
    added_by: str
    added_on: Any  # the link's creation time


#: (class, property) -> (class reached, table, column of the "from" id, column of the "to" id):
#: the subset of OMERO's model that bulk-annotation paths walk.
_EDGES: dict[tuple[str, str], tuple[str, Table, str, str]] = {
    ("Screen", "plateLinks"): ("ScreenPlateLink", s.screenplatelink, "parent", "id"),
    ("ScreenPlateLink", "child"): ("Plate", s.screenplatelink, "id", "child"),
    ("ScreenPlateLink", "parent"): ("Screen", s.screenplatelink, "id", "parent"),
    ("Plate", "screenLinks"): ("ScreenPlateLink", s.screenplatelink, "child", "id"),
    ("Plate", "wells"): ("Well", s.well, "plate", "id"),
    ("Plate", "plateAcquisitions"): ("PlateAcquisition", s.plateacquisition, "plate", "id"),
    ("PlateAcquisition", "plate"): ("Plate", s.plateacquisition, "id", "plate"),
    ("PlateAcquisition", "wellSample"): ("WellSample", s.wellsample, "plateacquisition", "id"),
    ("Well", "plate"): ("Plate", s.well, "id", "plate"),
    ("Well", "wellSamples"): ("WellSample", s.wellsample, "well", "id"),
    ("WellSample", "well"): ("Well", s.wellsample, "id", "well"),
    ("WellSample", "image"): ("Image", s.wellsample, "id", "image"),
    ("WellSample", "plateAcquisition"): (
        "PlateAcquisition",
        s.wellsample,
        "id",
        "plateacquisition",
    ),
    ("Image", "wellSamples"): ("WellSample", s.wellsample, "image", "id"),
    ("Image", "datasetLinks"): ("DatasetImageLink", s.datasetimagelink, "child", "id"),
    ("Image", "rois"): ("Roi", s.roi, "image", "id"),
    ("Roi", "image"): ("Image", s.roi, "id", "image"),
    ("Project", "datasetLinks"): ("ProjectDatasetLink", s.projectdatasetlink, "parent", "id"),
    ("ProjectDatasetLink", "child"): ("Dataset", s.projectdatasetlink, "id", "child"),
    ("ProjectDatasetLink", "parent"): ("Project", s.projectdatasetlink, "id", "parent"),
    ("Dataset", "projectLinks"): ("ProjectDatasetLink", s.projectdatasetlink, "child", "id"),
    ("Dataset", "imageLinks"): ("DatasetImageLink", s.datasetimagelink, "parent", "id"),
    ("DatasetImageLink", "child"): ("Image", s.datasetimagelink, "id", "child"),
    ("DatasetImageLink", "parent"): ("Dataset", s.datasetimagelink, "id", "parent"),
}
#: Classes a path may start from: those with annotation links, and their link tables.
_ROOTS = {
    "Screen": "screen",
    "Plate": "plate",
    "PlateAcquisition": "plateacquisition",
    "Well": "well",
    "Image": "image",
    "Roi": "roi",
    "Project": "project",
    "Dataset": "dataset",
}


def hql(parts: Sequence[str]) -> str:
    """The HQL OMERO.web builds for a path; its error bodies carry it as ``query``."""
    text = f"select obj0 from {parts[0]} obj0\n"
    for i, prop in enumerate(parts[1:]):
        text += f"join fetch obj{i}.{prop} obj{i + 1}\n"
    return text + (
        "\n        left outer join fetch obj0.annotationLinks links\n"
        "        left outer join fetch links.child as f\n"
        "        left outer join fetch links.parent\n"
        "        left outer join fetch f.file\n"
        "        join fetch links.details.owner\n"
        "        join fetch links.details.creationEvent\n"
        f"        where obj{len(parts) - 1}.id=:id and\n"
        "        (f.ns=:ns or f.file.mimetype=:mt)"
    )


def root_ids(
    conn: Connection, actor: Actor, objtype: str, object_id: int
) -> tuple[str, list[int]] | None:
    """The ids of the path's first class reached from ``object_id`` (walked backwards);
    None when the path is not one of the model's.

    Every step keeps readable rows only, as OMERO's security filter does for each join.
    """
    parts = objtype.split(".")
    if parts[0] not in _ROOTS or any(not p for p in parts):
        return None
    steps = []
    current = parts[0]
    for prop in parts[1:]:
        edge = _EDGES.get((current, prop))
        if edge is None:
            return None
        steps.append(edge)
        current = edge[0]
    ids = [object_id]
    for _, table, from_col, to_col in reversed(steps):
        if not ids:
            break
        ids = list(
            conn.scalars(
                select(table.c[from_col])
                .where(table.c[to_col].in_(ids), readable(actor, table))
                .distinct()
            )
        )
    root = s.ANNOTATABLE[_ROOTS[parts[0]]]
    found = conn.scalars(select(root.c.id).where(root.c.id.in_(ids), readable(actor, root)))
    return parts[0], sorted(found)


def bulk_files(
    conn: Connection, actor: Actor, parent_type: str, ids: Sequence[int]
) -> list[BulkFileRow]:
    """The readable bulk-annotation files linked to the readable objects ``ids``."""
    if not ids:
        return []
    link = s.annotation_links[_ROOTS[parent_type]]
    ann, of = s.annotation, s.originalfile
    owner, adder = s.experimenter.alias("owner"), s.experimenter.alias("adder")
    rows = conn.execute(
        select(
            ann.c.id, ann.c.ns, of.c.id.label("file"), of.c.name, link.c.parent,
            owner.c.firstname.label("of"), owner.c.lastname.label("ol"),
            adder.c.firstname.label("af"), adder.c.lastname.label("al"), s.event.c.time,
        )
        .select_from(link)
        .join(ann, ann.c.id == link.c.child)
        .join(of, of.c.id == ann.c.file)
        .join(owner, owner.c.id == ann.c.owner_id)
        .join(adder, adder.c.id == link.c.owner_id)
        .join(s.event, s.event.c.id == link.c.creation_event_id)
        .where(
            link.c.parent.in_(ids),
            ann.c.discriminator == "File",
            or_(ann.c.ns == NS_BULK, of.c.mimetype == MIMETYPE),
            readable(actor, link), readable(actor, ann), readable(actor, of),
        )
        .order_by(link.c.id)
    ).all()  # fmt: skip
    return [
        BulkFileRow(
            r.id, r.name, r.file, r.ns, parent_type, r.parent,
            f"{r.of} {r.ol}", f"{r.af} {r.al}", r.time,
        )
        for r in rows
    ]  # fmt: skip


def table_file(conn: Connection, actor: Actor, file_id: int) -> Any:
    """Name, location and mimetype of a readable OriginalFile (None when unreadable)."""
    return conn.execute(
        select(s.originalfile.c.name, s.originalfile.c.location, s.originalfile.c.mimetype).where(
            s.originalfile.c.id == file_id, readable(actor, s.originalfile)
        )
    ).first()


class TargetObjects:
    """The objects inside one target that a CSV may name, loaded once (the resolver of
    :mod:`pyomero.tables.csv_populate`)."""

    def __init__(self, conn: Connection, actor: Actor, kind: str, target_id: int) -> None:
        self.plates: dict[int, str] = {}
        self.wells: dict[tuple[int, int, int], int] = {}  # (plate, row, column) -> well
        self.well_pos: dict[int, tuple[int, int, int]] = {}
        self.images: dict[int, tuple[str, int | None]] = {}  # image -> (name, plate/dataset)
        self.datasets: dict[int, str] = {}
        self.rois: dict[int, str] = {}
        if kind == "Plate":
            self.plates = {
                target_id: conn.scalar(select(s.plate.c.name).where(s.plate.c.id == target_id))
                or ""
            }
        elif kind == "Screen":
            link = s.screenplatelink
            self.plates = dict(conn.execute(
                select(s.plate.c.id, s.plate.c.name).join(link, link.c.child == s.plate.c.id)
                .where(link.c.parent == target_id, readable(actor, s.plate))
            ).all())  # fmt: skip
        if self.plates:
            w, ws, im = s.well, s.wellsample, s.image
            for wid, plate, row, col in conn.execute(
                select(w.c.id, w.c.plate, w.c.row, w.c.column).where(
                    w.c.plate.in_(list(self.plates))
                )
            ):
                self.wells[(plate, row, col)] = wid
                self.well_pos[wid] = (plate, row, col)
            for iid, name, plate in conn.execute(
                select(im.c.id, im.c.name, w.c.plate).join(ws, ws.c.image == im.c.id)
                .join(w, w.c.id == ws.c.well).where(w.c.plate.in_(list(self.plates)))
            ):  # fmt: skip
                self.images[iid] = (name, plate)
        if kind in ("Project", "Dataset"):
            if kind == "Project":
                pdl = s.projectdatasetlink
                self.datasets = dict(conn.execute(
                    select(s.dataset.c.id, s.dataset.c.name).join(pdl, pdl.c.child == s.dataset.c.id)
                    .where(pdl.c.parent == target_id, readable(actor, s.dataset))
                ).all())  # fmt: skip
            else:
                self.datasets = {target_id: ""}
            dil, im = s.datasetimagelink, s.image
            for iid, name, did in conn.execute(
                select(im.c.id, im.c.name, dil.c.parent).join(dil, dil.c.child == im.c.id)
                .where(dil.c.parent.in_(list(self.datasets)), readable(actor, im))
            ):  # fmt: skip
                self.images[iid] = (name, did)
        images = list(self.images)
        for start in range(0, len(images), 10_000):  # PostgreSQL takes 65,535 parameters
            self.rois.update(conn.execute(
                select(s.roi.c.id, s.roi.c.name)
                .where(s.roi.c.image.in_(images[start : start + 10_000]))
            ).all())  # fmt: skip
        self.single_plate = next(iter(self.plates)) if len(self.plates) == 1 else None

    @staticmethod
    def _named(items: dict[int, str], value: str) -> tuple[int, str] | None:
        for oid, name in items.items():
            if name == value:
                return oid, name
        if value.isdigit() and int(value) in items:
            return int(value), items[int(value)]
        return None

    def plate(self, value: str) -> tuple[int, str] | None:
        return self._named(self.plates, value)

    def dataset(self, value: str) -> tuple[int, str] | None:
        return self._named(self.datasets, value)

    def roi(self, value: str) -> tuple[int, str] | None:
        found = self._named({k: v or "" for k, v in self.rois.items()}, value)
        return found

    def well(self, plate_id: int | None, row: int, column: int) -> int | None:
        plate = plate_id if plate_id is not None else self.single_plate
        return None if plate is None else self.wells.get((plate, row, column))

    def well_position(self, well_id: int, plate_id: int | None) -> tuple[int, int] | None:
        found = self.well_pos.get(well_id)
        if found is None or (plate_id is not None and found[0] != plate_id):
            return None
        return found[1], found[2]

    def image(
        self, value: str, *, plate_id: int | None, dataset_id: int | None
    ) -> tuple[int, str] | None:
        scope = plate_id if plate_id is not None else dataset_id
        if value.isdigit() and int(value) in self.images:
            name, parent = self.images[int(value)]
            if scope is None or parent == scope:
                return int(value), name
        matches = [i for i, (n, p) in self.images.items() if n == value and scope in (None, p)]
        return (matches[0], value) if len(matches) == 1 else None


def insert_table_file(
    conn: Connection, *, name: str, size: int, sha1: str, location: str, details: dict[str, int]
) -> tuple[int, int]:
    """The OriginalFile of a table and the FileAnnotation (bulk namespace) that carries it."""
    file_id = inserted_id(conn.execute(insert(s.originalfile).values(
        name=name, path="/", size=size, hash=sha1, hasher="SHA1-160", mimetype=MIMETYPE,
        location=location, **details,
    )))  # fmt: skip
    annotation_id = inserted_id(conn.execute(insert(s.annotation).values(
        discriminator="File", ns=NS_BULK, file=file_id, **details
    )))  # fmt: skip
    return file_id, annotation_id


def well_images(conn: Connection, well_ids: Sequence[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    for well_id, image_id in conn.execute(
        select(s.wellsample.c.well, s.wellsample.c.image).where(
            s.wellsample.c.well.in_(list(well_ids))
        )
    ):
        found.setdefault(well_id, []).append(image_id)
    return found


def owner_group_pairs(
    conn: Connection, wells: Sequence[int], images: Sequence[int]
) -> set[tuple[int, int]]:
    """The distinct (owner, group) of the given wells and images, for one permission check
    per pair rather than per object."""
    pairs: set[tuple[int, int]] = set()
    for table, ids in ((s.well, wells), (s.image, images)):
        if ids:
            pairs |= {
                (r.owner_id, r.group_id)
                for r in conn.execute(
                    select(table.c.owner_id, table.c.group_id)
                    .where(table.c.id.in_(list(ids)))
                    .distinct()
                )
            }
    return pairs


@dataclass(frozen=True, slots=True)
class NamespaceMap:
    """A MapAnnotation a bulkmap run may share: its namespace, owner and pairs in order."""

    id: int
    ns: str
    owner_id: int
    group_id: int
    pairs: list[tuple[str, str]]


def maps_in_namespaces(
    conn: Connection, actor: Actor, group_id: int, namespaces: Sequence[str]
) -> list[NamespaceMap]:
    """The readable MapAnnotations of ``group_id`` in ``namespaces``, oldest first."""
    if not namespaces:
        return []
    ann = s.annotation
    rows = conn.execute(
        select(ann.c.id, ann.c.ns, ann.c.owner_id, ann.c.group_id)
        .where(
            ann.c.discriminator == "Map",
            ann.c.ns.in_(list(namespaces)),
            ann.c.group_id == group_id,
            readable(actor, ann),
        )
        .order_by(ann.c.id)
    ).all()
    pairs = map_values(conn, [r.id for r in rows])
    return [NamespaceMap(r.id, r.ns, r.owner_id, r.group_id, pairs.get(r.id, [])) for r in rows]


def linked_parents(conn: Connection, annotation_id: int) -> set[tuple[str, int]]:
    """The (type, id) of Wells and Images an annotation is already linked to."""
    found: set[tuple[str, int]] = set()
    for kind in ("well", "image"):
        link = s.annotation_links[kind]
        found |= {
            (kind, parent)
            for parent in conn.scalars(select(link.c.parent).where(link.c.child == annotation_id))
        }
    return found


def _hierarchy(target: str, target_id: int) -> dict[str, Any]:
    """Subqueries of the ids, per annotatable kind, of ``target`` and everything under it:
    a Screen's Plates, their runs, Wells and Images; a Plate's; a Project's Datasets and
    Images; a Dataset's Images (omero-metadata's ``DeleteMapAnnotationContext`` walk)."""

    def ids(column: Any, *where: Any) -> Any:
        return select(column).where(*where)

    found: dict[str, Any] = {target.lower(): select(literal(target_id))}
    if target in ("Screen", "Plate"):
        plates = (
            ids(s.screenplatelink.c.child, s.screenplatelink.c.parent == target_id)
            if target == "Screen"
            else select(literal(target_id))
        )
        wells = ids(s.well.c.id, s.well.c.plate.in_(plates))
        found["plate"] = plates
        found["plateacquisition"] = ids(
            s.plateacquisition.c.id, s.plateacquisition.c.plate.in_(plates)
        )
        found["well"] = wells
        found["image"] = ids(s.wellsample.c.image, s.wellsample.c.well.in_(wells))
    else:
        datasets = (
            ids(s.projectdatasetlink.c.child, s.projectdatasetlink.c.parent == target_id)
            if target == "Project"
            else select(literal(target_id))
        )
        found["dataset"] = datasets
        found["image"] = ids(s.datasetimagelink.c.child, s.datasetimagelink.c.parent.in_(datasets))
    return found


def maps_under(
    conn: Connection, actor: Actor, target: str, target_id: int, namespaces: Sequence[str]
) -> list[Any]:
    """The readable MapAnnotations in ``namespaces`` linked to ``target`` or anything under
    it: rows of (id, owner_id, group_id), each once, by id."""
    ann = s.annotation
    linked = [
        select(s.annotation_links[kind].c.child).where(
            s.annotation_links[kind].c.parent.in_(parents)
        )
        for kind, parents in _hierarchy(target, target_id).items()
    ]
    return list(
        conn.execute(
            select(ann.c.id, ann.c.owner_id, ann.c.group_id)
            .where(
                ann.c.discriminator == "Map",
                ann.c.ns.in_(list(namespaces)),
                ann.c.id.in_(union_all(*linked)),
                readable(actor, ann),
            )
            .order_by(ann.c.id)
        )
    )


def existing_ids(conn: Connection, kind: str, ids: Iterable[int]) -> set[int]:
    """Which of ``ids`` are still rows of ``kind`` (``well`` or ``image``)."""
    table = {"well": s.well, "image": s.image}[kind]
    wanted = list(ids)
    found: set[int] = set()
    for start in range(0, len(wanted), 10_000):
        chunk = wanted[start : start + 10_000]
        found |= set(conn.scalars(select(table.c.id).where(table.c.id.in_(chunk))))
    return found
