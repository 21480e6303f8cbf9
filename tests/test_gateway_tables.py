"""Bulk-annotation tables over HTTP: webgateway-idr.md assertions 63-73, the IDR notebook's
table call (section 9 step 8), errors as 200 ``{"error"}`` and who may read what.

A read-annotate group ``lab`` holds a Screen with two 2x3 plates; user1 populates it from a
CSV through ``POST /pyomero/metadata/populate/``. ``outsider`` is only in a private group.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from apidata import (
    fast_passwords,  # noqa: F401 - autouse
    login,
    new_group,
    new_user,
    sqlite_only,
)
from pyomero.model.permissions import GroupLevel
from pyomero.services.instance import Instance
from pyomero.store import bulk, schema
from pyomero.testing.http import ApiClient

G = "/webgateway"
POPULATE = "/pyomero/metadata/populate/"
ROWS = "ABCDEFGH"


@dataclass
class World:
    instance: Instance
    screen: int
    plates: list[int]
    wells: list[list[int]]  # per plate, row-major
    images: list[list[int]]
    dataset: int
    user1: ApiClient
    user2: ApiClient
    outsider: ApiClient
    anonymous: Any


def _csv(world_plates: list[str]) -> str:
    lines = ["# header plate,well,s,l,d,b", "Plate,Well,Gene Symbol,Count,Score,Hit"]
    n = 0
    for name in world_plates:
        for r in range(2):
            for c in range(3):
                lines.append(f"{name},{ROWS[r]}{c + 1},G{n},{n},{n / 2},{'yes' if n % 2 else 'no'}")
                n += 1
    return "\n".join(lines) + "\n"


def populate(api: ApiClient, target: str, body: str | bytes, context: str = "table") -> Any:
    return api.post(
        POPULATE,
        params={"target": target, "context": context},
        content=body.encode() if isinstance(body, str) else body,
        headers={"Content-Type": "text/csv"},
    )


@pytest.fixture
def world(instance: Instance, make_client: Any) -> World:
    lab = new_group(instance, "lab", GroupLevel.READ_ANNOTATE)
    new_group(instance, "vault", GroupLevel.PRIVATE)
    u1 = new_user(instance, "user1", ["lab"], first_name="Public", last_name="data")
    new_user(instance, "user2", ["lab"])
    new_user(instance, "outsider", ["vault"])
    with instance.db.write() as conn:
        who = {"owner_id": u1.id, "group_id": lab.id}
        (screen,) = bulk.insert_screens(conn, **who, screens=[{"name": "screen"}])
        plates = [
            bulk.insert_plate(conn, **who, name=f"P{n}", rows=2, columns=3, screen_id=screen)
            for n in (1, 2)
        ]
        (dataset,) = bulk.insert_datasets(conn, **who, datasets=[{"name": "ds"}])
    return World(
        instance,
        screen,
        [p.plate_id for p in plates],
        [list(p.well_ids) for p in plates],
        [list(p.image_ids) for p in plates],
        dataset,
        login(make_client, "user1"),
        login(make_client, "user2"),
        login(make_client, "outsider"),
        make_client().client,
    )


@pytest.fixture
def populated(world: World) -> dict[str, Any]:
    response = populate(world.user1, f"Screen:{world.screen}", _csv(["P1", "P2"]))
    assert response.status_code == 200, response.text
    body = response.json()
    (created,) = body["created"]
    assert created.startswith("FileAnnotation:")
    assert body["rows"] == 12
    return {"ann": int(created.split(":")[1]), "file": body["file"]}


def _get(api: ApiClient, url: str, **params: Any) -> Any:
    response = api.get(url, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


@sqlite_only
def test_object_table_query_by_well(world: World, populated: dict[str, Any]) -> None:
    """Assertions 63-65 and the notebook's step 8."""
    well = world.wells[1][4]  # P2, B2
    url = f"{G}/table/Screen.plateLinks.child.wells/{well}/query/"
    body = _get(world.user1, url, query=f"Well-{well}")
    assert set(body) >= {"data", "meta", "id", "annId", "owner", "addedBy", "parentType",
                         "parentId", "addedOn"}  # fmt: skip
    assert set(body["data"]) == {"column_types", "columns", "rows"}
    assert set(body["meta"]) == {"rowCount", "totalCount", "limit", "offset"}
    assert body["parentType"] == "Screen" and body["parentId"] == world.screen
    assert body["id"] == populated["file"] and body["annId"] == populated["ann"]
    assert body["owner"] == "Public data" and isinstance(body["addedOn"], int)
    data, meta = body["data"], body["meta"]
    column = data["columns"].index("Well")
    assert len(data["rows"]) == 1
    assert all(row[column] == well for row in data["rows"])
    assert meta == {"rowCount": 12, "totalCount": 1, "limit": None, "offset": 0}
    for row in data["rows"]:
        assert len(data["column_types"]) == len(data["columns"]) == len(row)
    row = dict(zip(data["columns"], data["rows"][0], strict=True))
    assert row["Plate"] == world.plates[1] and row["Plate Name"] == "P2"
    assert row["Well Name"] == "b2" and row["Gene Symbol"] == "G10" and row["Count"] == 10
    assert row["Score"] == 5.0 and row["Hit"] is False
    types = dict(zip(data["columns"], data["column_types"], strict=True))
    assert types == {"Plate": "PlateColumn", "Well": "WellColumn", "Gene Symbol": "StringColumn",
                     "Count": "LongColumn", "Score": "DoubleColumn", "Hit": "BoolColumn",
                     "Plate Name": "StringColumn", "Well Name": "StringColumn"}  # fmt: skip


@sqlite_only
def test_table_query_by_file(world: World, populated: dict[str, Any]) -> None:
    """Assertions 66-69, conditions and their errors."""
    url = f"{G}/table/{populated['file']}/query/"
    assert _get(world.user1, url) == {
        "error": "Must specify query parameter, use * to retrieve all"
    }
    body = _get(world.user1, url, query="*", offset=10, limit=5)
    assert len(body["data"]["rows"]) == 2  # 12 rows: offset 10 leaves two
    body = _get(world.user1, url, query="*", offset=2, limit=5)
    assert len(body["data"]["rows"]) == 5
    assert body["meta"] == {"rowCount": 12, "totalCount": 12, "limit": 5, "offset": 2}
    body = _get(world.user1, url, query="*", limit=3, col_names=["Well", "Plate", "nope"])
    assert body["data"]["columns"] == ["Well", "Plate"]
    assert body["data"]["column_types"] == ["WellColumn", "PlateColumn"]
    assert body["data"]["rows"][0] == [world.wells[0][0], world.plates[0]]
    body = _get(world.user1, url, query="(Count>=3) & (Hit==True) & ~(Score>4)")
    counts = [r[body["data"]["columns"].index("Count")] for r in body["data"]["rows"]]
    assert counts == [3, 5, 7] and body["meta"]["totalCount"] == 3
    body = _get(world.user1, url, query="Count<100", limit=2, offset=1)
    assert body["meta"]["totalCount"] == 12 and len(body["data"]["rows"]) == 2
    for bad in ("__import__('os').system('true')", "Count.real", "nope==1", "Count >"):
        assert _get(world.user1, url, query=bad) == {"error": f"Error executing query: {bad}"}
    metadata = _get(world.user1, f"{G}/table/{populated['file']}/metadata/")
    assert set(metadata) == {"columns", "totalCount", "user_metadata"}
    assert metadata["totalCount"] == 12
    assert metadata["columns"][1] == {"name": "Well", "description": "", "type": "WellColumn"}
    missing = f"{G}/table/999999/query/"
    assert _get(world.user1, missing, query="*") == {"error": "Table 999999 not found"}


@sqlite_only
def test_slice_rows_and_bitmask(world: World, populated: dict[str, Any]) -> None:
    """Assertions 70 and 71, and ``rows/``."""
    file_id = populated["file"]
    body = _get(world.user1, f"{G}/table/{file_id}/slice/", rows="0-2", columns="0")
    assert body["columns"] == [[world.plates[0]] * 3]
    assert body["meta"] == {"columns": ["Plate"], "rowCount": 12, "columnCount": 8,
                            "maxCells": 1000000}  # fmt: skip
    posted = world.user1.post(f"{G}/table/{file_id}/slice/", data={"rows": "1,3", "columns": "3"})
    assert posted.json()["columns"] == [[1, 3]]
    assert _get(world.user1, f"{G}/table/{file_id}/slice/", rows="0", columns="9") == {
        "error": "Columns out of range"
    }
    assert _get(world.user1, f"{G}/table/{file_id}/slice/", rows="12", columns="0") == {
        "error": "Rows out of range"
    }
    assert _get(world.user1, f"{G}/table/{file_id}/slice/", rows="x")["error"].startswith(
        "Need comma-separated list of rows and columns ("
    )
    body = _get(world.user1, f"{G}/table/{file_id}/rows/", query="Count>8")
    assert body["rows"] == [9, 10, 11] and body["meta"]["partialCount"] == 3
    assert _get(world.user1, f"{G}/table/{file_id}/rows/") == {"error": "Must specify query"}

    csv = "# header l,d\nobject,score\n" + "".join(f"{v},0.5\n" for v in (1, 2, 7, 11, 12))
    done = populate(world.user1, f"Dataset:{world.dataset}", csv).json()
    mask = world.user1.get(f"{G}/table/{done['file']}/obj_id_bitmask/", params={"query": "*"})
    assert mask.headers["content-type"] == "application/octet-stream"
    assert list(mask.content) == [97, 24]
    mask = world.user1.get(
        f"{G}/table/{done['file']}/obj_id_bitmask/", params={"query": "object>5"}
    )
    assert list(mask.content) == [1, 24]
    floats = _get(world.user1, f"{G}/table/{done['file']}/obj_id_bitmask/", query="*",
                  col_name="score")  # fmt: skip
    assert floats == {"error": "Specified column has invalid type"}


@sqlite_only
def test_bulk_annotation_listing(world: World, populated: dict[str, Any]) -> None:
    """Assertions 72 and 73, dotted paths and their errors."""
    body = _get(world.user1, f"{G}/annotations/Screen/{world.screen}/")
    (item,) = body["data"]
    assert set(item) == {"id", "name", "file", "ns", "parentType", "parentId", "owner",
                         "addedBy", "addedOn"}  # fmt: skip
    assert item["id"] == populated["ann"] and item["file"] == populated["file"]
    assert item["ns"] == "openmicroscopy.org/omero/bulk_annotations"
    assert (item["parentType"], item["parentId"]) == ("Screen", world.screen)
    well = world.wells[0][0]
    via_well = _get(world.user1, f"{G}/annotations/Screen.plateLinks.child.wells/{well}/")
    assert via_well == body
    assert _get(world.user1, f"{G}/annotations/Plate.wells/{well}/") == {"data": []}
    bad = _get(world.user1, f"{G}/annotations/Screen.bogus/{world.screen}/")
    assert bad["error"] == "['Screen', 'bogus'] cannot be queried" and "query" in bad
    image = world.images[0][0]
    assert _get(world.user1, f"{G}/table/Image/{image}/query/", query="*") == {
        "error": "Could not retrieve bulk annotations table"
    }
    plate_query = f"{G}/table/Plate.wells/{well}/query/"
    assert _get(world.user1, plate_query, query="*")["error"] == (
        "Could not retrieve bulk annotations table"
    )
    body = _get(world.user1, f"{G}/table/Screen/{world.screen}/query/", query="*", limit=2)
    assert body["meta"]["limit"] == 2 and len(body["data"]["rows"]) == 2


@sqlite_only
def test_permissions(world: World, populated: dict[str, Any]) -> None:
    """A member of the group reads the table; a user who cannot read the Screen gets the
    error bodies OMERO gives (nothing found); an anonymous call is sent to log in."""
    well = world.wells[0][1]
    url = f"{G}/table/Screen.plateLinks.child.wells/{well}/query/"
    assert _get(world.user2, url, query=f"Well-{well}")["meta"]["totalCount"] == 1
    assert _get(world.outsider, url, query=f"Well-{well}") == {
        "error": "Could not retrieve bulk annotations table"
    }
    assert _get(world.outsider, f"{G}/table/{populated['file']}/query/", query="*") == {
        "error": f"Table {populated['file']} not found"
    }
    assert _get(world.outsider, f"{G}/annotations/Screen/{world.screen}/") == {"data": []}
    response = world.anonymous.get(
        f"{G}/table/{populated['file']}/query/?query=*", follow_redirects=False
    )
    assert response.status_code == 302
    response = world.anonymous.get(
        f"{G}/table/{populated['file']}/query/?query=*",
        headers={"X-Requested-With": "XMLHttpRequest"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    denied = populate(world.outsider, f"Screen:{world.screen}", _csv(["P1"]))
    assert denied.status_code == 404, denied.text


def _counts(instance: Instance) -> tuple[int, int, int]:
    with instance.db.read() as conn:
        return (
            conn.scalar(select(func.count()).select_from(schema.originalfile)) or 0,
            conn.scalar(select(func.count()).select_from(schema.annotation)) or 0,
            conn.scalar(select(func.count()).select_from(schema.annotation_links["screen"])) or 0,
        )


def _files(instance: Instance) -> list[Path]:
    assert instance.settings.data_dir is not None
    return [p for p in (Path(instance.settings.data_dir) / "files").rglob("*") if p.is_file()]


@sqlite_only
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("# header plate,well,s\nPlate,Well,x\nP1,A1,a\nP1,H9,b\n", "line 4: Well 'H9'"),
        ("# header plate,well,s\nPlate,Well,x\nP9,A1,a\n", "line 3: Plate 'P9'"),
        ("# header plate,well,l\nPlate,Well,n\nP1,A1,\n", "empty value"),
        ("# header plate,well,q\nPlate,Well,n\nP1,A1,1\n", "unknown column type 'q'"),
        ("# header plate,well\nPlate,Well,n\nP1,A1,1\n", "Number of columns and column types"),
        ("Plate,Well,Image\nP1,A1,1\n", "Well Column and Image Column"),
        ("", "empty"),
    ],
)
def test_bad_csv_leaves_nothing(world: World, body: str, message: str) -> None:
    before = _counts(world.instance)
    response = populate(world.user1, f"Screen:{world.screen}", body)
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert _counts(world.instance) == before
    assert _files(world.instance) == []


@sqlite_only
def test_bulkmap_writes_map_annotations(world: World) -> None:
    response = populate(world.user1, f"Plate:{world.plates[0]}", _csv(["P1", "P2"]), "bulkmap")
    assert response.status_code == 200, response.text
    created = response.json()["created"]
    assert created[0].startswith("FileAnnotation:")
    maps = [int(c.split(":")[1]) for c in created[1:]]
    assert len(maps) == 6  # a Plate keeps its own rows of a screen-wide CSV
    with world.instance.db.read() as conn:
        well_link = schema.annotation_links["well"]
        image_link = schema.annotation_links["image"]
        linked = conn.scalar(
            select(well_link.c.child).where(well_link.c.parent == world.wells[0][0])
        )
        on_image = conn.scalar(
            select(image_link.c.child).where(image_link.c.parent == world.images[0][0])
        )
        pairs = conn.execute(
            select(schema.annotation_mapvalue.c.name, schema.annotation_mapvalue.c.value)
            .where(schema.annotation_mapvalue.c.annotation_id == linked)
            .order_by(schema.annotation_mapvalue.c.index)
        ).all()
    assert linked == on_image == maps[0]
    assert dict(pairs)["Gene Symbol"] == "G0" and dict(pairs)["Well Name"] == "a1"
    assert "Well" not in dict(pairs)


GENE_NS = "openmicroscopy.org/mapr/gene"
BULKMAP_CONFIG = f"""
defaults: {{include: no, includeclient: no}}
columns:
  - {{name: Score, include: yes, includeclient: yes}}
  - group:
      namespace: {GENE_NS}
      columns:
        - {{name: Gene Symbol, include: yes, includeclient: yes, omitempty: yes}}
advanced:
  primary_group_keys: [{{namespace: {GENE_NS}, keys: [Gene Symbol]}}]
  well_to_images: yes
"""


def bulkmap(api: ApiClient, target: str, config: str, csv: str | None = None) -> Any:
    files = {"cfg": ("bulkmap.yml", config.encode())}
    if csv is not None:
        files["file"] = ("table.csv", csv.encode())
    return api.post(POPULATE, params={"target": target, "context": "bulkmap"}, files=files)


def _gene_csv(genes: list[str]) -> str:
    lines = ["Plate,Well,Gene Symbol,Score"]
    lines += [f"P1,{ROWS[n // 3]}{n % 3 + 1},{gene},{n / 2}" for n, gene in enumerate(genes)]
    return "\n".join(lines) + "\n"


def _links(instance: Instance, kind: str, annotation_id: int) -> list[int]:
    link = schema.annotation_links[kind]
    with instance.db.read() as conn:
        return sorted(conn.scalars(select(link.c.parent).where(link.c.child == annotation_id)))


def _ns_of(instance: Instance, ids: list[int]) -> dict[int, str]:
    ann = schema.annotation
    with instance.db.read() as conn:
        return dict(conn.execute(select(ann.c.id, ann.c.ns).where(ann.c.id.in_(ids))).all())


def test_bulkmap_configuration_shares_annotations_by_primary_key(world: World) -> None:
    """omero-metadata's two steps (table, then bulkmap with a configuration), on both
    backends: one gene annotation per gene, linked to its wells and their images; a second
    run links to them again without duplicating them or their links."""
    genes = ["ECT2", "ECT2", "ADE8", "CDK1", "ADE8", "ECT2"]
    target = f"Plate:{world.plates[0]}"
    table = populate(world.user1, target, _gene_csv(genes), "csv")
    assert table.status_code == 200, table.text
    first = bulkmap(world.user1, target, BULKMAP_CONFIG)
    assert first.status_code == 200, first.text
    created = [int(c.split(":")[1]) for c in first.json()["created"]]
    assert first.json()["linked"] == []
    namespaces = _ns_of(world.instance, created)
    gene_maps = [a for a in created if namespaces[a] == GENE_NS]
    assert len(gene_maps) == 3 and len(created) == 3 + 6  # one Score annotation per row
    wells, images = world.wells[0], world.images[0]
    by_gene = {g: [n for n, x in enumerate(genes) if x == g] for g in set(genes)}
    for annotation in gene_maps:
        linked_wells = _links(world.instance, "well", annotation)
        (gene,) = {genes[wells.index(w)] for w in linked_wells}
        assert linked_wells == sorted(wells[n] for n in by_gene[gene])
        assert _links(world.instance, "image", annotation) == sorted(
            images[n] for n in by_gene[gene]
        )
    linked_before = {
        a: (_links(world.instance, "well", a), _links(world.instance, "image", a))
        for a in gene_maps
    }
    again = bulkmap(world.user1, target, BULKMAP_CONFIG)
    assert again.status_code == 200, again.text
    assert sorted(int(c.split(":")[1]) for c in again.json()["linked"]) == sorted(gene_maps)
    assert len(again.json()["created"]) == 6  # unkeyed annotations are written again
    # the shared annotations are linked to exactly the same wells and images as before
    assert {a: (_links(world.instance, "well", a), _links(world.instance, "image", a))
            for a in gene_maps} == linked_before  # fmt: skip


def test_bulkmap_refusals_change_nothing(world: World) -> None:
    target = f"Plate:{world.plates[0]}"
    before = _counts(world.instance)
    no_table = bulkmap(world.user1, target, BULKMAP_CONFIG)
    assert no_table.status_code == 400
    assert "no bulk-annotation table is attached to Plate:" in no_table.json()["message"]
    # a row whose gene group is empty is skipped (omero-metadata), but a group with values
    # and no primary key is refused
    keyed_score = BULKMAP_CONFIG.replace(  # the gene group also takes Score
        "omitempty: yes}", "omitempty: yes}\n        - {name: Score, include: yes}"
    )
    missing_key = bulkmap(world.user1, target, keyed_score, _gene_csv(["ECT2", ""]))
    assert missing_key.status_code == 400, missing_key.text
    assert (
        "row 2: no value for the primary key(s) ['Gene Symbol']" in (missing_key.json()["message"])
    )
    bad = bulkmap(world.user1, target, "columns: [{name: Nope}]\n", _gene_csv(["ECT2"]))
    assert bad.status_code == 400 and "'Nope' is not in the table" in bad.json()["message"]
    assert _counts(world.instance) == before and _files(world.instance) == []
    wrong_context = world.user1.post(
        POPULATE, params={"target": target, "context": "csv"},
        files={"file": ("t.csv", _gene_csv(["ECT2"]).encode()), "cfg": ("c.yml", b"{}")},
    )  # fmt: skip
    assert wrong_context.status_code == 400
    assert "needs the bulkmap or deletemap context" in wrong_context.json()["message"]
    stray = world.user1.post(
        POPULATE, params={"target": target}, files={"table": ("t.csv", b"Well\nA1\n")}
    )
    assert stray.status_code == 400 and "unknown part 'table'" in stray.json()["message"]
    assert _counts(world.instance) == before


def deletemap(api: ApiClient, target: str, config: str | None = None) -> Any:
    files = {"cfg": ("bulkmap.yml", config.encode())} if config is not None else None
    return api.post(POPULATE, params={"target": target, "context": "deletemap"}, files=files)


def test_deletemap_removes_what_bulkmap_wrote(world: World) -> None:
    """Without a configuration only the bulk namespace goes; with it, its groups' too;
    another user of the read-annotate group may not delete them; other pairs stay."""
    target = f"Plate:{world.plates[0]}"
    populate(world.user1, target, _gene_csv(["ECT2", "ADE8", "ECT2"]), "csv")
    made = bulkmap(world.user1, target, BULKMAP_CONFIG).json()["created"]
    made_ids = sorted(int(c.split(":")[1]) for c in made)
    namespaces = _ns_of(world.instance, made_ids)
    own = world.user1.post(
        "/webclient/annotate_map/",
        data={"image": str(world.images[0][0]), "mapAnnotation": '[["mine", "1"]]'},
    )
    assert own.status_code == 200, own.text
    refused = deletemap(world.user2, target, BULKMAP_CONFIG)
    assert refused.status_code == 403, refused.text
    assert len(_ns_of(world.instance, made_ids)) == len(made_ids)
    bulk_only = deletemap(world.user1, target)
    assert bulk_only.status_code == 200, bulk_only.text
    deleted = sorted(int(c.split(":")[1]) for c in bulk_only.json()["deleted"])
    assert deleted == sorted(a for a in made_ids if namespaces[a] != GENE_NS)
    rest = deletemap(world.user1, target, BULKMAP_CONFIG)
    assert sorted(int(c.split(":")[1]) for c in rest.json()["deleted"]) == sorted(
        a for a in made_ids if namespaces[a] == GENE_NS
    )
    assert _ns_of(world.instance, made_ids) == {}
    (mine,) = own.json()["annId"]
    assert _links(world.instance, "image", mine) == [world.images[0][0]]
    # the table itself stays queryable
    (table,) = _get(world.user1, f"{G}/annotations/Plate/{world.plates[0]}/")["data"]
    assert table["ns"] == "openmicroscopy.org/omero/bulk_annotations"


def _hdf5_with_arrays(path: Path, images: list[int]) -> bytes:
    """An OMERO.tables HDF5 file as omero-py's HdfStorage writes one (``hdfstorageV2.py``):
    rows at /OME/Measurements, an array column as a field of shape (size,), the Ice column
    types and the descriptions as string arrays beside it."""
    import h5py
    import numpy as np

    dtype = np.dtype([("Image", "<i8"), ("Centroid", "<f4", (2,)), ("Counts", "<i8", (3,)),
                      ("Score", "<f8"), ("Gene", "S8")])  # fmt: skip
    records = np.array(
        [(image, (n + 0.5, 2.0 * n), (n, n + 1, n + 2), n * 1.5, f"G{n}".encode())
         for n, image in enumerate(images)],
        dtype=dtype,
    )  # fmt: skip
    types = ["ImageColumn", "FloatArrayColumn", "LongArrayColumn", "DoubleColumn", "StringColumn"]
    with h5py.File(path, "w") as handle:
        ome = handle.create_group("OME")
        ome.create_dataset("Measurements", data=records)
        ome.create_dataset("ColumnTypes", data=np.array([f"::omero::grid::{t}".encode()
                                                          for t in types]))  # fmt: skip
        ome.create_dataset("ColumnDescriptions", data=np.array([b"", b"x, y", b"", b"", b""]))
    return path.read_bytes()


@sqlite_only
def test_hdf5_table_with_array_columns(world: World, tmp_path: Path) -> None:
    """An imported HDF5 table's array columns come back as JSON lists under OMERO.web's
    type names; conditions may not use them, but may use numexpr's functions on the rest."""
    images = world.images[0][:3]
    done = populate(world.user1, f"Plate:{world.plates[0]}",
                    _hdf5_with_arrays(tmp_path / "t.h5", images))  # fmt: skip
    assert done.status_code == 200, done.text
    assert done.json()["rows"] == 3
    file_id = done.json()["file"]
    body = _get(world.user1, f"{G}/table/{file_id}/query/", query="*")
    assert body["data"]["columns"] == ["Image", "Centroid", "Counts", "Score", "Gene"]
    assert body["data"]["column_types"] == [
        "ImageColumn", "FloatArrayColumn", "LongArrayColumn", "DoubleColumn", "StringColumn",
    ]  # fmt: skip
    assert body["data"]["rows"] == [
        [images[n], [n + 0.5, 2.0 * n], [n, n + 1, n + 2], n * 1.5, f"G{n}"] for n in range(3)
    ]
    assert body["meta"] == {"rowCount": 3, "totalCount": 3, "limit": None, "offset": 0}
    metadata = _get(world.user1, f"{G}/table/{file_id}/metadata/")
    assert metadata["columns"][1] == {"name": "Centroid", "description": "x, y",
                                      "type": "FloatArrayColumn"}  # fmt: skip
    sliced = _get(world.user1, f"{G}/table/{file_id}/slice/", rows="2,0", columns="2")
    assert sliced["columns"] == [[[2, 3, 4], [0, 1, 2]]]
    body = _get(world.user1, f"{G}/table/{file_id}/query/",
                query="(sqrt(Score) > 1) & contains(Gene, '2') | (Score % 2 == 1.5)")  # fmt: skip
    assert [row[0] for row in body["data"]["rows"]] == [images[1], images[2]]
    for bad in ("Counts == 1", "sin(Gene) > 0"):
        assert _get(world.user1, f"{G}/table/{file_id}/query/", query=bad) == {
            "error": f"Error executing query: {bad}"
        }


@sqlite_only
def test_webclient_omero_table(world: World, populated: dict[str, Any]) -> None:
    """``/webclient/omero_table/<id>/``: a page as HTML or JSON, or every match as CSV."""
    base = f"/webclient/omero_table/{populated['file']}/"
    well = world.wells[1][4]
    page = _get(world.user1, f"{base}json/", query=f"Well-{well}")
    assert page["data"]["name"] == "bulk_annotations" and page["data"]["id"] == populated["file"]
    assert page["meta"]["query"] == f"Well-{well}" and page["meta"]["totalCount"] == 1
    (row,) = page["data"]["rows"]
    assert row[page["data"]["columns"].index("Gene Symbol")] == "G10"
    assert _get(world.user1, f"{base}json/", limit=5)["meta"]["limit"] == 5
    html_page = world.user1.get(base)
    assert html_page.status_code == 200 and "text/html" in html_page.headers["content-type"]
    assert "<th>Gene Symbol</th>" in html_page.text and "<td>G11</td>" in html_page.text
    download = world.user1.get(f"{base}csv/")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"] == 'attachment; filename="bulk_annotations.csv"'
    lines = download.text.splitlines()
    assert lines[0].split(",")[:3] == ["Plate", "Well", "Gene Symbol"] and len(lines) == 13
    some = world.user1.get(f"{base}csv/", params={"query": "(Count>=10)"}).text.splitlines()
    assert [line.split(",")[2] for line in some[1:]] == ["G10", "G11"]
    assert _get(world.user1, f"{base}json/", query="(nope")["error"].startswith("Error executing")
    assert world.user1.get(f"{base}csv/", params={"query": "(nope"}).status_code == 404
    assert world.user1.get(f"{base}xml/").status_code == 404
    assert world.outsider.get(f"{base}csv/").status_code == 404
    assert world.user1.get("/webclient/omero_table/999999/").status_code == 404


def test_bulkmap_refuses_a_table_naming_deleted_wells(world: World) -> None:
    target = f"Plate:{world.plates[0]}"
    assert populate(world.user1, target, _gene_csv(["ECT2", "ADE8"]), "csv").status_code == 200
    gone = world.wells[0][1]
    with world.instance.db.write() as conn:
        conn.execute(schema.wellsample.delete().where(schema.wellsample.c.well == gone))
        conn.execute(schema.well.delete().where(schema.well.c.id == gone))
    before = _counts(world.instance)
    refused = bulkmap(world.user1, target, BULKMAP_CONFIG)
    assert refused.status_code == 400, refused.text
    assert f"no longer exist: Well:{gone}; nothing was created" in refused.json()["message"]
    assert _counts(world.instance) == before
